package clickhouse

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

const requestColumns = `ts, domain, journey, service, api, env, source, route, duration, error, status_code,
	error_code, error_class, apdex, journey_instance, user_hash, trace_id`

// AppendRequests implements store.Appender: it returns once the server
// has acknowledged the INSERT of every row (one INSERT per MaxBatchRows
// rows). A server that cannot be reached gives an error wrapping
// ErrUnavailable (and store.ErrFull); when an append of several INSERTs
// fails, the INSERTs before the failed one are kept. The raw user id is
// never written.
func (s *Store) AppendRequests(ctx context.Context, rs []record.Request) error {
	return insert(s, ctx, "requests", requestColumns, rs, requestValues)
}

func requestValues(r *record.Request) []any {
	return []any{r.TS, r.Domain, r.Journey, r.Service, r.API, r.Env, r.Source, r.Route, int64(r.Duration),
		b2u(r.Error), r.StatusCode, r.ErrorCode, r.ErrorClass, uint8(r.Apdex), r.JourneyInstance, r.UserHash, r.TraceID}
}

// insert appends rows to table in INSERTs of at most MaxBatchRows rows,
// each naming its columns (as ClickHouse 18.16 needs).
func insert[R any](s *Store, ctx context.Context, table, columns string, rows []R, values func(*R) []any) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	for i := 0; i < len(rows); i += s.cfg.MaxBatchRows {
		if err := insertBatch(s, ctx, table, columns, rows[i:min(i+s.cfg.MaxBatchRows, len(rows))], values, nil); err != nil {
			return err
		}
	}
	return nil
}

// insertBatch sends one INSERT of rows and waits for its acknowledgement.
// When id is not nil each row also gets the message identity columns.
func insertBatch[R any](s *Store, ctx context.Context, table, columns string, rows []R, values func(*R) []any, id *store.MessageID) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	var extra []any
	if id != nil {
		columns += ", " + messageColumns
		extra = []any{id.Topic, id.Partition, id.Offset}
	}
	st := s.stats.table(table)
	b, err := s.conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s.%s (%s)", s.db, table, columns))
	if err != nil {
		st.failures.Add(1)
		return wrap("insert into "+table, err)
	}
	defer b.Close()
	for i := range rows {
		if err := b.Append(append(values(&rows[i]), extra...)...); err != nil {
			st.failures.Add(1)
			return fmt.Errorf("clickhouse: insert into %s: %w", table, err)
		}
	}
	if err := b.Send(); err != nil {
		st.failures.Add(1)
		return wrap("insert into "+table, err)
	}
	st.inserts.Add(1)
	st.rows.Add(uint64(len(rows)))
	return nil
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// Rollup implements store.Querier with three aggregations on the server:
// the counters per group and window, the duration histogram the
// quantiles are read from, and the error codes per full key and 10 s cell
// (bounded here).
func (s *Store) Rollup(ctx context.Context, q store.RollupQuery) ([]store.Series, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	var w where
	if !s.timeRange(&w, q.From, q.To) || !filter(&w, q.Filter, false) {
		return nil, nil
	}
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	win, gd := windowOf(q), dims(q.GroupBy)
	group := groupColumns(gd)
	aggs := map[cellKey]*store.Aggregate{}
	err := s.scan(ctx, "rollup", fmt.Sprintf(`SELECT toInt64(%s) AS w%s, count(), countIf(error = 1),
		countIf(error = 1 AND error_class = ?), countIf(error = 1 AND error_class = ?), countIf(error = 1 AND error_class = ?),
		countIf(apdex = ?), countIf(apdex = ?), countIf(apdex = ?), max(duration), uniqIf(user_hash, user_hash != '')
		FROM %s.requests%s GROUP BY w%s`, win.expr(), group, s.db, w.String(), group),
		append(append(win.args(), record.ClassBusiness, record.ClassApplication, record.ClassSystem,
			uint8(record.ApdexSatisfied), uint8(record.ApdexTolerating), uint8(record.ApdexFrustrated)), w.args...),
		gd, func(scan func(...any) (cellKey, error)) error {
			var n, errs, bus, app, sys, sat, tol, fru, users uint64
			var mx int64
			k, err := scan(&n, &errs, &bus, &app, &sys, &sat, &tol, &fru, &mx, &users)
			if err != nil {
				return err
			}
			aggs[k] = &store.Aggregate{Count: int64(n), Errors: int64(errs),
				ErrorsByClass: map[string]int64{record.ClassBusiness: int64(bus), record.ClassApplication: int64(app), record.ClassSystem: int64(sys)},
				Satisfied:     int64(sat), Tolerating: int64(tol), Frustrated: int64(fru),
				MaxMs: float64(mx) / float64(time.Millisecond), Users: int64(users)}
			return nil
		})
	if err != nil || len(aggs) == 0 {
		return nil, err
	}
	bins := map[cellKey][]bin{}
	err = s.scan(ctx, "rollup quantiles", fmt.Sprintf(`SELECT toInt64(%s) AS w%s, %s AS b, count()
		FROM %s.requests%s GROUP BY w%s, b`, win.expr(), group, binExpr, s.db, w.String(), group),
		append(win.args(), w.args...), gd, func(scan func(...any) (cellKey, error)) error {
			var b bin
			k, err := scan(&b.idx, &b.n)
			if err != nil {
				return err
			}
			bins[k] = append(bins[k], b)
			return nil
		})
	if err != nil {
		return nil, err
	}
	codes, err := s.codes(ctx, "requests", "error = 1 AND error_code != ''", win, w, gd)
	if err != nil {
		return nil, err
	}
	var out []store.Series
	for _, k := range sortedCells(aggs) {
		a := aggs[k]
		qs := quantiles(bins[k], 0.5, 0.95, 0.99)
		a.P50, a.P95, a.P99 = qs[0], qs[1], qs[2]
		a.Codes = boundCodes(codes[k])
		if len(out) == 0 || out[len(out)-1].Key != k.key {
			out = append(out, store.Series{Key: k.key})
		}
		sr := &out[len(out)-1]
		sr.Points = append(sr.Points, store.Point{TS: win.start(k.w), Aggregate: *a})
	}
	return out, nil
}

