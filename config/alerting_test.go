package config

import (
	"slices"
	"testing"
	"time"
)

// TestAlertingDefaults checks the defaults an SRE relies on: the workbook's
// burn-rate table, a 30-day period, a 30 s evaluation and business errors
// left out of the budget.
func TestAlertingDefaults(t *testing.T) {
	c, err := Load("testdata/alerting.good.yml")
	if err != nil {
		t.Fatal(err)
	}
	a := c.Alerting
	if !slices.Equal(a.Rules, DefaultBurnRules) {
		t.Errorf("rules = %+v, want the reference table", a.Rules)
	}
	if a.Period != 30*24*time.Hour || a.EvaluateEvery != 30*time.Second || a.BuiltinFor != 2 {
		t.Errorf("period %s, evaluate_every %s, builtin_for %d", a.Period, a.EvaluateEvery, a.BuiltinFor)
	}
	if !slices.Equal(a.SLOs[0].ErrorClasses, []string{"application", "system"}) || !slices.Equal(a.SLOs[1].ErrorClasses, []string{"system"}) {
		t.Errorf("error classes %v, %v", a.SLOs[0].ErrorClasses, a.SLOs[1].ErrorClasses)
	}
	// The table's budget column follows from burn × long window ÷ period.
	for i, want := range []float64{2, 5, 10} {
		if got := a.Rules[i].BudgetPct(a.Period); got < want-1e-9 || got > want+1e-9 {
			t.Errorf("rule %s spends %g%% of the budget, want %g%%", a.Rules[i].Name(), got, want)
		}
	}
	if names := []string{a.Rules[0].Name(), a.Rules[1].Name(), a.Rules[2].Name()}; !slices.Equal(names, []string{"1h/5m", "6h/30m", "3d/6h"}) {
		t.Errorf("rule names %v", names)
	}
}
