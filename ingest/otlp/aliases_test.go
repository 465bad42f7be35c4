package otlp

import (
	"net/http"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/noctua-obs/noctua/config"
)

// TestConfiguredAttributeNames: a bank's own attribute names, configured
// under otlp.attributes, fill the record fields as the conventions' names
// do, over protobuf (the wire decoder) and JSON (pdata) alike; a
// conventions' name keeps its meaning.
func TestConfiguredAttributeNames(t *testing.T) {
	al := AliasesFor(config.OTLPAttributes{Journey: []string{"bank.journey"}, ErrorCode: []string{"bank.err"},
		User: []string{"bank.customer"}, JourneyInstance: []string{"http.route"}})
	if _, ok := al["http.route"]; ok {
		t.Fatal("a conventions' name was re-mapped")
	}
	for _, enc := range []string{ctProto, ctJSON} {
		p, app, m := newPipeline(t)
		h := NewHandler(p, m, Options{Aliases: al})
		td := ptrace.NewTraces()
		now := uint64(time.Now().UnixNano())
		buildTraces(td, map[string]any{"service.name": "payments-api"},
			spanSpec{kind: ptrace.SpanKindServer, name: "POST /bills/{id}/pay", start: now, end: now + 1e6, traceID: 1,
				attrs: map[string]any{"bank.journey": "pay-bill", "bank.err": "INSUFFICIENT_FUNDS", "bank.customer": "c-42"}})
		body := marshalProto(t, td)
		if enc == ctJSON {
			body = marshalJSON(t, td)
		}
		if w := post(t, h, enc, "", body); w.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", enc, w.Code, w.Body)
		}
		rows := app.All()
		if len(rows) != 1 {
			t.Fatalf("%s: %d rows", enc, len(rows))
		}
		r := rows[0]
		if r.Journey != "pay-bill" || r.ErrorCode != "INSUFFICIENT_FUNDS" || !r.Error || r.UserHash == "" {
			t.Errorf("%s: journey %q, code %q, error %v, user hash %q", enc, r.Journey, r.ErrorCode, r.Error, r.UserHash)
		}
	}
}
