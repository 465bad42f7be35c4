package scrape

import (
	"errors"
	"fmt"
	"io"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
)

// parseOpenMetrics decodes an OpenMetrics 1.0 text exposition with
// Prometheus' own parser (exemplars, float timestamps, `# EOF`, units and
// `_created` series included). Every series becomes a metric of the family
// its sample name is (node_cpu_seconds_total, probe_success, ...), untyped,
// which is how the figures read them; the count is one per series.
func parseOpenMetrics(b []byte, sampleLimit int) (Families, int, error) {
	p, err := textparse.New(b, "application/openmetrics-text", nil, textparse.ParserOptions{})
	if err != nil {
		return nil, 0, &Error{ReasonParse, err}
	}
	fams := Families{}
	n := 0
	var ls labels.Labels
	for {
		e, err := p.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, n, &Error{ReasonParse, err}
		}
		if e != textparse.EntrySeries {
			continue
		}
		_, _, v := p.Series()
		p.Labels(&ls)
		n++
		if sampleLimit > 0 && n > sampleLimit {
			return nil, n, &Error{ReasonSampleLimit, fmt.Errorf("more than sample_limit %d samples", sampleLimit)}
		}
		name := ls.Get(labels.MetricName)
		fam := fams[name]
		if fam == nil {
			fam = &dto.MetricFamily{Name: &name, Type: dto.MetricType_UNTYPED.Enum()}
			fams[name] = fam
		}
		m := &dto.Metric{Untyped: &dto.Untyped{Value: &v}}
		ls.Range(func(l labels.Label) {
			if l.Name != labels.MetricName {
				ln, lv := l.Name, l.Value
				m.Label = append(m.Label, &dto.LabelPair{Name: &ln, Value: &lv})
			}
		})
		fam.Metric = append(fam.Metric, m)
	}
	return fams, n, nil
}
