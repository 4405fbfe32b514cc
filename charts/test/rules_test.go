package charttest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// ruleFile writes the PrometheusRule's groups as a Prometheus rule file,
// through the Operator's own types (what the Operator hands Prometheus).
func ruleFile(t *testing.T, pr *monitoringv1.PrometheusRule) string {
	t.Helper()
	b, err := yaml.Marshal(map[string]any{"groups": pr.Spec.Groups})
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), "rules.yaml")
	require.NoError(t, os.WriteFile(p, b, 0o600))
	return p
}

func promtool(t *testing.T, args ...string) {
	t.Helper()
	out, stderr, err := run(t, nil, promtoolBin(t), args...)
	require.NoError(t, err, "promtool %v:\n%s%s", args, out, stderr)
}

// TestRulesPromtool: every rendered PrometheusRule passes promtool check
// rules, and the repository's rule tests pass on the rules the chart renders
// (release "debt", so that the default selector is the job="debt" the tests
// use).
func TestRulesPromtool(t *testing.T) {
	helmBin(t)
	promtoolBin(t)
	for name := range scenarios {
		r := render(t, "-f", ciFile(t, name))
		for _, pr := range r.PrometheusRules {
			promtool(t, "check", "rules", ruleFile(t, pr))
		}
	}

	// The tests' accounts are in a job of their own, as in
	// examples/prometheus-accounts.yml (the chart's own layout is
	// TestAccountProbeFailing's).
	out, stderr, err := run(t, nil, helmBin(t), "template", "debt", chartDir(t), "--namespace", namespace,
		"-f", ciFile(t, "default-values.yaml"), "--set", "fullnameOverride=debt",
		"-f", writeValues(t, "prometheusRule:\n  accountsSelector: 'job=\"debt-accounts\"'\n"))
	require.NoError(t, err, stderr)
	pr := decode(t, out).rule(t)
	rules := ruleFile(t, pr)
	assert.Contains(t, string(must(os.ReadFile(rules))), `up{job="debt", account=""}`)
	assert.Contains(t, string(must(os.ReadFile(rules))), `up{job="debt-accounts"}`)

	// The repository's test file, with rule_files pointing at the rendered
	// groups.
	var tests map[string]any
	require.NoError(t, yaml.Unmarshal(must(os.ReadFile(filepath.Join(repoRoot(t), "alerts", "tests", "alerts.test.yaml"))), &tests))
	require.Contains(t, tests, "rule_files")
	tests["rule_files"] = []string{rules}
	testFile := filepath.Join(t.TempDir(), "alerts.test.yaml")
	require.NoError(t, os.WriteFile(testFile, must(yaml.Marshal(tests)), 0o600))
	promtool(t, "test", "rules", testFile)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// sourceGroups reads the repository's alerts/*.yaml (not the chart's
// copies) as generic maps.
func sourceGroups(t *testing.T) []map[string]any {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot(t), "alerts", "*.yaml"))
	require.NoError(t, err)
	sort.Strings(files)
	var groups []map[string]any
	for _, f := range files {
		var doc struct {
			Groups []map[string]any `json:"groups"`
		}
		require.NoError(t, yaml.UnmarshalStrict(must(os.ReadFile(f)), &doc), f)
		groups = append(groups, doc.Groups...)
	}
	return groups
}

// renderedGroups is the PrometheusRule's groups as generic maps.
func renderedGroups(t *testing.T, pr *monitoringv1.PrometheusRule) []map[string]any {
	t.Helper()
	var groups []map[string]any
	require.NoError(t, json.Unmarshal(must(json.Marshal(pr.Spec.Groups)), &groups))
	return groups
}

func canonical(t *testing.T, v any) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	require.NoError(t, enc.Encode(v))
	return buf.String()
}

// TestRulesAreTheSource: with default values the chart's rules are the
// repository's alerts/*.yaml, every group, rule, label and annotation,
// except for the job selector. So a new rule or threshold in alerts/ flows
// into the chart (after make sync-chart) with no chart change.
func TestRulesAreTheSource(t *testing.T) {
	helmBin(t)
	want := sourceGroups(t)
	for _, g := range want {
		for _, r := range g["rules"].([]any) {
			rule := r.(map[string]any)
			e := strings.ReplaceAll(rule["expr"].(string), `job="debt"`, `job="`+fullname+`"`)
			rule["expr"] = strings.ReplaceAll(e, `job="debt-accounts"`, `job="`+fullname+`",account!=""`)
		}
	}
	pr := render(t, "-f", ciFile(t, "default-values.yaml")).rule(t)
	got := renderedGroups(t, pr)
	sortGroups(want)
	sortGroups(got)
	assert.Equal(t, canonical(t, want), canonical(t, got))
	assert.NotContains(t, canonical(t, got), `job="debt"`)
	assert.NotContains(t, canonical(t, got), `job="debt-accounts"`)
}

