package rollup

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

// withCodes gives every failed row of rs one of perClass codes of its
// class ("<class>-<n>") and returns rs.
func withCodes(rng *rand.Rand, rs []record.Request, perClass int) []record.Request {
	for i := range rs {
		if rs[i].Error {
			rs[i].ErrorCode = fmt.Sprintf("%s-%d", rs[i].ErrorClass, rng.IntN(perClass))
		}
	}
	return rs
}

// bruteCodes counts the failed rows with a code among rows that keep
// accepts, most first (ties by code, then class), as Aggregate.Codes
// orders them; nil when none.
func bruteCodes(rows []record.Request, keep func(r *record.Request) bool) []store.CodeCount {
	n := map[codeKey]int64{}
	for i := range rows {
		if r := &rows[i]; keep(r) && r.Error && r.ErrorCode != "" {
			n[codeKey{r.ErrorCode, r.ErrorClass}]++
		}
	}
	var out []store.CodeCount
	for k, c := range n {
		out = append(out, store.CodeCount{Code: k.code, Class: k.class, Count: c})
	}
	slices.SortFunc(out, func(x, y store.CodeCount) int {
		return cmp.Or(cmp.Compare(y.Count, x.Count), cmp.Compare(x.Code, y.Code), cmp.Compare(x.Class, y.Class))
	})
	return out
}

// TestRequestCodesMatchBruteForce checks the exact count per code and
// class of every point, over ranges that use every tier, grouped and
// filtered, for a plain set and one tracking blocks (before and after
// TakeBlock).
func TestRequestCodesMatchBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	rows := withCodes(rng, genRows(rng, 40000, 3*time.Hour), 9)
	rows[7].ErrorCode = "" // a failed row without a code is counted in no code
	plain, _ := New(nil)
	plain.Add(rows)
	tracked, _ := New(nil)
	tracked.TrackBlocks()
	tracked.Add(rows)
	taken, _ := New(nil)
	taken.TrackBlocks()
	taken.Add(rows)
	taken.TakeBlock()
	queries := []struct {
		from, to, step time.Duration
		by             []store.Dim
		f              store.Filter
	}{
		{0, 3 * time.Hour, 0, nil, store.Filter{}},
		{0, 3 * time.Hour, time.Hour, []store.Dim{store.DimDomain}, store.Filter{}},
		{7 * time.Minute, 2*time.Hour + 13*time.Minute, 0, []store.Dim{store.DimAPI}, store.Filter{Service: "s1"}},
		{30 * time.Second, 80 * time.Minute, 10 * time.Minute, []store.Dim{store.DimJourney, store.DimAPI}, store.Filter{Domains: []string{"d0", "d2"}}},
	}
	for _, set := range []struct {
		name string
		s    *Set
	}{{"plain", plain}, {"pending", tracked}, {"taken", taken}} {
		for _, qq := range queries {
			q := store.RollupQuery{From: t0.Add(qq.from), To: t0.Add(qq.to), Step: qq.step, GroupBy: qq.by, Filter: qq.f}
			res, err := set.s.Query(q)
			if err != nil {
				t.Fatal(err)
			}
			if len(res) == 0 {
				t.Fatalf("%s %+v: no series", set.name, qq)
			}
			win := qq.step
			if win == 0 {
				win = qq.to - qq.from
			}
			for _, sr := range res {
				for _, p := range sr.Points {
					want := bruteCodes(rows, func(r *record.Request) bool {
						k := store.Key{Domain: r.Domain, Journey: r.Journey, Service: r.Service, API: r.API}
						return r.TS >= p.TS.UnixNano() && r.TS < p.TS.Add(win).UnixNano() && r.TS < q.To.UnixNano() &&
							q.Filter.Match(r.Domain, r.Journey, r.Service, r.API) && k.Group(qq.by) == sr.Key
					})
					if fmt.Sprint(p.Codes) != fmt.Sprint(want) {
						t.Fatalf("%s %v %v at %v: codes\n%v\nwant\n%v", set.name, qq.by, sr.Key, p.TS, p.Codes, want)
					}
				}
			}
		}
	}
}

// overflowRows are rows of one key in one 10 s bucket: kept codes twice
// each, then extra codes once each, then a success.
func overflowRows(kept, extra int) []record.Request {
	var rs []record.Request
	fail := func(code string) {
		rs = append(rs, record.Request{TS: t0.UnixNano() + int64(len(rs)), Domain: "d", Service: "s", API: "a",
			Duration: time.Millisecond, Error: true, ErrorCode: code, ErrorClass: record.ClassSystem, Apdex: record.ApdexFrustrated})
	}
	for i := range kept {
		fail(fmt.Sprintf("K%03d", i))
		fail(fmt.Sprintf("K%03d", i))
	}
	for i := range extra {
		fail(fmt.Sprintf("X%03d", i))
	}
	return append(rs, record.Request{TS: t0.UnixNano(), Domain: "d", Service: "s", API: "a", Duration: time.Millisecond, Apdex: record.ApdexSatisfied})
}

