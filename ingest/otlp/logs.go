package otlp

import (
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/transform"
)

// logConverter turns the log records of an ExportLogsServiceRequest into
// record.Log rows through the same LogParser as Loki lines: resource
// attributes are read as stream labels, record attributes as structured
// metadata, and the body as the line, so error codes, levels, timeouts,
// retries and journeys are found the same way. Attribute names are offered
// as sent and with dots as underscores (service.name also as
// service_name), as Loki's own OTLP ingestion names them.
type logConverter struct {
	parser  *transform.LogParser
	maxLine int
	lo, hi  int64
	recs    []record.Log
	rej     tally
	labels  []transform.Label
	meta    []transform.Label
	scratch transform.Scratch
}

func (c *logConverter) convert(ld plog.Logs) {
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		c.labels = appendAttrs(c.labels[:0], rl.Resource().Attributes())
		stream := c.parser.Stream(c.labels)
		sel := selector(c.labels)
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				c.record(lrs.At(k), &stream, sel)
			}
		}
	}
}

func (c *logConverter) record(lr plog.LogRecord, stream *transform.Fields, sel string) {
	ts := uint64(lr.Timestamp())
	if ts == 0 {
		ts = uint64(lr.ObservedTimestamp())
	}
	if r := checkTS(ts, c.lo, c.hi); r != "" {
		c.rej.add(r)
		return
	}
	body := lr.Body().AsString()
	if c.maxLine > 0 && len(body) > c.maxLine {
		c.rej.add(ReasonLineTooLong)
		return
	}
	c.meta = appendAttrs(c.meta[:0], lr.Attributes())
	if lv := severity(lr); lv != "" {
		c.meta = append(c.meta, transform.Label{Name: "level", Value: lv})
	}
	if tid := lr.TraceID(); !tid.IsEmpty() {
		c.meta = append(c.meta, transform.Label{Name: "trace_id", Value: tid.String()})
	}
	c.recs = append(c.recs, record.Log{TS: int64(ts), Message: body, Labels: sel})
	c.parser.Line(&c.recs[len(c.recs)-1], stream, c.meta, body, &c.scratch)
}

// severity returns the record's level: its severity text when set, else
// the level of its severity number.
func severity(lr plog.LogRecord) string {
	if t := lr.SeverityText(); t != "" {
		return t
	}
	switch n := lr.SeverityNumber(); {
	case n == plog.SeverityNumberUnspecified:
		return ""
	case n <= plog.SeverityNumberDebug4:
		return record.LevelDebug
	case n <= plog.SeverityNumberInfo4:
		return record.LevelInfo
	case n <= plog.SeverityNumberWarn4:
		return record.LevelWarn
	case n <= plog.SeverityNumberError4:
		return record.LevelError
	}
	return record.LevelFatal
}

// maxAttrs bounds the attributes read from one resource or record.
const maxAttrs = 64

// appendAttrs appends m's attributes as labels, each also under its name
// with dots as underscores when that differs.
func appendAttrs(dst []transform.Label, m pcommon.Map) []transform.Label {
	n := 0
	m.Range(func(k string, v pcommon.Value) bool {
		val := clip(v.AsString())
		dst = append(dst, transform.Label{Name: k, Value: val})
		if u := strings.ReplaceAll(k, ".", "_"); u != k {
			dst = append(dst, transform.Label{Name: u, Value: val})
		}
		n++
		return n < maxAttrs
	})
	return dst
}

// selector renders the resource's labels in Prometheus form, as a Loki
// stream's labels are stored: {a="b", c="d"}, underscored names only.
func selector(ls []transform.Label) string {
	var b strings.Builder
	b.WriteByte('{')
	first := true
	for _, l := range ls {
		if strings.IndexByte(l.Name, '.') >= 0 {
			continue
		}
		if !first {
			b.WriteString(", ")
		}
		first = false
		b.WriteString(l.Name)
		b.WriteString(`="`)
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(l.Value, `\`, `\\`), `"`, `\"`))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return clip(b.String())
}
