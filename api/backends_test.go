package api_test

import (
	"context"
	"testing"

	"github.com/noctua-obs/noctua/api/internal/memquery"
	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
	"github.com/noctua-obs/noctua/store/rollup"
)

// rollupQuerier answers Rollup from the store's own rollup package
// (DDSketch quantiles, HyperLogLog users, 10 s buckets), as the embedded
// store does, and Requests from memory.
type rollupQuerier struct {
	set *rollup.Set
	raw *memquery.Querier
}

func (q rollupQuerier) Rollup(_ context.Context, rq store.RollupQuery) ([]store.Series, error) {
	return q.set.Query(rq)
}

func (q rollupQuerier) Requests(ctx context.Context, rq store.RequestQuery) ([]record.Request, error) {
	return q.raw.Requests(ctx, rq)
}

// rollupBackend runs the views over the store's rollup package.
func rollupBackend() backend {
	return backend{name: "rollup", open: func(tb testing.TB, rows []record.Request) store.Querier {
		set, err := rollup.New(nil)
		if err != nil {
			tb.Fatal(err)
		}
		set.Add(rows)
		return rollupQuerier{set: set, raw: memquery.New(rows...)}
	}}
}
