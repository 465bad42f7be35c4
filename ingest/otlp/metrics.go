package otlp

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/noctua-obs/noctua/record"
)

// metricConverter turns the data points of an ExportMetricsServiceRequest
// into record.Sample rows:
//   - gauges and non-monotonic sums are gauges;
//   - cumulative monotonic sums are counters, their rates taken per series
//     downstream as for a Prometheus counter;
//   - delta monotonic sums are accumulated per series (deltas) into a
//     running total and stored as counters, so both temporalities read the
//     same way;
//   - histograms and exponential histograms become <name>_count and
//     <name>_sum (counters when monotonic) and, for explicit buckets,
//     <name>_bucket with an "le" label, cumulative as Prometheus has them;
//   - summaries become <name>_count, <name>_sum and <name> with a
//     "quantile" label.
//
// The resource's service.name, host.name and deployment.environment fill
// Service, Host and Env; data point attributes become labels.
type metricConverter struct {
	lo, hi int64
	deltas *deltas
	out    []record.Sample
	rej    tally

	res resourceDims
	lbl []record.Label // the current point's attribute labels
}

type resourceDims struct{ service, host, env string }

func readResource(m pcommon.Map) resourceDims {
	var d resourceDims
	get := func(keys ...string) string {
		for _, k := range keys {
			if v, ok := m.Get(k); ok && v.AsString() != "" {
				return clip(v.AsString())
			}
		}
		return ""
	}
	d.service = get("service.name")
	d.host = get("host.name", "host.id")
	d.env = get("deployment.environment.name", "deployment.environment")
	return d
}

func (c *metricConverter) convert(md pmetric.Metrics) {
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		c.res = readResource(rm.Resource().Attributes())
		sms := rm.ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				c.metric(ms.At(k))
			}
		}
	}
}

func (c *metricConverter) metric(m pmetric.Metric) {
	name := clip(m.Name())
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		c.numbers(name, m.Gauge().DataPoints(), record.KindGauge, false)
	case pmetric.MetricTypeSum:
		s := m.Sum()
		switch {
		case !s.IsMonotonic():
			c.numbers(name, s.DataPoints(), record.KindGauge, false)
		default:
			c.numbers(name, s.DataPoints(), record.KindCounter, s.AggregationTemporality() == pmetric.AggregationTemporalityDelta)
		}
	case pmetric.MetricTypeHistogram:
		h := m.Histogram()
		delta := h.AggregationTemporality() == pmetric.AggregationTemporalityDelta
		dps := h.DataPoints()
		for i := 0; i < dps.Len(); i++ {
			dp := dps.At(i)
			if !c.admit(uint64(dp.Timestamp()), dp.Flags().NoRecordedValue()) {
				continue
			}
			if dp.BucketCounts().Len() > MaxBuckets {
				c.rej.add(ReasonTooManyBuckets)
				continue
			}
			c.attrs(dp.Attributes())
			ts := int64(dp.Timestamp())
			c.emit(name+"_count", ts, float64(dp.Count()), record.KindCounter, delta, nil)
			if dp.HasSum() {
				c.emit(name+"_sum", ts, dp.Sum(), record.KindCounter, delta, nil)
			}
			var cum uint64
			bounds := dp.ExplicitBounds()
			counts := dp.BucketCounts()
			for b := 0; b < counts.Len(); b++ {
				cum += counts.At(b)
				le := "+Inf"
				if b < bounds.Len() {
					le = strconv.FormatFloat(bounds.At(b), 'g', -1, 64)
				}
				c.emit(name+"_bucket", ts, float64(cum), record.KindCounter, delta, &record.Label{Name: "le", Value: le})
			}
		}
	case pmetric.MetricTypeExponentialHistogram:
		h := m.ExponentialHistogram()
		delta := h.AggregationTemporality() == pmetric.AggregationTemporalityDelta
		dps := h.DataPoints()
		for i := 0; i < dps.Len(); i++ {
			dp := dps.At(i)
			if !c.admit(uint64(dp.Timestamp()), dp.Flags().NoRecordedValue()) {
				continue
			}
			c.attrs(dp.Attributes())
			ts := int64(dp.Timestamp())
			c.emit(name+"_count", ts, float64(dp.Count()), record.KindCounter, delta, nil)
			if dp.HasSum() {
				c.emit(name+"_sum", ts, dp.Sum(), record.KindCounter, delta, nil)
			}
		}
	case pmetric.MetricTypeSummary:
		dps := m.Summary().DataPoints()
		for i := 0; i < dps.Len(); i++ {
			dp := dps.At(i)
			if !c.admit(uint64(dp.Timestamp()), dp.Flags().NoRecordedValue()) {
				continue
			}
			c.attrs(dp.Attributes())
			ts := int64(dp.Timestamp())
			c.emit(name+"_count", ts, float64(dp.Count()), record.KindCounter, false, nil)
			c.emit(name+"_sum", ts, dp.Sum(), record.KindCounter, false, nil)
			qs := dp.QuantileValues()
			for q := 0; q < min(qs.Len(), MaxBuckets); q++ {
				qv := qs.At(q)
				c.emit(name, ts, qv.Value(), record.KindGauge, false,
					&record.Label{Name: "quantile", Value: strconv.FormatFloat(qv.Quantile(), 'g', -1, 64)})
			}
		}
	}
}

