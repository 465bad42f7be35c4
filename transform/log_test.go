package transform

import (
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/record"
)

func exampleParser(t testing.TB) *LogParser {
	t.Helper()
	cfg, err := config.Parse(config.Example())
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewLogParser(cfg.Logs)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLogLine(t *testing.T) {
	p := exampleParser(t)
	type out struct {
		Service, Env, Journey, Instance, User, Trace, Route, Level, Code string
		Timeout, Retry                                                   bool
	}
	tests := []struct {
		name   string
		labels []Label
		meta   []Label
		line   string
		want   out
	}{
		{"JSON fields", []Label{{"service_name", "bill-pay"}, {"env", "prod"}}, nil,
			`{"level":"ERROR","route":"/v1/bills/pay","method":"post","error_code":"BIZ-101","journey_id":"pay-bill","customer_id":"c-1","trace_id":"t1"}`,
			out{Service: "bill-pay", Env: "prod", Journey: "pay-bill", User: "c-1", Trace: "t1", Route: "POST /v1/bills/pay", Level: "error", Code: "BIZ-101"}},
		{"nested JSON path and escapes", []Label{{"app", "auth-service"}}, nil,
			`{"journey":{"id":"login","instance_id":"j-9"},"http":{"route":"/v1/login","method":"POST"},"msg":"a \"quoted\" word","errorCode":"A\u0042C"}`,
			out{Service: "auth-service", Journey: "login", Instance: "j-9", Route: "POST /v1/login", Code: "ABC"}},
		{"logfmt with quoted values", []Label{{"job", "payments/bill-pay"}}, nil,
			`ts=2025-01-01T00:00:00Z lvl=warn msg="db timed out, retrying" err_code=DB_TIMEOUT route="POST /v1/bills/pay"`,
			out{Service: "bill-pay", Route: "POST /v1/bills/pay", Level: "warn", Code: "DB_TIMEOUT", Timeout: true, Retry: true}},
		{"plain text: code by pattern, level by word", []Label{{"container", "otp-service"}}, nil,
			`2025-01-01 12:00:00 [main] ERROR c.b.Otp - SYS-042 HSM unavailable`,
			out{Service: "otp-service", Level: "error", Code: "SYS-042"}},
		{"structured metadata wins over labels; line wins over both", []Label{{"app", "a"}, {"level", "info"}}, []Label{{"service_name", "b"}, {"level", "warn"}, {"journey_id", "from-meta"}},
			`{"level":"debug"}`,
			out{Service: "b", Journey: "from-meta", Level: "debug"}},
		{"first name in the list wins", []Label{{"job", "ns/from-job"}, {"service_name", "from-service-name"}, {"app", "from-app"}}, nil,
			`hello`, out{Service: "from-service-name"}},
		{"no service label: unknown", []Label{{"host", "h1"}}, nil, `hello`, out{Service: "unknown"}},
		{"service is not read from the line", []Label{{"app", "a"}}, nil, `{"service":"evil","env":"x"}`, out{Service: "a"}},
		{"numeric success code is not an error code", []Label{{"app", "a"}}, nil, `{"code":200,"level":"info"}`, out{Service: "a", Level: "info"}},
		{"numeric error code is", []Label{{"app", "a"}}, nil, `{"code":503}`, out{Service: "a", Code: "503"}},
		{"timeout by code suffix", []Label{{"app", "a"}}, nil, `code=CORE_BANKING_TIMEOUT`, out{Service: "a", Code: "CORE_BANKING_TIMEOUT", Timeout: true}},
		{"deadline exceeded, any case", []Label{{"app", "a"}}, nil, `rpc error: Deadline Exceeded`, out{Service: "a", Level: "error", Timeout: true}},
		{"attempt N is a retry", []Label{{"app", "a"}}, nil, `INFO attempt 2 of 3`, out{Service: "a", Level: "info", Retry: true}},
		{"words inside other words do not count", []Label{{"app", "a"}}, nil, `timeouts_total=3 retryable=false informational`, out{Service: "a"}},
		{"level word far into the line is ignored", []Label{{"app", "a"}}, nil, strings.Repeat("x ", 100) + "ERROR", out{Service: "a"}},
		{"malformed JSON keeps what came before", []Label{{"app", "a"}}, nil, `{"level":"warn","code":"APP-1",`, out{Service: "a", Level: "warn", Code: "APP-1"}},
		{"label level used when the line has none", []Label{{"app", "a"}, {"detected_level", "warning"}}, nil, `plain`, out{Service: "a", Level: "warn"}},
	}
	var s Scratch
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := p.Stream(tt.labels)
			var l record.Log
			p.Line(&l, &f, tt.meta, tt.line, &s)
			got := out{l.Service, l.Env, l.Journey, l.JourneyInstance, l.UserID, l.TraceID, l.Route, l.Level, l.ErrorCode, l.Timeout, l.Retry}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestLogNormalise(t *testing.T) {
	n := exampleNormaliser(t)
	tests := []struct {
		name string
		in   record.Log
		want record.Log // Domain, API, Journey, ErrorClass
	}{
		{"known route, config journey, pattern class",
			record.Log{Service: "bill-pay", Route: "POST /v1/bills/pay", ErrorCode: "SYS-1"},
			record.Log{Domain: "payments", API: "POST /bills/pay", Journey: "pay-bill", ErrorClass: record.ClassSystem}},
		{"journey on the line wins",
			record.Log{Service: "payment-gateway", Route: "POST /v1/payments", Journey: "card-payment", ErrorCode: "INSUFFICIENT_FUNDS"},
			record.Log{Domain: "payments", API: "POST /payments", Journey: "card-payment", ErrorClass: record.ClassBusiness}},
		{"unknown code gets the default class",
			record.Log{Service: "otp-service", ErrorCode: "WHAT"},
			record.Log{Domain: "registration", API: "unknown", ErrorClass: record.ClassApplication}},
		{"no code, no class, even at level error",
			record.Log{Service: "otp-service", Level: record.LevelError},
			record.Log{Domain: "registration", API: "unknown"}},
		{"unknown service is unassigned",
			record.Log{Service: "unknown"},
			record.Log{Domain: record.Unassigned, API: "unknown"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := tt.in
			n.Logs([]record.Log{l})
			n.Log(&l)
			got := record.Log{Domain: l.Domain, API: l.API, Journey: l.Journey, ErrorClass: l.ErrorClass}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
	l := record.Log{Service: "auth-service", UserID: "customer-1"}
	n.Log(&l)
	if l.UserID != "" || len(l.UserHash) != 16 || l.UserHash != n.users.Hash("customer-1") {
		t.Errorf("user id not hashed and cleared: %+v", l)
	}
}

// TestLogMessageLosesCustomerID checks that the raw customer id found in a
// line is replaced by its hash in the stored message, as a whole token only.
func TestLogMessageLosesCustomerID(t *testing.T) {
	cfg, err := config.Parse(config.Example())
	if err != nil {
		t.Fatal(err)
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := n.users.Hash("C123")
	for _, tt := range []struct{ msg, want string }{
		{`{"customer_id":"C123","msg":"paid"}`, `{"customer_id":"` + h + `","msg":"paid"}`},
		{`customer_id=C123 msg="C123 paid twice"`, `customer_id=` + h + ` msg="` + h + ` paid twice"`},
		{`C123`, h},
		{`C1234 and XC123 and C123_ stay`, `C1234 and XC123 and C123_ stay`},
		{`no id here`, `no id here`},
	} {
		l := record.Log{Service: "auth-service", UserID: "C123", Message: tt.msg}
		n.Log(&l)
		if l.Message != tt.want {
			t.Errorf("message %q\n got %q\nwant %q", tt.msg, l.Message, tt.want)
		}
	}
}

// TestPrefilterNeverMissesAMatch checks that a line the prefilter skips
// never matches the regular expression.
func TestPrefilterNeverMissesAMatch(t *testing.T) {
	exprs := append(append([]string{
		`(?i)\b(?:timeout|timed out|deadline exceeded)\b`, `(?i)\b(?:retry|retrying|retried|attempt \d+)\b`,
		`\b(?P<code>(?:BIZ|APP|SYS)-\d{3,})\b`, `TIMEOUT$`, `[Ee]rr(or)?=(?P<code>\w+)`, `x*`, `(ab|cd)+ef`, `a.c`,
	}, config.DefaultErrorPatterns...), config.DefaultRetryCodes...)
	lines := []string{"", "timeout", "TIMEOUT", "Timed Out", "deadline exceeded", "retrying", "RETRIED", "attempt 12",
		"code BIZ-123 here", "APP-1", "xSYS-999", "DB_TIMEOUT", "error=X1", "Err=y", "cdabef", "abc", "a-c", "ef",
		"deadline  exceeded", "time out"}
	for _, e := range exprs {
		m, err := newMatcher(e)
		if err != nil {
			t.Fatal(err)
		}
		re := regexp.MustCompile(e)
		for _, l := range lines {
			var tx text
			tx.reset(l)
			if re.MatchString(l) && !m.mayMatch(&tx) {
				t.Errorf("%s: prefilter %v skips %q, which matches", e, m.lits, l)
			}
		}
	}
	m, _ := newMatcher(`(?i)\b(?:timeout|timed out|deadline exceeded)\b`)
	if len(m.lits) != 3 || !m.fold {
		t.Errorf("want 3 folded literals, got %+v", m.lits)
	}
}

// TestLineFilterIsEachPrefilter checks that the one-pass lineFilter finds
// exactly the matchers whose own prefilter passes, on lines with the
// literals at the edges, in mixed case, overlapping and absent.
func TestLineFilterIsEachPrefilter(t *testing.T) {
	exprs := append([]string{
		`(?i)\b(?:timeout|timed out|deadline exceeded)\b`, `(?i)\b(?:retry|retrying|retried|attempt \d+)\b`,
		`\b(?P<code>(?:BIZ|APP|SYS)-\d{3,})\b`, `x*`, `(ab|cd)+ef`, `Déjà vu`, `(?i)ÉCHEC`,
	}, config.DefaultErrorPatterns...)
	var ms []*matcher
	for _, e := range exprs {
		m, err := newMatcher(e)
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	f := newLineFilter(ms)
	words := []string{"timeout", "TimeOut", "timed out", "TIMED OUT", "deadline exceeded", "retry", "RETRIED", "attempt 3",
		"BIZ-123", "biz-123", "APP-", "SYS-9", "cdef", "abef", "Déjà vu", "échec", "ÉCHEC", "trace_id", "d", "m", "x", "y", "p",
		" ", "{\"", "0123456789abcdef"}
	rng := rand.New(rand.NewPCG(1, 2))
	lines := []string{"", "timeout", "TIMED OUT", "xx", "deadline exceede", "eadline exceeded"}
	for range 5000 {
		var b strings.Builder
		for range rng.IntN(8) {
			b.WriteString(words[rng.IntN(len(words))])
			if rng.IntN(3) == 0 {
				b.WriteByte(' ')
			}
		}
		lines = append(lines, b.String())
	}
	for _, l := range lines {
		may := f.scan(l)
		for i, m := range ms {
			var own text
			own.reset(l)
			if want, got := m.mayMatch(&own), may&m.bit != 0; got != want {
				t.Fatalf("%q: matcher %d (%s): filter says %v, its prefilter %v", l, i, exprs[i], got, want)
			}
		}
	}
}

func TestLowerASCII(t *testing.T) {
	in := "Hello WORLD @[`{ ÄÖ 0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZ xyz"
	b := make([]byte, len(in))
	lowerASCII(b, in)
	want := strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + 32
		}
		return r
	}, in)
	if string(b) != want {
		t.Errorf("got %q, want %q", b, want)
	}
}

func BenchmarkLogLine(b *testing.B) {
	p := exampleParser(b)
	f := p.Stream([]Label{{"service_name", "payment-gateway"}, {"env", "prod"}})
	line := `{"ts":"2025-06-01T12:00:00.000001Z","level":"error","msg":"request failed","route":"/v1/payments","method":"POST","error_code":"SYS-504","journey_id":"pay-bill","customer_id":"c-000001","trace_id":"00000000000000000000000000000001"}`
	var s Scratch
	var l record.Log
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p.Line(&l, &f, nil, line, &s)
	}
}

// TestLogsRemembersOnlyWhatRepeats normalises a batch whose lines share,
// or change, service, route, journey and code from one line to the next:
// the batch (which reuses the previous line's lookups) must give every
// line what normalising it alone gives.
func TestLogsRemembersOnlyWhatRepeats(t *testing.T) {
	n := exampleNormaliser(t)
	services := []string{"bill-pay", "payment-gateway", "otp-service", "unknown"}
	routes := []string{"POST /v1/bills/pay", "POST /v1/payments", "", "GET /x"}
	codes := []string{"", "SYS-1", "INSUFFICIENT_FUNDS", "WHAT", "SYS-1"}
	journeys := []string{"", "", "card-payment"}
	rng := rand.New(rand.NewPCG(7, 8))
	batch := make([]record.Log, 2000)
	for i := range batch {
		if i > 0 && rng.IntN(3) > 0 { // mostly a repeat of the line before, changing one thing
			batch[i] = batch[i-1]
			switch rng.IntN(4) {
			case 0:
				batch[i].Route = routes[rng.IntN(len(routes))]
			case 1:
				batch[i].ErrorCode = codes[rng.IntN(len(codes))]
			case 2:
				batch[i].Journey = journeys[rng.IntN(len(journeys))]
			}
			batch[i].Domain, batch[i].API, batch[i].ErrorClass = "", "", ""
			continue
		}
		batch[i] = record.Log{Service: services[rng.IntN(len(services))], Route: routes[rng.IntN(len(routes))],
			ErrorCode: codes[rng.IntN(len(codes))], Journey: journeys[rng.IntN(len(journeys))]}
	}
	alone := slices.Clone(batch)
	for i := range alone {
		n.Log(&alone[i])
	}
	n.Logs(batch)
	for i := range batch {
		if batch[i] != alone[i] {
			t.Fatalf("line %d: in the batch %+v\nalone       %+v", i, batch[i], alone[i])
		}
	}
}
