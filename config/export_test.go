package config

import (
	"testing"
	"time"
)

func TestExportDefaults(t *testing.T) {
	c, err := Load("testdata/export.good.yml")
	if err != nil {
		t.Fatal(err)
	}
	b := c.Export.BigQuery
	if b == nil {
		t.Fatal("export.bigquery not read")
	}
	want := BigQueryExport{Project: "bank-analytics", Dataset: "noctua", Table: DefaultBigQueryTable,
		Interval: time.Minute, Delay: 2 * time.Minute, CredentialsFile: "/etc/noctua/bq-key.json",
		MaxMinutesPerRun: 60, BatchRows: 500, Backfill: 24 * time.Hour}
	if *b != want {
		t.Errorf("got %+v\nwant %+v", *b, want)
	}
	c, err = Parse([]byte("domains: [{id: payments, squad: p}]\n"))
	if err != nil || c.Export.BigQuery != nil {
		t.Errorf("no export section: %+v %v", c.Export, err)
	}
}
