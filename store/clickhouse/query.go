package clickhouse

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/noctua-obs/noctua/store"
)

// where builds a WHERE clause with positional arguments, bound by the
// driver on the client (so that it works on every server version).
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// timeRange restricts to [from, to), leaving out what retention hides.
// It returns false when the range is empty.
func (s *Store) timeRange(w *where, from, to time.Time) bool {
	f, t := max(from.UnixNano(), s.oldest()), to.UnixNano()
	w.add("ts >= ? AND ts < ?", f, t)
	return f < t
}

// filter restricts by f's dimensions (api too unless noAPI). It returns
// false when f matches nothing (an empty non-nil allowlist).
func filter(w *where, f store.Filter, noAPI bool) bool {
	for _, c := range []struct{ col, v string }{{"domain", f.Domain}, {"journey", f.Journey}, {"service", f.Service}, {"api", f.API}} {
		if c.v != "" && !(noAPI && c.col == "api") {
			w.add(c.col+" = ?", c.v)
		}
	}
	if f.Domains != nil {
		if len(f.Domains) == 0 {
			return false
		}
		w.add("has(?, domain)", f.Domains)
	}
	return true
}

// dims returns the columns of by, without repeats, in the order of
// store.Key.
func dims(by []store.Dim) []store.Dim {
	var out []store.Dim
	for _, d := range []store.Dim{store.DimDomain, store.DimJourney, store.DimService, store.DimAPI} {
		if slices.Contains(by, d) {
			out = append(out, d)
		}
	}
	return out
}

// setDim sets the dimension d of k to v.
func setDim(k *store.Key, d store.Dim, v string) {
	switch d {
	case store.DimDomain:
		k.Domain = v
	case store.DimJourney:
		k.Journey = v
	case store.DimService:
		k.Service = v
	case store.DimAPI:
		k.API = v
	}
}

// window is how a rollup query cuts time: windows start at from, one per
// step (one for the whole range when Step is 0).
type window struct{ from, step int64 }

func windowOf(q store.RollupQuery) window {
	w := window{from: q.From.UnixNano(), step: q.To.UnixNano() - q.From.UnixNano()}
	if q.Step > 0 {
		w.step = int64(q.Step)
	}
	w.step = max(w.step, 1)
	return w
}

// expr is the SQL of a row's window number (rows are never before from).
func (w window) expr() string { return "intDiv(ts - ?, ?)" }

func (w window) args() []any { return []any{w.from, w.step} }

func (w window) start(n int64) time.Time { return time.Unix(0, w.from+n*w.step).UTC() }

// cellKey names one point of one series: its group and window number.
type cellKey struct {
	key store.Key
	w   int64
}

func compareKeys(a, b store.Key) int {
	return cmp.Or(cmp.Compare(a.Domain, b.Domain), cmp.Compare(a.Journey, b.Journey),
		cmp.Compare(a.Service, b.Service), cmp.Compare(a.API, b.API))
}

// sortedCells returns the keys of m in series order: by key, then time.
func sortedCells[V any](m map[cellKey]V) []cellKey {
	ks := make([]cellKey, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b cellKey) int { return cmp.Or(compareKeys(a.key, b.key), cmp.Compare(a.w, b.w)) })
	return ks
}

// QuantileAccuracy is the relative accuracy of the duration histogram
// from which quantiles are read: each bucket's representative value is
// within this fraction of every duration in it.
const QuantileAccuracy = 0.005

var (
	gamma      = (1 + QuantileAccuracy) / (1 - QuantileAccuracy)
	multiplier = 1 / math.Log(gamma)
)

// zeroBin is the histogram bucket of durations ≤ 0.
const zeroBin = math.MinInt32

// binExpr is the SQL of a duration's (ns) histogram bucket: ceil of
// log_gamma of its milliseconds.
var binExpr = fmt.Sprintf("if(duration <= 0, toInt64(%d), toInt64(ceil(log(duration / 1e6) * %.17g)))", zeroBin, multiplier)

// binValue is the representative value (ms) of bucket i.
func binValue(i int64) float64 {
	if i == zeroBin {
		return 0
	}
	return 2 * math.Pow(gamma, float64(i)) / (gamma + 1)
}

// bin is one histogram bucket and its count.
type bin struct {
	idx int64
	n   uint64
}

// quantiles returns the nearest-rank quantiles qs of the histogram bins.
func quantiles(bins []bin, qs ...float64) []float64 {
	slices.SortFunc(bins, func(a, b bin) int { return cmp.Compare(a.idx, b.idx) })
	var total uint64
	for _, b := range bins {
		total += b.n
	}
	out := make([]float64, len(qs))
	if total == 0 {
		return out
	}
	for j, q := range qs {
		rank := uint64(max(1, math.Ceil(q*float64(total))))
		var seen uint64
		for _, b := range bins {
			seen += b.n
			if seen >= rank {
				out[j] = binValue(b.idx)
				break
			}
		}
	}
	return out
}

// codeCell counts the rows of one code in one 10 s cell of one full key,
// with the time of the first.
type codeCell struct {
	key         store.Key // full key
	cell        int64
	code, class string
	n           int64
	first       int64
}

// CodeBucket is the width of the cells in which at most
// store.MaxCodesPerCell codes are kept per key, as in the rollup stores.
const CodeBucket = 10 * time.Second

// boundCodes counts cs, the codes of one point, keeping per full key and
// cell the store.MaxCodesPerCell codes seen first and counting the rest
// under store.OtherCode; nil when none.
func boundCodes(cs []codeCell) []store.CodeCount {
	if len(cs) == 0 {
		return nil
	}
	slices.SortFunc(cs, func(a, b codeCell) int {
		return cmp.Or(compareKeys(a.key, b.key), cmp.Compare(a.cell, b.cell), cmp.Compare(a.first, b.first),
			cmp.Compare(a.code, b.code), cmp.Compare(a.class, b.class))
	})
	type ck struct{ code, class string }
	counts := map[ck]int64{}
	var other int64
	kept := 0
	for i, c := range cs {
		if i == 0 || c.key != cs[i-1].key || c.cell != cs[i-1].cell {
			kept = 0
		}
		if kept >= store.MaxCodesPerCell {
			other += c.n
			continue
		}
		kept++
		counts[ck{c.code, c.class}] += c.n
	}
	out := make([]store.CodeCount, 0, len(counts)+1)
	for k, n := range counts {
		out = append(out, store.CodeCount{Code: k.code, Class: k.class, Count: n})
	}
	if other > 0 {
		out = append(out, store.CodeCount{Code: store.OtherCode, Count: other})
	}
	store.SortCodes(out)
	return out
}
