package embedded

import (
	"cmp"
	"context"
	"slices"

	"github.com/apache/arrow/go/v15/arrow"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

// Rollup implements store.Querier from the in-memory rollups. Data older
// than Retention is never answered, even before the retention loop has
// deleted it.
func (s *Store) Rollup(ctx context.Context, q store.RollupQuery) ([]store.Series, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if oldest := s.opts.Now().Add(-s.opts.Retention); q.From.Before(oldest) {
		q.From = oldest
	}
	return s.req.roll.Query(q)
}

// maxLimit bounds the rows one Requests call returns.
const maxLimit = 100_000

// Requests implements store.Querier: matching rows newest first, at most
// q.Limit (100 when 0). It scans the open block, the blocks being sealed and
// the sealed files that overlap the range, newest first, and stops once no
// remaining source can hold a newer row than those it has.
func (s *Store) Requests(ctx context.Context, q store.RequestQuery) ([]record.Request, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, maxLimit)
	from := q.From
	if oldest := s.opts.Now().Add(-s.opts.Retention); from.Before(oldest) {
		from = oldest
	}
	m := &matcher{from: from.UnixNano(), to: q.To.UnixNano(), filter: q.Filter, onlyError: q.OnlyError,
		errorCode: q.ErrorCode, traceID: q.TraceID}
	if m.to <= m.from || q.Filter.Domains != nil && len(q.Filter.Domains) == 0 {
		return nil, nil
	}

	var out []record.Request
	srcs := s.req.sources(m.from, m.to, func(b *block) { out = b.scan(m, out) })
	defer releaseSources(srcs)
	trim := func() {
		slices.SortStableFunc(out, func(a, b record.Request) int { return cmp.Compare(b.TS, a.TS) })
		if len(out) > limit {
			clear(out[limit:])
			out = out[:limit]
		}
	}
	trim()
	err := s.req.scan(ctx, srcs,
		func(src source) bool { return len(out) >= limit && src.maxTS < out[limit-1].TS }, // nothing newer left
		func(rec arrow.Record) { out, _ = scanRecord(rec, m, out) },
		trim)
	if err != nil {
		return nil, err
	}
	return out, nil
}
