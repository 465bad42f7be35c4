package api

import (
	"context"
	"github.com/go-kit/log/level"

	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"github.com/noctua-obs/noctua/api/audit"
	"net/http"
	"slices"
	"strings"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/ingest"
)

// Scope is who a caller is and what it may see. It is resolved from the
// bearer token once per HTTP request or websocket connection and checked on
// every endpoint and every subscription.
type Scope struct {
	// Name is the token's name from the configuration ("anonymous" when
	// authentication is disabled).
	Name string `json:"name"`
	// Role is "noc" (every domain) or "squad" (Domain only).
	Role string `json:"role"`
	// Domain is the squad's domain id; empty for the NOC. For an ingest
	// token, the only domain it may write, if any.
	Domain string `json:"domain"`
	// Services limits an ingest token's writes to these services.
	Services []string `json:"services,omitempty"`
	// AuthEnabled is false when the configuration has no tokens: every
	// caller is then treated as the NOC.
	AuthEnabled bool `json:"auth_enabled"`
}

// NOC reports whether the scope sees every domain.
func (s Scope) NOC() bool { return s.Role == config.RoleNOC }

// CanSee reports whether the scope may read the domain's data.
func (s Scope) CanSee(domain string) bool { return s.NOC() || s.Domain == domain }

// Domains returns the allowlist for store.Filter.Domains: nil (everything)
// for the NOC, the squad's domain otherwise.
func (s Scope) Domains() []string {
	if s.NOC() {
		return nil
	}
	return []string{s.Domain}
}

// Key identifies the data the scope may see: two callers with equal keys
// receive identical views, so the websocket hub computes a view once per key.
func (s Scope) Key() string {
	if s.NOC() {
		return config.RoleNOC
	}
	return config.RoleSquad + ":" + s.Domain
}

// anonymous returns the scope of every caller when no token is configured.
func anonymous() Scope { return Scope{Name: "anonymous", Role: config.RoleNOC} }

// Authenticate resolves the scope of a reader (a NOC or squad token) from
// "Authorization: Bearer <token>" or, for browsers and websockets that
// cannot set headers, the "token" query parameter. With no tokens
// configured every caller is the NOC. A missing or unknown token is
// ErrUnauthorized; an ingest or metrics token is ErrForbidden here.
func (a *API) Authenticate(r *http.Request) (Scope, error) {
	return a.AuthenticateAs(r, config.RoleNOC, config.RoleSquad)
}

// AuthenticateAs resolves the caller's scope and checks that its token has
// one of roles. Tokens are compared by their SHA-256 (configured hashed or
// plain), against every configured token in constant time, so that timing
// reveals neither which token nearly matched nor how many there are. Basic
// authentication is taken too, its password as the token, for log shippers
// that only speak it.
func (a *API) AuthenticateAs(r *http.Request, roles ...string) (Scope, error) {
	if !a.cfg.AuthEnabled() {
		return anonymous(), nil
	}
	var (
		s   Scope
		err error
	)
	if h := r.Header.Get("Authorization"); h == "" {
		s, err = a.authenticateToken(r.URL.Query().Get("token"), roles)
	} else {
		s, err = a.AuthenticateHeader(h, roles...)
	}
	if r.URL.Path == "/ws" { // the dashboard's live connection: a login
		if err != nil {
			a.record(r, audit.Entry{Kind: audit.KindDenied, Detail: err.Error()})
		} else {
			a.record(r, audit.Entry{Kind: audit.KindLogin, Who: s.Name, Role: s.Role})
		}
	}
	return s, err
}

// record writes an audit entry about r, when an audit log is configured.
func (a *API) record(r *http.Request, e audit.Entry) {
	if a.audit == nil {
		return
	}
	e.Remote, e.Path = r.RemoteAddr, r.URL.Path
	if err := a.audit.Record(e); err != nil {
		level.Error(a.logger).Log("msg", "audit log write failed", "err", err)
	}
}

// AuthenticateHeader is AuthenticateAs for the value of an Authorization
// header (or gRPC "authorization" metadata) alone.
func (a *API) AuthenticateHeader(h string, roles ...string) (Scope, error) {
	if !a.cfg.AuthEnabled() {
		return anonymous(), nil
	}
	scheme, rest, ok := strings.Cut(h, " ")
	switch {
	case ok && strings.EqualFold(scheme, "Bearer"):
		return a.authenticateToken(strings.TrimSpace(rest), roles)
	case ok && strings.EqualFold(scheme, "Basic"):
		r := http.Request{Header: http.Header{"Authorization": {h}}}
		_, pass, _ := r.BasicAuth()
		return a.authenticateToken(pass, roles)
	}
	return Scope{}, fmt.Errorf("%w: Authorization header must be \"Bearer <token>\"", ErrUnauthorized)
}

func (a *API) authenticateToken(tok string, roles []string) (Scope, error) {
	if tok == "" {
		return Scope{}, fmt.Errorf("%w: missing bearer token", ErrUnauthorized)
	}
	d := sha256.Sum256([]byte(tok))
	found := -1
	for i := range a.digests {
		if subtle.ConstantTimeCompare(a.digests[i][:], d[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return Scope{}, fmt.Errorf("%w: unknown token", ErrUnauthorized)
	}
	t := a.cfg.Auth.Tokens[found]
	if !slices.Contains(roles, t.Role) {
		return Scope{}, fmt.Errorf("%w: a %s token cannot do this (needs %s)", ErrForbidden, t.Role, strings.Join(roles, " or "))
	}
	s := Scope{Name: t.Name, Role: t.Role, AuthEnabled: true}
	switch t.Role {
	case config.RoleSquad:
		s.Domain = t.Domain
	case config.RoleIngest:
		s.Domain, s.Services = t.Domain, t.Services
	}
	return s, nil
}

// WithWriter returns ctx carrying what an ingest request's token is: its
// name (the sender's identity for admission) and, for an ingest token,
// the domain and services it may write.
func (s Scope) WithWriter(ctx context.Context) context.Context {
	if !s.AuthEnabled {
		return ctx
	}
	ctx = ingest.WithIdentity(ctx, s.Name)
	if s.Role == config.RoleIngest {
		ctx = ingest.WithWriteScope(ctx, ingest.WriteScope{Domain: s.Domain, Services: s.Services})
	}
	return ctx
}

// Require serves h only to callers whose token has one of roles (every
// caller when no token is configured): 401 without a token, 403 with
// another role. It guards the write paths (config.RoleIngest, RoleNOC)
// and /metrics (RoleMetrics, RoleNOC). With authentication on, the token's
// name is the request's ingest.WithIdentity, and an ingest token's domain
// and services its ingest.WithWriteScope.
func (a *API) Require(h http.Handler, roles ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := a.AuthenticateAs(r, roles...)
		if err != nil {
			if errors.Is(err, ErrUnauthorized) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="noctua"`)
			}
			a.WriteError(w, r, err)
			return
		}
		h.ServeHTTP(w, r.WithContext(s.WithWriter(r.Context())))
	})
}

// tokenDigests returns the SHA-256 of each configured token, in order.
func tokenDigests(cfg *config.Config) [][32]byte {
	out := make([][32]byte, len(cfg.Auth.Tokens))
	for i, t := range cfg.Auth.Tokens {
		out[i], _ = t.Digest() // validated: a bad hash cannot get here
	}
	return out
}
