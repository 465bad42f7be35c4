package clickhouse

import (
	"context"
	"encoding/base64"
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

const logColumns = `ts, seq, domain, journey, service, api, env, source, route, level, error_code, error_class,
	timeout, retry, journey_instance, user_hash, trace_id, message, labels`

// AppendLogs implements store.LogAppender with the contract of
// AppendRequests. Each line gets a sequence number, its tie-break in page
// order among lines as new: the last appended first.
func (s *Store) AppendLogs(ctx context.Context, ls []record.Log) error {
	if len(ls) == 0 {
		return s.checkOpen()
	}
	return insert(s, ctx, "logs", logColumns, ls, s.logValues(len(ls)))
}

// logValues returns the values of n lines in turn, each with the next of
// n sequence numbers taken now.
func (s *Store) logValues(n int) func(*record.Log) []any {
	seq := s.logSeq.Add(uint64(n)) - uint64(n)
	return func(l *record.Log) []any {
		seq++
		return []any{l.TS, seq, l.Domain, l.Journey, l.Service, l.API, l.Env, l.Source, l.Route, l.Level,
			l.ErrorCode, l.ErrorClass, b2u(l.Timeout), b2u(l.Retry), l.JourneyInstance, l.UserHash, l.TraceID, l.Message, l.Labels}
	}
}

// LogRollup implements store.LogQuerier: the counters per group, window
// and level on the server, and the codes bounded as Rollup bounds them.
func (s *Store) LogRollup(ctx context.Context, q store.RollupQuery) ([]store.LogSeries, error) {
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
	aggs := map[cellKey]*store.LogAggregate{}
	err := s.scan(ctx, "log rollup", fmt.Sprintf(`SELECT toInt64(%s) AS w%s, level, count(), countIf(error_code != ''),
		countIf(error_code != '' AND error_class = ?), countIf(error_code != '' AND error_class = ?), countIf(error_code != '' AND error_class = ?),
		countIf(timeout = 1), countIf(retry = 1)
		FROM %s.logs%s GROUP BY w%s, level`, win.expr(), group, s.db, w.String(), group),
		append(append(win.args(), record.ClassBusiness, record.ClassApplication, record.ClassSystem), w.args...),
		gd, func(scan func(...any) (cellKey, error)) error {
			var lv string
			var n, errs, bus, app, sys, tmo, rty uint64
			k, err := scan(&lv, &n, &errs, &bus, &app, &sys, &tmo, &rty)
			if err != nil {
				return err
			}
			a := aggs[k]
			if a == nil {
				a = &store.LogAggregate{ErrorsByClass: map[string]int64{}, ByLevel: map[string]int64{}}
				aggs[k] = a
			}
			a.Lines += int64(n)
			a.Errors += int64(errs)
			a.ErrorsByClass[record.ClassBusiness] += int64(bus)
			a.ErrorsByClass[record.ClassApplication] += int64(app)
			a.ErrorsByClass[record.ClassSystem] += int64(sys)
			a.ByLevel[lv] += int64(n)
			a.Timeouts += int64(tmo)
			a.Retries += int64(rty)
			return nil
		})
	if err != nil || len(aggs) == 0 {
		return nil, err
	}
	codes, err := s.codes(ctx, "logs", "error_code != ''", win, w, gd)
	if err != nil {
		return nil, err
	}
	var out []store.LogSeries
	for _, k := range sortedCells(aggs) {
		a := aggs[k]
		a.Codes = boundCodes(codes[k])
		if len(out) == 0 || out[len(out)-1].Key != k.key {
			out = append(out, store.LogSeries{Key: k.key})
		}
		sr := &out[len(out)-1]
		sr.Points = append(sr.Points, store.LogPoint{TS: win.start(k.w), LogAggregate: *a})
	}
	return out, nil
}

// Logs implements store.LogQuerier: newest first (among lines as new, the
// last appended first), pages of Limit (100 when 0, at most
// store.MaxLogLimit). A cursor names the time and sequence number of the
// last line of its page.
func (s *Store) Logs(ctx context.Context, q store.LogQuery) (store.LogPage, error) {
	if err := s.checkOpen(); err != nil {
		return store.LogPage{}, err
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, store.MaxLogLimit)
	var w where
	if q.Cursor != "" {
		after, err := decodeCursor(q.Cursor)
		if err != nil {
			return store.LogPage{}, err
		}
		w.add("(ts < ? OR ts = ? AND seq < ?)", after.ts, after.ts, after.seq)
	}
	if !s.timeRange(&w, q.From, q.To) || !filter(&w, q.Filter, false) {
		return store.LogPage{}, nil
	}
	if q.Level != "" {
		w.add("level = ?", q.Level)
	}
	if q.ErrorCode != "" {
		w.add("error_code = ?", q.ErrorCode)
	}
	if q.OnlyError {
		w.add("error_code != ''")
	}
	if q.Contains != "" {
		w.add("position(message, ?) > 0", q.Contains)
	}
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	rows, err := s.conn.Query(ctx, fmt.Sprintf("SELECT %s FROM %s.logs%s ORDER BY ts DESC, seq DESC LIMIT %d",
		logColumns, s.db, w.String(), limit+1), w.args...)
	if err != nil {
		return store.LogPage{}, wrap("logs", err)
	}
	defer rows.Close()
	var page store.LogPage
	var seqs []uint64
	for rows.Next() {
		var l record.Log
		var seq uint64
		var tmo, rty uint8
		if err := rows.Scan(&l.TS, &seq, &l.Domain, &l.Journey, &l.Service, &l.API, &l.Env, &l.Source, &l.Route, &l.Level,
			&l.ErrorCode, &l.ErrorClass, &tmo, &rty, &l.JourneyInstance, &l.UserHash, &l.TraceID, &l.Message, &l.Labels); err != nil {
			return store.LogPage{}, wrap("logs", err)
		}
		l.Timeout, l.Retry = tmo == 1, rty == 1
		page.Logs = append(page.Logs, l)
		seqs = append(seqs, seq)
	}
	if err := rows.Err(); err != nil {
		return store.LogPage{}, wrap("logs", err)
	}
	if len(page.Logs) > limit {
		page.Logs = page.Logs[:limit]
		page.Next = position{page.Logs[limit-1].TS, seqs[limit-1]}.encode()
	}
	return page, nil
}

// position is a log line's place in page order.
type position struct {
	ts  int64
	seq uint64
}

const cursorPrefix = "ch1:"

func (p position) encode() string {
	body := fmt.Sprintf("%s%d:%d", cursorPrefix, p.ts, p.seq)
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%s:%016x", body, cursorSum(body)))
}

// cursorSum is a checksum of a cursor's body, so that a cut or altered
// cursor is refused (store.ErrBadCursor) rather than read as another place.
func cursorSum(body string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(body))
	return h.Sum64()
}

func decodeCursor(s string) (position, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return position{}, store.ErrBadCursor
	}
	rest, ok := strings.CutPrefix(string(b), cursorPrefix)
	if !ok {
		return position{}, store.ErrBadCursor
	}
	var p position
	var sum uint64
	if n, err := fmt.Sscanf(rest, "%d:%d:%x", &p.ts, &p.seq, &sum); err != nil || n != 3 {
		return position{}, store.ErrBadCursor
	}
	if p.encode() != s {
		return position{}, store.ErrBadCursor // a wrong sum, trailing bytes or a non-canonical form
	}
	return p, nil
}