func sortGroups(gs []map[string]any) {
	sort.Slice(gs, func(i, j int) bool { return gs[i]["name"].(string) < gs[j]["name"].(string) })
}

// TestRuleSelector: prometheusRule.selector replaces job="debt" in every
// expression that has it, and prometheusRule.accountsSelector
// job="debt-accounts" (by default the selector and account!=""); neither
// is rewritten inside the other, whatever they hold.
func TestRuleSelector(t *testing.T) {
	helmBin(t)
	exprs := func(values string) map[string]string {
		pr := render(t, "-f", ciFile(t, "default-values.yaml"), "-f", writeValues(t, values)).rule(t)
		m := map[string]string{}
		for _, g := range pr.Spec.Groups {
			for _, r := range g.Rules {
				m[r.Alert+r.Record] = r.Expr.String()
			}
		}
		return m
	}
	for _, c := range []struct{ values, sel, accounts string }{
		{"prometheusRule:\n  selector: 'job=\"billing\", namespace=\"debt\"'\n", `job="billing", namespace="debt"`, `job="billing", namespace="debt",account!=""`},
		{"prometheusRule:\n  selector: 'job=\"debt-accounts\"'\n", `job="debt-accounts"`, `job="debt-accounts",account!=""`},
		{"prometheusRule:\n  selector: 'job=\"billing\"'\n  accountsSelector: 'job=\"debt\"'\n", `job="billing"`, `job="debt"`},
	} {
		e := exprs(c.values)
		assert.Equal(t, `up{`+c.sel+`, account=""} == 0`, e["DebtExporterDown"], c.values)
		assert.Equal(t, `absent(up{`+c.sel+`})`, e["DebtExporterAbsent"], c.values)
		assert.Equal(t, `(up{`+c.accounts+`} == 0 or up{`+c.sel+`, account!=""} == 0)`+"\n"+
			`unless on (exporter)`+"\n"+
			`  label_replace(up{`+c.sel+`, account=""} == 0, "exporter", "$1", "instance", "(.*)")`, e["DebtAccountProbeFailing"], c.values)
		if c.sel == `job="billing", namespace="debt"` {
			for name, x := range e {
				assert.NotContains(t, x, `job="debt"`, name)
				assert.NotContains(t, x, `job="debt-accounts"`, name)
			}
		}
	}
}

// thresholdExprs is record{labels} -> expr of the thresholds group.
func thresholdExprs(t *testing.T, pr *monitoringv1.PrometheusRule) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, g := range pr.Spec.Groups {
		for _, r := range g.Rules {
			if !strings.HasPrefix(r.Record, "debt:threshold_") {
				continue
			}
			id := r.Record
			if len(r.Labels) > 0 {
				id += canonicalLabels(r.Labels)
			}
			_, dup := m[id]
			assert.False(t, dup, "%s twice", id)
			m[id] = r.Expr.String()
		}
	}
	return m
}

