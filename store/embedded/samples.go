package embedded

import (
	"cmp"
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
	"github.com/noctua-obs/noctua/store/rollup"
)

// The samples table holds metric-like rows (host figures, probes, Kafka
// lag, OTLP metrics) in its own directory (samples/), with the WAL,
// blocks, sealed files, rollups, quarantine and retention of the others.

// Column order of the samples table.
const (
	scTS = iota
	scName
	scValue
	scKind
	scDomain
	scJourney
	scService
	scHost
	scEnv
	scSource
	scLabels
	nSampleCols
)

func samplesSchema() *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}},
		{Name: "name", Type: dictType},
		{Name: "value", Type: arrow.PrimitiveTypes.Float64},
		{Name: "kind", Type: arrow.PrimitiveTypes.Uint8},
		{Name: "domain", Type: dictType},
		{Name: "journey", Type: dictType},
		{Name: "service", Type: dictType},
		{Name: "host", Type: dictType},
		{Name: "env", Type: dictType},
		{Name: "source", Type: dictType},
		{Name: "labels", Type: dictType}, // encodeLabels
	}, nil)
}

// sampleStringCols are the string columns, in sampleStrings order.
var sampleStringCols = [...]int{scName, scDomain, scJourney, scService, scHost, scEnv, scSource, scLabels}

const nSampleStrings = len(sampleStringCols)

// sampleCols reads sample rows from an open block's builders or a sealed
// record's arrays; strings view them.
type sampleCols struct {
	tsv   []int64
	ats   *array.Timestamp
	bstr  [nSampleCols]stringBuilder
	astr  [nSampleCols]stringColumn
	bval  []float64
	aval  *array.Float64
	bkind []uint8
	akind *array.Uint8
}

func (c *sampleCols) n() int {
	if c.ats != nil {
		return c.ats.Len()
	}
	return len(c.tsv)
}

func (c *sampleCols) str(col, i int) string {
	if c.ats != nil {
		return c.astr[col].Value(i)
	}
	return c.bstr[col].value(i)
}

func (c *sampleCols) row(i int, s *record.Sample) {
	if c.ats != nil {
		*s = record.Sample{TS: int64(c.ats.Value(i)), Value: c.aval.Value(i), Kind: record.SampleKind(c.akind.Value(i))}
	} else {
		*s = record.Sample{TS: c.tsv[i], Value: c.bval[i], Kind: record.SampleKind(c.bkind[i])}
	}
	s.Name, s.Domain, s.Journey, s.Service = c.str(scName, i), c.str(scDomain, i), c.str(scJourney, i), c.str(scService, i)
	s.Host, s.Env, s.Source = c.str(scHost, i), c.str(scEnv, i), c.str(scSource, i)
	s.Labels = decodeLabels(c.str(scLabels, i))
}

func sampleColsOf(rec arrow.Record) (*sampleCols, bool) {
	if rec.NumCols() != nSampleCols {
		return nil, false
	}
	c := &sampleCols{}
	var ok bool
	if c.ats, ok = rec.Column(scTS).(*array.Timestamp); !ok {
		return nil, false
	}
	if c.aval, ok = rec.Column(scValue).(*array.Float64); !ok {
		return nil, false
	}
	if c.akind, ok = rec.Column(scKind).(*array.Uint8); !ok {
		return nil, false
	}
	for _, col := range sampleStringCols {
		if c.astr[col], ok = stringColumnOf(rec.Column(col)); !ok {
			return nil, false
		}
	}
	return c, true
}

// sampleBlock is the open block of the samples table. Guarded by table.mu.
type sampleBlock struct {
	blockMeta
	schema *arrow.Schema
	mem    memory.Allocator
	ts     *array.TimestampBuilder
	cols   sampleCols
}

func newSampleBlock(mem memory.Allocator, schema *arrow.Schema, hint sizeHint) *sampleBlock {
	k := &sampleBlock{schema: schema, mem: mem, ts: array.NewTimestampBuilder(mem, schema.Field(scTS).Type.(*arrow.TimestampType))}
	k.ts.Reserve(hint.rows)
	for _, col := range sampleStringCols {
		k.cols.bstr[col] = newStringBuilder(mem, schema.Field(col), hint)
	}
	k.cols.bval = make([]float64, 0, hint.rows)
	k.cols.bkind = make([]uint8, 0, hint.rows)
	return k
}

func (k *sampleBlock) append(ss []record.Sample, now time.Time) {
	for i := range ss {
		s := &ss[i]
		k.addTS(s.TS, now)
		k.ts.Append(arrow.Timestamp(s.TS))
		k.cols.bval = append(k.cols.bval, s.Value)
		k.cols.bkind = append(k.cols.bkind, uint8(s.Kind))
		for j, v := range sampleStrings(s) {
			k.cols.bstr[sampleStringCols[j]].append(v)
		}
	}
	k.bytes = plainBytes(k.cols.bstr[:])
}

func sampleStrings(s *record.Sample) [nSampleStrings]string {
	return [nSampleStrings]string{s.Name, s.Domain, s.Journey, s.Service, s.Host, s.Env, s.Source, encodeLabels(s.Labels)}
}

