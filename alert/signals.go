package alert

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/noctua-obs/noctua/api"
	"github.com/noctua-obs/noctua/config"
)

// nocScope is the evaluator's view of the signals: every domain.
var nocScope = api.Scope{Name: "alerting", Role: config.RoleNOC}

// signalRange is the range the built-in verdicts are read over: the
// health window, as the dashboards judge their tiles.
func (e *Evaluator) signalRange() url.Values {
	w := e.opts.Config.Health.Window
	if w <= 0 {
		w = config.DefaultHealthWindow
	}
	return url.Values{"range": {config.FmtDuration(w)}}
}

// kafkaConditions: a consumer group whose health is crit (STALL, STOP,
// ERR, or a time lag at lag_crit), as the Kafka view judges it.
func (e *Evaluator) kafkaConditions(ctx context.Context, _ time.Time) ([]condition, error) {
	v, err := e.opts.Signals.Kafka(ctx, nocScope, e.signalRange())
	if err != nil {
		return nil, err
	}
	out := make([]condition, 0, len(v.Groups))
	for _, g := range v.Groups {
		crit := g.Health == api.HealthCrit
		sum := fmt.Sprintf("consumer group %s (%s): %s", g.Group, g.Cluster, g.Status)
		if g.Reason != "" {
			sum += " — " + g.Reason
		}
		a := e.builtin(KindKafka, g.Cluster+"/"+g.Group, config.SeverityPage, g.Domain, []string{g.Domain}, sum)
		a.Journey = g.Journey
		out = append(out, condition{a: a, active: crit, clear: !crit, builtin: true})
	}
	return out, nil
}

// probeConditions: a probe target whose health is crit (its success
// ratio under health.probe_success_crit over the health window).
func (e *Evaluator) probeConditions(ctx context.Context, _ time.Time) ([]condition, error) {
	v, err := e.opts.Signals.Probes(ctx, nocScope, e.signalRange())
	if err != nil {
		return nil, err
	}
	out := make([]condition, 0, len(v.Probes))
	for _, p := range v.Probes {
		crit := p.Health == api.HealthCrit
		sum := fmt.Sprintf("probe %s failing: %s%% of probes succeeded over %s", p.Target,
			fmtNum(100*p.SuccessRatio), config.FmtDuration(e.opts.Config.Health.Window))
		if p.LastFailureReason != "" {
			sum += " — " + p.LastFailureReason
		}
		a := e.builtin(KindProbe, p.Target, config.SeverityPage, p.Domain, []string{p.Domain}, sum)
		a.Journey = p.Journey
		out = append(out, condition{a: a, active: crit, clear: !crit, builtin: true})
	}
	return out, nil
}

// hostConditions: a host whose last scrape failed (down; a stale host,
// gone from its job, is not down).
func (e *Evaluator) hostConditions(ctx context.Context, _ time.Time) ([]condition, error) {
	v, err := e.opts.Signals.Infra(ctx, nocScope, e.signalRange())
	if err != nil {
		return nil, err
	}
	out := make([]condition, 0, len(v.Hosts))
	for _, h := range v.Hosts {
		if len(h.Domains) == 0 {
			continue
		}
		down := !h.Up && !h.Stale
		sum := fmt.Sprintf("host %s down (serves %s)", h.Host, strings.Join(h.Services, ", "))
		if h.LastError != "" {
			sum += " — " + h.LastError
		}
		a := e.builtin(KindHost, h.Host, config.SeverityTicket, h.Domains[0], h.Domains, sum)
		out = append(out, condition{a: a, active: down, clear: !down, builtin: true})
	}
	return out, nil
}

func (e *Evaluator) builtin(kind, subject, severity, domain string, domains []string, summary string) Alert {
	return Alert{Key: kind + "/" + subject, Name: alertNames[kind], Kind: kind, Severity: severity, Domain: domain,
		Domains: domains, Squad: e.squads[domain], Subject: subject, Summary: summary, GeneratorURL: e.generatorURL(domain)}
}
