package api

import (
	"context"
	"net/http"
	"net/url"
)

// View is a live view the websocket hub can serve and REST can snapshot.
type View struct {
	Name    string                                                        // subscription "view" name, e.g. "kafka"
	Compute func(ctx context.Context, s Scope, p url.Values) (any, error) // p: the subscription's/REST query parameters (domain, range, step, ...); must enforce s (squad scope) itself and return an error wrapping ErrForbidden for a foreign domain, ErrNotFound for an unknown one
}

// InfraRoutes registers the infrastructure and network endpoints on mux:
//
//	GET /api/v1/infra
//	GET /api/v1/probes
func (a *API) InfraRoutes(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/infra", a.handle(a.infra))
	mux.Handle("GET /api/v1/probes", a.handle(a.probes))
}

// InfraView is the "infra" live view: the body of GET /api/v1/infra for
// the subscription's parameters (domain, service, host, range, step).
func (a *API) InfraView() View {
	return View{Name: "infra", Compute: func(ctx context.Context, s Scope, p url.Values) (any, error) {
		return a.Infra(ctx, s, p)
	}}
}

// ProbesView is the "probes" live view: the body of GET /api/v1/probes for
// the subscription's parameters (domain, journey, target, range, step).
func (a *API) ProbesView() View {
	return View{Name: "probes", Compute: func(ctx context.Context, s Scope, p url.Values) (any, error) {
		return a.Probes(ctx, s, p)
	}}
}
