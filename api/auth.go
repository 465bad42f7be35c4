package api

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"

	"github.com/noctua-obs/noctua/config"
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
	// Domain is the squad's domain id; empty for the NOC.
	Domain string `json:"domain"`
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

// Authenticate resolves the caller's scope from "Authorization: Bearer
// <token>" or, for browsers and websockets that cannot set headers, the
// "token" query parameter. With no tokens configured every caller is the
// NOC. A missing or unknown token is ErrUnauthorized.
func (a *API) Authenticate(r *http.Request) (Scope, error) {
	if !a.cfg.AuthEnabled() {
		return anonymous(), nil
	}
	tok := ""
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, rest, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return Scope{}, fmt.Errorf("%w: Authorization header must be \"Bearer <token>\"", ErrUnauthorized)
		}
		tok = strings.TrimSpace(rest)
	} else {
		tok = r.URL.Query().Get("token")
	}
	if tok == "" {
		return Scope{}, fmt.Errorf("%w: missing bearer token", ErrUnauthorized)
	}
	// Compare against every token in constant time so that timing reveals
	// neither which token nearly matched nor how many there are.
	found := -1
	for i, t := range a.cfg.Auth.Tokens {
		if subtle.ConstantTimeCompare([]byte(t.Token), []byte(tok)) == 1 {
			found = i
		}
	}
	if found < 0 {
		return Scope{}, fmt.Errorf("%w: unknown token", ErrUnauthorized)
	}
	t := a.cfg.Auth.Tokens[found]
	s := Scope{Name: t.Name, Role: t.Role, AuthEnabled: true}
	if t.Role == config.RoleSquad {
		s.Domain = t.Domain
	}
	return s, nil
}
