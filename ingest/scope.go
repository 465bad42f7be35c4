package ingest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// WriteScope limits what an ingest token may write: records of its
// domain and, when Services is set, of those services only. The zero
// scope writes anything.
type WriteScope struct {
	Domain   string
	Services []string
}

func (s WriteScope) any() bool { return s.Domain == "" && len(s.Services) == 0 }

func (s WriteScope) allows(domain, service string) bool {
	return (s.Domain == "" || s.Domain == domain) && (len(s.Services) == 0 || slices.Contains(s.Services, service))
}

func (s WriteScope) String() string {
	var parts []string
	if s.Domain != "" {
		parts = append(parts, "domain "+s.Domain)
	}
	if len(s.Services) > 0 {
		parts = append(parts, "services "+strings.Join(s.Services, ", "))
	}
	return strings.Join(parts, "; ")
}

type scopeKey struct{}

// WithWriteScope returns ctx carrying the write scope of the request's
// ingest token (set by the authentication layer).
func WithWriteScope(ctx context.Context, s WriteScope) context.Context {
	if s.any() {
		return ctx
	}
	return context.WithValue(ctx, scopeKey{}, s)
}

func writeScope(ctx context.Context) WriteScope {
	s, _ := ctx.Value(scopeKey{}).(WriteScope)
	return s
}

// ErrOutOfScope marks records refused because the token may not write
// their domain or service (an OutOfScopeError).
var ErrOutOfScope = errors.New("records outside the ingest token's scope")

// ReasonOutOfScope is the reason label of noctua_ingest_rejected_total for
// them.
const ReasonOutOfScope = "out_of_scope"

// OutOfScopeError reports the records of a batch that were refused for
// the token's scope; the others were stored. Receivers answer it as a
// partial success.
type OutOfScopeError struct {
	N     int
	Scope WriteScope
	// Example names one refused record's domain and service.
	Example string
}

func (e *OutOfScopeError) Error() string {
	return fmt.Sprintf("%d records outside this ingest token's scope (%s), e.g. %s", e.N, e.Scope, e.Example)
}

func (e *OutOfScopeError) Is(target error) bool { return target == ErrOutOfScope }

// keepInScope compacts rows to those the scope allows and returns them
// with the refusal, nil when none was refused. place gives a row's
// domain and service.
func keepInScope[T any](s WriteScope, rows []T, place func(*T) (domain, service string)) ([]T, *OutOfScopeError) {
	if s.any() {
		return rows, nil
	}
	var refused *OutOfScopeError
	kept := rows[:0]
	for i := range rows {
		d, svc := place(&rows[i])
		if s.allows(d, svc) {
			kept = append(kept, rows[i])
			continue
		}
		if refused == nil {
			refused = &OutOfScopeError{Scope: s, Example: fmt.Sprintf("domain %q service %q", d, svc)}
		}
		refused.N++
	}
	return kept, refused
}