// TestRequestCodeOverflow sends more distinct codes than a cell keeps and
// checks that the first MaxCodesPerCell are kept exactly and the rest
// counted under OtherCode, whatever tier answers, through pending cells
// and through a persisted round trip.
func TestRequestCodeOverflow(t *testing.T) {
	const kept, extra = store.MaxCodesPerCell, 21
	rows := overflowRows(kept, extra)
	want := []store.CodeCount{}
	for i := range kept {
		want = append(want, store.CodeCount{Code: fmt.Sprintf("K%03d", i), Class: record.ClassSystem, Count: 2})
	}
	want = append([]store.CodeCount{{Code: store.OtherCode, Count: extra}}, want...)
	build := map[string]func(t *testing.T) *Set{
		"plain": func(*testing.T) *Set { s, _ := New(nil); s.Add(rows); return s },
		"pending": func(*testing.T) *Set {
			s, _ := New(nil)
			s.TrackBlocks()
			s.Add(rows)
			return s
		},
		"block round trip": func(t *testing.T) *Set {
			s, _ := New(nil)
			s.TrackBlocks()
			s.Add(rows)
			data, err := s.TakeBlock().MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			r, _ := New(nil)
			if err := r.UnmarshalMerge(data, time.Time{}); err != nil {
				t.Fatal(err)
			}
			return r
		},
		"full round trip": func(t *testing.T) *Set {
			s, _ := New(nil)
			s.Add(rows)
			data, err := s.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			r, _ := New(nil)
			if err := r.UnmarshalMerge(data, time.Time{}); err != nil {
				t.Fatal(err)
			}
			return r
		},
	}
	for name, mk := range build {
		t.Run(name, func(t *testing.T) {
			s := mk(t)
			for _, span := range []time.Duration{10 * time.Second, time.Minute, time.Hour, 2 * time.Hour} {
				res, err := s.Query(store.RollupQuery{From: t0, To: t0.Add(span)})
				if err != nil || len(res) != 1 {
					t.Fatalf("span %v: %v %v", span, res, err)
				}
				a := res[0].Points[0].Aggregate
				if a.Count != int64(2*kept+extra+1) || a.Errors != int64(2*kept+extra) || a.ErrorsByClass[record.ClassSystem] != a.Errors {
					t.Fatalf("span %v: count %d errors %d %v", span, a.Count, a.Errors, a.ErrorsByClass)
				}
				if fmt.Sprint(a.Codes) != fmt.Sprint(want) {
					t.Fatalf("span %v: codes\n%v\nwant\n%v", span, a.Codes, want)
				}
			}
		})
	}
}

// TestLoadV1Cells loads request cells persisted before cells kept error
// codes (testdata/requests-v1*.bin, written from legacyRows by the format
// NRU1/NRB1): every other number is as if the rows were added now, and
// there are no codes; rows added afterwards count their codes.
func TestLoadV1Cells(t *testing.T) {
	rows := legacyRows()
	fresh, _ := New(nil)
	fresh.Add(rows)
	for _, file := range []string{"testdata/requests-v1.bin", "testdata/requests-v1-block.bin"} {
		t.Run(file, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			old, _ := New(nil)
			if err := old.UnmarshalMerge(data, time.Time{}); err != nil {
				t.Fatal(err)
			}
			if old.Cells() != fresh.Cells() {
				t.Fatalf("%d cells, want %d", old.Cells(), fresh.Cells())
			}
			for _, q := range blockQueries() {
				got, _ := old.Query(q)
				want, _ := fresh.Query(q)
				if len(got) != len(want) {
					t.Fatalf("%v: %d series, want %d", q.GroupBy, len(got), len(want))
				}
				for i := range want {
					for j := range want[i].Points {
						g, w := got[i].Points[j], want[i].Points[j]
						if g.Codes != nil {
							t.Fatalf("%v %v: codes %v from a v1 cell", q.GroupBy, got[i].Key, g.Codes)
						}
						w.Codes = nil
						if fmt.Sprint(g) != fmt.Sprint(w) {
							t.Fatalf("%v %v: point\n%v\nwant\n%v", q.GroupBy, got[i].Key, g, w)
						}
					}
				}
			}
			// New rows on top of the old cells: only theirs have codes.
			later := legacyRows()[:50]
			old.Add(later)
			res, _ := old.Query(store.RollupQuery{From: t0, To: t0.Add(time.Hour)})
			if want := bruteCodes(later, func(*record.Request) bool { return true }); fmt.Sprint(res[0].Points[0].Codes) != fmt.Sprint(want) {
				t.Fatalf("codes after adding rows: %v, want %v", res[0].Points[0].Codes, want)
			}
		})
	}
}

// TestTruncatedCodes checks that a version 2 cell cut inside its codes is
// refused.
func TestTruncatedCodes(t *testing.T) {
	s, _ := New(nil)
	s.Add(overflowRows(3, 0))
	data, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{1, 3, 6} {
		r, _ := New(nil)
		if err := r.UnmarshalMerge(data[:len(data)-cut], time.Time{}); err == nil {
			t.Fatalf("cut %d: accepted", cut)
		}
	}
}
