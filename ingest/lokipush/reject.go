package lokipush

import (
	"fmt"
	"strconv"
	"strings"
)

// Reasons a line is rejected, the values of the reason label of
// noctua_ingest_rejected_total{source="loki"}. They are Loki's own names
// (loki_discarded_samples_total) where Loki has one.
const (
	ReasonInvalidLabels    = "invalid_labels"                // the stream selector does not parse or breaks a label limit
	ReasonMissingLabels    = "missing_labels"                // the stream has no label
	ReasonLineTooLong      = "line_too_long"                 // over Options.MaxLineBytes
	ReasonTooOld           = "greater_than_max_sample_age"   // older than now - Options.MaxAge
	ReasonTooFarInFuture   = "too_far_in_future"             // newer than now + Options.MaxFuture
	ReasonInvalidTimestamp = "invalid_timestamp"             // not Unix nanoseconds (JSON)
	ReasonMetadataTooLarge = "structured_metadata_too_large" // over MaxMetadataBytes or MaxMetadataPairs
)

// Bounds of the 400 response body.
const (
	maxMessagesPerReason = 10
	maxSelectorInMessage = 256
)

// rejects collects the lines refused in one push, grouped by reason in the
// order the reasons were first seen, with a bounded number of messages each.
type rejects struct {
	groups []rejectGroup
	total  int
}

type rejectGroup struct {
	reason string
	lines  int
	msgs   []string
	more   int // messages left out
}

// add counts n lines rejected for reason, described by msg.
func (r *rejects) add(reason string, n int, msg string) {
	if n <= 0 {
		return
	}
	r.total += n
	g := r.group(reason)
	g.lines += n
	if len(g.msgs) < maxMessagesPerReason {
		g.msgs = append(g.msgs, msg)
	} else {
		g.more++
	}
}

func (r *rejects) group(reason string) *rejectGroup {
	for i := range r.groups {
		if r.groups[i].reason == reason {
			return &r.groups[i]
		}
	}
	r.groups = append(r.groups, rejectGroup{reason: reason})
	return &r.groups[len(r.groups)-1]
}

// count returns the lines rejected for reason.
func (r *rejects) count(reason string) int {
	for _, g := range r.groups {
		if g.reason == reason {
			return g.lines
		}
	}
	return 0
}

// message is the 400 response body: a summary line, then per reason its
// count and the streams and lines it refused.
func (r *rejects) message(accepted int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "rejected %d of %d lines", r.total, r.total+accepted)
	if accepted > 0 {
		fmt.Fprintf(&b, "; the other %d were stored", accepted)
	}
	b.WriteByte('\n')
	for _, g := range r.groups {
		fmt.Fprintf(&b, "%s: %d %s\n", g.reason, g.lines, plural(g.lines, "line", "lines"))
		for _, m := range g.msgs {
			b.WriteString("  ")
			b.WriteString(m)
			b.WriteByte('\n')
		}
		if g.more > 0 {
			fmt.Fprintf(&b, "  ... and %d more\n", g.more)
		}
	}
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// streamRef names a stream in a message.
func streamRef(selector string) string {
	return "stream " + strconv.Quote(clip(selector, maxSelectorInMessage))
}
