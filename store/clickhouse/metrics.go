package clickhouse

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// tableStats counts one table's INSERTs.
type tableStats struct {
	rows, inserts, failures atomic.Uint64
}

// stats are the Store's counters, exported by its Collect.
type stats struct {
	tables  [3]tableStats // indexed like tableNames
	dropped atomic.Uint64 // partitions dropped by retention
}

var tableNames = [3]string{"requests", "logs", "samples"}

func (st *stats) table(name string) *tableStats {
	for i, n := range tableNames {
		if n == name {
			return &st.tables[i]
		}
	}
	panic("clickhouse: unknown table " + name)
}

var (
	rowsDesc = prometheus.NewDesc("noctua_clickhouse_rows_inserted_total",
		"Rows the ClickHouse server acknowledged, per table.", []string{"table"}, nil)
	insertsDesc = prometheus.NewDesc("noctua_clickhouse_inserts_total",
		"INSERTs the ClickHouse server acknowledged, per table.", []string{"table"}, nil)
	failuresDesc = prometheus.NewDesc("noctua_clickhouse_insert_failures_total",
		"INSERTs that failed (the append returned an error), per table.", []string{"table"}, nil)
	droppedDesc = prometheus.NewDesc("noctua_clickhouse_partitions_dropped_total",
		"Day partitions dropped by retention.", nil, nil)
)

var _ prometheus.Collector = (*Store)(nil)

// Describe implements prometheus.Collector.
func (s *Store) Describe(ch chan<- *prometheus.Desc) {
	ch <- rowsDesc
	ch <- insertsDesc
	ch <- failuresDesc
	ch <- droppedDesc
}

// Collect implements prometheus.Collector.
func (s *Store) Collect(ch chan<- prometheus.Metric) {
	for i, n := range tableNames {
		t := &s.stats.tables[i]
		ch <- prometheus.MustNewConstMetric(rowsDesc, prometheus.CounterValue, float64(t.rows.Load()), n)
		ch <- prometheus.MustNewConstMetric(insertsDesc, prometheus.CounterValue, float64(t.inserts.Load()), n)
		ch <- prometheus.MustNewConstMetric(failuresDesc, prometheus.CounterValue, float64(t.failures.Load()), n)
	}
	ch <- prometheus.MustNewConstMetric(droppedDesc, prometheus.CounterValue, float64(s.stats.dropped.Load()))
}