// numbers converts gauge or sum points.
func (c *metricConverter) numbers(name string, dps pmetric.NumberDataPointSlice, kind record.SampleKind, delta bool) {
	for i := 0; i < dps.Len(); i++ {
		dp := dps.At(i)
		if !c.admit(uint64(dp.Timestamp()), dp.Flags().NoRecordedValue()) {
			continue
		}
		var v float64
		switch dp.ValueType() {
		case pmetric.NumberDataPointValueTypeDouble:
			v = dp.DoubleValue()
		case pmetric.NumberDataPointValueTypeInt:
			v = float64(dp.IntValue())
		default:
			c.rej.add(ReasonNoValue)
			continue
		}
		if math.IsNaN(v) {
			c.rej.add(ReasonNoValue)
			continue
		}
		c.attrs(dp.Attributes())
		c.emit(name, int64(dp.Timestamp()), v, kind, delta, nil)
	}
}

// admit checks a point's timestamp; points flagged as having no recorded
// value (a series gone stale) are skipped without being counted as
// rejected.
func (c *metricConverter) admit(ts uint64, noValue bool) bool {
	if noValue {
		return false
	}
	if r := checkTS(ts, c.lo, c.hi); r != "" {
		c.rej.add(r)
		return false
	}
	return true
}

// Bounds of one request: the samples it may produce, and the buckets of
// one histogram point (Prometheus' native limit is of the same order).
const (
	MaxSamplesPerRequest = 200_000
	MaxBuckets           = 1000
)

// Reasons of the bounds above.
const (
	ReasonTooManyPoints  = "too_many_data_points"
	ReasonTooManyBuckets = "too_many_buckets"
)

// maxPointLabels bounds the labels of one data point.
const maxPointLabels = 32

// attrs reads a point's attributes into c.lbl, sorted by name.
func (c *metricConverter) attrs(m pcommon.Map) {
	c.lbl = c.lbl[:0]
	m.Range(func(k string, v pcommon.Value) bool {
		c.lbl = append(c.lbl, record.Label{Name: clip(k), Value: clip(v.AsString())})
		return len(c.lbl) < maxPointLabels
	})
	slices.SortFunc(c.lbl, func(a, b record.Label) int { return cmp.Compare(a.Name, b.Name) })
}

// emit appends one sample with the current resource and attribute labels,
// plus extra when set; a delta counter is first added to its series'
// running total.
func (c *metricConverter) emit(name string, ts int64, v float64, kind record.SampleKind, delta bool, extra *record.Label) {
	if len(c.out) >= MaxSamplesPerRequest {
		c.rej.add(ReasonTooManyPoints)
		return
	}
	labels := make([]record.Label, len(c.lbl), len(c.lbl)+1)
	copy(labels, c.lbl)
	if extra != nil {
		i, _ := slices.BinarySearchFunc(labels, extra.Name, func(l record.Label, n string) int { return cmp.Compare(l.Name, n) })
		labels = slices.Insert(labels, i, *extra)
	}
	s := record.Sample{TS: ts, Name: name, Value: v, Kind: kind,
		Service: c.res.service, Host: c.res.host, Env: c.res.env, Labels: labels}
	if delta && c.deltas != nil {
		s.Value = c.deltas.add(&s)
	}
	c.out = append(c.out, s)
}

// deltas keeps the running total of every delta series, so that a delta
// sum is stored as the counter a cumulative one would be. It holds at most
// max series; past that a new series starts from its first delta each time
// (its rate then reads as zero rather than growing memory).
type deltas struct {
	mu     sync.Mutex
	max    int
	totals map[string]float64
}

func newDeltas(max int) *deltas { return &deltas{max: max, totals: map[string]float64{}} }

func (d *deltas) add(s *record.Sample) float64 {
	var b strings.Builder
	b.WriteString(s.Name)
	for _, x := range []string{s.Service, s.Host, s.Env} {
		b.WriteByte(0)
		b.WriteString(x)
	}
	for _, l := range s.Labels {
		b.WriteByte(0)
		b.WriteString(l.Name)
		b.WriteByte(1)
		b.WriteString(l.Value)
	}
	k := b.String()
	d.mu.Lock()
	defer d.mu.Unlock()
	t, ok := d.totals[k]
	if !ok && len(d.totals) >= d.max {
		return s.Value
	}
	t += s.Value
	d.totals[k] = t
	return t
}
