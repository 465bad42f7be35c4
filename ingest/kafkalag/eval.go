package kafkalag

import (
	"math"
	"time"
)

// Point is one poll of a partition: the group's committed offset and the
// partition's log-end offset at TS.
type Point struct {
	TS          time.Time
	Commit, End int64
}

// Status is a partition's (or, the worst of them, a group's) state in
// Burrow's terms.
type Status int

// Statuses, worst last.
const (
	StatusWarming Status = iota // fewer polls than the window holds: not judged yet
	StatusOK
	StatusWarn   // lag growing over the window (its trend, tolerant of a dip)
	StatusStall  // lag above zero and the commit not moving over the window
	StatusRewind // the committed offset went backwards
)

var statusNames = [...]string{"warming up", "OK", "WARN", "STALL", "REWIND"}

// String returns the status as shown: "OK", "WARN", ..., "warming up".
func (s Status) String() string { return statusNames[s] }

// Window keeps a partition's last Size polls.
type Window struct {
	Size   int
	points []Point
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

// Evaluate judges the window at its newest poll: the status and the lag in
// seconds — how long ago the message at the committed offset was written,
// interpolated between polls of the log-end offset, 0 when caught up or
// idle, extrapolated at the window's produce rate (and clamped) when older
// than the window; never negative or NaN.
func (w *Window) Evaluate() (Status, time.Duration) {
	n := len(w.points)
	if n == 0 {
		return StatusWarming, 0
	}
	last := w.points[n-1]
	lagS := w.timeLag(last)
	for i := 1; i < n; i++ {
		if w.points[i].Commit < w.points[i-1].Commit {
			return StatusRewind, lagS
		}
	}
	if n < w.Size {
		return StatusWarming, lagS
	}
	lags := make([]float64, n)
	anyZero := false
	for i, p := range w.points {
		lags[i] = float64(max(p.End-p.Commit, 0))
		anyZero = anyZero || lags[i] == 0
	}
	switch {
	case anyZero:
		return StatusOK, lagS
	case w.points[0].Commit == last.Commit:
		return StatusStall, lagS
	case trendUp(lags):
		return StatusWarn, lagS
	}
	return StatusOK, lagS
}

// trendUp reports whether a least-squares line through the lags rises by
// more than one message over the window and most steps do not fall: one
// dip does not hide growth, as Burrow's strict rule would.
func trendUp(lags []float64) bool {
	n := float64(len(lags))
	var sx, sy, sxx, sxy float64
	for i, y := range lags {
		x := float64(i)
		sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	den := n*sxx - sx*sx
	if den == 0 {
		return false
	}
	slope := (n*sxy - sx*sy) / den
	falls := 0
	for i := 1; i < len(lags); i++ {
		if lags[i] < lags[i-1] {
			falls++
		}
	}
	return slope*(n-1) > 1 && falls <= 1
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
