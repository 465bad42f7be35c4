package demo

import (
	"strconv"
	"strings"
	"time"

	"github.com/golang/snappy"
	"github.com/grafana/loki/pkg/push"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Shares of the log lines the services write beside their spans.
const (
	infoLogShare  = 0.03 // successful requests that log a line
	retryLogShare = 0.4  // failed system calls that log a retry first
)

// logBatch accumulates log lines into one Loki push request, one stream per
// service, as promtail would ship the services' JSON logs.
type logBatch struct {
	streams map[string]*push.Stream
	order   []string // services in first-seen order, for a stable body
	n       int
}

func (lb *logBatch) add(service string, ts time.Time, line string) {
	if lb.streams == nil {
		lb.streams = map[string]*push.Stream{}
	}
	s, ok := lb.streams[service]
	if !ok {
		s = &push.Stream{Labels: `{env="prod", job="bank/` + service + `", service_name="` + service + `"}`}
		lb.streams[service] = s
		lb.order = append(lb.order, service)
	}
	s.Entries = append(s.Entries, push.Entry{Timestamp: ts, Line: line})
	lb.n++
}

// encode marshals the batch as promtail does: the push package's protobuf,
// snappy-compressed as one block.
func (lb *logBatch) encode() ([]byte, error) {
	req := push.PushRequest{Streams: make([]push.Stream, 0, len(lb.order))}
	for _, svc := range lb.order {
		req.Streams = append(req.Streams, *lb.streams[svc])
	}
	raw, err := req.Marshal()
	if err != nil {
		return nil, err
	}
	return snappy.Encode(nil, raw), nil
}

// logStep writes the log lines of one request: an error (or, for a business
// refusal, a warning) line with its code when it failed, sometimes a retry
// warning before a system failure, and an info line for a few successes.
// Lines carry the same journey, journey instance, customer, trace and route
// as the span, so that logs and APM correlate.
func (g *generator) logStep(lb *logBatch, st stepRun, journeyID, instance, user string, tid pcommon.TraceID, start time.Time) {
	out := st.out
	if !out.failed && g.rng.Float64() >= infoLogShare {
		return
	}
	end := start.Add(st.d)
	line := func(level, msg, code string, extra ...string) string {
		var b strings.Builder
		b.WriteString(`{"level":"` + level + `","msg":` + strconv.Quote(msg))
		if code != "" {
			b.WriteString(`,"error_code":"` + code + `"`)
		}
		ep := st.ep
		switch ep.kind {
		case kindHTTP:
			if ep.method != "" {
				b.WriteString(`,"method":"` + ep.method + `"`)
			}
			b.WriteString(`,"route":` + strconv.Quote(ep.route))
		case kindRPC:
			b.WriteString(`,"route":` + strconv.Quote(ep.rpcService+"/"+ep.rpcMethod))
		case kindMessaging:
			b.WriteString(`,"route":` + strconv.Quote(ep.topic))
		}
		if journeyID != "" {
			b.WriteString(`,"journey_id":"` + journeyID + `"`)
		}
		if instance != "" {
			b.WriteString(`,"journey_instance_id":"` + instance + `"`)
		}
		if user != "" {
			b.WriteString(`,"customer_id":"` + user + `"`)
		}
		b.WriteString(`,"trace_id":"` + tid.String() + `"`)
		for i := 0; i+1 < len(extra); i += 2 {
			b.WriteString(`,"` + extra[i] + `":` + extra[i+1])
		}
		b.WriteString("}")
		return b.String()
	}
	ms := strconv.FormatInt(st.d.Milliseconds(), 10)
	switch {
	case !out.failed:
		lb.add(st.a.service, end, line("info", "request completed", "", "duration_ms", ms))
	case out.cls == clsBusiness:
		lb.add(st.a.service, end, line("warn", "request refused: "+strings.ToLower(strings.ReplaceAll(out.code, "_", " ")), out.code, "duration_ms", ms))
	case out.cls == clsSystem:
		if g.rng.Float64() < retryLogShare {
			lb.add(st.a.service, start.Add(st.d/2), line("warn", "upstream call failed, retrying (attempt 2)", "", "attempt", "2"))
		}
		msg := "upstream call failed"
		if strings.HasSuffix(out.code, "TIMEOUT") {
			msg = "upstream call timed out after " + ms + "ms"
		}
		lb.add(st.a.service, end, line("error", msg, out.code, "duration_ms", ms))
	default:
		msg := "unhandled error"
		if out.code != "" {
			msg = "unhandled " + strings.ToLower(out.code)
		}
		lb.add(st.a.service, end, line("error", msg, out.code, "duration_ms", ms))
	}
}
