package embedded

import "github.com/prometheus/client_golang/prometheus"

// The embedded store's own metrics, per table (requests, logs, samples).
var (
	descTableRows = prometheus.NewDesc("noctua_embedded_table_rows",
		"Rows held by an embedded store table (open block, blocks sealing and sealed files).", []string{"table"}, nil)
	descTableOpenRows = prometheus.NewDesc("noctua_embedded_table_open_rows",
		"Rows in a table's open in-memory block.", []string{"table"}, nil)
	descTableWAL = prometheus.NewDesc("noctua_embedded_table_wal_bytes",
		"Bytes in a table's write-ahead log.", []string{"table"}, nil)
	descTableDisk = prometheus.NewDesc("noctua_embedded_table_disk_bytes",
		"Bytes of a table's sealed Parquet files.", []string{"table"}, nil)
	descTableFiles = prometheus.NewDesc("noctua_embedded_table_sealed_files",
		"A table's sealed Parquet files.", []string{"table"}, nil)
	descTableCells = prometheus.NewDesc("noctua_embedded_table_rollup_cells",
		"Rollup cells a table holds in memory.", []string{"table"}, nil)
	descTableBatches = prometheus.NewDesc("noctua_embedded_table_append_batches_total",
		"Batches appended to a table since start.", []string{"table"}, nil)
	descQuarantined = prometheus.NewDesc("noctua_embedded_quarantined_files",
		"Damaged sealed files moved aside since start (their raw rows are no longer served).", nil, nil)
	descWALGaps = prometheus.NewDesc("noctua_embedded_wal_corrupt_gaps",
		"Corrupt stretches skipped in the middle of WAL segments at start (entries there were lost; those after kept).", nil, nil)
	descSampleOverflow = prometheus.NewDesc("noctua_embedded_sample_key_overflow_total",
		"Samples counted under an (other) rollup key because their name had reached the bound of distinct keys.", nil, nil)
)

var _ prometheus.Collector = (*Store)(nil)

// Describe implements prometheus.Collector.
func (s *Store) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descTableRows, descTableOpenRows, descTableWAL, descTableDisk, descTableFiles,
		descTableCells, descTableBatches, descSampleOverflow, descQuarantined, descWALGaps} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: the sizes of each table, read
// when /metrics is scraped.
func (s *Store) Collect(ch chan<- prometheus.Metric) {
	for _, t := range []struct {
		name string
		st   tableStats
	}{{"requests", s.req.stats()}, {"logs", s.logs.stats()}, {"samples", s.smp.stats()}} {
		gauge := func(d *prometheus.Desc, v int64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), t.name)
		}
		gauge(descTableRows, t.st.rows)
		gauge(descTableOpenRows, t.st.openRows)
		gauge(descTableWAL, t.st.walBytes)
		gauge(descTableDisk, t.st.diskBytes)
		gauge(descTableFiles, t.st.files)
		gauge(descTableCells, t.st.cells)
		ch <- prometheus.MustNewConstMetric(descTableBatches, prometheus.CounterValue, float64(t.st.batches), t.name)
	}
	ch <- prometheus.MustNewConstMetric(descSampleOverflow, prometheus.CounterValue, float64(s.smp.roll.Overflow()))
	st := s.Stats()
	ch <- prometheus.MustNewConstMetric(descQuarantined, prometheus.GaugeValue, float64(st.Quarantined))
	ch <- prometheus.MustNewConstMetric(descWALGaps, prometheus.GaugeValue, float64(st.WALGaps))
}
