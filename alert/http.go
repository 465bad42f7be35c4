package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/noctua-obs/noctua/api"
	"github.com/noctua-obs/noctua/record"
)

// Authenticator resolves a caller's scope and writes API errors: *api.API
// implements it.
type Authenticator interface {
	Authenticate(r *http.Request) (api.Scope, error)
	WriteError(w http.ResponseWriter, r *http.Request, err error)
}

// List is the body of GET /api/v1/alerts and of the "alerts" live view.
type List struct {
	Scope api.Scope `json:"scope"`
	// EvaluatedAt is the last evaluation (zero before the first).
	EvaluatedAt time.Time `json:"evaluated_at,omitzero"`
	// Firing counts the firing alerts listed, Pages those of severity page.
	Firing int `json:"firing"`
	Pages  int `json:"pages"`
	// Alerts are firing and recently resolved, worst first.
	Alerts []Alert `json:"alerts"`
	// Dropped counts alerts not raised because alerting.max_alerts were
	// firing; NotifyError is the last Alertmanager failure ("" after a
	// success). NOC only.
	Dropped     int64  `json:"dropped,omitempty"`
	NotifyError string `json:"notify_error,omitempty"`
}

// List answers the alerts the scope sees: the NOC every alert, a squad
// those whose Domains hold its domain. Parameters: domain (an allowlisted
// domain: ErrForbidden for a squad's foreign one), state (firing or
// resolved; default both).
func (e *Evaluator) List(_ context.Context, s api.Scope, v url.Values) (*List, error) {
	dom := v.Get("domain")
	if dom != "" {
		if !s.CanSee(dom) {
			return nil, fmt.Errorf("%w: domain %q is not yours", api.ErrForbidden, dom)
		}
		if dom != record.Unassigned && e.opts.Config.Domain(dom) == nil {
			return nil, fmt.Errorf("%w: domain %q", api.ErrNotFound, dom)
		}
	}
	st := v.Get("state")
	if st != "" && st != StateFiring && st != StateResolved {
		return nil, fmt.Errorf("%w: state: want firing or resolved, got %q", api.ErrBadRequest, st)
	}
	out := &List{Scope: s, Alerts: []Alert{}}
	for _, a := range e.Alerts() {
		if !s.NOC() && !a.VisibleTo(s.Domain) || dom != "" && !a.VisibleTo(dom) || st != "" && a.State != st {
			continue
		}
		if a.Firing() {
			out.Firing++
			if a.Severity == "page" {
				out.Pages++
			}
		}
		out.Alerts = append(out.Alerts, a)
	}
	e.mu.Lock()
	out.EvaluatedAt = e.evaluated.UTC()
	if e.evaluated.IsZero() {
		out.EvaluatedAt = time.Time{}
	}
	if s.NOC() {
		out.Dropped, out.NotifyError = e.dropped, e.notifyErr
	}
	e.mu.Unlock()
	return out, nil
}

// Routes registers GET /api/v1/alerts on mux, authenticated by auth.
func (e *Evaluator) Routes(mux *http.ServeMux, auth Authenticator) {
	mux.Handle("GET /api/v1/alerts", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		s, err := auth.Authenticate(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="noctua"`)
			auth.WriteError(w, r, err)
			return
		}
		body, err := e.List(r.Context(), s, r.URL.Query())
		if err != nil {
			auth.WriteError(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(body)
	}))
}

// View is the "alerts" live view: the body of GET /api/v1/alerts for the
// subscription's parameters, in the subscriber's scope.
func (e *Evaluator) View() api.View {
	return api.View{Name: "alerts", Compute: func(ctx context.Context, s api.Scope, p url.Values) (any, error) {
		return e.List(ctx, s, p)
	}}
}
