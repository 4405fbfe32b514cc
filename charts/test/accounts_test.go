package charttest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// podAddress is the address of the one exporter pod: every endpoint of the
// ServiceMonitor scrapes it.
const podAddress = "10.0.0.5:9846"

// targetLabels are the labels Prometheus gives the target of one
// ServiceMonitor endpoint: those the Operator sets before the endpoint's
// relabelings (job, namespace, service, pod, container, endpoint), the
// endpoint's __param_*, then its relabelings, then instance from __address__
// if still unset; the __ labels dropped. Only the actions the chart uses are
// simulated; any other fails the test.
func targetLabels(t *testing.T, e monitoringv1.Endpoint) map[string]string {
	t.Helper()
	l := map[string]string{
		"__address__":      podAddress,
		"__metrics_path__": e.Path,
		"job":              fullname,
		"namespace":        namespace,
		"service":          fullname,
		"pod":              fullname + "-6d9f7c8b5-x2x7q",
		"container":        "debt-exporter",
		"endpoint":         e.Port,
	}
	for k, vs := range e.Params {
		require.Len(t, vs, 1, "param %s", k)
		l["__param_"+k] = vs[0]
	}
	for _, rc := range e.RelabelConfigs {
		action := strings.ToLower(rc.Action)
		require.Contains(t, []string{"", "replace"}, action, "relabel action %q is not simulated", rc.Action)
		var vals []string
		for _, s := range rc.SourceLabels {
			vals = append(vals, l[string(s)])
		}
		sep := ";"
		if rc.Separator != nil {
			sep = *rc.Separator
		}
		regex := "(.*)"
		if rc.Regex != "" {
			regex = rc.Regex
		}
		re := regexp.MustCompile("^(?:" + regex + ")$")
		src := strings.Join(vals, sep)
		m := re.FindStringSubmatchIndex(src)
		if m == nil {
			continue
		}
		repl := "$1"
		if rc.Replacement != nil {
			repl = *rc.Replacement
		}
		v := string(re.ExpandString(nil, repl, src, m))
		if v == "" {
			delete(l, rc.TargetLabel)
		} else {
			l[rc.TargetLabel] = v
		}
	}
	if _, ok := l["instance"]; !ok {
		l["instance"] = l["__address__"]
	}
	for k := range l {
		if strings.HasPrefix(k, "__") {
			delete(l, k)
		}
	}
	return l
}

// series writes a promtool series selector: name{labels, extra}.
func series(name string, labels map[string]string, extra ...string) string {
	var parts []string
	for k, v := range labels {
		parts = append(parts, fmt.Sprintf("%s=%q", k, v))
	}
	sort.Strings(parts)
	return name + "{" + strings.Join(append(parts, extra...), ", ") + "}"
}

