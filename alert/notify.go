package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// ResendResolved is how long a resolved alert is still posted to
// Alertmanager (with its endsAt), so that a lost post does not leave it
// firing there.
const ResendResolved = 15 * time.Minute

// minValidity is the least a firing alert's endsAt lies ahead: Alertmanager
// resolves an alert by itself once endsAt passes without a re-send.
const minValidity = 3 * time.Minute

// amAlert is one alert of Alertmanager's API v2 (postableAlert).
type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
}

// postable converts the alerts to post now: every firing one, with an
// endsAt 4 evaluations ahead (at least minValidity), as Prometheus does,
// and those resolved in the last ResendResolved with their endsAt.
func (e *Evaluator) postable(now time.Time, as []Alert) []amAlert {
	validity := max(4*e.cfg.EvaluateEvery, minValidity)
	out := []amAlert{}
	for _, a := range as {
		if !a.Firing() && now.Sub(a.EndsAt) > ResendResolved {
			continue
		}
		ends := a.EndsAt
		if a.Firing() {
			ends = now.Add(validity).UTC()
		}
		ann := map[string]string{"summary": a.Summary}
		if a.BurnRate > 0 {
			ann["description"] = fmt.Sprintf("%s SLO of %s: burn rate %g over %s and %g over the short window; the rule fires at %g",
				a.SLI, a.Domain, a.LongBurn, a.Rule, a.ShortBurn, a.BurnRate)
		}
		out = append(out, amAlert{Labels: a.Labels(), Annotations: ann, StartsAt: a.StartsAt, EndsAt: ends, GeneratorURL: a.GeneratorURL})
	}
	return out
}

// notify posts the alerts to Alertmanager's /api/v2/alerts. Alertmanager
// expects every active alert re-sent at each evaluation: it deduplicates
// by labels and notifies per its route's group and repeat intervals.
func (e *Evaluator) notify(ctx context.Context, now time.Time, as []Alert) error {
	body := e.postable(now, as)
	if len(body) == 0 {
		return nil
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	u := strings.TrimRight(e.cfg.AlertmanagerURL, "/") + "/api/v2/alerts"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("alertmanager: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.opts.Client.Do(req)
	if err != nil {
		return fmt.Errorf("alertmanager: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("alertmanager: %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}
