package storetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

// SampleStore is what the sample suite needs of a backend.
type SampleStore interface {
	store.SampleAppender
	store.SampleQuerier
}

// SampleOpener opens (or reopens) the sample store kept in dir. The suite
// closes a store that is an io.Closer before it reopens dir.
type SampleOpener func(t testing.TB, dir string) SampleStore

// SampleCaps says what a backend can do, so that one suite runs against
// every backend unchanged.
type SampleCaps struct {
	// KeyBound is how many distinct rollup keys the backend keeps per
	// sample name before it counts further keys under an (other) host; 0
	// for a backend without a bound.
	KeyBound int
	// Durable is true when the rows of a closed store are read back after
	// reopening its dir.
	Durable bool
}

// RunSamples runs the sample conformance suite against open: exact gauge
// cells (count, sum, min, max, last) per 10 s, per minute and over the
// whole range, grouping by dimensions and rollup label keys, the domain
// scope, raw rows newest first, the (other) overflow of the key bound and,
// for a durable backend, all of it again after a reopen.
func RunSamples(t *testing.T, open SampleOpener, caps SampleCaps) {
	t.Run("GaugeCells", func(t *testing.T) {
		dir := t.TempDir()
		s := open(t, dir)
		ds := sampleDataset(recentBase())
		appendSamples(t, s, ds)
		checkSamples(t, "live", s, ds)
		if caps.Durable {
			closeStore(t, s)
			s = open(t, dir)
			checkSamples(t, "reopened", s, ds)
		}
		closeStore(t, s)
	})
	if caps.KeyBound > 0 {
		t.Run("KeyOverflow", func(t *testing.T) { testSampleOverflow(t, open(t, t.TempDir()), caps.KeyBound) })
	}
}

// closeStore closes s if it can be closed.
func closeStore(tb testing.TB, s SampleStore) {
	if c, ok := s.(io.Closer); ok {
		if err := c.Close(); err != nil {
			tb.Fatalf("Close: %v", err)
		}
	}
}

// appendSamples appends ss in batches of 500.
func appendSamples(tb testing.TB, s store.SampleAppender, ss []record.Sample) {
	tb.Helper()
	inBatches(tb, "AppendSamples", len(ss), func(i, j int) error { return s.AppendSamples(context.Background(), ss[i:j]) })
}

// Names of the suite's samples.
const (
	sampleCPU   = "host_cpu_utilisation_pct"
	sampleLag   = "kafka_consumer_lag"
	sampleHosts = 6
)

// sampleDataset returns samples of two names over 5 minutes from base:
// every host (h0..h5; h0-h2 in payments, the rest in transfers) every
// 2.5 s, with integer values so that sums are exact, distinct timestamps,
// a kept label (group), and a label the rollup does not keep (pid).
func sampleDataset(base time.Time) []record.Sample {
	var ss []record.Sample
	for i := range 120 {
		for h := range sampleHosts {
			dom := "payments"
			if h >= 3 {
				dom = "transfers"
			}
			ts := base.Add(time.Duration(i)*2500*time.Millisecond + time.Duration(h)*time.Millisecond).UnixNano()
			ss = append(ss, record.Sample{TS: ts, Name: []string{sampleCPU, sampleLag}[(i+h)%2], Kind: record.KindGauge,
				Value: float64((i*7 + h*13) % 101), Domain: dom, Service: fmt.Sprintf("svc%d", h%2), Host: fmt.Sprintf("h%d", h), Source: "test",
				Labels: []record.Label{{Name: record.LabelGroup, Value: fmt.Sprintf("g%d", i%3)}, {Name: "pid", Value: fmt.Sprint(i)}}})
		}
	}
	return ss
}

// wantCell is an expected gauge cell, worked out here without store.Gauge.
type wantCell struct {
	count               int64
	sum, min, max, last float64
	lastTS              int64
}

