package ws_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/api/internal/apitest"
	"github.com/noctua-obs/noctua/api/ws"
)

// TestSubscriptionIsolation: every view a squad can subscribe to, with
// every domain and journey it could name, answers either an error frame or
// data of its own domain only, snapshot and update alike.
func TestSubscriptionIsolation(t *testing.T) {
	_, srv := start(t, realViewer(t), ws.Options{Interval: 20 * time.Millisecond, Heartbeat: time.Hour})
	subs := []string{`"view":"overview"`, `"view":"overview","step":"1m"`}
	for _, d := range []string{"payments", "registration", "transfers", "unassigned", "nope"} {
		subs = append(subs, fmt.Sprintf(`"view":"domain","domain":%q`, d), fmt.Sprintf(`"view":"domain","domain":%q,"step":"1m"`, d))
	}
	for _, j := range []string{"pay-bill", "open-account"} {
		subs = append(subs, fmt.Sprintf(`"view":"journey","journey":%q`, j))
	}
	checked := 0
	for tok, own := range map[string]string{apitest.PayToken: "payments", apitest.RegToken: "registration"} {
		c := dial(t, srv, tok)
		var seq uint64
		for i, sub := range subs {
			id := fmt.Sprintf("s%d", i)
			send(t, c, fmt.Sprintf(`{"type":"subscribe","id":%q,%s,"range":"1h"}`, id, sub))
			for got := 0; got < 2; {
				e := read(t, c)
				if e.Seq != seq+1 {
					t.Fatalf("seq %d after %d", e.Seq, seq)
				}
				seq = e.Seq
				if e.ID != id || e.Type == "heartbeat" {
					continue
				}
				if e.Type == "error" {
					break
				}
				var body any
				if err := json.Unmarshal(e.Data, &body); err != nil {
					t.Fatal(err)
				}
				if bad := apitest.Foreign(body, own, ""); len(bad) > 0 {
					t.Errorf("%s squad, %s (%s): foreign rows at %v", own, sub, e.Type, bad)
				}
				got++
				checked++
			}
			send(t, c, fmt.Sprintf(`{"type":"unsubscribe","id":%q}`, id))
		}
		c.Close()
	}
	t.Logf("%d snapshots and updates checked", checked)
	if checked < 10 {
		t.Fatalf("only %d frames with data: the subscriptions did not answer", checked)
	}
}
