package bigquery

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/api/option"

	"github.com/noctua-obs/noctua/config"
	"github.com/noctua-obs/noctua/export"
	"github.com/noctua-obs/noctua/export/exporttest"
	"github.com/noctua-obs/noctua/store/memstore"
	"github.com/noctua-obs/noctua/transform"
)

// clock is a settable time source.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

type harness struct {
	e   *Exporter
	reg *prometheus.Registry
	dir string
}

func newExporter(t *testing.T, fake *fakeBQ, st *memstore.Store, dir string, clk *clock, tune func(*config.BigQueryExport)) harness {
	t.Helper()
	cfg := config.BigQueryExport{Project: "bank-analytics", Dataset: "noctua", Table: config.DefaultBigQueryTable,
		Interval: time.Minute, Delay: 2 * time.Minute, Endpoint: fake.Endpoint(),
		MaxMinutesPerRun: 60, BatchRows: 500, Backfill: 6 * time.Minute}
	if tune != nil {
		tune(&cfg)
	}
	reg := prometheus.NewRegistry()
	e, err := New(Options{Config: cfg, DataDir: dir, Store: st, ApdexTs: transform.NewApdexTs(exporttest.Config(t)),
		Registerer: reg, Now: clk.now, ClientOptions: []option.ClientOption{option.WithHTTPClient(fake.srv.Client())}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return harness{e, reg, dir}
}

func watermarkOf(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "export", "bigquery.watermark"))
	if os.IsNotExist(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// wantJSON is a row as the client must send it in insertAll, decoded.
func wantJSON(r export.Row) map[string]any {
	return map[string]any{
		"minute": r.Minute.Format(time.RFC3339), "domain": r.Domain, "journey": r.Journey, "service": r.Service, "api": r.API,
		"requests": float64(r.Requests), "errors": float64(r.Errors), "errors_business": float64(r.ErrorsBusiness),
		"errors_application": float64(r.ErrorsApplication), "errors_system": float64(r.ErrorsSystem),
		"p50_ms": r.P50Ms, "p95_ms": r.P95Ms, "p99_ms": r.P99Ms, "apdex_t_ms": r.ApdexTMs,
		"apdex_satisfied": float64(r.Satisfied), "apdex_tolerating": float64(r.Tolerating),
		"apdex_frustrated": float64(r.Frustrated), "apdex": r.Apdex,
	}
}

// wantSchema is the table schema the exporter must send, as JSON decodes it.
func wantSchema() []any {
	f := func(name, typ string, required bool, desc string) map[string]any {
		m := map[string]any{"name": name, "type": typ}
		if required {
			m["mode"] = "REQUIRED"
		}
		if desc != "" {
			m["description"] = desc
		}
		return m
	}
	return []any{
		f("minute", "TIMESTAMP", true, "Start of the minute (UTC)."), f("domain", "STRING", true, ""),
		f("journey", "STRING", false, ""), f("service", "STRING", false, ""), f("api", "STRING", false, ""),
		f("requests", "INTEGER", true, ""), f("errors", "INTEGER", true, ""), f("errors_business", "INTEGER", true, ""),
		f("errors_application", "INTEGER", true, ""), f("errors_system", "INTEGER", true, ""),
		f("p50_ms", "FLOAT", false, "Median latency in milliseconds."), f("p95_ms", "FLOAT", false, ""), f("p99_ms", "FLOAT", false, ""),
		f("apdex_t_ms", "FLOAT", false, "The API's Apdex T in milliseconds."),
		f("apdex_satisfied", "INTEGER", true, ""), f("apdex_tolerating", "INTEGER", true, ""), f("apdex_frustrated", "INTEGER", true, ""),
		f("apdex", "FLOAT", false, "(satisfied + tolerating/2) / requests."),
	}
}

// TestExport runs the exporter against the fake through the real client:
// it creates the dataset and the partitioned table with the exact schema,
// catches up gradually (3 minutes a run), sends the exact rows of the known
// workload in batches of at most 2 with insertIds derived from (minute,
// key), advances the watermark only after each run, and exports metrics.
func TestExport(t *testing.T) {
	fake := newFakeBQ(t)
	st := memstore.New(exporttest.Records(t)...)
	base := exporttest.Base
	// Now: minute 4 ended 2m30s ago, so minutes before Base+4m are
	// complete past the 2 minute delay; a backfill of 5m starts at Base-1m.
	clk := &clock{base.Add(6*time.Minute + 30*time.Second)}
	dir := t.TempDir()
	h := newExporter(t, fake, st, dir, clk, func(c *config.BigQueryExport) { c.MaxMinutesPerRun, c.BatchRows, c.Backfill = 3, 2, 5*time.Minute })
	ctx := context.Background()
	if v := h.e.lagSeconds(); v != 450 {
		t.Errorf("lag before the first export %vs, want 450 (now - Base-1m)", v)
	}

	for i, want := range []struct {
		rows int
		wm   time.Time
	}{{3, base.Add(2 * time.Minute)}, {1, base.Add(4 * time.Minute)}, {0, base.Add(4 * time.Minute)}} {
		n, err := h.e.RunOnce(ctx)
		if err != nil || n != want.rows {
			t.Fatalf("run %d: %d rows, %v; want %d", i, n, err, want.rows)
		}
		if got := watermarkOf(t, dir); got != want.wm.Format(time.RFC3339) {
			t.Fatalf("run %d: watermark %q, want %s", i, got, want.wm.Format(time.RFC3339))
		}
	}
	if len(fake.unknown) > 0 {
		t.Errorf("requests the fake does not serve: %v", fake.unknown)
	}
	if len(fake.dsInserts) != 1 || !reflect.DeepEqual(fake.dsInserts[0]["datasetReference"], map[string]any{"datasetId": "noctua"}) {
		t.Errorf("dataset inserts: %+v", fake.dsInserts)
	}
	if len(fake.tableInserts) != 1 {
		t.Fatalf("table inserts: %+v", fake.tableInserts)
	}
	tb := fake.tableInserts[0]
	if got := tb["schema"].(map[string]any)["fields"]; !reflect.DeepEqual(got, wantSchema()) {
		t.Errorf("schema:\n got %v\nwant %v", got, wantSchema())
	}
	if got := tb["timePartitioning"]; !reflect.DeepEqual(got, map[string]any{"type": "DAY", "field": "minute"}) {
		t.Errorf("partitioning: %v", got)
	}
	if got := tb["clustering"]; !reflect.DeepEqual(got, map[string]any{"fields": []any{"domain", "journey", "service", "api"}}) {
		t.Errorf("clustering: %v", got)
	}
	if got := tb["tableReference"]; !reflect.DeepEqual(got, map[string]any{"projectId": "bank-analytics", "datasetId": "noctua", "tableId": "noctua_rollup_1m"}) {
		t.Errorf("table reference: %v", got)
	}
	// Minutes [Base-1m, Base+2m) hold 3 rows (batches of 2 and 1),
	// [Base+2m, Base+4m) 1 row.
	var sizes []int
	for _, ia := range fake.inserts {
		sizes = append(sizes, len(ia.Rows))
		if ia.SkipInvalidRows || ia.IgnoreUnknownValues {
			t.Errorf("insertAll must refuse bad rows, not skip them: %+v", ia)
		}
	}
	if !reflect.DeepEqual(sizes, []int{2, 1, 1}) {
		t.Errorf("insertAll batch sizes %v, want [2 1 1]", sizes)
	}
	got, _ := fake.accepted()
	want := exporttest.Want()
	if len(got) != len(want) {
		t.Fatalf("%d rows sent, want %d", len(got), len(want))
	}
	ids := map[string]bool{}
	for i := range want {
		if !reflect.DeepEqual(got[i].row, wantJSON(want[i])) {
			t.Errorf("row %d:\n got %v\nwant %v", i, got[i].row, wantJSON(want[i]))
		}
		if got[i].id != InsertID(&want[i]) || ids[got[i].id] {
			t.Errorf("row %d: insertId %q, want %q, unique", i, got[i].id, InsertID(&want[i]))
		}
		ids[got[i].id] = true
	}
	if v := testutil.ToFloat64(h.e.rows); v != 4 {
		t.Errorf("rows counter %v, want 4", v)
	}
	if v := h.e.lagSeconds(); v != 150 {
		t.Errorf("lag %vs, want 150 (now - Base+4m)", v)
	}
	if n, err := testutil.GatherAndCount(h.reg, "noctua_export_rows_total", "noctua_export_errors_total", "noctua_export_lag_seconds"); err != nil || n != 3 {
		t.Errorf("metrics: %d, %v", n, err)
	}
}

// TestRestart checks that a restarted exporter continues from its
// watermark (no minute sent twice), and that one that lost its watermark
// after BigQuery took the rows (a crash before the write) sends the very
// same insertIds, for BigQuery to drop.
func TestRestart(t *testing.T) {
	fake := newFakeBQ(t)
	recs := exporttest.Records(t)
	base := exporttest.Base
	st := memstore.New(recs...)
	clk := &clock{base.Add(6*time.Minute + 30*time.Second)}
	dir := t.TempDir()
	ctx := context.Background()
	h := newExporter(t, fake, st, dir, clk, nil)
	if n, err := h.e.RunOnce(ctx); n != 4 || err != nil {
		t.Fatalf("first run: %d, %v", n, err)
	}
	h.e.Close()
	first, _ := fake.accepted()

	// Restart a minute later with a request in minute 4: only it is sent.
	late := recs[0]
	late.TS = base.Add(4*time.Minute + time.Second).UnixNano()
	st = memstore.New(append(recs, late)...)
	clk.t = clk.t.Add(time.Minute)
	h = newExporter(t, fake, st, dir, clk, nil)
	if wm, ok := h.e.Watermark(); !ok || !wm.Equal(base.Add(4*time.Minute)) {
		t.Fatalf("watermark after restart: %v %v", wm, ok)
	}
	if n, err := h.e.RunOnce(ctx); n != 1 || err != nil {
		t.Fatalf("run after restart: %d, %v", n, err)
	}
	all, byID := fake.accepted()
	if len(all) != 5 || len(byID) != 5 {
		t.Fatalf("after restart: %d rows sent, %d distinct ids; want 5 and 5", len(all), len(byID))
	}
	if m := all[4].row["minute"]; m != base.Add(4*time.Minute).Format(time.RFC3339) {
		t.Errorf("row sent after restart is of minute %v", m)
	}
	h.e.Close()

	// Crash between insert and watermark write: the watermark is lost,
	// the rows are sent again with the same insertIds.
	if err := os.Remove(filepath.Join(dir, "export", "bigquery.watermark")); err != nil {
		t.Fatal(err)
	}
	clk.t = base.Add(6*time.Minute + 30*time.Second)
	h = newExporter(t, fake, memstore.New(recs...), dir, clk, nil)
	if n, err := h.e.RunOnce(ctx); n != 4 || err != nil {
		t.Fatalf("re-run: %d, %v", n, err)
	}
	all, byID = fake.accepted()
	if len(all) != 9 || len(byID) != 5 {
		t.Fatalf("re-run: %d rows sent, %d distinct ids; want 9 sent, 5 distinct", len(all), len(byID))
	}
	for i := range first {
		if all[5+i].id != first[i].id || !reflect.DeepEqual(all[5+i].row, first[i].row) {
			t.Errorf("re-sent row %d: id %s, want %s", i, all[5+i].id, first[i].id)
		}
	}
}

// TestRetryNextInterval runs the exporter as a source: BigQuery answers
// 500, the run fails (health, error counter), the watermark stays; once
// BigQuery recovers the next interval sends every minute, none lost.
func TestRetryNextInterval(t *testing.T) {
	fake := newFakeBQ(t)
	fake.setFail(true)
	base := exporttest.Base
	clk := &clock{base.Add(6*time.Minute + 30*time.Second)}
	dir := t.TempDir()
	h := newExporter(t, fake, memstore.New(exporttest.Records(t)...), dir, clk,
		func(c *config.BigQueryExport) { c.Interval = 500 * time.Millisecond })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = h.e.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "a failed run", func() bool { return h.e.Health().Err != "" })
	if wm := watermarkOf(t, dir); wm != "" {
		t.Fatalf("watermark %q written after a failed run", wm)
	}
	if testutil.ToFloat64(h.e.errs) < 1 || testutil.ToFloat64(h.e.rows) != 0 {
		t.Errorf("errors %v rows %v", testutil.ToFloat64(h.e.errs), testutil.ToFloat64(h.e.rows))
	}
	fake.setFail(false)
	waitFor(t, "a successful run", func() bool { return h.e.Health().Healthy() })
	if wm := watermarkOf(t, dir); wm != base.Add(4*time.Minute).Format(time.RFC3339) {
		t.Fatalf("watermark %q after recovery", wm)
	}
	got, byID := fake.accepted()
	want := exporttest.Want()
	if len(got) != len(want) || len(byID) != len(want) {
		t.Fatalf("%d rows (%d ids) accepted, want %d", len(got), len(byID), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(byID[InsertID(&want[i])], wantJSON(want[i])) {
			t.Errorf("row %d missing or wrong: %v", i, byID[InsertID(&want[i])])
		}
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	for i, ia := range fake.inserts {
		if fake.failed[i] {
			for j, r := range ia.Rows {
				if r.InsertID != InsertID(&want[j]) {
					t.Errorf("failed attempt %d row %d: insertId %s, want the retry's %s", i, j, r.InsertID, InsertID(&want[j]))
				}
			}
		}
	}
	if h.e.Health().Records != int64(len(want)) {
		t.Errorf("health records %d", h.e.Health().Records)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestEmptyMinutesAdvance checks that minutes with no requests move the
// watermark without calling BigQuery.
func TestEmptyMinutesAdvance(t *testing.T) {
	fake := newFakeBQ(t)
	clk := &clock{exporttest.Base.Add(6*time.Minute + 30*time.Second)}
	dir := t.TempDir()
	h := newExporter(t, fake, memstore.New(), dir, clk, nil)
	if n, err := h.e.RunOnce(context.Background()); n != 0 || err != nil {
		t.Fatalf("%d, %v", n, err)
	}
	if wm := watermarkOf(t, dir); wm != exporttest.Base.Add(4*time.Minute).Format(time.RFC3339) {
		t.Errorf("watermark %q", wm)
	}
	if len(fake.inserts)+len(fake.tableInserts) != 0 {
		t.Errorf("BigQuery called for no rows")
	}
}

// TestPartialProgress: a run that fails part-way keeps the minutes
// BigQuery fully acknowledged, so a backlog moves forward; the next run
// sends only the rest, and the rows counter counts each row once.
func TestPartialProgress(t *testing.T) {
	fake := newFakeBQ(t)
	fake.failAfter = 3 // minute 0 (2 rows) and minute 1 (1 row) pass, minute 3 fails
	base := exporttest.Base
	clk := &clock{base.Add(6*time.Minute + 30*time.Second)}
	dir := t.TempDir()
	h := newExporter(t, fake, memstore.New(exporttest.Records(t)...), dir, clk, func(c *config.BigQueryExport) { c.BatchRows = 1 })
	if _, err := h.e.RunOnce(context.Background()); err == nil {
		t.Fatal("run against a failing BigQuery succeeded")
	}
	if wm := watermarkOf(t, dir); wm != base.Add(3*time.Minute).Format(time.RFC3339) {
		t.Fatalf("watermark %q after a partial run, want the start of minute 3", wm)
	}
	if v := testutil.ToFloat64(h.e.rows); v != 3 {
		t.Errorf("rows counter %v after a partial run, want 3", v)
	}
	fake.mu.Lock()
	fake.failAfter = 0
	fake.mu.Unlock()
	if n, err := h.e.RunOnce(context.Background()); n != 1 || err != nil {
		t.Fatalf("next run: %d, %v; want the one row of minute 3", n, err)
	}
	all, byID := fake.accepted()
	if len(all) != 4 || len(byID) != 4 {
		t.Errorf("%d rows accepted (%d ids), want 4 and 4", len(all), len(byID))
	}
	if v := testutil.ToFloat64(h.e.rows); v != 4 {
		t.Errorf("rows counter %v, want 4", v)
	}
}