// expectSamples aggregates ds as q asks: key string → bucket start → cell.
func expectSamples(ds []record.Sample, q store.SampleQuery) map[string]map[int64]*wantCell {
	out := map[string]map[int64]*wantCell{}
	for _, x := range ds {
		if x.Name != q.Name || x.TS < q.From.UnixNano() || x.TS >= q.To.UnixNano() ||
			len(q.Filter.Domains) > 0 && !slices.Contains(q.Filter.Domains, x.Domain) || q.Host != "" && x.Host != q.Host {
			continue
		}
		var parts []string
		for _, d := range q.GroupBy {
			switch d {
			case store.SampleDimDomain:
				parts = append(parts, "domain="+x.Domain)
			case store.SampleDimService:
				parts = append(parts, "service="+x.Service)
			case store.SampleDimHost:
				parts = append(parts, "host="+x.Host)
			default:
				parts = append(parts, d+"="+x.Label(d))
			}
		}
		slices.Sort(parts)
		k := strings.Join(parts, ",")
		b := q.From.UnixNano()
		if q.Step > 0 {
			b += (x.TS - b) / int64(q.Step) * int64(q.Step)
		}
		if out[k] == nil {
			out[k] = map[int64]*wantCell{}
		}
		c := out[k][b]
		if c == nil {
			c = &wantCell{min: x.Value, max: x.Value}
			out[k][b] = c
		}
		c.count++
		c.sum += x.Value
		c.min, c.max = min(c.min, x.Value), max(c.max, x.Value)
		if x.TS >= c.lastTS {
			c.last, c.lastTS = x.Value, x.TS
		}
	}
	return out
}