func (k *sampleBlock) record() arrow.Record {
	cols := make([]arrow.Array, nSampleCols)
	cols[scTS] = k.ts.NewArray()
	vb := array.NewFloat64Builder(k.mem)
	vb.AppendValues(k.cols.bval, nil)
	cols[scValue] = vb.NewArray()
	vb.Release()
	kb := array.NewUint8Builder(k.mem)
	kb.AppendValues(k.cols.bkind, nil)
	cols[scKind] = kb.NewArray()
	kb.Release()
	for _, col := range sampleStringCols {
		cols[col] = k.cols.bstr[col].newArray()
	}
	k.cols.bval, k.cols.bkind = k.cols.bval[:0], k.cols.bkind[:0]
	return builtRecord(k.schema, cols, k.rows())
}

func (k *sampleBlock) release() { k.ts.Release() }

func (k *sampleBlock) view() *sampleCols {
	k.cols.tsv = k.tsv
	return &k.cols
}

// sampleSpec is the spec of the samples table.
type sampleSpec struct {
	sch       *arrow.Schema
	labelKeys []string // rollup label keys; nil: rollup.DefaultSampleLabelKeys
}

// sampleTable is the samples table.
type sampleTable = table[record.Sample, *sampleBlock, *rollup.SampleSet]

func (p sampleSpec) newBlock(mem memory.Allocator, h sizeHint) *sampleBlock {
	return newSampleBlock(mem, p.sch, h)
}
func (p sampleSpec) newRollup(t []rollup.Tier) (*rollup.SampleSet, error) {
	return rollup.NewSampleSet(t, p.labelKeys)
}
func (sampleSpec) encode(b []byte, ss []record.Sample) []byte     { return appendSampleBatch(b, ss) }
func (sampleSpec) decode(payload []byte) ([]record.Sample, error) { return decodeSampleBatch(payload) }

func (sampleSpec) rows(rec arrow.Record, fn func([]record.Sample)) error {
	c, ok := sampleColsOf(rec)
	if !ok {
		return errors.New("embedded: unexpected samples block schema")
	}
	inChunks(c.n(), c.row, fn)
	return nil
}

// AppendSamples implements store.SampleAppender with the contract of
// AppendRequests: it returns once ss is in the fsynced samples WAL.
func (s *Store) AppendSamples(ctx context.Context, ss []record.Sample) error {
	if len(ss) == 0 {
		return nil
	}
	if err := s.enter(ctx); err != nil {
		return err
	}
	defer s.closeMu.RUnlock()
	return s.smp.append(ctx, ss)
}

// SampleRollup implements store.SampleQuerier from the sample rollups; a
// grouping or filter on a label the rollup does not keep is answered from
// the raw rows (bounded by store.MaxSampleLimit per bucket scan).
func (s *Store) SampleRollup(ctx context.Context, q store.SampleQuery) ([]store.SampleSeries, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if oldest := s.opts.Now().Add(-s.opts.Retention); q.From.Before(oldest) {
		q.From = oldest
	}
	return s.smp.roll.Query(q)
}

// Samples implements store.SampleQuerier: raw rows of q.Name matching q,
// newest first, at most q.Limit (0: 100; at most store.MaxSampleLimit).
func (s *Store) Samples(ctx context.Context, q store.SampleQuery) ([]record.Sample, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, store.MaxSampleLimit)
	from, to := q.From.UnixNano(), q.To.UnixNano()
	if to <= from || q.Filter.Domains != nil && len(q.Filter.Domains) == 0 {
		return []record.Sample{}, nil
	}
	var out []record.Sample
	var x record.Sample
	floor := int64(math.MinInt64)
	scan := func(c *sampleCols) {
		for i := c.n() - 1; i >= 0; i-- {
			if c.str(scName, i) != q.Name {
				continue
			}
			c.row(i, &x)
			if x.TS < from || x.TS >= to || x.TS < floor || !sampleMatch(&x, &q) {
				continue
			}
			y := x
			cloneSample(&y)
			out = append(out, y)
		}
	}
	trim := func() {
		slices.SortStableFunc(out, func(a, b record.Sample) int { return cmp.Compare(b.TS, a.TS) })
		if len(out) >= limit {
			out = out[:limit]
			floor = out[len(out)-1].TS
		}
	}
	srcs := s.smp.sources(from, to, func(b *sampleBlock) { scan(b.view()) })
	defer releaseSources(srcs)
	trim()
	err := s.smp.scan(ctx, srcs,
		func(src source) bool { return len(out) >= limit && src.maxTS < floor },
		func(rec arrow.Record) {
			if c, ok := sampleColsOf(rec); ok {
				scan(c)
			}
		}, trim)
	if err != nil {
		return nil, err
	}
	trim()
	if out == nil {
		out = []record.Sample{}
	}
	return out, nil
}

func sampleMatch(x *record.Sample, q *store.SampleQuery) bool {
	if !q.Filter.Match(x.Domain, x.Journey, x.Service, q.Filter.API) || q.Host != "" && x.Host != q.Host {
		return false
	}
	for _, l := range q.Labels {
		if x.Label(l.Name) != l.Value {
			return false
		}
	}
	return true
}

// cloneSample gives x strings and labels of its own.
func cloneSample(x *record.Sample) {
	x.Name, x.Domain, x.Journey, x.Service = strings.Clone(x.Name), strings.Clone(x.Domain), strings.Clone(x.Journey), strings.Clone(x.Service)
	x.Host, x.Env, x.Source = strings.Clone(x.Host), strings.Clone(x.Env), strings.Clone(x.Source)
	ls := make([]record.Label, len(x.Labels))
	for i, l := range x.Labels {
		ls[i] = record.Label{Name: strings.Clone(l.Name), Value: strings.Clone(l.Value)}
	}
	x.Labels = ls
}
