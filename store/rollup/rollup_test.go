package rollup

import (
	"fmt"
	"github.com/axiomhq/hyperloglog"
	"github.com/cespare/xxhash/v2"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

var t0 = time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC)

func genRows(rng *rand.Rand, n int, span time.Duration) []record.Request {
	rs := make([]record.Request, n)
	classes := []string{"", record.ClassBusiness, record.ClassApplication, record.ClassSystem}
	for i := range rs {
		cls := classes[rng.IntN(len(classes))]
		rs[i] = record.Request{
			TS:         t0.UnixNano() + rng.Int64N(int64(span)),
			Domain:     fmt.Sprintf("d%d", rng.IntN(3)),
			Journey:    fmt.Sprintf("j%d", rng.IntN(4)),
			Service:    fmt.Sprintf("s%d", rng.IntN(2)),
			API:        fmt.Sprintf("a%d", rng.IntN(3)),
			Duration:   time.Duration(math.Exp(rng.NormFloat64()*1.2+3) * float64(time.Millisecond)),
			Error:      cls != "",
			ErrorClass: cls,
			Apdex:      record.Apdex(1 + rng.IntN(3)),
			UserHash:   fmt.Sprintf("u%d", rng.IntN(500)),
		}
	}
	return rs
}

func exactQuantile(ms []float64, q float64) float64 {
	sort.Float64s(ms)
	return ms[int(q*float64(len(ms)-1))]
}

func TestQueryMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	rows := genRows(rng, 50000, 3*time.Hour)
	s, err := New(DefaultTiers(0))
	if err != nil {
		t.Fatal(err)
	}
	s.Add(rows)
	ranges := []struct{ from, to, step time.Duration }{
		{0, 3 * time.Hour, 0},
		{0, 3 * time.Hour, time.Hour},
		{7 * time.Minute, 2*time.Hour + 13*time.Minute, 0},
		{30 * time.Second, 80 * time.Minute, 10 * time.Minute},
		{65 * time.Minute, 5 * time.Hour, 0}, // beyond newest data
	}
	for _, rg := range ranges {
		for _, by := range [][]store.Dim{nil, {store.DimDomain}, {store.DimJourney, store.DimAPI}} {
			q := store.RollupQuery{From: t0.Add(rg.from), To: t0.Add(rg.to), Step: rg.step, GroupBy: by,
				Filter: store.Filter{Service: "s1"}}
			got, err := s.Query(q)
			if err != nil {
				t.Fatal(err)
			}
			type acc struct {
				n, e, sat int64
				ms        []float64
			}
			want := map[string]*acc{}
			for i := range rows {
				r := &rows[i]
				if r.TS < q.From.UnixNano() || r.TS >= q.To.UnixNano() || r.Service != "s1" {
					continue
				}
				g := store.Key{Domain: r.Domain, Journey: r.Journey, Service: r.Service, API: r.API}.Group(by)
				w := q.From.UnixNano()
				if q.Step > 0 {
					w += (r.TS - w) / int64(q.Step) * int64(q.Step)
				}
				k := fmt.Sprint(g, w)
				if want[k] == nil {
					want[k] = &acc{}
				}
				a := want[k]
				a.n++
				if r.Error {
					a.e++
				}
				if r.Apdex == record.ApdexSatisfied {
					a.sat++
				}
				a.ms = append(a.ms, float64(r.Duration)/1e6)
			}
			points := 0
			for _, sr := range got {
				for _, p := range sr.Points {
					points++
					a := want[fmt.Sprint(sr.Key, p.TS.UnixNano())]
					if a == nil {
						t.Fatalf("%v: unexpected point %v %v", rg, sr.Key, p.TS)
					}
					if p.Count != a.n || p.Errors != a.e || p.Satisfied != a.sat {
						t.Fatalf("%v %v: got count %d errors %d sat %d, want %d %d %d", rg, sr.Key, p.Count, p.Errors, p.Satisfied, a.n, a.e, a.sat)
					}
					if p.MaxMs != slices.Max(a.ms) {
						t.Fatalf("max %v want %v", p.MaxMs, slices.Max(a.ms))
					}
					for _, qq := range []struct {
						q   float64
						got float64
					}{{0.5, p.P50}, {0.95, p.P95}, {0.99, p.P99}} {
						ex := exactQuantile(a.ms, qq.q)
						if math.Abs(qq.got-ex) > 0.01*ex+1e-9 {
							t.Fatalf("q%v got %v want %v", qq.q, qq.got, ex)
						}
					}
				}
			}
			if points != len(want) {
				t.Fatalf("%v by %v: %d points, want %d", rg, by, points, len(want))
			}
		}
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	rows := withCodes(rng, genRows(rng, 20000, 2*time.Hour), 10)
	a, _ := New(nil)
	a.Add(rows[:10000])
	b, _ := New(nil)
	b.Add(rows[10000:])
	whole, _ := New(nil)
	whole.Add(rows)
	merged, _ := New(nil)
	for _, s := range []*Set{a, b} {
		data, err := s.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if err := merged.UnmarshalMerge(data, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	q := store.RollupQuery{From: t0, To: t0.Add(2 * time.Hour), Step: 10 * time.Minute, GroupBy: []store.Dim{store.DimDomain}}
	w, _ := whole.Query(q)
	g, _ := merged.Query(q)
	if fmt.Sprint(w) != fmt.Sprint(g) {
		t.Fatalf("round trip differs:\n%v\n%v", w, g)
	}
	if merged.Cells() != whole.Cells() {
		t.Fatalf("cells %d want %d", merged.Cells(), whole.Cells())
	}
	if err := merged.UnmarshalMerge([]byte("NRU1\x05garbage"), time.Time{}); err == nil {
		t.Fatal("garbage accepted")
	}
}

func TestPruneAndAllowlist(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	s, _ := New([]Tier{{10 * time.Second, time.Hour}, {time.Minute, time.Hour}, {time.Hour, 2 * time.Hour}})
	s.Add(genRows(rng, 5000, 4*time.Hour))
	before := s.Cells()
	if n := s.Prune(t0.Add(5 * time.Hour)); n == 0 || s.Cells() != before-int64(n) {
		t.Fatalf("pruned %d of %d, left %d", n, before, s.Cells())
	}
	got, _ := s.Query(store.RollupQuery{From: t0, To: t0.Add(2 * time.Hour)})
	if len(got) != 0 {
		t.Fatalf("pruned data still answered: %v", got)
	}
	got, _ = s.Query(store.RollupQuery{From: t0, To: t0.Add(5 * time.Hour), Filter: store.Filter{Domains: []string{}}})
	if len(got) != 0 {
		t.Fatal("empty allowlist matched")
	}
	got, _ = s.Query(store.RollupQuery{From: t0, To: t0.Add(5 * time.Hour), Filter: store.Filter{Domains: []string{"d1"}}, GroupBy: []store.Dim{store.DimDomain}})
	if len(got) != 1 || got[0].Key.Domain != "d1" {
		t.Fatalf("allowlist: %v", got)
	}
}

func TestCacheSeesLateData(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	s, _ := New(nil)
	rows := genRows(rng, 20000, 3*time.Hour)
	s.Add(rows)
	q := store.RollupQuery{From: t0, To: t0.Add(3 * time.Hour), GroupBy: []store.Dim{store.DimDomain}}
	count := func() int64 {
		res, err := s.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, sr := range res {
			n += sr.Points[0].Count
		}
		return n
	}
	if n := count(); n != 20000 || count() != 20000 {
		t.Fatalf("count %d", n)
	}
	late := rows[0]
	late.TS = t0.Add(30 * time.Minute).UnixNano()
	s.Add([]record.Request{late})
	if n := count(); n != 20001 {
		t.Fatalf("late row not seen through the cache: %d", n)
	}
}

func TestEstimatorMatchesLibrary(t *testing.T) {
	var e estimator
	for _, n := range []int{0, 1, 100, 3000, 5000, 50_000, 2_000_000} {
		sk := newAccumulator(true).users
		for i := range n {
			sk.InsertHash(xxhash.Sum64String(fmt.Sprint(i)))
		}
		if got, want := e.estimate(sk), sk.Estimate(); got != want {
			t.Fatalf("n=%d: estimate %d, library %d", n, got, want)
		}
	}
	sparse, _ := hyperloglog.NewSketch(hllPrecision, true)
	sparse.InsertHash(42)
	if e.estimate(sparse) != 1 {
		t.Fatal("sparse fallback")
	}
}
