package otlp

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Reasons a log record or data point is rejected, the values of the reason
// label of noctua_ingest_rejected_total for sources "otlp-logs" and
// "otlp-metrics". The time bounds use Loki's names, as the Loki endpoint
// does.
const (
	ReasonZeroTimestamp  = "zero_timestamp"              // neither time_unix_nano nor observed_time_unix_nano set
	ReasonTooOld         = "greater_than_max_sample_age" // older than now - max_age
	ReasonTooFarInFuture = "too_far_in_future"           // newer than now + max_future
	ReasonLineTooLong    = "line_too_long"               // log body over logs.max_line_bytes
	ReasonNoValue        = "no_value"                    // a data point without a value
)

// Sources of the records of the logs and metrics paths.
const (
	SourceLogs    = "otlp-logs"
	SourceMetrics = "otlp-metrics"
)

// Bounds is the time window a log record or data point must fall in.
type Bounds struct {
	MaxAge    time.Duration // 0: no lower bound
	MaxFuture time.Duration // 0: no upper bound
	Now       func() time.Time
}

// window returns the accepted [lo, hi] in Unix nanoseconds.
func (b Bounds) window() (lo, hi int64) {
	now := time.Now
	if b.Now != nil {
		now = b.Now
	}
	t := now()
	lo, hi = 1, 1<<63-1
	if b.MaxAge > 0 {
		lo = t.Add(-b.MaxAge).UnixNano()
	}
	if b.MaxFuture > 0 {
		hi = t.Add(b.MaxFuture).UnixNano()
	}
	return lo, hi
}

// check returns the reason ts is refused, or "".
func checkTS(ts uint64, lo, hi int64) string {
	switch {
	case ts == 0:
		return ReasonZeroTimestamp
	case ts > uint64(hi):
		return ReasonTooFarInFuture
	case int64(ts) < lo:
		return ReasonTooOld
	}
	return ""
}

// tally counts the items of one request refused, by reason.
type tally map[string]int

func (t tally) add(reason string) { t[reason]++ }

func (t tally) total() int {
	n := 0
	for _, c := range t {
		n += c
	}
	return n
}

// message names every reason with its count, for partial_success.
func (t tally) message(what string) string {
	if len(t) == 0 {
		return ""
	}
	reasons := make([]string, 0, len(t))
	for r := range t {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	parts := make([]string, len(reasons))
	for i, r := range reasons {
		parts[i] = fmt.Sprintf("%d %s", t[r], r)
	}
	return fmt.Sprintf("rejected %d %s: %s", t.total(), what, strings.Join(parts, ", "))
}
