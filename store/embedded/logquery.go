package embedded

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/cespare/xxhash/v2"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

// LogRollup implements store.LogQuerier from the in-memory log rollups,
// with the semantics of Rollup.
func (s *Store) LogRollup(ctx context.Context, q store.RollupQuery) ([]store.LogSeries, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if oldest := s.opts.Now().Add(-s.opts.Retention); q.From.Before(oldest) {
		q.From = oldest
	}
	return s.logs.roll.Query(q)
}

// Paging. Rows are ordered newest first by (ts, h, content), h being a hash
// of everything in the row but ts. A cursor names the last row of a page by
// (ts, h) and how many rows with that same (ts, h) have been returned so
// far: such rows are identical but for a 2^-64 chance, so skipping that
// many of them continues exactly where the page ended. The order depends
// only on the rows, not on where they are stored, so pages stay stable while
// blocks are sealed and across restarts.

// logCursor is a decoded LogQuery.Cursor.
type logCursor struct {
	ts   int64
	h    uint64
	seen int // rows with this (ts, h) already returned
}

// cursorVersion 2 cursors are signed with HMAC-SHA256 (cut to 16 bytes)
// under the installation's cursor key, so a client can neither forge one
// nor change the count it carries; version 1 (CRC-checked) is refused.
const cursorVersion = 2

// MaxCursorSeen bounds the count of identical rows a cursor may skip. A
// page holds at most store.MaxLogLimit rows, so only a run of more than
// that many rows identical to the nanosecond reaches it; the bound keeps
// the rows a query holds in memory at MaxCursorSeen + a page.
const MaxCursorSeen = 100 * store.MaxLogLimit

const cursorMACLen = 16

