package export_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"reflect"
	"testing"
	"time"

	"github.com/noctua-obs/noctua/export"
	"github.com/noctua-obs/noctua/export/exporttest"
	"github.com/noctua-obs/noctua/store"
	"github.com/noctua-obs/noctua/store/memstore"
	"github.com/noctua-obs/noctua/transform"
)

func rows(t *testing.T, f store.Filter) []export.Row {
	t.Helper()
	st := memstore.New(exporttest.Records(t)...)
	got, err := export.Rows(context.Background(), st, transform.NewApdexTs(exporttest.Config(t)),
		export.Query{From: exporttest.Base, To: exporttest.Base.Add(4 * time.Minute), Filter: f})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestRows(t *testing.T) {
	got, want := rows(t, store.Filter{}), exporttest.Want()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("rows:\n got %+v\nwant %+v", got, want)
	}
	got = rows(t, store.Filter{Domains: []string{"payments"}})
	if len(got) != 2 || got[0] != want[1] || got[1] != want[2] {
		t.Fatalf("payments only: %+v", got)
	}
}

func TestScore(t *testing.T) {
	for _, c := range []struct {
		s, t, f int64
		want    float64
	}{{0, 0, 0, 0}, {6, 2, 2, 0.7}, {1, 1, 1, 0.5}, {2, 1, 0, 0.8333}} {
		if got := export.Score(c.s, c.t, c.f); got != c.want {
			t.Errorf("Score(%d,%d,%d) = %v, want %v", c.s, c.t, c.f, got, c.want)
		}
	}
}

func TestWriteCSV(t *testing.T) {
	var b bytes.Buffer
	if err := export.WriteCSV(&b, exporttest.Want()); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(recs[0], export.Columns) || len(recs) != 5 {
		t.Fatalf("header %v, %d lines", recs[0], len(recs))
	}
	want := []string{"2026-01-05T10:00:00Z", "payments", "pay", "payment-gateway", "POST /payments",
		"10", "2", "1", "0", "1", "100", "2000", "2000", "300", "6", "2", "2", "0.7"}
	if !reflect.DeepEqual(recs[2], want) {
		t.Errorf("row:\n got %q\nwant %q", recs[2], want)
	}
}

func TestWriteParquet(t *testing.T) {
	for _, want := range [][]export.Row{exporttest.Want(), nil} {
		var b bytes.Buffer
		if err := export.WriteParquet(&b, want); err != nil {
			t.Fatal(err)
		}
		got := exporttest.ReadParquet(t, b.Bytes())
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("read back:\n got %+v\nwant %+v", got, want)
		}
	}
}

func TestWriteCSVDefusesFormulas(t *testing.T) {
	var b bytes.Buffer
	r := exporttest.Want()[0]
	r.Service, r.API = "=HYPERLINK(\"http://x\")", "@SUM(A1)"
	if err := export.WriteCSV(&b, []export.Row{r}); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if recs[1][3] != "'=HYPERLINK(\"http://x\")" || recs[1][4] != "'@SUM(A1)" || recs[1][1] != "onboarding" {
		t.Errorf("cells %q", recs[1])
	}
}
