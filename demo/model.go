package demo

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/record"
)

// UnassignedService is the service the generator adds on purpose that no
// configuration names, so that the unassigned domain has some traffic. When a
// configuration happens to own a service of this name, a suffix is added.
const UnassignedService = "legacy-batch"

// Kinds of endpoint a configured match entry describes.
const (
	kindHTTP      = iota // "POST /v1/payments"
	kindRPC              // "kyc.KYC/Check"
	kindMessaging        // "payments.settled"
)

// endpoint is one raw route or operation of an API, parsed from a `match`
// entry of the configuration.
type endpoint struct {
	kind       int
	spanName   string
	method     string // HTTP method; "" for a bare route
	route      string // HTTP route template, "/v1/accounts/{id}"
	rpcService string // "kyc.KYC"
	rpcMethod  string // "Check"
	topic      string // messaging destination
}

// api is one configured API with its simulated behaviour.
type api struct {
	service   string
	name      string
	endpoints []endpoint
	t         time.Duration // Apdex T
	median    time.Duration // median latency of the log-normal
	sigma     float64       // spread of the log-normal
	errRate   float64       // errors outside incidents
	codes     [3][]string   // business, application, system codes for it
}

// Indexes into api.codes.
const (
	clsBusiness = iota
	clsApplication
	clsSystem
)

// journey is a configured journey with its popularity.
type journey struct {
	id     string // "" for the pseudo-journeys of a configuration without any
	weight float64
	steps  []*api
}

// model is everything the generator knows about the bank, built once from
// the configuration.
type model struct {
	apis     []*api
	journeys []journey
	cum      []float64 // cumulative journey weights
	legacy   *api      // the unassigned service's traffic
	system   []string  // every system code of the taxonomy
	version  map[string]string
	curveAvg float64 // daily mean of the raw diurnal curve
}

// newModel builds the model of cfg. Random per-API traits (latency median,
// error rate) come from rng so that a seed reproduces them.
func newModel(cfg *config.Config, rng *rand.Rand) *model {
	m := &model{version: map[string]string{}}
	var byClass [3][]string
	for _, r := range cfg.Errors.Rules {
		if r.Code == "" { // patterns cannot be generated faithfully
			continue
		}
		switch r.Class {
		case record.ClassBusiness:
			byClass[clsBusiness] = append(byClass[clsBusiness], r.Code)
		case record.ClassApplication:
			byClass[clsApplication] = append(byClass[clsApplication], r.Code)
		case record.ClassSystem:
			byClass[clsSystem] = append(byClass[clsSystem], r.Code)
		}
	}
	m.system = byClass[clsSystem]

	defT := cfg.Apdex.DefaultT
	if defT <= 0 {
		defT = config.DefaultApdexT
	}
	type key struct{ service, api string }
	index := map[key]*api{}
	configured := map[string]bool{}
	for _, d := range cfg.Domains {
		domT := d.ApdexT
		if domT <= 0 {
			domT = defT
		}
		for _, s := range d.Services {
			configured[s.Name] = true
			m.version[s.Name] = versionOf(s.Name)
			for _, ca := range s.APIs {
				t := ca.ApdexT
				if t <= 0 {
					t = domT
				}
				a := &api{service: s.Name, name: ca.Name, t: t}
				for _, raw := range ca.Match {
					a.endpoints = append(a.endpoints, parseMatch(raw))
				}
				if len(a.endpoints) == 0 { // the name itself always matches
					a.endpoints = append(a.endpoints, parseMatch(ca.Name))
				}
				a.traits(rng, byClass)
				m.apis = append(m.apis, a)
				index[key{s.Name, ca.Name}] = a
			}
		}
	}

	for _, cj := range cfg.Journeys {
		j := journey{id: cj.ID, weight: journeyWeight(cj.ID)}
		for _, st := range cj.Steps {
			if a := index[key{st.Service, st.API}]; a != nil {
				j.steps = append(j.steps, a)
			}
		}
		if len(j.steps) > 0 {
			m.journeys = append(m.journeys, j)
		}
	}
	if len(m.journeys) == 0 { // no journeys: single calls to every API
		for _, a := range m.apis {
			m.journeys = append(m.journeys, journey{weight: 1, steps: []*api{a}})
		}
	}
	total := 0.0
	for _, j := range m.journeys {
		total += j.weight
		m.cum = append(m.cum, total)
	}

	legacy := UnassignedService
	for configured[legacy] {
		legacy += "-x"
	}
	m.legacy = &api{
		service: legacy,
		name:    "POST /batch/reconcile",
		endpoints: []endpoint{
			parseMatch("POST /batch/reconcile"),
			parseMatch("GET /batch/jobs/{id}"),
		},
		t:       time.Second,
		median:  400 * time.Millisecond,
		sigma:   0.8,
		errRate: 0.03,
	}
	m.legacy.codes[clsSystem] = byClass[clsSystem]
	m.version[legacy] = "0.9.3"

	const steps = 24 * 60
	sum := 0.0
	for i := range steps {
		sum += rawCurve(float64(i) / 60)
	}
	m.curveAvg = sum / steps
	return m
}