func canonicalLabels(l map[string]string) string {
	var parts []string
	for k, v := range l {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return "{" + strings.Join(parts, ",") + "}"
}

// TestThresholdOverrides: values override the thresholds of
// alerts/thresholds.yaml (one value for every series of a record, or one
// per label set, adding those the file lacks), leave the others as they
// are, and the result still passes promtool; and the overridden thresholds
// are the ones the alerts use.
func TestThresholdOverrides(t *testing.T) {
	helmBin(t)
	def := thresholdExprs(t, render(t, "-f", ciFile(t, "default-values.yaml")).rule(t))
	r := render(t, "-f", ciFile(t, "accounts-values.yaml"))
	pr := r.rule(t)
	got := thresholdExprs(t, pr)

	want := map[string]string{}
	for k, v := range def {
		want[k] = v
	}
	want["debt:threshold_last_success_age_seconds"] = "vector(7200)"
	want["debt:threshold_oldest_unpaid_order_age_seconds"] = "vector(7 * 86400)"
	want["debt:threshold_unpaid_amount{currency=CNY}"] = "vector(250000)"
	want["debt:threshold_unpaid_amount{currency=EUR}"] = "vector(20000)"
	want["debt:threshold_unpaid_amount_growth{currency=EUR}"] = "vector(4000)"
	want["debt:threshold_unpaid_amount_old{currency=EUR}"] = "vector(4000)"
	assert.Equal(t, "vector(15000)", def["debt:threshold_unpaid_amount{currency=USD}"], "the shipped USD threshold")
	assert.Equal(t, want, got)

	// alertLabels on every alert, without losing the alert's own.
	for _, g := range pr.Spec.Groups {
		for _, rule := range g.Rules {
			if rule.Alert != "" {
				assert.Equal(t, "billing", rule.Labels["team"], rule.Alert)
				assert.NotEmpty(t, rule.Labels["severity"], rule.Alert)
			}
		}
	}

	// Numbers of every kind render as PromQL numbers.
	v := writeValues(t, `prometheusRule:
  thresholds:
    debt:threshold_invalid_orders: 1000000
    debt:threshold_api_error_ratio: 0.125
    debt:threshold_unpaid_amount_growth: 5000
`)
	got = thresholdExprs(t, render(t, "-f", ciFile(t, "default-values.yaml"), "-f", v).rule(t))
	assert.Equal(t, "vector(1000000)", got["debt:threshold_invalid_orders"])
	assert.Equal(t, "vector(0.125)", got["debt:threshold_api_error_ratio"])
	assert.Equal(t, "vector(5000)", got["debt:threshold_unpaid_amount_growth{currency=CNY}"], "one value for every series of the record")
	assert.Equal(t, "vector(5000)", got["debt:threshold_unpaid_amount_growth{currency=USD}"])

	// The overrides drive the alerts: 200000 CNY is under the new 250000;
	// 25000 EUR is over the new EUR threshold, and EUR lacks none of the
	// three per-currency thresholds (amount, growth, old: its age series
	// too).
	promtoolBin(t)
	rules := ruleFile(t, pr)
	test := map[string]any{
		"rule_files":          []string{rules},
		"evaluation_interval": "1m",
		"tests": []any{map[string]any{
			"interval": "1m",
			"input_series": []any{
				map[string]any{"series": `debt_unpaid_amount{job="x", instance="a", region="r", model="m", product_code="p", currency="CNY"}`, "values": "200000x20"},
				map[string]any{"series": `debt_unpaid_amount{job="x", instance="a", region="r", model="m", product_code="p", currency="EUR"}`, "values": "25000x20"},
				map[string]any{"series": `debt_unpaid_amount_by_age{job="x", instance="a", region="r", product_code="p", currency="EUR", age="0-1d"}`, "values": "25000x20"},
			},
			"alert_rule_test": []any{
				map[string]any{"eval_time": "5m", "alertname": "DebtUnpaidAmountHigh", "exp_alerts": []any{map[string]any{
					"exp_labels": map[string]any{"severity": "warning", "team": "billing", "job": "x", "instance": "a", "currency": "EUR"},
					"exp_annotations": map[string]any{
						"summary":     "Unpaid debt is above its threshold.",
						"description": "a (job x) reports 25000.00 EUR unpaid in its window, above the threshold of 20000.00 EUR. The Debt / Outstanding dashboard shows which product, model and region it comes from.",
						"runbook_url": "https://github.com/debt-exporter/debt_exporter/blob/main/alerts/RUNBOOK.md#runbook-debtunpaidamounthigh",
					},
				}}},
				map[string]any{"eval_time": "15m", "alertname": "DebtThresholdMissing", "exp_alerts": []any{}},
			},
		}},
	}
	testFile := filepath.Join(t.TempDir(), "override.test.yaml")
	require.NoError(t, os.WriteFile(testFile, must(yaml.Marshal(test)), 0o600))
	promtool(t, "test", "rules", testFile)
}

// TestRulesSwitch: prometheusRule.enabled false renders no PrometheusRule.
func TestRulesSwitch(t *testing.T) {
	helmBin(t)
	r := render(t, "-f", ciFile(t, "no-rules-dashboards-values.yaml"))
	assert.Empty(t, r.PrometheusRules)
	assert.Empty(t, r.ConfigMaps)
}
