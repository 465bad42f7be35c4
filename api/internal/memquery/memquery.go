// Package memquery is the name the api and api/ws tests know the in-memory
// reference store by: it is store/memstore.Store, an exact store.Store over
// slices of request, log and sample rows. Quantiles are exact (nearest
// rank) and distinct users exact, so tests can assert precise numbers; a
// real backend is within 1% on quantiles.
package memquery

import (
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store/memstore"
)

// Querier is the in-memory reference store.
type Querier = memstore.Store

// New returns a Querier over a copy of rows.
func New(rows ...record.Request) *Querier { return memstore.New(rows...) }
