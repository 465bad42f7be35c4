package kafkalag

import (
	"testing"
	"time"
)

// scripted builds a window from commits and log-end offsets, one poll every
// 10 s.
func scripted(commits, ends []int64) *Window {
	w := &Window{Size: len(commits)}
	t0 := time.Unix(1_700_000_000, 0)
	for i := range commits {
		w.Add(Point{TS: t0.Add(time.Duration(i) * 10 * time.Second), Commit: commits[i], End: ends[i]})
	}
	return w
}

func TestStatusFixtures(t *testing.T) {
	for _, c := range []struct {
		name          string
		commits, ends []int64
		want          Status
	}{
		{"OK: keeps up", []int64{10, 20, 30, 40, 50}, []int64{15, 25, 35, 45, 55}, StatusOK},
		{"OK: caught up once", []int64{10, 25, 30, 40, 50}, []int64{15, 25, 35, 45, 60}, StatusOK},
		{"WARN: growing", []int64{10, 12, 14, 16, 18}, []int64{15, 25, 35, 45, 55}, StatusWarn},
		{"WARN: growing with one dip", []int64{10, 12, 25, 26, 28}, []int64{15, 25, 35, 45, 60}, StatusWarn},
		{"STALL: commit frozen, lag > 0", []int64{10, 10, 10, 10, 10}, []int64{15, 25, 35, 45, 55}, StatusStall},
		{"REWIND", []int64{10, 20, 5, 20, 30}, []int64{15, 25, 35, 45, 55}, StatusRewind},
		{"idle topic read to the end", []int64{50, 50, 50, 50, 50}, []int64{50, 50, 50, 50, 50}, StatusOK},
		{"warming up", []int64{10, 20}, []int64{15, 25}, StatusWarming},
	} {
		w := scripted(c.commits, c.ends)
		if c.name == "warming up" {
			w.Size = DefaultWindow
		}
		if got, _ := w.Evaluate(); got != c.want {
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
	_, lag := scripted(commits, ends).Evaluate()
	if lag < 27*time.Second || lag > 33*time.Second {
		t.Errorf("time lag %v, want 30 s ±10%%", lag)
	}
	// Further behind than the window reaches: extrapolated at the rate.
	commits[9] = 0
	if _, lag := scripted(commits, ends).Evaluate(); lag < 180*time.Second || lag > 200*time.Second {
		t.Errorf("extrapolated lag %v, want about 190 s", lag)
	}
	if _, lag := scripted([]int64{5, 5, 5}, []int64{5, 5, 5}).Evaluate(); lag != 0 {
		t.Errorf("idle: %v", lag)
	}
	// No production at all while behind: at least the window, clamped.
	if _, lag := scripted([]int64{1, 1, 1}, []int64{9, 9, 9}).Evaluate(); lag < 0 || lag > MaxTimeLag {
		t.Errorf("stalled producer: %v", lag)
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
