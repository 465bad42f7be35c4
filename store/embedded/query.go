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
	return s.roll.Query(q)
}

// maxLimit bounds the rows one Requests call returns.
const maxLimit = 100_000

// source is one place rows may come from, newest data first.
type source struct {
	maxTS int64
	minTS int64
	rec   arrow.Record // retained in-memory block being sealed
	path  string       // sealed Parquet file
	open  bool
}

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
	var sources []source
	s.mu.Lock()
	if s.open.rows() > 0 && s.open.maxTS >= m.from && s.open.minTS < m.to {
		out = s.open.scan(m, out)
	}
	for _, b := range s.sealing {
		if b.maxTS >= m.from && b.minTS < m.to {
			b.rec.Retain()
			sources = append(sources, source{maxTS: b.maxTS, minTS: b.minTS, rec: b.rec})
		}
	}
	for _, f := range s.files {
		if f.maxTS >= m.from && f.minTS < m.to {
			sources = append(sources, source{maxTS: f.maxTS, minTS: f.minTS, path: f.parquetPath()})
		}
	}
	s.mu.Unlock()
	defer func() {
		for _, src := range sources {
			if src.rec != nil {
				src.rec.Release()
			}
		}
	}()
	slices.SortFunc(sources, func(a, b source) int { return cmp.Compare(b.maxTS, a.maxTS) })

	trim := func() {
		slices.SortStableFunc(out, func(a, b record.Request) int { return cmp.Compare(b.TS, a.TS) })
		if len(out) > limit {
			clear(out[limit:])
			out = out[:limit]
		}
	}
	trim()
	for _, src := range sources {
		if len(out) >= limit && src.maxTS < out[limit-1].TS {
			break // nothing newer left
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if src.rec != nil {
			out, _ = scanRecord(src.rec, m, out)
		} else if err := readParquet(ctx, src.path, s.mem, func(rec arrow.Record) error {
			out, _ = scanRecord(rec, m, out)
			return nil
		}); err != nil {
			return nil, err
		}
		trim()
	}
	return out, nil
}
