package kafkalag

import (
	"errors"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/record"
)

// scripted builds a window from commits and log-end offsets, one poll every
// 10 s; orphan marks the polls at which no consumer owned the partition.
func scripted(commits, ends []int64, orphan ...bool) *Window {
	w := &Window{Size: len(commits)}
	t0 := time.Unix(1_700_000_000, 0)
	for i := range commits {
		w.Add(Point{TS: t0.Add(time.Duration(i) * 10 * time.Second), Commit: commits[i], End: ends[i], Orphan: i < len(orphan) && orphan[i]})
	}
	return w
}

func TestStatusFixtures(t *testing.T) {
	for _, c := range []struct {
		name          string
		commits, ends []int64
		want          Status
		orphan        []bool
	}{
		{"OK: keeps up", []int64{10, 20, 30, 40, 50}, []int64{15, 25, 35, 45, 55}, StatusOK, nil},
		{"OK: caught up once", []int64{10, 25, 30, 40, 50}, []int64{15, 25, 35, 45, 60}, StatusOK, nil},
		{"WARN: growing", []int64{10, 12, 14, 16, 18}, []int64{15, 25, 35, 45, 55}, StatusWarn, nil},
		{"WARN: growing with one dip", []int64{10, 12, 25, 26, 28}, []int64{15, 25, 35, 45, 60}, StatusWarn, nil},
		{"STALL: commit frozen, lag > 0", []int64{10, 10, 10, 10, 10}, []int64{15, 25, 35, 45, 55}, StatusStall, nil},
		{"STALL: a consumer owns it", []int64{10, 10, 10, 10, 10}, []int64{15, 25, 35, 45, 55}, StatusStall, []bool{false, false, false, false, false}},
		{"STOP: the group emptied, commit frozen, lag > 0", []int64{10, 14, 18, 18, 18}, []int64{15, 25, 35, 45, 55}, StatusStop, []bool{false, false, false, true, true}},
		{"STOP before the window is full", []int64{10, 10}, []int64{15, 25}, StatusStop, []bool{true, true}},
		{"no consumer but nothing to read: OK", []int64{55, 55, 55, 55, 55}, []int64{55, 55, 55, 55, 55}, StatusOK, []bool{true, true, true, true, true}},
		{"committing without a member (manual assignment): not STOP", []int64{10, 20, 30, 40, 50}, []int64{15, 25, 35, 45, 55}, StatusOK, []bool{true, true, true, true, true}},
		{"REWIND", []int64{10, 20, 5, 20, 30}, []int64{15, 25, 35, 45, 55}, StatusRewind, nil},
		{"idle topic read to the end", []int64{50, 50, 50, 50, 50}, []int64{50, 50, 50, 50, 50}, StatusOK, nil},
		// The end is the last stable offset: a read_committed consumer at
		// it has read everything, whatever the log-end offset says.
		{"transactional topic read to its last stable offset", []int64{40, 80, 120, 120, 120}, []int64{40, 80, 120, 120, 120}, StatusOK, nil},
		{"warming up", []int64{10, 20}, []int64{15, 25}, StatusWarming, nil},
	} {
		w := scripted(c.commits, c.ends, c.orphan...)
		if c.name == "warming up" || c.name == "STOP before the window is full" {
			w.Size = DefaultWindow
		}
		if got := w.Evaluate().Status; got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// TestTimeLag: against a scripted produce rate of 10 messages a second,
// the time lag of a consumer 300 messages behind is 30 s within 10 %; an
// idle or caught-up partition is 0; never negative or NaN.
func TestTimeLag(t *testing.T) {
	var commits, ends []int64
	for i := range 10 {
		ends = append(ends, int64(1000+100*i))      // 10 messages/s, polled every 10 s
		commits = append(commits, int64(700+100*i)) // 300 behind
	}
	v := scripted(commits, ends).Evaluate()
	if lag := v.Lag; lag < 27*time.Second || lag > 33*time.Second {
		t.Errorf("time lag %v, want 30 s ±10%%", lag)
	}
	if v.ConsumeRate != 10 || v.ProduceRate != 10 || v.Trend != 0 {
		t.Errorf("rates: consume %v, produce %v, trend %v; want 10, 10, 0", v.ConsumeRate, v.ProduceRate, v.Trend)
	}
	// Further behind than the window reaches: extrapolated at the rate.
	commits[9] = 0
	if lag := scripted(commits, ends).Evaluate().Lag; lag < 180*time.Second || lag > 200*time.Second {
		t.Errorf("extrapolated lag %v, want about 190 s", lag)
	}
	if lag := scripted([]int64{5, 5, 5}, []int64{5, 5, 5}).Evaluate().Lag; lag != 0 {
		t.Errorf("idle: %v", lag)
	}
	// No production at all while behind: at least the window, clamped.
	if lag := scripted([]int64{1, 1, 1}, []int64{9, 9, 9}).Evaluate().Lag; lag < 0 || lag > MaxTimeLag {
		t.Errorf("stalled producer: %v", lag)
	}
}

// TestDrainTime: a backlog of 600 read at 15/s while 5/s are written
// drains in 60 s; one not shrinking has no drain time; none is 0.
func TestDrainTime(t *testing.T) {
	if d, ok := drainTime(600, 15, 5); !ok || d != 60*time.Second {
		t.Errorf("draining: %v %v, want 60 s", d, ok)
	}
	if _, ok := drainTime(600, 5, 5); ok {
		t.Errorf("a backlog read as fast as it is written has a drain time")
	}
	if d, ok := drainTime(0, 0, 0); !ok || d != 0 {
		t.Errorf("no backlog: %v %v", d, ok)
	}
	// Against a window: 10 polls, the consumer 15/s, the producer 5/s.
	var commits, ends []int64
	for i := range DefaultWindow {
		ends = append(ends, int64(1000+50*i))
		commits = append(commits, int64(100+150*i))
	}
	v := scripted(commits, ends).Evaluate()
	lag := ends[DefaultWindow-1] - commits[DefaultWindow-1]
	if d, ok := drainTime(lag, v.ConsumeRate, v.ProduceRate); !ok || d != time.Duration(lag)*time.Second/10 {
		t.Errorf("drain of %d at 15/s against 5/s: %v %v", lag, d, ok)
	}
	if v.Trend != -10 {
		t.Errorf("trend %v msgs/s, want -10", v.Trend)
	}
}

// BenchmarkEvaluate evaluates 100,000 full partition windows per
// iteration: a poll's cost at that size.
func BenchmarkEvaluate(b *testing.B) {
	ws := make([]*Window, 100_000)
	for i := range ws {
		var c, e []int64
		for j := range DefaultWindow {
			e = append(e, int64(1000+100*j+i%7))
			c = append(c, int64(900+95*j))
		}
		ws[i] = scripted(c, e)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for _, w := range ws {
			w.Evaluate()
		}
	}
}

// TestJudgeErr: a group whose offsets cannot be fetched is stored as ERR,
// and so is a partition whose end offset cannot be listed (kept out of the
// lag sums); the error is reported for the source's health.
func TestJudgeErr(t *testing.T) {
	s := &Source{cluster: config.KafkaCluster{Name: "core"}, windows: map[partKey]*Window{}}
	lags := kadm.DescribedGroupLags{
		"broken": {Group: "broken", FetchErr: kerr.GroupAuthorizationFailed},
		"half": {Group: "half", State: "Stable", Lag: kadm.GroupLag{"t": {
			0: {Topic: "t", Partition: 0, Commit: kadm.Offset{At: 5}, End: kadm.ListedOffset{Offset: 9}},
			1: {Topic: "t", Partition: 1, Commit: kadm.Offset{At: 5}, Err: kerr.UnknownTopicOrPartition},
		}}},
	}
	ss, err := s.judge(lags, nil, nil, time.Unix(1_700_000_000, 0))
	if !errors.Is(err, kerr.GroupAuthorizationFailed) {
		t.Errorf("error %v, want the group's", err)
	}
	got := map[string]float64{}
	for _, x := range ss {
		if x.Name == GroupStatus || x.Name == GroupLagOffsets || x.Name == GroupCoverage {
			got[x.Label(record.LabelGroup)+" "+x.Name] = x.Value
		}
	}
	want := map[string]float64{
		"broken " + GroupStatus: float64(StatusErr),
		"half " + GroupStatus:   float64(StatusErr), "half " + GroupLagOffsets: 4, "half " + GroupCoverage: 0.5,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
}

// BenchmarkJudge100k is a whole poll's work after the admin requests for
// 100,000 partitions (100 groups × 2 topics × 500 partitions), windows
// full: lag against the last stable offset, time lag, status, rates,
// drain, and the ~5 samples per partition built. It reports the heap the
// windows keep per partition.
func BenchmarkJudge100k(b *testing.B) {
	const groups, topics, parts = 100, 2, 500
	lagsAt := func(poll int) kadm.DescribedGroupLags {
		out := kadm.DescribedGroupLags{}
		for g := range groups {
			name := "group-" + strconv.Itoa(g)
			gl := kadm.GroupLag{}
			for t := range topics {
				topic := "topic-" + strconv.Itoa(g) + "-" + strconv.Itoa(t)
				ps := map[int32]kadm.GroupMemberLag{}
				for p := range int32(parts) {
					end := int64(1000 + 100*poll + int(p)%7)
					ps[p] = kadm.GroupMemberLag{Topic: topic, Partition: p, Member: &kadm.DescribedGroupMember{},
						Commit: kadm.Offset{At: int64(900 + 95*poll)}, End: kadm.ListedOffset{Offset: end}}
				}
				gl[topic] = ps
			}
			out[name] = kadm.DescribedGroupLag{Group: name, State: "Stable", Lag: gl}
		}
		return out
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s := &Source{cluster: config.KafkaCluster{Name: "core"}, windows: map[partKey]*Window{}}
	t0 := time.Unix(1_700_000_000, 0)
	for poll := range DefaultWindow {
		s.judge(lagsAt(poll), nil, nil, t0.Add(time.Duration(poll)*10*time.Second))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perPart := float64(after.HeapAlloc-before.HeapAlloc) / (groups * topics * parts)
	next := lagsAt(DefaultWindow)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		ss, _ := s.judge(next, nil, nil, t0.Add(time.Duration(DefaultWindow+i)*10*time.Second))
		if len(ss) < groups*topics*parts*5 {
			b.Fatalf("%d samples", len(ss))
		}
	}
	b.ReportMetric(perPart, "window-B/partition")
}

// TestForgetsGoneGroups: a group no poll reports any more (deleted, or a
// console consumer's one-off group) has its windows forgotten after
// ForgetAfter polls, while a reported group keeps its own.
func TestForgetsGoneGroups(t *testing.T) {
	s := &Source{cluster: config.KafkaCluster{Name: "core"}, windows: map[partKey]*Window{}}
	lagsOf := func(groups ...string) kadm.DescribedGroupLags {
		out := kadm.DescribedGroupLags{}
		for _, g := range groups {
			out[g] = kadm.DescribedGroupLag{Group: g, State: "Stable", Lag: kadm.GroupLag{"t": {
				0: {Topic: "t", Partition: 0, Commit: kadm.Offset{At: 5}, End: kadm.ListedOffset{Offset: 9}},
				1: {Topic: "t", Partition: 1, Commit: kadm.Offset{At: 5}, End: kadm.ListedOffset{Offset: 9}},
			}}}
		}
		return out
	}
	t0 := time.Unix(1_700_000_000, 0)
	s.judge(lagsOf("console-consumer-4711", "payment-settler"), nil, nil, t0)
	if len(s.windows) != 4 {
		t.Fatalf("%d windows after the first poll, want 4", len(s.windows))
	}
	for i := 1; i <= ForgetAfter+DefaultWindow; i++ {
		s.judge(lagsOf("payment-settler"), nil, nil, t0.Add(time.Duration(i)*10*time.Second))
	}
	if len(s.windows) != 2 || s.windows[partKey{"payment-settler", "t", 0}] == nil {
		t.Errorf("windows kept: %v, want payment-settler's two", s.windows)
	}
}