// groupColumns is the SQL list of the grouped columns, each after a comma.
func groupColumns(gd []store.Dim) string {
	var b strings.Builder
	for _, d := range gd {
		b.WriteString(", ")
		b.WriteString(string(d))
	}
	return b.String()
}

// scan runs a query whose rows start with a window number and the
// grouped dimensions gd, and calls row for each with a function that
// scans the row (its leading columns, then rest) and returns its cell key.
func (s *Store) scan(ctx context.Context, what, sql string, args []any, gd []store.Dim,
	row func(scan func(rest ...any) (cellKey, error)) error) error {
	rows, err := s.conn.Query(ctx, sql, args...)
	if err != nil {
		return wrap(what, err)
	}
	defer rows.Close()
	var wn int64
	vals := make([]string, len(gd))
	lead := []any{&wn}
	for i := range vals {
		lead = append(lead, &vals[i])
	}
	scanRow := func(rest ...any) (cellKey, error) {
		if err := rows.Scan(append(lead[:len(lead):len(lead)], rest...)...); err != nil {
			return cellKey{}, err
		}
		k := cellKey{w: wn}
		for i, d := range gd {
			setDim(&k.key, d, vals[i])
		}
		return k, nil
	}
	for rows.Next() {
		if err := row(scanRow); err != nil {
			return wrap(what, err)
		}
	}
	return wrap(what, rows.Err())
}

// allDims are the four dimensions of a full key.
var allDims = []store.Dim{store.DimDomain, store.DimJourney, store.DimService, store.DimAPI}

// codes counts the rows of table that pass w and cond per window, full
// key, CodeBucket cell, code and class, and returns them per point of a
// query grouped by gd.
func (s *Store) codes(ctx context.Context, table, cond string, win window, w where, gd []store.Dim) (map[cellKey][]codeCell, error) {
	w.conds = append(w.conds[:len(w.conds):len(w.conds)], cond)
	out := map[cellKey][]codeCell{}
	err := s.scan(ctx, "rollup codes", fmt.Sprintf(`SELECT toInt64(%s) AS w, domain, journey, service, api,
		toInt64(intDiv(ts, %d)) AS cell, error_code, error_class, count(), min(ts)
		FROM %s.%s%s GROUP BY w, domain, journey, service, api, cell, error_code, error_class`,
		win.expr(), int64(CodeBucket), s.db, table, w.String()),
		append(win.args(), w.args...), allDims, func(scan func(...any) (cellKey, error)) error {
			var c codeCell
			var n uint64
			k, err := scan(&c.cell, &c.code, &c.class, &n, &c.first)
			if err != nil {
				return err
			}
			c.key, c.n = k.key, int64(n)
			k.key = k.key.Group(gd)
			out[k] = append(out[k], c)
			return nil
		})
	return out, err
}

// Requests implements store.Querier: newest first, at most Limit (100
// when 0, at most 100000).
func (s *Store) Requests(ctx context.Context, q store.RequestQuery) ([]record.Request, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, maxRequestLimit)
	var w where
	if !s.timeRange(&w, q.From, q.To) || !filter(&w, q.Filter, false) {
		return nil, nil
	}
	if q.OnlyError {
		w.add("error = 1")
	}
	if q.ErrorCode != "" {
		w.add("error_code = ?", q.ErrorCode)
	}
	if q.TraceID != "" {
		w.add("trace_id = ?", q.TraceID)
	}
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	rows, err := s.conn.Query(ctx, fmt.Sprintf("SELECT %s FROM %s.requests%s ORDER BY ts DESC LIMIT %d",
		requestColumns, s.db, w.String(), limit), w.args...)
	if err != nil {
		return nil, wrap("requests", err)
	}
	defer rows.Close()
	var out []record.Request
	for rows.Next() {
		var r record.Request
		var dur int64
		var isErr, apdex uint8
		if err := rows.Scan(&r.TS, &r.Domain, &r.Journey, &r.Service, &r.API, &r.Env, &r.Source, &r.Route, &dur,
			&isErr, &r.StatusCode, &r.ErrorCode, &r.ErrorClass, &apdex, &r.JourneyInstance, &r.UserHash, &r.TraceID); err != nil {
			return nil, wrap("requests", err)
		}
		r.Duration, r.Error, r.Apdex = time.Duration(dur), isErr == 1, record.Apdex(apdex)
		out = append(out, r)
	}
	return out, wrap("requests", rows.Err())
}