// gotKey is the key string of a series as expectSamples writes it.
func gotKey(k store.SampleKey, by []string) string {
	var parts []string
	for _, d := range by {
		switch d {
		case store.SampleDimDomain:
			parts = append(parts, "domain="+k.Domain)
		case store.SampleDimService:
			parts = append(parts, "service="+k.Service)
		case store.SampleDimHost:
			parts = append(parts, "host="+k.Host)
		default:
			v := ""
			for _, l := range k.Labels {
				if l.Name == d {
					v = l.Value
				}
			}
			parts = append(parts, d+"="+v)
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// checkSamples checks rollups and raw rows of s against ds.
func checkSamples(t *testing.T, when string, s SampleStore, ds []record.Sample) {
	t.Helper()
	base := recentBase()
	from, to := base, base.Add(10*time.Minute)
	for _, q := range []store.SampleQuery{
		{Name: sampleCPU, Step: 10 * time.Second, GroupBy: []string{store.SampleDimHost}},
		{Name: sampleCPU, Step: time.Minute, GroupBy: []string{record.LabelGroup, store.SampleDimDomain}},
		{Name: sampleLag, Step: time.Minute, GroupBy: []string{store.SampleDimService}},
		{Name: sampleLag},
		{Name: sampleLag, Step: time.Minute, GroupBy: []string{store.SampleDimHost}, Filter: store.Filter{Domains: []string{"payments"}}},
		{Name: sampleCPU, Step: 10 * time.Second, Filter: store.Filter{Domains: []string{"transfers"}}},
		{Name: sampleCPU, Step: time.Minute, Host: "h4", GroupBy: []string{record.LabelGroup}},
		{Name: "no_such_sample", Step: time.Minute},
	} {
		q.From, q.To = from, to
		what := fmt.Sprintf("%s: %s by %v step %v domains %v host %q", when, q.Name, q.GroupBy, q.Step, q.Filter.Domains, q.Host)
		got, err := s.SampleRollup(context.Background(), q)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		want := expectSamples(ds, q)
		if len(want) == 0 && q.Name != "no_such_sample" {
			t.Fatalf("%s: the dataset has no samples for the query", what)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d series, want %d", what, len(got), len(want))
		}
		for _, ser := range got {
			k := gotKey(ser.Key, q.GroupBy)
			w := want[k]
			if ser.Name != q.Name || w == nil || len(ser.Points) != len(w) {
				t.Fatalf("%s: series %q (%s) has %d points, want %d", what, k, ser.Name, len(ser.Points), len(w))
			}
			for i, p := range ser.Points {
				c := w[p.TS.UnixNano()]
				if c == nil || i > 0 && !ser.Points[i-1].TS.Before(p.TS) {
					t.Fatalf("%s: series %q: unexpected or unordered point at %v", what, k, p.TS)
				}
				if p.Count != c.count || p.Sum != c.sum || p.Min != c.min || p.Max != c.max || p.Last != c.last || p.LastTS.UnixNano() != c.lastTS {
					t.Fatalf("%s: series %q at %v: %+v, want %+v", what, k, p.TS, p.Gauge, *c)
				}
			}
		}
	}
	// A label the rollup does not keep: answered exactly, or refused.
	q := store.SampleQuery{Name: sampleCPU, From: from, To: to, GroupBy: []string{"pid"}}
	if got, err := s.SampleRollup(context.Background(), q); err != nil && !errors.Is(err, store.ErrUnsupported) {
		t.Fatalf("%s: group by an unkept label: %v", when, err)
	} else if err == nil && len(got) != len(expectSamples(ds, q)) {
		t.Fatalf("%s: group by an unkept label: %d series, want %d", when, len(got), len(expectSamples(ds, q)))
	}
	// Raw rows: newest first, filtered, limited.
	for _, q := range []store.SampleQuery{
		{Name: sampleCPU, Limit: 50},
		{Name: sampleLag, Limit: 1000, Filter: store.Filter{Domains: []string{"payments"}}, Labels: []record.Label{{Name: "pid", Value: "7"}}},
		{Name: sampleLag, Limit: 40, Host: "h1"},
	} {
		q.From, q.To = from, to
		var want []record.Sample
		for i := len(ds) - 1; i >= 0 && len(want) < q.Limit; i-- {
			x := ds[i]
			if x.Name == q.Name && (len(q.Filter.Domains) == 0 || slices.Contains(q.Filter.Domains, x.Domain)) &&
				(q.Host == "" || x.Host == q.Host) && (len(q.Labels) == 0 || x.Label("pid") == q.Labels[0].Value) {
				want = append(want, x)
			}
		}
		got, err := s.Samples(context.Background(), q)
		if err != nil || len(got) != len(want) {
			t.Fatalf("%s: raw %s: %d rows (%v), want %d", when, q.Name, len(got), err, len(want))
		}
		for i := range got {
			if got[i].TS != want[i].TS || got[i].Value != want[i].Value || got[i].Host != want[i].Host || got[i].Domain != want[i].Domain ||
				got[i].Label("group") != want[i].Label("group") || got[i].Label("pid") != want[i].Label("pid") {
				t.Fatalf("%s: raw %s row %d: %+v, want %+v", when, q.Name, i, got[i], want[i])
			}
		}
	}
}

// testSampleOverflow appends bound+100 distinct hosts of one name: grouped
// by host the rollup has bound series plus (other) with the 100 extra
// samples, and the total stays exact.
func testSampleOverflow(t *testing.T, s SampleStore, bound int) {
	defer closeStore(t, s)
	base := recentBase()
	n := bound + 100
	ss := make([]record.Sample, n)
	for i := range ss {
		ss[i] = record.Sample{TS: base.Add(time.Duration(i) * time.Microsecond).UnixNano(), Name: "many_hosts_up", Value: 1,
			Domain: "payments", Service: "svc", Host: fmt.Sprintf("host-%06d", i), Source: "test"}
	}
	appendSamples(t, s, ss)
	q := store.SampleQuery{Name: "many_hosts_up", From: base, To: base.Add(time.Hour), GroupBy: []string{store.SampleDimHost}}
	got, err := s.SampleRollup(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	var total, other int64
	for _, ser := range got {
		for _, p := range ser.Points {
			total += p.Count
			if ser.Key.Host == store.OtherCode {
				other += p.Count
			}
		}
	}
	if len(got) != bound+1 || other != 100 || total != int64(n) {
		t.Fatalf("%d series, %d samples under (other), %d in total; want %d, 100, %d", len(got), other, total, bound+1, n)
	}
	q.GroupBy = []string{store.SampleDimDomain}
	if got, err = s.SampleRollup(context.Background(), q); err != nil || len(got) != 1 || got[0].Key.Domain != "payments" || got[0].Points[0].Count != int64(n) {
		t.Fatalf("by domain: %+v (%v), want one payments series of %d", got, err, n)
	}
}
