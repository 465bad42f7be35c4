package kafkalag

import (
	"math"
	"time"
)

// Point is one poll of a partition: the group's committed offset and the
// partition's log-end offset (the last stable offset, so that a
// transactional topic read to its end is not lagging) at TS. Orphan
// reports that no member of the group owned the partition at that poll.
type Point struct {
	TS          time.Time
	Commit, End int64
	Orphan      bool
}

// Status is a partition's (or, the worst of them, a group's) state in
// Burrow's terms. The numbers are stored (kafka_group_status) and ordered
// by severity, so that a group's status is the highest of its partitions'.
type Status int

// Statuses, least severe first.
const (
	StatusWarming Status = iota // fewer polls than the window holds: not judged yet
	StatusOK
	StatusWarn   // lag growing over the window (its trend, tolerant of a dip)
	StatusRewind // the committed offset went backwards (a reset, or a replay)
	StatusStall  // a consumer owns the partition, lag above zero, its commit not moving over the window
	StatusStop   // no consumer owns the partition, lag above zero and the commit not moving
	StatusErr    // the group or the partition could not be read (describe, offset fetch or listing failed)
)

var statusNames = [...]string{"warming up", "OK", "WARN", "REWIND", "STALL", "STOP", "ERR"}

// String returns the status as shown: "OK", "WARN", ..., "warming up".
func (s Status) String() string { return statusNames[s] }

// Verdict is a window judged at its newest poll.
type Verdict struct {
	Status Status
	// Lag is the time lag: how long ago the message at the committed
	// offset was written, 0 when caught up or idle, never negative.
	Lag time.Duration
	// ConsumeRate and ProduceRate are messages per second over the
	// window (commit and log-end progress); Trend is the lag's
	// least-squares slope in messages per second. All 0 below two polls.
	ConsumeRate, ProduceRate, Trend float64
}

// Window keeps a partition's last Size polls.
type Window struct {
	Size   int
	points []Point
	// seen is the poll (Source.polls) that last added a point: a window
	// not seen for ForgetAfter polls is forgotten.
	seen uint64
}

// DefaultWindow is the number of polls a window holds (Burrow's default).
const DefaultWindow = 10

// MaxTimeLag clamps a time lag found by extrapolation.
const MaxTimeLag = 7 * 24 * time.Hour

// Add appends a poll, dropping the oldest past Size.
func (w *Window) Add(p Point) {
	if w.Size <= 0 {
		w.Size = DefaultWindow
	}
	w.points = append(w.points, p)
	if len(w.points) > w.Size {
		w.points = append(w.points[:0], w.points[len(w.points)-w.Size:]...)
	}
}

// Len returns the polls held.
func (w *Window) Len() int { return len(w.points) }

// Evaluate judges the window at its newest poll: the status, the lag in
// seconds — interpolated between polls of the log-end offset, extrapolated
// at the window's produce rate (and clamped) when older than the window —
// and the rates.
func (w *Window) Evaluate() Verdict {
	n := len(w.points)
	if n == 0 {
		return Verdict{Status: StatusWarming}
	}
	last, first := w.points[n-1], w.points[0]
	v := Verdict{Lag: w.timeLag(last)}
	if span := last.TS.Sub(first.TS).Seconds(); n > 1 && span > 0 {
		v.ConsumeRate = float64(last.Commit-first.Commit) / span
		v.ProduceRate = float64(last.End-first.End) / span
		v.Trend = w.slope() / (span / float64(n-1))
	}
	lagNow := last.End - last.Commit
	for i := 1; i < n; i++ {
		if w.points[i].Commit < w.points[i-1].Commit {
			v.Status = StatusRewind
			return v
		}
	}
	if last.Orphan && lagNow > 0 && n > 1 && w.points[n-2].Commit == last.Commit {
		v.Status = StatusStop // nobody consumes it: no need to wait for the window
		return v
	}
	if n < w.Size {
		v.Status = StatusWarming
		return v
	}
	anyZero := false
	for _, p := range w.points {
		anyZero = anyZero || p.End <= p.Commit
	}
	switch {
	case anyZero:
		v.Status = StatusOK
	case first.Commit == last.Commit:
		v.Status = StatusStall
	case w.trendUp():
		v.Status = StatusWarn
	default:
		v.Status = StatusOK
	}
	return v
}

// slope is the least-squares slope of the lag in messages per poll.
func (w *Window) slope() float64 {
	n := float64(len(w.points))
	var sx, sy, sxx, sxy float64
	for i, p := range w.points {
		x, y := float64(i), float64(max(p.End-p.Commit, 0))
		sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	den := n*sxx - sx*sx
	if den == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / den
}

// trendUp reports whether a least-squares line through the lags rises by
// more than one message over the window and at most one step falls: one
// dip does not hide growth, as Burrow's strict rule would.
func (w *Window) trendUp() bool {
	falls := 0
	for i := 1; i < len(w.points); i++ {
		a, b := w.points[i-1], w.points[i]
		if max(b.End-b.Commit, 0) < max(a.End-a.Commit, 0) {
			falls++
		}
	}
	return w.slope()*float64(len(w.points)-1) > 1 && falls <= 1
}

// timeLag is the age of the committed offset at poll p.
func (w *Window) timeLag(p Point) time.Duration {
	if p.Commit >= p.End {
		return 0 // caught up (or idle)
	}
	pts := w.points
	for i := len(pts) - 1; i > 0; i-- {
		a, b := pts[i-1], pts[i]
		if a.End <= p.Commit && p.Commit < b.End {
			frac := float64(p.Commit-a.End) / float64(b.End-a.End)
			at := a.TS.Add(time.Duration(frac * float64(b.TS.Sub(a.TS))))
			return clampLag(p.TS.Sub(at))
		}
	}
	first := pts[0]
	span := p.TS.Sub(first.TS)
	if p.Commit >= first.End || span <= 0 {
		// Written before the newest poll: at least since the last poll.
		return clampLag(span)
	}
	rate := float64(p.End-first.End) / span.Seconds()
	if rate <= 0 || math.IsNaN(rate) {
		return clampLag(span)
	}
	older := time.Duration(float64(first.End-p.Commit) / rate * float64(time.Second))
	return clampLag(span + older)
}

func clampLag(d time.Duration) time.Duration {
	return min(max(d, 0), MaxTimeLag)
}