// TestAccountsAreKeptApart: with several accounts, the targets of the
// ServiceMonitor's account endpoints differ in instance, not only in
// account (the rules and dashboards aggregate and filter by job and
// instance), and the rules the chart renders, fed the series of two
// accounts labelled as those targets are, judge each account alone: one
// account's threshold and error ratio are not added to or diluted by the
// other's, and one account's failed sweeps (its series absent) are no
// growth of the other's.
func TestAccountsAreKeptApart(t *testing.T) {
	helmBin(t)
	promtoolBin(t)
	r := render(t, "-f", ciFile(t, "accounts-values.yaml"))
	sm := r.serviceMonitor(t)
	accounts := map[string]map[string]string{}
	instances := map[string]bool{}
	for _, e := range sm.Spec.Endpoints {
		l := targetLabels(t, e)
		if e.Path == "/probe" {
			account := e.Params["account"][0]
			assert.Equal(t, account, l["account"])
			assert.Equal(t, account, l["instance"], "the account endpoint's instance is the account")
			accounts[account] = l
		}
		assert.False(t, instances[l["instance"]], "two endpoints with instance %q", l["instance"])
		instances[l["instance"]] = true
	}
	require.Contains(t, accounts, "prod")
	require.Contains(t, accounts, "staging")
	prod, staging := accounts["prod"], accounts["staging"]

	// With accounts-values.yaml the CNY threshold is 250000 and its growth
	// threshold 20000 (shipped). prod owes 200000, staging 120000 (together
	// over 250000); staging's sweeps fail from 10m to 16m, so its series are
	// absent then. prod makes 2 API requests a minute, all api_error;
	// staging 100, all successes (together 2%, under the 5% threshold).
	biz := `region="cn-bj2", model="m1", product_code="modelverse", currency="CNY"`
	input := []any{
		map[string]any{"series": series("debt_unpaid_amount", prod, biz), "values": "200000x40"},
		map[string]any{"series": series("debt_unpaid_amount", staging, biz), "values": "120000x10 _x6 120000x23"},
		map[string]any{"series": series("debt_api_requests_total", prod, `outcome="api_error"`), "values": "0+2x40"},
		map[string]any{"series": series("debt_api_requests_total", prod, `outcome="success"`), "values": "0x40"},
		map[string]any{"series": series("debt_api_requests_total", staging, `outcome="api_error"`), "values": "0x40"},
		map[string]any{"series": series("debt_api_requests_total", staging, `outcome="success"`), "values": "0+100x40"},
	}
	alertLabels := func(l map[string]string, severity string, extra map[string]any) map[string]any {
		m := map[string]any{"job": l["job"], "instance": l["instance"], "severity": severity, "team": "billing"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	test := map[string]any{
		"rule_files":          []string{ruleFile(t, r.rule(t))},
		"evaluation_interval": "1m",
		"tests": []any{map[string]any{
			"interval":     "1m",
			"input_series": input,
			"alert_rule_test": []any{
				map[string]any{"eval_time": "25m", "alertname": "DebtUnpaidAmountHigh", "exp_alerts": []any{}},
				map[string]any{"eval_time": "25m", "alertname": "DebtUnpaidAmountGrowingFast", "exp_alerts": []any{}},
				map[string]any{"eval_time": "35m", "alertname": "DebtAPIErrors", "exp_alerts": []any{
					map[string]any{
						"exp_labels": alertLabels(prod, "warning", map[string]any{"outcome": "api_error"}),
						"exp_annotations": map[string]any{
							"summary":     "Requests to the provider API are failing.",
							"description": `100% of the API requests made by prod (job ` + fullname + `) over the last 15 minutes ended with outcome "api_error". api_error includes rejected keys and permissions (RetCode 171, 172, 294, 299); the exporter's log has the RetCode and message.`,
							"runbook_url": "https://github.com/debt-exporter/debt_exporter/blob/main/alerts/RUNBOOK.md#runbook-debtapierrors",
						},
					},
				}},
			},
		}},
	}
	testFile := filepath.Join(t.TempDir(), "accounts.test.yaml")
	require.NoError(t, os.WriteFile(testFile, must(yaml.Marshal(test)), 0o600))
	promtool(t, "test", "rules", testFile)
}

// TestAccountProbeFailing: the rules the chart renders, fed the up of the
// ServiceMonitor's targets as labelled there (the accounts in the
// exporter's own job, their exporter label the pod's address), page for an
// account whose /probe fails (DebtAccountProbeFailing, that account alone)
// and not as the exporter down; the pod that cannot be scraped at all is
// DebtExporterDown, one page, not one more per account.
func TestAccountProbeFailing(t *testing.T) {
	helmBin(t)
	promtoolBin(t)
	r := render(t, "-f", ciFile(t, "accounts-values.yaml"))
	var own map[string]string
	accounts := map[string]map[string]string{}
	for _, e := range r.serviceMonitor(t).Spec.Endpoints {
		l := targetLabels(t, e)
		if e.Path == "/probe" {
			accounts[e.Params["account"][0]] = l
		} else {
			own = l
		}
	}
	require.NotNil(t, own)
	require.Contains(t, accounts, "prod")
	require.Contains(t, accounts, "staging")
	prod, staging := accounts["prod"], accounts["staging"]

	fired := func(l map[string]string, severity string) map[string]any {
		m := map[string]any{"severity": severity, "team": "billing"}
		for k, v := range l {
			m[k] = v
		}
		return m
	}
	probeFailing := func(l map[string]string) map[string]any {
		return map[string]any{
			"exp_labels": fired(l, "critical"),
			"exp_annotations": map[string]any{
				"summary":     "An account's debt figures cannot be scraped.",
				"description": `Prometheus has failed to scrape account ` + l["account"] + ` (job ` + fullname + `, /probe) for more than 10 minutes. No debt figures of this account are collected and no debt alert can fire for it until it is back. Prometheus' Targets page gives the error: HTTP 400 "unknown account" when the account is not in the exporter's accounts file.`,
				"runbook_url": "https://github.com/debt-exporter/debt_exporter/blob/main/alerts/RUNBOOK.md#runbook-debtaccountprobefailing",
			},
		}
	}
	up := func(l map[string]string, values string) any {
		return map[string]any{"series": series("up", l), "values": values}
	}
	test := map[string]any{
		"rule_files":          []string{ruleFile(t, r.rule(t))},
		"evaluation_interval": "1m",
		"tests": []any{
			// prod is no longer in the accounts file: HTTP 400.
			map[string]any{
				"interval":     "1m",
				"input_series": []any{up(own, "1x20"), up(prod, "0x20"), up(staging, "1x20")},
				"alert_rule_test": []any{
					map[string]any{"eval_time": "9m", "alertname": "DebtAccountProbeFailing", "exp_alerts": []any{}},
					map[string]any{"eval_time": "11m", "alertname": "DebtAccountProbeFailing", "exp_alerts": []any{probeFailing(prod)}},
					map[string]any{"eval_time": "15m", "alertname": "DebtExporterDown", "exp_alerts": []any{}},
				},
			},
			// The pod cannot be scraped at all.
			map[string]any{
				"interval":     "1m",
				"input_series": []any{up(own, "0x20"), up(prod, "0x20"), up(staging, "0x20")},
				"alert_rule_test": []any{
					map[string]any{"eval_time": "11m", "alertname": "DebtExporterDown", "exp_alerts": []any{
						map[string]any{"exp_labels": fired(own, "critical"), "exp_annotations": map[string]any{
							"summary":     "The debt exporter cannot be scraped.",
							"description": `Prometheus has failed to scrape ` + podAddress + ` (job ` + fullname + `) for more than 10 minutes. No debt figures are collected and no debt alert can fire until it is back.`,
							"runbook_url": "https://github.com/debt-exporter/debt_exporter/blob/main/alerts/RUNBOOK.md#runbook-debtexporterdown",
						}},
					}},
					map[string]any{"eval_time": "11m", "alertname": "DebtAccountProbeFailing", "exp_alerts": []any{}},
				},
			},
		},
	}
	testFile := filepath.Join(t.TempDir(), "probe.test.yaml")
	require.NoError(t, os.WriteFile(testFile, must(yaml.Marshal(test)), 0o600))
	promtool(t, "test", "rules", testFile)
}
