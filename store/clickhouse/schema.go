package clickhouse

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-kit/log/level"
)

// dayKey is the partition key of every table: the day (server time zone)
// of ts, as a YYYYMMDD number, so that retention drops whole days.
const dayKey = "toYYYYMMDD(toDateTime(intDiv(ts, 1000000000)))"

// tables are the DDL of the tables, %s the quoted database. Each is a
// MergeTree partitioned by day and ordered by the low-cardinality
// dimensions then time; high-cardinality values (trace id, user,
// journey instance) are plain columns. The same DDL runs on ClickHouse
// 18.16 and on a current server.
var tables = []struct{ name, ddl string }{
	{"requests", `CREATE TABLE IF NOT EXISTS %s.requests (
	ts Int64,
	domain String, journey String, service String, api String,
	env String, source String, route String,
	duration Int64,
	error UInt8,
	status_code Int32,
	error_code String, error_class String,
	apdex UInt8,
	journey_instance String, user_hash String, trace_id String,
	` + messageColumnsDDL + `
) ENGINE = MergeTree PARTITION BY ` + dayKey + ` ORDER BY (domain, journey, service, api, ts)`},
	{"logs", `CREATE TABLE IF NOT EXISTS %s.logs (
	ts Int64,
	seq UInt64,
	domain String, journey String, service String, api String,
	env String, source String, route String,
	level String,
	error_code String, error_class String,
	timeout UInt8, retry UInt8,
	journey_instance String, user_hash String, trace_id String,
	message String,
	labels String,
	` + messageColumnsDDL + `
) ENGINE = MergeTree PARTITION BY ` + dayKey + ` ORDER BY (domain, journey, service, api, ts)`},
	{"samples", `CREATE TABLE IF NOT EXISTS %s.samples (
	ts Int64,
	name String,
	value Float64,
	kind UInt8,
	domain String, journey String, service String, host String,
	env String, source String,
	label_names Array(String), label_values Array(String),
	` + messageColumnsDDL + `
) ENGINE = MergeTree PARTITION BY ` + dayKey + ` ORDER BY (name, domain, host, ts)`},
}

// messageColumnsDDL are the columns that name the Kafka message a row came
// from (store.MessageID), written by the scale-out writer's Append*Batch;
// rows appended otherwise keep the defaults (empty topic, 0, 0).
const messageColumnsDDL = "ktopic String, kpart Int32, koffset Int64"

// messageColumns are the same columns in an INSERT.
const messageColumns = "ktopic, kpart, koffset"

// createSchema creates the database and the tables that are missing, and
// adds the message columns to tables created before them.
func (s *Store) createSchema(ctx context.Context) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	if err := s.conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+s.db); err != nil {
		return wrap("create database", err)
	}
	for _, t := range tables {
		if err := s.conn.Exec(ctx, fmt.Sprintf(t.ddl, s.db)); err != nil {
			return wrap("create table "+t.name, err)
		}
		if err := s.addMessageColumns(ctx, t.name); err != nil {
			return err
		}
	}
	return nil
}

// addMessageColumns adds to table the message columns it lacks
// (ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS: system.columns says
// which exist; a column another process added meanwhile is no error).
// Adding a column is a metadata change: old parts are not rewritten, their
// rows read the defaults.
func (s *Store) addMessageColumns(ctx context.Context, table string) error {
	have, err := s.columns(ctx, table)
	if err != nil {
		return err
	}
	for _, c := range strings.Split(messageColumnsDDL, ", ") {
		name, _, _ := strings.Cut(c, " ")
		if have[name] {
			continue
		}
		if err := s.conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s.%s ADD COLUMN %s", s.db, table, c)); err != nil {
			if now, err2 := s.columns(ctx, table); err2 == nil && now[name] {
				continue // added by another process
			}
			return wrap("add column to "+table, err)
		}
		level.Info(s.opts.Logger).Log("msg", "clickhouse column added", "table", table, "column", name)
	}
	return nil
}

// columns returns the names of table's columns.
func (s *Store) columns(ctx context.Context, table string) (map[string]bool, error) {
	rows, err := s.conn.Query(ctx, "SELECT name FROM system.columns WHERE database = ? AND table = ?", s.cfg.Database, table)
	if err != nil {
		return nil, wrap("columns of "+table, err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, wrap("columns of "+table, err)
		}
		out[n] = true
	}
	return out, wrap("columns of "+table, rows.Err())
}

// retain drops, every RetentionEvery until Close, the partitions wholly
// older than the retention (Open ran the first pass).
func (s *Store) retain() {
	defer close(s.done)
	t := time.NewTicker(s.opts.RetentionEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if _, err := s.DropExpired(context.Background()); err != nil {
			level.Warn(s.opts.Logger).Log("msg", "clickhouse retention failed", "err", err)
		}
	}
}

// DropExpired drops the day partitions of every table that end more than
// the retention ago (a day later than the cut, so that a partition of the
// server's time zone is never dropped while it may hold a kept row) and
// returns how many it dropped. Queries leave out expired rows on their
// own: this only frees the space.
func (s *Store) DropExpired(ctx context.Context) (int, error) {
	cut, err := strconv.Atoi(time.Now().Add(-s.opts.Retention - 24*time.Hour).UTC().Format("20060102"))
	if err != nil {
		return 0, err
	}
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	rows, err := s.conn.Query(ctx, `SELECT DISTINCT table, partition FROM system.parts
		WHERE database = ? AND active AND table IN ('requests', 'logs', 'samples')`, s.cfg.Database)
	if err != nil {
		return 0, wrap("list partitions", err)
	}
	type part struct{ table, partition string }
	var old []part
	for rows.Next() {
		var p part
		if err := rows.Scan(&p.table, &p.partition); err != nil {
			rows.Close()
			return 0, wrap("list partitions", err)
		}
		if day, err := strconv.Atoi(p.partition); err == nil && day < cut {
			old = append(old, p)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, wrap("list partitions", err)
	}
	for i, p := range old {
		if err := s.conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s.%s DROP PARTITION %s", s.db, p.table, p.partition)); err != nil {
			return i, wrap("drop partition "+p.table+"/"+p.partition, err)
		}
		s.stats.dropped.Add(1)
		level.Info(s.opts.Logger).Log("msg", "clickhouse partition dropped", "table", p.table, "partition", p.partition)
	}
	return len(old), nil
}
