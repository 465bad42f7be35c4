package transform

import (
	"testing"
	"time"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/record"
)

func exampleNormaliser(t testing.TB) *Normaliser {
	t.Helper()
	cfg, err := config.Parse(config.Example())
	if err != nil {
		t.Fatal(err)
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRequest(t *testing.T) {
	n := exampleNormaliser(t)
	ms := time.Millisecond
	tests := []struct {
		name string
		in   record.Request
		want record.Request // only the fields transform sets are compared
	}{
		{"known route maps to API, domain and journey",
			record.Request{Service: "bill-pay", Route: "POST /v1/bills/pay", Duration: 700 * ms},
			record.Request{Domain: "payments", API: "POST /bills/pay", Journey: "pay-bill", Apdex: record.ApdexSatisfied}},
		{"API name itself matches; tolerating between T and 4T",
			record.Request{Service: "bill-pay", Route: "POST /bills/pay", Duration: 801 * ms},
			record.Request{Domain: "payments", API: "POST /bills/pay", Journey: "pay-bill", Apdex: record.ApdexTolerating}},
		{"exactly 4T is tolerating",
			record.Request{Service: "fx-rates", Route: "GET /v1/fx/quote", Duration: 400 * ms},
			record.Request{Domain: "transfers", API: "GET /fx/quote", Journey: "international-transfer", Apdex: record.ApdexTolerating}},
		{"above 4T is frustrated",
			record.Request{Service: "fx-rates", Route: "GET /v1/fx/quote", Duration: 401 * ms},
			record.Request{Domain: "transfers", API: "GET /fx/quote", Journey: "international-transfer", Apdex: record.ApdexFrustrated}},
		{"journey on the record wins over the config's guess",
			record.Request{Service: "payment-gateway", Route: "POST /v1/payments", Journey: "card-payment", Duration: ms},
			record.Request{Domain: "payments", API: "POST /payments", Journey: "card-payment", Apdex: record.ApdexSatisfied}},
		{"unknown service is unassigned, not dropped; domain default T",
			record.Request{Service: "mystery", Route: "GET /x", Duration: 400 * ms},
			record.Request{Domain: record.Unassigned, API: "GET /x", Apdex: record.ApdexSatisfied}},
		{"unknown route of a known service keeps the route and the domain's T",
			record.Request{Service: "accounts-service", Route: "GET /v1/other", Duration: 301 * ms},
			record.Request{Domain: "customer-accounts", API: "GET /v1/other", Apdex: record.ApdexTolerating}},
		{"empty route is unknown",
			record.Request{Service: "accounts-service", Duration: ms},
			record.Request{Domain: "customer-accounts", API: "unknown", Apdex: record.ApdexSatisfied}},
		{"fast error is frustrated; exact business code",
			record.Request{Service: "payment-gateway", Route: "POST /v1/payments", Duration: ms, Error: true, ErrorCode: "INSUFFICIENT_FUNDS", StatusCode: 422},
			record.Request{Domain: "payments", API: "POST /payments", Journey: "pay-bill", Apdex: record.ApdexFrustrated, ErrorClass: record.ClassBusiness}},
		{"pattern rule",
			record.Request{Service: "otp-service", Route: "POST /v1/otp", Error: true, ErrorCode: "SYS-042"},
			record.Request{Domain: "registration", API: "POST /otp/send", Journey: "sign-up", Apdex: record.ApdexFrustrated, ErrorClass: record.ClassSystem}},
		{"suffix pattern rule",
			record.Request{Service: "otp-service", Route: "POST /v1/otp", Error: true, ErrorCode: "HSM_TIMEOUT"},
			record.Request{Domain: "registration", API: "POST /otp/send", Journey: "sign-up", Apdex: record.ApdexFrustrated, ErrorClass: record.ClassSystem}},
		{"unknown code gets the default class",
			record.Request{Service: "otp-service", Route: "POST /v1/otp", Error: true, ErrorCode: "WHAT_IS_THIS", StatusCode: 503},
			record.Request{Domain: "registration", API: "POST /otp/send", Journey: "sign-up", Apdex: record.ApdexFrustrated, ErrorClass: record.ClassApplication}},
		{"no code: 5xx status is system",
			record.Request{Service: "otp-service", Route: "POST /v1/otp", Error: true, StatusCode: 502},
			record.Request{Domain: "registration", API: "POST /otp/send", Journey: "sign-up", Apdex: record.ApdexFrustrated, ErrorClass: record.ClassSystem}},
		{"no code: 4xx status is business",
			record.Request{Service: "otp-service", Route: "POST /v1/otp", Error: true, StatusCode: 409},
			record.Request{Domain: "registration", API: "POST /otp/send", Journey: "sign-up", Apdex: record.ApdexFrustrated, ErrorClass: record.ClassBusiness}},
		{"no code, no status: default class",
			record.Request{Service: "otp-service", Route: "POST /v1/otp", Error: true},
			record.Request{Domain: "registration", API: "POST /otp/send", Journey: "sign-up", Apdex: record.ApdexFrustrated, ErrorClass: record.ClassApplication}},
		{"code on a successful request is not an error class",
			record.Request{Service: "otp-service", Route: "POST /v1/otp", ErrorCode: "INVALID_OTP"},
			record.Request{Domain: "registration", API: "POST /otp/send", Journey: "sign-up", Apdex: record.ApdexSatisfied}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.in
			n.Request(&r)
			got := record.Request{Domain: r.Domain, API: r.API, Journey: r.Journey, Apdex: r.Apdex, ErrorClass: r.ErrorClass}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestUserIDIsHashedAndCleared(t *testing.T) {
	n := exampleNormaliser(t)
	a := record.Request{Service: "auth-service", UserID: "customer-123"}
	b := record.Request{Service: "auth-service", UserID: "customer-123"}
	c := record.Request{Service: "auth-service", UserID: "customer-124"}
	n.Requests([]record.Request{a})
	for _, r := range []*record.Request{&a, &b, &c} {
		n.Request(r)
	}
	if a.UserID != "" || a.UserHash == "" || len(a.UserHash) != 16 {
		t.Fatalf("user id not hashed and cleared: %+v", a)
	}
	if a.UserHash != b.UserHash || a.UserHash == c.UserHash {
		t.Errorf("hash not stable or collides: %s %s %s", a.UserHash, b.UserHash, c.UserHash)
	}
	if other := NewUserHasher("other-salt").Hash("customer-123"); other == a.UserHash {
		t.Error("salt has no effect")
	}
}

func TestBucket(t *testing.T) {
	T := 100 * time.Millisecond
	for _, tt := range []struct {
		d      time.Duration
		failed bool
		want   record.Apdex
	}{
		{0, false, record.ApdexSatisfied},
		{T, false, record.ApdexSatisfied},
		{T + 1, false, record.ApdexTolerating},
		{4 * T, false, record.ApdexTolerating},
		{4*T + 1, false, record.ApdexFrustrated},
		{0, true, record.ApdexFrustrated},
	} {
		if got := Bucket(tt.d, T, tt.failed); got != tt.want {
			t.Errorf("Bucket(%s, %s, %v) = %s, want %s", tt.d, T, tt.failed, got, tt.want)
		}
	}
}

func BenchmarkRequest(b *testing.B) {
	n := exampleNormaliser(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		r := record.Request{Service: "bill-pay", Route: "POST /v1/bills/pay", Duration: time.Millisecond, UserID: "customer-1", Error: true, ErrorCode: "SYS-1"}
		n.Request(&r)
	}
}
