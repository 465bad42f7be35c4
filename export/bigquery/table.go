package bigquery

import (
	"context"
	"fmt"

	bq "cloud.google.com/go/bigquery"
	"github.com/go-kit/log/level"

	"github.com/noctua-obs/noctua/export"
)

// Schema is the table's schema: export.Columns, the minute a TIMESTAMP,
// counts INTEGER and the rest FLOAT. The table is partitioned by day on
// minute and clustered by domain, journey, service and api.
var Schema = bq.Schema{
	{Name: "minute", Type: bq.TimestampFieldType, Required: true, Description: "Start of the minute (UTC)."},
	{Name: "domain", Type: bq.StringFieldType, Required: true},
	{Name: "journey", Type: bq.StringFieldType},
	{Name: "service", Type: bq.StringFieldType},
	{Name: "api", Type: bq.StringFieldType},
	{Name: "requests", Type: bq.IntegerFieldType, Required: true},
	{Name: "errors", Type: bq.IntegerFieldType, Required: true},
	{Name: "errors_business", Type: bq.IntegerFieldType, Required: true},
	{Name: "errors_application", Type: bq.IntegerFieldType, Required: true},
	{Name: "errors_system", Type: bq.IntegerFieldType, Required: true},
	{Name: "p50_ms", Type: bq.FloatFieldType, Description: "Median latency in milliseconds."},
	{Name: "p95_ms", Type: bq.FloatFieldType},
	{Name: "p99_ms", Type: bq.FloatFieldType},
	{Name: "apdex_t_ms", Type: bq.FloatFieldType, Description: "The API's Apdex T in milliseconds."},
	{Name: "apdex_satisfied", Type: bq.IntegerFieldType, Required: true},
	{Name: "apdex_tolerating", Type: bq.IntegerFieldType, Required: true},
	{Name: "apdex_frustrated", Type: bq.IntegerFieldType, Required: true},
	{Name: "apdex", Type: bq.FloatFieldType, Description: "(satisfied + tolerating/2) / requests."},
}

func init() {
	if len(Schema) != len(export.Columns) {
		panic("bigquery: Schema and export.Columns differ")
	}
	for i, f := range Schema {
		if f.Name != export.Columns[i] {
			panic("bigquery: Schema and export.Columns differ at " + f.Name)
		}
	}
}

// ensureTable creates the dataset and the table when they are missing.
func (e *Exporter) ensureTable(ctx context.Context) error {
	ds := e.client.Dataset(e.cfg.Dataset)
	if _, err := ds.Metadata(ctx); isNotFound(err) {
		err = ds.Create(ctx, &bq.DatasetMetadata{Location: e.cfg.Location,
			Description: "Noctua exports (https://github.com/noctua-obs/noctua)"})
		if err != nil && !isConflict(err) {
			return fmt.Errorf("bigquery: create dataset %s: %w", e.cfg.Dataset, err)
		}
		level.Info(e.logger).Log("msg", "bigquery dataset created", "dataset", e.cfg.Dataset)
	} else if err != nil {
		return fmt.Errorf("bigquery: dataset %s: %w", e.cfg.Dataset, err)
	}
	t := ds.Table(e.cfg.Table)
	if _, err := t.Metadata(ctx); isNotFound(err) {
		err = t.Create(ctx, &bq.TableMetadata{
			Description:      "Noctua per-minute rollups: one row per (minute, domain, journey, service, api).",
			Schema:           Schema,
			TimePartitioning: &bq.TimePartitioning{Type: bq.DayPartitioningType, Field: "minute"},
			Clustering:       &bq.Clustering{Fields: []string{"domain", "journey", "service", "api"}},
		})
		if err != nil && !isConflict(err) {
			return fmt.Errorf("bigquery: create table %s.%s: %w", e.cfg.Dataset, e.cfg.Table, err)
		}
		level.Info(e.logger).Log("msg", "bigquery table created", "table", e.cfg.Dataset+"."+e.cfg.Table)
	} else if err != nil {
		return fmt.Errorf("bigquery: table %s.%s: %w", e.cfg.Dataset, e.cfg.Table, err)
	}
	return nil
}
