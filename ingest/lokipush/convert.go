package lokipush

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/transform"
)

// Bounds of an entry's structured metadata, Loki's defaults.
const (
	MaxMetadataBytes = 64 << 10
	MaxMetadataPairs = 128
)

// errTooManyLines marks a push with more lines than Options.MaxLinesPerPush:
// the handler answers 413.
var errTooManyLines = errors.New("too many lines in one push")

// converter turns decoded streams into records, validating each stream and
// line and counting what it refuses. One converter serves one request.
type converter struct {
	parser   *transform.LogParser
	maxLine  int
	maxLines int
	minTS    int64 // oldest acceptable timestamp, Unix ns
	maxTS    int64 // newest acceptable timestamp, Unix ns

	recs  []record.Log
	rej   rejects
	lines int // every line seen, accepted or not

	labels  []transform.Label // scratch
	meta    []transform.Label // scratch
	sel     []byte            // scratch
	jents   []jsonEntry       // scratch: the entries of a JSON stream
	json    jsonDec
	scratch transform.Scratch
}

// stream is a stream whose labels passed validation.
type stream struct {
	selector string // canonical `{a="b", c="d"}`
	fields   transform.Fields
}

// countLines adds n lines to the push, failing past maxLines.
func (c *converter) countLines(n int) error {
	c.lines += n
	if c.lines > c.maxLines {
		return fmt.Errorf("%w: over the limit of %d lines", errTooManyLines, c.maxLines)
	}
	return nil
}

// openSelector validates a stream given by its selector (protobuf). When
// it is invalid it rejects the stream's n lines and reports false.
func (c *converter) openSelector(raw string, n int) (stream, bool) {
	ls, err := parseLabels(c.labels[:0], raw)
	c.labels = ls[:0]
	if err != nil {
		c.rejectStream(raw, err, n)
		return stream{}, false
	}
	c.sel = appendLabels(c.sel[:0], ls)
	sel := raw
	if string(c.sel) != raw { // not in canonical form: one copy per stream
		sel = string(c.sel)
	}
	return stream{selector: sel, fields: c.parser.Stream(ls)}, true
}

// openLabels validates a stream given as a label map (JSON); ls are its
// labels, err what was wrong with them already. When they are invalid it
// rejects the stream's n lines and reports false.
func (c *converter) openLabels(ls []transform.Label, err error, n int) (stream, bool) {
	if err == nil {
		ls, err = sortAndCheck(ls)
	}
	c.sel = appendLabels(c.sel[:0], ls)
	sel := string(c.sel)
	if err != nil {
		c.rejectStream(sel, err, n)
		return stream{}, false
	}
	return stream{selector: sel, fields: c.parser.Stream(ls)}, true
}

func (c *converter) rejectStream(display string, err error, n int) {
	if errors.Is(err, errNoLabels) {
		c.rej.add(ReasonMissingLabels, n, fmt.Sprintf("%s: %v (%d %s)", streamRef(display), err, n, plural(n, "line", "lines")))
		return
	}
	c.rej.add(ReasonInvalidLabels, n, fmt.Sprintf("%s: Error parsing labels with error: %v (%d %s)",
		streamRef(display), err, n, plural(n, "line", "lines")))
}

// checkEntry validates a line's timestamp and size before its line is
// copied; idx numbers the entry within its stream for messages.
func (c *converter) checkEntry(st *stream, idx int, ts int64, lineLen, metaBytes, metaPairs int) bool {
	switch {
	case lineLen > c.maxLine:
		c.rej.add(ReasonLineTooLong, 1, fmt.Sprintf("%s entry %d: Max entry size '%d' bytes exceeded while adding an entry with length '%d' bytes",
			streamRef(st.selector), idx, c.maxLine, lineLen))
	case ts < c.minTS:
		c.rej.add(ReasonTooOld, 1, fmt.Sprintf("%s entry %d: timestamp too old: %s, oldest acceptable timestamp is: %s",
			streamRef(st.selector), idx, fmtTS(ts), fmtTS(c.minTS)))
	case ts > c.maxTS:
		c.rej.add(ReasonTooFarInFuture, 1, fmt.Sprintf("%s entry %d: timestamp too new: %s, newest acceptable timestamp is: %s",
			streamRef(st.selector), idx, fmtTS(ts), fmtTS(c.maxTS)))
	case metaBytes > MaxMetadataBytes || metaPairs > MaxMetadataPairs:
		c.rej.add(ReasonMetadataTooLarge, 1, fmt.Sprintf("%s entry %d: structured metadata too large: %d pairs, %d bytes; limit %d pairs, %d bytes",
			streamRef(st.selector), idx, metaPairs, metaBytes, MaxMetadataPairs, MaxMetadataBytes))
	default:
		return true
	}
	return false
}

// invalidTS rejects a line whose timestamp cannot be read.
func (c *converter) invalidTS(st *stream, idx int, raw string) {
	c.rej.add(ReasonInvalidTimestamp, 1, fmt.Sprintf("%s entry %d: cannot parse timestamp %s as Unix nanoseconds",
		streamRef(st.selector), idx, strconv.Quote(clip(raw, 64))))
}

// add appends the record of a valid line.
func (c *converter) add(st *stream, ts int64, line string, meta []transform.Label) {
	c.recs = append(c.recs, record.Log{TS: ts, Message: line, Labels: st.selector})
	c.parser.Line(&c.recs[len(c.recs)-1], &st.fields, meta, line, &c.scratch)
}

func fmtTS(ns int64) string {
	return time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
}

// unixNano converts a protobuf Timestamp to Unix nanoseconds, clamping
// times that do not fit an int64 (before 1678 or after 2262) so that they are
// refused as too old or too new. It reports false for nanos out of range.
func unixNano(sec int64, nsec int32) (int64, bool) {
	if nsec < 0 || nsec > 999_999_999 {
		return 0, false
	}
	switch {
	case sec > math.MaxInt64/1_000_000_000-1:
		return math.MaxInt64, true
	case sec < math.MinInt64/1_000_000_000+1:
		return math.MinInt64, true
	}
	return sec*1e9 + int64(nsec), true
}
