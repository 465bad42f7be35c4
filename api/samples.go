package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/noctua-obs/noctua/record"
	"github.com/noctua-obs/noctua/store"
)

// SamplesView is the answer of GET /api/v1/samples: one sample name's
// series, grouped as asked, one point per step (one over the range
// without a step), each a gauge cell (count, sum, min, max, last, mean).
type SamplesView struct {
	From    time.Time      `json:"from"`
	To      time.Time      `json:"to"`
	StepMs  float64        `json:"step_ms"`
	Scope   Scope          `json:"scope"`
	Name    string         `json:"name"`
	GroupBy []string       `json:"group_by"`
	Series  []SampleSeries `json:"series"`
}

// SampleSeries is one group's points.
type SampleSeries struct {
	Domain  string            `json:"domain,omitempty"`
	Journey string            `json:"journey,omitempty"`
	Service string            `json:"service,omitempty"`
	Host    string            `json:"host,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
	Points  []SamplePoint     `json:"points"`
}

// SamplePoint is one step's gauge cell.
type SamplePoint struct {
	TS    time.Time `json:"ts"`
	Count int64     `json:"count"`
	Sum   float64   `json:"sum"`
	Min   float64   `json:"min"`
	Max   float64   `json:"max"`
	Mean  float64   `json:"mean"`
	Last  float64   `json:"last"`
}

// maxGroupBy bounds the dimensions and labels one samples query groups by.
const maxGroupBy = 4

// Samples answers GET /api/v1/samples?name=…&domain=&service=&host=
// &group_by=host,group&label.<name>=<value>&range=&step=: any stored
// sample series (host figures, probes, Kafka lag, OTLP metrics) from the
// sample rollups, in the caller's scope.
func (a *API) Samples(ctx context.Context, s Scope, v url.Values) (*SamplesView, error) {
	if a.samples == nil {
		return nil, ErrNoSamples
	}
	name := v.Get("name")
	if name == "" || len(name) > maxParamValueLen {
		return nil, fmt.Errorf("%w: name: required, at most %d characters", ErrBadRequest, maxParamValueLen)
	}
	rng, err := ParseRange(v, a.now())
	if err != nil {
		return nil, err
	}
	f, err := dimParams(v, s, nil)
	if err != nil {
		return nil, err
	}
	q := store.SampleQuery{From: rng.From, To: rng.To, Step: rng.Step, Name: name, Filter: f, Host: v.Get("host")}
	if g := v.Get("group_by"); g != "" {
		q.GroupBy = strings.Split(g, ",")
		if len(q.GroupBy) > maxGroupBy {
			return nil, fmt.Errorf("%w: group_by: at most %d", ErrBadRequest, maxGroupBy)
		}
	}
	for k, vs := range v {
		if l, ok := strings.CutPrefix(k, "label."); ok && len(vs) > 0 {
			q.Labels = append(q.Labels, record.Label{Name: l, Value: vs[0]})
		}
	}
	series, err := a.samples.SampleRollup(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	out := &SamplesView{From: rng.From, To: rng.To, StepMs: float64(rng.Step.Milliseconds()), Scope: s, Name: name,
		GroupBy: q.GroupBy, Series: make([]SampleSeries, 0, len(series))}
	if out.GroupBy == nil {
		out.GroupBy = []string{}
	}
	for _, ser := range series {
		r := SampleSeries{Domain: ser.Key.Domain, Journey: ser.Key.Journey, Service: ser.Key.Service, Host: ser.Key.Host,
			Points: make([]SamplePoint, 0, len(ser.Points))}
		if len(ser.Key.Labels) > 0 {
			r.Labels = map[string]string{}
			for _, l := range ser.Key.Labels {
				r.Labels[l.Name] = l.Value
			}
		}
		for _, p := range ser.Points {
			r.Points = append(r.Points, SamplePoint{TS: p.TS, Count: p.Count, Sum: p.Sum, Min: p.Min, Max: p.Max, Mean: p.Mean(), Last: p.Last})
		}
		out.Series = append(out.Series, r)
	}
	return out, nil
}

// SamplesLiveView registers the "samples" live view: the body of
// GET /api/v1/samples for the subscription's parameters.
func (a *API) SamplesLiveView() View {
	return View{Name: "samples", Compute: func(ctx context.Context, s Scope, p url.Values) (any, error) {
		return a.Samples(ctx, s, p)
	}}
}

func (a *API) samplesHandler(ctx context.Context, s Scope, r *http.Request) (any, error) {
	return a.Samples(ctx, s, r.URL.Query())
}