func (c logCursor) encode(key []byte) string {
	b := []byte{cursorVersion}
	b = binary.BigEndian.AppendUint64(b, uint64(c.ts))
	b = binary.BigEndian.AppendUint64(b, c.h)
	b = binary.AppendUvarint(b, uint64(c.seen))
	b = append(b, cursorMAC(key, b)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func cursorMAC(key, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return m.Sum(nil)[:cursorMACLen]
}

// decodeCursor verifies s under key and range-checks its fields.
func decodeCursor(key []byte, s string) (logCursor, error) {
	if len(s) > 128 {
		return logCursor{}, store.ErrBadCursor
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 1+16+1+cursorMACLen || b[0] != cursorVersion {
		return logCursor{}, store.ErrBadCursor
	}
	body, mac := b[:len(b)-cursorMACLen], b[len(b)-cursorMACLen:]
	if !hmac.Equal(cursorMAC(key, body), mac) {
		return logCursor{}, store.ErrBadCursor
	}
	seen, n := binary.Uvarint(body[17:])
	if n <= 0 || 17+n != len(body) || seen > MaxCursorSeen {
		return logCursor{}, store.ErrBadCursor
	}
	return logCursor{ts: int64(binary.BigEndian.Uint64(body[1:9])), h: binary.BigEndian.Uint64(body[9:17]), seen: int(seen)}, nil
}

// cursorKeyFile holds the installation's cursor key, beside the tables.
const cursorKeyFile = "cursor.key"

// loadCursorKey reads dir's cursor key, creating a random one (0600) the
// first time, so cursors stay valid across restarts.
func loadCursorKey(dir string) ([]byte, error) {
	p := filepath.Join(dir, cursorKeyFile)
	if k, err := os.ReadFile(p); err == nil && len(k) == 32 {
		return k, nil
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("embedded: cursor key: %w", err)
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, k, 0o600); err != nil {
		return nil, fmt.Errorf("embedded: cursor key: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return nil, fmt.Errorf("embedded: cursor key: %w", err)
	}
	return k, nil
}

// rowHash hashes every field of l but TS.
func rowHash(d *xxhash.Digest, l *record.Log) uint64 {
	d.Reset()
	var lenBuf [binary.MaxVarintLen64]byte
	for _, p := range logStrings(l) {
		d.Write(binary.AppendUvarint(lenBuf[:0], uint64(len(*p))))
		d.WriteString(*p)
	}
	var flags [1]byte
	if l.Timeout {
		flags[0] |= 1
	}
	if l.Retry {
		flags[0] |= 2
	}
	d.Write(flags[:])
	return d.Sum64()
}

// logRow is a candidate row of a page.
type logRow struct {
	l record.Log
	h uint64
}

// cmpNewest orders rows newest first: by ts, then h, then content, all
// descending.
func cmpNewest(a, b *logRow) int {
	if c := cmp.Or(cmp.Compare(b.l.TS, a.l.TS), cmp.Compare(b.h, a.h)); c != 0 {
		return c
	}
	as, bs := logStrings(&a.l), logStrings(&b.l)
	for j := range as {
		if c := strings.Compare(*bs[j], *as[j]); c != 0 {
			return c
		}
	}
	return cmp.Or(cmpBool(b.l.Timeout, a.l.Timeout), cmpBool(b.l.Retry, a.l.Retry))
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// logMatcher is a LogQuery prepared for scans.
type logMatcher struct {
	from, to int64
	q        *store.LogQuery
	cur      *logCursor
	floor    int64 // rows older than this cannot make the page
	digest   *xxhash.Digest
	rows     []logRow
	need     int // rows to keep: those the cursor skips, the page and one more
	scratch  record.Log
}

// scan adds the matching rows of c, newest (last) first.
func (m *logMatcher) scan(c *logCols) {
	q := m.q
	for i := c.n() - 1; i >= 0; i-- {
		ts := c.ts(i)
		if ts < m.from || ts >= m.to || ts < m.floor {
			continue
		}
		if q.Level != "" && c.str(lcLevel, i) != q.Level ||
			q.ErrorCode != "" && c.str(lcErrorCode, i) != q.ErrorCode ||
			q.OnlyError && c.str(lcErrorCode, i) == "" ||
			!q.Filter.Match(c.str(lcDomain, i), c.str(lcJourney, i), c.str(lcService, i), c.str(lcAPI, i)) ||
			q.Contains != "" && !strings.Contains(c.str(lcMessage, i), q.Contains) {
			continue
		}
		c.row(i, &m.scratch)
		h := rowHash(m.digest, &m.scratch)
		if m.cur != nil && ts == m.cur.ts && h > m.cur.h {
			continue // before the cursor
		}
		m.rows = append(m.rows, logRow{l: cloneLog(m.scratch), h: h})
		if len(m.rows) >= 2*m.need+256 {
			m.trim()
		}
	}
}

// trim sorts the candidates and keeps the newest need of them.
func (m *logMatcher) trim() {
	slices.SortFunc(m.rows, func(a, b logRow) int { return cmpNewest(&a, &b) })
	if len(m.rows) >= m.need {
		clear(m.rows[m.need:])
		m.rows = m.rows[:m.need]
		m.floor = m.rows[m.need-1].l.TS
	}
}

// cloneLog copies the strings of l into one allocation.
func cloneLog(l record.Log) record.Log {
	ps := logStrings(&l)
	n := 0
	for _, p := range ps {
		n += len(*p)
	}
	buf := make([]byte, 0, n)
	for _, p := range ps {
		buf = append(buf, *p...)
	}
	all := unsafeString(buf)
	off := 0
	for _, p := range ps {
		k := len(*p)
		*p = all[off : off+k]
		off += k
	}
	return l
}

// Logs implements store.LogQuerier: one page of matching rows newest first
// (see logCursor for the order) over the open block, the blocks being sealed
// and the sealed files whose time range overlaps the query.
func (s *Store) Logs(ctx context.Context, q store.LogQuery) (store.LogPage, error) {
	if err := ctx.Err(); err != nil {
		return store.LogPage{}, err
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, store.MaxLogLimit)
	m := &logMatcher{q: &q, floor: math.MinInt64, digest: xxhash.New()}
	if q.Cursor != "" {
		cur, err := decodeCursor(s.cursorKey, q.Cursor)
		if err != nil {
			return store.LogPage{}, err
		}
		m.cur = &cur
	}
	from := q.From
	if oldest := s.opts.Now().Add(-s.opts.Retention); from.Before(oldest) {
		from = oldest
	}
	m.from, m.to = from.UnixNano(), q.To.UnixNano()
	skip := 0
	if m.cur != nil {
		m.to = min(m.to, m.cur.ts+1)
		skip = m.cur.seen
	}
	m.need = skip + limit + 1
	if m.to <= m.from || q.Filter.Domains != nil && len(q.Filter.Domains) == 0 {
		return store.LogPage{}, nil
	}
	srcs := s.logs.sources(m.from, m.to, func(b *logBlock) { m.scan(b.view()) })
	defer releaseSources(srcs)
	m.trim()
	err := s.logs.scan(ctx, srcs,
		func(src source) bool { return len(m.rows) >= m.need && src.maxTS < m.floor },
		func(rec arrow.Record) {
			if c, ok := logColsOf(rec); ok {
				m.scan(c)
			}
		},
		m.trim)
	if err != nil {
		return store.LogPage{}, err
	}
	m.trim()
	rows := m.rows
	// Drop the rows the cursor's page and its predecessors returned.
	dropped := 0
	for dropped < skip && dropped < len(rows) && rows[dropped].l.TS == m.cur.ts && rows[dropped].h == m.cur.h {
		dropped++
	}
	rows = rows[dropped:]
	page := store.LogPage{Logs: make([]record.Log, 0, min(limit, len(rows)))}
	for i := range min(limit, len(rows)) {
		page.Logs = append(page.Logs, rows[i].l)
	}
	if len(rows) > limit {
		last := rows[limit-1]
		next := logCursor{ts: last.l.TS, h: last.h}
		for i := limit - 1; i >= 0 && rows[i].l.TS == last.l.TS && rows[i].h == last.h; i-- {
			next.seen++
		}
		if m.cur != nil && m.cur.ts == next.ts && m.cur.h == next.h {
			next.seen += dropped
		}
		page.Next = next.encode(s.cursorKey)
	}
	return page, nil
}
