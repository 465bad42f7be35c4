package api

import (
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Limits on query parameters.
const (
	DefaultRange     = 15 * time.Minute
	MaxRange         = 31 * 24 * time.Hour
	MinStep          = 10 * time.Second // the finest rollup
	MaxPoints        = 1440             // range/step
	DefaultLimit     = 100
	MaxLimit         = 1000
	maxIDLen         = 128
	maxParamValueLen = 256
)

// Range is the time range [From, To) of a view, with an optional Step for
// sparkline series (0: no series).
type Range struct {
	From, To time.Time
	Step     time.Duration
}

// Span returns To - From.
func (r Range) Span() time.Duration { return r.To.Sub(r.From) }

// Window is a range relative to now, as live websocket subscriptions use:
// the last Last, with an optional Step.
type Window struct {
	Last time.Duration
	Step time.Duration
}

// ParseWindow parses a relative range ("15m", "1h", "7d"; empty means
// DefaultRange) and an optional step ("1m"; empty means none).
func ParseWindow(rng, step string) (Window, error) {
	w := Window{Last: DefaultRange}
	if rng != "" {
		d, err := parseDuration(rng)
		if err != nil || d <= 0 {
			return Window{}, fmt.Errorf("%w: range: want a positive duration like 15m, got %q", ErrBadRequest, clip(rng))
		}
		w.Last = d
	}
	if w.Last > MaxRange {
		return Window{}, fmt.Errorf("%w: range: at most %s", ErrBadRequest, fmtDuration(MaxRange))
	}
	if step != "" {
		d, err := parseDuration(step)
		if err != nil || d <= 0 {
			return Window{}, fmt.Errorf("%w: step: want a positive duration like 1m, got %q", ErrBadRequest, clip(step))
		}
		w.Step = d
	}
	if err := checkStep(w.Last, w.Step); err != nil {
		return Window{}, err
	}
	return w, nil
}

// At returns the window's range ending at now.
func (w Window) At(now time.Time) Range {
	return Range{From: now.Add(-w.Last), To: now, Step: w.Step}
}

func checkStep(span, step time.Duration) error {
	if step == 0 {
		return nil
	}
	if step < MinStep {
		return fmt.Errorf("%w: step: at least %s", ErrBadRequest, MinStep)
	}
	if step > span {
		return fmt.Errorf("%w: step: must not exceed the range", ErrBadRequest)
	}
	if span/step > MaxPoints {
		return fmt.Errorf("%w: step: range/step must be at most %d points", ErrBadRequest, MaxPoints)
	}
	return nil
}

// ParseRange reads from, to, range and step from query parameters. from and
// to are RFC 3339 or Unix seconds; to defaults to now and from to
// to - range (range defaults to 15m; it cannot be combined with from).
func ParseRange(v url.Values, now time.Time) (Range, error) {
	var r Range
	var err error
	r.To = now
	if s := v.Get("to"); s != "" {
		if r.To, err = parseTime(s); err != nil {
			return Range{}, fmt.Errorf("%w: to: %w", ErrBadRequest, err)
		}
	}
	w, err := ParseWindow(v.Get("range"), v.Get("step"))
	if err != nil {
		return Range{}, err
	}
	r.Step = w.Step
	if s := v.Get("from"); s != "" {
		if v.Get("range") != "" {
			return Range{}, fmt.Errorf("%w: range: cannot be combined with from", ErrBadRequest)
		}
		if r.From, err = parseTime(s); err != nil {
			return Range{}, fmt.Errorf("%w: from: %w", ErrBadRequest, err)
		}
	} else {
		r.From = r.To.Add(-w.Last)
	}
	if !r.From.Before(r.To) {
		return Range{}, fmt.Errorf("%w: from: must be before to", ErrBadRequest)
	}
	if r.Span() > MaxRange {
		return Range{}, fmt.Errorf("%w: from: range at most %s", ErrBadRequest, fmtDuration(MaxRange))
	}
	if err := checkStep(r.Span(), r.Step); err != nil {
		return Range{}, err
	}
	return r, nil
}

// parseTime accepts RFC 3339 or Unix seconds (fractions allowed).
func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e11 {
		return time.Time{}, fmt.Errorf("want RFC 3339 or Unix seconds, got %q", clip(s))
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}

// parseDuration is time.ParseDuration plus a "d" (24h) suffix.
func parseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || days > 3660 {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

func fmtDuration(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
	return d.String()
}

// parseID validates a domain or journey identifier from a path or query.
func parseID(name, s string) (string, error) {
	if s == "" || len(s) > maxIDLen {
		return "", fmt.Errorf("%w: %s: want 1 to %d characters", ErrBadRequest, name, maxIDLen)
	}
	return s, nil
}

// clip shortens an echoed parameter value.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
