package memquery

import (
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

// WithLogs adds log rows and returns q, for one-line set-up.
func (q *Querier) WithLogs(ls ...record.Log) *Querier {
	_ = q.AppendLogs(context.Background(), ls)
	return q
}

// AppendLogs adds log rows (store.LogAppender).
func (q *Querier) AppendLogs(_ context.Context, ls []record.Log) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.logs = append(q.logs, ls...)
	return nil
}

// LogRollup implements store.LogQuerier: windows start at From, one per Step.
func (q *Querier) LogRollup(_ context.Context, rq store.RollupQuery) ([]store.LogSeries, error) {
	return rollup(q, rq, func(q *Querier) []record.Log { return q.logs },
		func(l *record.Log) (int64, store.Key) {
			return l.TS, store.Key{Domain: l.Domain, Journey: l.Journey, Service: l.Service, API: l.API}
		},
		func(ts time.Time, ls []*record.Log) store.LogPoint {
			return store.LogPoint{TS: ts, LogAggregate: logAggregate(ls)}
		},
		func(k store.Key, ps []store.LogPoint) store.LogSeries { return store.LogSeries{Key: k, Points: ps} })
}

func logAggregate(ls []*record.Log) store.LogAggregate {
	ag := store.LogAggregate{ErrorsByClass: map[string]int64{}, ByLevel: map[string]int64{}}
	type ck struct{ code, class string }
	codes := map[ck]int64{}
	for _, l := range ls {
		ag.Lines++
		ag.ByLevel[l.Level]++
		if l.ErrorCode != "" {
			ag.Errors++
			ag.ErrorsByClass[l.ErrorClass]++
			codes[ck{l.ErrorCode, l.ErrorClass}]++
		}
		if l.Timeout {
			ag.Timeouts++
		}
		if l.Retry {
			ag.Retries++
		}
	}
	for k, n := range codes {
		ag.Codes = append(ag.Codes, store.CodeCount{Code: k.code, Class: k.class, Count: n})
	}
	store.SortCodes(ag.Codes)
	return ag
}

// Logs implements store.LogQuerier: newest first (ties: last appended
// first), pages of Limit (100 when 0, at most store.MaxLogLimit). A cursor
// names the position (time, append index) of the last row of its page.
func (q *Querier) Logs(_ context.Context, lq store.LogQuery) (store.LogPage, error) {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.err != nil {
		return store.LogPage{}, q.err
	}
	limit := lq.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, store.MaxLogLimit)
	after := position{ts: 1<<63 - 1, idx: len(q.logs)}
	if lq.Cursor != "" {
		var err error
		if after, err = decodeCursor(lq.Cursor); err != nil {
			return store.LogPage{}, err
		}
	}
	var idx []int
	for i := range q.logs {
		l := &q.logs[i]
		if l.TS < lq.From.UnixNano() || l.TS >= lq.To.UnixNano() ||
			!lq.Filter.Match(l.Domain, l.Journey, l.Service, l.API) ||
			lq.Level != "" && l.Level != lq.Level ||
			lq.ErrorCode != "" && l.ErrorCode != lq.ErrorCode ||
			lq.OnlyError && l.ErrorCode == "" ||
			lq.Contains != "" && !strings.Contains(l.Message, lq.Contains) ||
			!(position{l.TS, i}).follows(after) {
			continue
		}
		idx = append(idx, i)
	}
	slices.SortFunc(idx, func(a, b int) int {
		return cmp.Or(cmp.Compare(q.logs[b].TS, q.logs[a].TS), cmp.Compare(b, a))
	})
	var page store.LogPage
	if len(idx) > limit {
		last := idx[limit-1]
		page.Next = position{q.logs[last].TS, last}.encode()
		idx = idx[:limit]
	}
	page.Logs = make([]record.Log, len(idx))
	for j, i := range idx {
		page.Logs[j] = q.logs[i]
	}
	return page, nil
}

// position is a log row's place in page order: newest first, and among
// rows as new, the last appended first.
type position struct {
	ts  int64
	idx int
}

// follows reports whether p comes strictly after c in page order: p is
// older than c, or as old and appended earlier.
func (p position) follows(c position) bool {
	return p.ts < c.ts || p.ts == c.ts && p.idx < c.idx
}

const cursorPrefix = "mq1:"

func (p position) encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("%s%d:%d", cursorPrefix, p.ts, p.idx)))
}

func decodeCursor(s string) (position, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return position{}, store.ErrBadCursor
	}
	var p position
	rest, ok := strings.CutPrefix(string(b), cursorPrefix)
	if !ok {
		return position{}, store.ErrBadCursor
	}
	if n, err := fmt.Sscanf(rest, "%d:%d", &p.ts, &p.idx); err != nil || n != 2 || p.idx < 0 {
		return position{}, store.ErrBadCursor
	}
	if (position{p.ts, p.idx}).encode() != s {
		return position{}, store.ErrBadCursor // trailing bytes or a non-canonical form
	}
	return p, nil
}