// traits draws an API's latency and error profile and picks the error codes
// that make sense for it.
func (a *api) traits(rng *rand.Rand, byClass [3][]string) {
	// Median latency 0.3–0.6 × T: most requests are satisfied, a long
	// tail tolerates or frustrates.
	a.median = time.Duration((0.3 + 0.3*rng.Float64()) * float64(a.t))
	a.sigma = 0.45 + 0.2*rng.Float64()
	a.errRate = 0.005 + 0.015*rng.Float64()
	subject := strings.ToLower(a.service + " " + a.name)
	for cls, codes := range byClass {
		var fit, neutral []string
		for _, c := range codes {
			switch kw := codeAffinity(c); {
			case len(kw) == 0:
				neutral = append(neutral, c)
			case containsAny(subject, kw):
				fit = append(fit, c)
			}
		}
		switch {
		case len(fit) > 0 && cls == clsBusiness:
			a.codes[cls] = fit // business codes are specific to the API
		case len(fit) > 0:
			a.codes[cls] = append(fit, neutral...)
		case len(neutral) > 0:
			a.codes[cls] = neutral
		default:
			a.codes[cls] = codes
		}
	}
}

// codeAffinity returns the words of the service or API names where an error
// code of the example taxonomy is plausible; nil means anywhere.
func codeAffinity(code string) []string {
	switch code {
	case "INSUFFICIENT_FUNDS":
		return []string{"payment", "transfer", "bill", "ledger", "reserve", "author"}
	case "LIMIT_EXCEEDED":
		return []string{"transfer", "payment", "limit", "author"}
	case "INVALID_OTP":
		return []string{"otp", "login"}
	case "ACCOUNT_BLOCKED":
		return []string{"login", "account", "block", "token"}
	case "KYC_REJECTED":
		return []string{"kyc", "document", "selfie", "signup"}
	case "BENEFICIARY_INVALID":
		return []string{"beneficiar", "transfer"}
	case "DUPLICATE_PAYMENT":
		return []string{"payment", "bill", "settled"}
	case "CARD_DECLINED":
		return []string{"card", "author"}
	case "CORE_BANKING_TIMEOUT":
		return []string{"core", "ledger", "account", "balance", "statement", "transfer", "payment"}
	case "VALIDATION_FAILED":
		return nil
	}
	return nil
}

func containsAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// journeyWeight returns how often a journey of the example bank runs,
// relative to the others: logins and balance checks dominate, international
// transfers are rare. Journeys it does not know get a middling weight.
func journeyWeight(id string) float64 {
	switch id {
	case "login":
		return 30
	case "view-balance":
		return 25
	case "card-payment":
		return 12
	case "pay-bill":
		return 7
	case "domestic-transfer":
		return 6
	case "manage-cards":
		return 4
	case "update-profile":
		return 3
	case "add-beneficiary":
		return 2.5
	case "open-account":
		return 1.5
	case "sign-up":
		return 1.5
	case "international-transfer":
		return 0.6
	}
	switch {
	case strings.Contains(id, "login"), strings.Contains(id, "balance"):
		return 20
	case strings.Contains(id, "international"):
		return 0.6
	}
	return 3
}

// isHTTPMethod reports whether s is an upper-case HTTP method.
func isHTTPMethod(s string) bool {
	switch s {
	case "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS":
		return true
	}
	return false
}

// parseMatch turns a configured raw route or operation into an endpoint:
// "POST /v1/payments" is HTTP, "/v1/payments" a bare HTTP route,
// "kyc.KYC/Check" a gRPC method and anything else ("payments.settled") a
// messaging destination.
func parseMatch(raw string) endpoint {
	raw = strings.TrimSpace(raw)
	if method, route, ok := strings.Cut(raw, " "); ok && isHTTPMethod(method) && strings.HasPrefix(route, "/") {
		return endpoint{kind: kindHTTP, spanName: method + " " + route, method: method, route: route}
	}
	if strings.HasPrefix(raw, "/") {
		return endpoint{kind: kindHTTP, spanName: "GET " + raw, route: raw}
	}
	if i := strings.LastIndexByte(raw, '/'); i > 0 && i < len(raw)-1 && !strings.ContainsAny(raw, " \t") {
		return endpoint{kind: kindRPC, spanName: raw, rpcService: raw[:i], rpcMethod: raw[i+1:]}
	}
	return endpoint{kind: kindMessaging, spanName: "process " + raw, topic: raw}
}

// rawCurve is the un-normalised traffic shape over the hours of a day: a
// night trough, a mid-morning peak and a smaller evening one.
func rawCurve(hour float64) float64 {
	bump := func(center, width float64) float64 {
		d := math.Abs(hour - center)
		d = math.Min(d, 24-d) // the day wraps around
		return math.Exp(-(d * d) / (2 * width * width))
	}
	return 0.12 + 1.0*bump(10.5, 2.2) + 0.75*bump(19.5, 1.8) + 0.35*bump(14, 3)
}

// diurnal returns the traffic multiplier at t, averaging 1 over a day.
func (m *model) diurnal(t time.Time) float64 {
	h := float64(t.Hour()) + float64(t.Minute())/60 + float64(t.Second())/3600
	return rawCurve(h) / m.curveAvg
}

// versionOf gives each service a stable, plausible version string.
func versionOf(service string) string {
	h := fnv.New32a()
	h.Write([]byte(service))
	v := h.Sum32()
	return "1." + strconv.Itoa(int(v%20)) + "." + strconv.Itoa(int(v/20%10))
}
