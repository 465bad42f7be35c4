package config

import (
	"net/url"
	"regexp"
	"time"
)

// Export configures the exporters that ship rollups out of Noctua, for
// reports built elsewhere (Looker Studio over BigQuery).
type Export struct {
	// BigQuery, when present, runs the BigQuery exporter.
	BigQuery *BigQueryExport `yaml:"bigquery"`
}

// BigQueryExport configures the BigQuery exporter: every Interval it
// streams each complete minute since its durable watermark as one row per
// (minute, domain, journey, service, api) into Project.Dataset.Table.
type BigQueryExport struct {
	Project string `yaml:"project"` // Google Cloud project id; required
	Dataset string `yaml:"dataset"` // dataset id; required, created if missing
	// Table is the table id, created if missing. Default noctua_rollup_1m.
	Table string `yaml:"table"`
	// Location of a dataset the exporter creates ("EU", "US", ...); empty:
	// BigQuery's default.
	Location string `yaml:"location"`
	// Interval between export runs. Default 1m.
	Interval time.Duration `yaml:"interval"`
	// Delay is how long after a minute ends it is exported, so that late
	// records are counted in it first. Default 2m.
	Delay time.Duration `yaml:"delay"`
	// CredentialsFile is a service account key (JSON); empty: Application
	// Default Credentials.
	CredentialsFile string `yaml:"credentials_file"`
	// Endpoint overrides the BigQuery REST endpoint (tests, emulators);
	// with it and no CredentialsFile requests are sent unauthenticated.
	Endpoint string `yaml:"endpoint"`
	// MaxMinutesPerRun bounds the minutes one run exports, so that a long
	// outage is caught up gradually. Default 60.
	MaxMinutesPerRun int `yaml:"max_minutes_per_run"`
	// BatchRows bounds the rows of one insert call. Default 500.
	BatchRows int `yaml:"batch_rows"`
	// Backfill is how far back before now the first run (with no
	// watermark yet) starts. Default 24h.
	Backfill time.Duration `yaml:"backfill"`
}

// Defaults of the BigQuery exporter.
const (
	DefaultBigQueryTable    = "noctua_rollup_1m"
	DefaultBigQueryInterval = time.Minute
	DefaultBigQueryDelay    = 2 * time.Minute
	DefaultBigQueryMinutes  = 60
	DefaultBigQueryBatch    = 500
	DefaultBigQueryBackfill = 24 * time.Hour
	// MaxBigQueryBatch is BigQuery's recommended ceiling on the rows of
	// one streaming insert.
	MaxBigQueryBatch = 10000
)

func (e *Export) setDefaults() {
	b := e.BigQuery
	if b == nil {
		return
	}
	if b.Table == "" {
		b.Table = DefaultBigQueryTable
	}
	if b.Interval == 0 {
		b.Interval = DefaultBigQueryInterval
	}
	if b.Delay == 0 {
		b.Delay = DefaultBigQueryDelay
	}
	if b.MaxMinutesPerRun == 0 {
		b.MaxMinutesPerRun = DefaultBigQueryMinutes
	}
	if b.BatchRows == 0 {
		b.BatchRows = DefaultBigQueryBatch
	}
	if b.Backfill == 0 {
		b.Backfill = DefaultBigQueryBackfill
	}
}

var (
	bqProject = regexp.MustCompile(`^[a-z][a-z0-9.:-]{4,62}[a-z0-9]$`)
	bqDataset = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
	bqTable   = regexp.MustCompile(`^[\p{L}\p{M}\p{N}\p{Pc}\p{Pd}\p{Zs}]+$`)
)

func (e *Export) validate(p *problems) {
	b := e.BigQuery
	if b == nil {
		return
	}
	const path = "export.bigquery"
	switch {
	case b.Project == "":
		p.add(path+".project", "required")
	case !bqProject.MatchString(b.Project):
		p.add(path+".project", "want a Google Cloud project id (6-30 lower-case letters, digits or -), got %q", b.Project)
	}
	switch {
	case b.Dataset == "":
		p.add(path+".dataset", "required")
	case len(b.Dataset) > 1024 || !bqDataset.MatchString(b.Dataset):
		p.add(path+".dataset", "want letters, digits or _, got %q", b.Dataset)
	}
	if len(b.Table) > 1024 || !bqTable.MatchString(b.Table) {
		p.add(path+".table", "want letters, digits, _, - or spaces, got %q", b.Table)
	}
	if b.Interval < time.Second {
		p.add(path+".interval", "must be at least 1s, got %s", b.Interval)
	}
	if b.Delay < 0 {
		p.add(path+".delay", "must not be negative, got %s", b.Delay)
	}
	if b.MaxMinutesPerRun < 1 || b.MaxMinutesPerRun > 1440 {
		p.add(path+".max_minutes_per_run", "want 1-1440, got %d", b.MaxMinutesPerRun)
	}
	if b.BatchRows < 1 || b.BatchRows > MaxBigQueryBatch {
		p.add(path+".batch_rows", "want 1-%d, got %d", MaxBigQueryBatch, b.BatchRows)
	}
	if b.Backfill < time.Minute {
		p.add(path+".backfill", "must be at least 1m, got %s", b.Backfill)
	}
	if b.Endpoint != "" {
		if u, err := url.Parse(b.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.add(path+".endpoint", "want an http(s) URL, got %q", b.Endpoint)
		}
	}
}
