package memstore

import (
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

// WithLogs adds log rows and returns q, for one-line set-up.
func (q *Store) WithLogs(ls ...record.Log) *Store {
	_ = q.AppendLogs(context.Background(), ls)
	return q
}

// AppendLogs adds log rows (store.LogAppender).
func (q *Store) AppendLogs(_ context.Context, ls []record.Log) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return store.ErrClosed
	}
	q.logs = append(q.logs, ls...)
	return nil
}

// LogRollup implements store.LogStore: windows start at From, one per Step.
func (q *Store) LogRollup(_ context.Context, rq store.RollupQuery) ([]store.LogSeries, error) {
	return rollup(q, rq, func(q *Store) []record.Log { return q.logs },
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
	for _, l := range ls {
		ag.Lines++
		ag.ByLevel[l.Level]++
		if l.ErrorCode != "" {
			ag.Errors++
			ag.ErrorsByClass[l.ErrorClass]++
		}
		if l.Timeout {
			ag.Timeouts++
		}
		if l.Retry {
			ag.Retries++
		}
	}
	// Codes are bounded per key and CodeBucket as request codes are.
	ag.Codes = boundedCodes(len(ls), func(i int) (bool, string, string, store.Key, int64) {
		l := ls[i]
		return l.ErrorCode != "", l.ErrorCode, l.ErrorClass, store.Key{Domain: l.Domain, Journey: l.Journey, Service: l.Service, API: l.API}, l.TS
	})
	return ag
}

// Logs implements store.LogStore: newest first (ties: last appended
// first), pages of Limit (100 when 0, at most store.MaxLogLimit). A cursor
// names the position (time, append index) of the last row of its page.
func (q *Store) Logs(_ context.Context, lq store.LogQuery) (store.LogPage, error) {
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
		if l.TS < max(lq.From.UnixNano(), q.oldest()) || l.TS >= lq.To.UnixNano() ||
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
	body := fmt.Sprintf("%s%d:%d", cursorPrefix, p.ts, p.idx)
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("%s:%016x", body, cursorSum(body))))
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
	var p position
	rest, ok := strings.CutPrefix(string(b), cursorPrefix)
	if !ok {
		return position{}, store.ErrBadCursor
	}
	var sum uint64
	if n, err := fmt.Sscanf(rest, "%d:%d:%x", &p.ts, &p.idx, &sum); err != nil || n != 3 || p.idx < 0 {
		return position{}, store.ErrBadCursor
	}
	if (position{p.ts, p.idx}).encode() != s {
		return position{}, store.ErrBadCursor // trailing bytes or a non-canonical form
	}
	return p, nil
}
