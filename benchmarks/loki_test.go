package benchmarks

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/grafana/loki/pkg/push"

	"github.com/noctua-obs/noctua/config"
)

// BenchmarkLokiPush measures Loki push ingest end to end with durable
// acknowledgements: requests of 1,000 JSON log lines of about 200 bytes,
// each with an error code, over ten streams, pre-encoded as the Loki JSON
// push body and as snappy-compressed protobuf push.PushRequest (promtail's
// format, no Content-Encoding), posted by concurrent senders to a real
// noctua process; a request counts once answered 204 (after the WAL
// fsync). Reports lines/s, the server's CPU-seconds per million lines and
// its peak RSS.
func BenchmarkLokiPush(b *testing.B) {
	cfg := exampleConfig(b)
	const linesPerReq = 1000
	now := time.Now()
	reqs := make([][]lokiStream, 64)
	for i := range reqs {
		reqs[i] = lokiRequest(cfg, linesPerReq, uint64(i), now)
	}
	for _, enc := range []struct {
		name, contentType string
		encode            func(testing.TB, []lokiStream) []byte
	}{
		{"json", "application/json", lokiJSON},
		{"protobuf", "application/x-protobuf", lokiProto},
	} {
		b.Run(enc.name, func(b *testing.B) {
			bodies := make([][]byte, len(reqs))
			for i, r := range reqs {
				bodies[i] = enc.encode(b, r)
			}
			runLoad(b, startNoctua(b), load{
				path:   "/loki/api/v1/push",
				header: http.Header{"Content-Type": {enc.contentType}},
				bodies: bodies,
				items:  linesPerReq,
				unit:   "lines",
				ok:     http.StatusNoContent,
			})
		})
	}
}

// lokiStream is one stream of a push: its labels and lines.
type lokiStream struct {
	labels map[string]string
	ts     []time.Time
	lines  []string
}

// lokiRequest returns n error lines of the example bank, as ten streams
// (one journey step's service and pod each) with lines ending around now.
func lokiRequest(cfg *config.Config, n int, seed uint64, now time.Time) []lokiStream {
	rng := rand.New(rand.NewPCG(seed, 42))
	var codes []string
	for _, r := range cfg.Errors.Rules {
		if r.Code != "" {
			codes = append(codes, r.Code)
		}
	}
	codes = append(codes, "BIZ-101", "APP-042", "SYS-504")
	type step struct{ service, api, journey string }
	var steps []step
	for _, j := range cfg.Journeys {
		for _, s := range j.Steps {
			steps = append(steps, step{s.Service, s.API, j.ID})
		}
	}
	const streams = 10
	out := make([]lokiStream, streams)
	for s := range out {
		st := steps[rng.IntN(len(steps))]
		out[s].labels = map[string]string{"service_name": st.service, "env": "prod", "namespace": "bank",
			"pod": fmt.Sprintf("%s-7d9f8b6c5-%05x", st.service, rng.IntN(1<<20))}
		for i := s; i < n; i += streams {
			ts := now.Add(-time.Duration(n-i) * time.Millisecond)
			line := fmt.Sprintf(`{"ts":%q,"level":"error","msg":"request failed","api":%q,"error_code":%q,"journey_id":%q,"customer_id":"C%08d","trace_id":"%016x%016x"}`,
				ts.UTC().Format(time.RFC3339Nano), st.api, codes[rng.IntN(len(codes))], st.journey, rng.IntN(1e8), rng.Uint64(), rng.Uint64())
			out[s].ts = append(out[s].ts, ts)
			out[s].lines = append(out[s].lines, line)
		}
	}
	return out
}

// lokiProto encodes streams as promtail does: a snappy-compressed
// protobuf push.PushRequest.
func lokiProto(tb testing.TB, streams []lokiStream) []byte {
	req := push.PushRequest{}
	for _, s := range streams {
		keys := make([]string, 0, len(s.labels))
		for k := range s.labels {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var ls strings.Builder
		for i, k := range keys {
			if i > 0 {
				ls.WriteString(", ")
			}
			fmt.Fprintf(&ls, "%s=%q", k, s.labels[k])
		}
		st := push.Stream{Labels: "{" + ls.String() + "}"}
		for i, line := range s.lines {
			st.Entries = append(st.Entries, push.Entry{Timestamp: s.ts[i], Line: line})
		}
		req.Streams = append(req.Streams, st)
	}
	raw, err := req.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	return snappy.Encode(nil, raw)
}

// lokiJSON encodes streams as the Loki JSON push body:
// {"streams":[{"stream":{labels},"values":[["<unix ns>","<line>"],...]}]}.
func lokiJSON(tb testing.TB, streams []lokiStream) []byte {
	type stream struct {
		Stream map[string]string `json:"stream"`
		Values [][2]string       `json:"values"`
	}
	var body struct {
		Streams []stream `json:"streams"`
	}
	for _, s := range streams {
		st := stream{Stream: s.labels}
		for i, line := range s.lines {
			st.Values = append(st.Values, [2]string{strconv.FormatInt(s.ts[i].UnixNano(), 10), line})
		}
		body.Streams = append(body.Streams, st)
	}
	raw, err := json.Marshal(body)
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}
