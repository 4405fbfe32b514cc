package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/google/go-jsonnet"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/debt-exporter/debt_exporter/internal/exportertest"
	"github.com/debt-exporter/debt_exporter/internal/monitoringtest"
)

// normalize turns any decoded YAML or JSON into the same JSON shapes.
func normalize(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	var out any
	require.NoError(t, json.Unmarshal(b, &out))
	return out
}

func yamlFile(t *testing.T, path string) any {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var v any
	require.NoError(t, yaml.Unmarshal(b, &v))
	return normalize(t, v)
}

// mixinOutput is what mixin.libsonnet renders for one _config.
type mixinOutput struct {
	Alerts     map[string]any `json:"alerts"`
	Rules      map[string]any `json:"rules"`
	Dashboards map[string]any `json:"dashboards"`
}

// renderMixin evaluates mixin.libsonnet with config merged into _config.
func renderMixin(t *testing.T, config string) mixinOutput {
	t.Helper()
	vm := jsonnet.MakeVM()
	vm.Importer(&jsonnet.FileImporter{JPaths: []string{exportertest.RepoRoot(t)}})
	out, err := vm.EvaluateAnonymousSnippet("mixin_test.jsonnet", `
		local mixin = (import 'mixin.libsonnet') + { _config+:: `+config+` };
		{
		  alerts: mixin.prometheusAlerts,
		  rules: mixin.prometheusRules,
		  dashboards: mixin.grafanaDashboards,
		}`)
	require.NoError(t, err)
	var got mixinOutput
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	return got
}

// customConfig changes every kind of knob.
const customConfig = `{
	debtSelector: 'job="billing",cluster="eu"',
	debtAccountsSelector: 'job="billing-accounts",cluster="eu"',
	debtSeriesSelector: self.debtSelector,
	thresholds+: {
	  'debt:threshold_unpaid_amount'+: { CNY: 250000, EUR: 20000 },
	  'debt:threshold_unpaid_amount_growth': 5000,
	  'debt:threshold_unpaid_amount_old'+: { USD: null },
	  'debt:threshold_api_error_ratio': 0.1,
	  'debt:threshold_forecast_horizon_seconds': '48 * 3600',
	},
	alertFor+: { DebtExporterDown: '5m', DebtAccountProbeFailing: '20m', DebtUnpaidAmountForecastHigh: '1h' },
	apiRateWindow: '30m',
	forecastLookback: '12h',
	runbookURLPrefix: 'https://wiki.example.com/debt#',
	dashboardTitlePrefix: 'Billing EU / ',
	dashboardUidPrefix: 'billing-eu-',
	dashboardTags: ['billing'],
	dashboardLinkTags: ['billing'],
}`

const customSelector = `job="billing",cluster="eu"`

// mixin.libsonnet with the default _config yields exactly the shipped rules
// and dashboards.
func TestMixinYieldsShippedFiles(t *testing.T) {
	root := exportertest.RepoRoot(t)
	got := renderMixin(t, "{}")

	alerts := filepath.Join(root, "alerts")
	assert.Equal(t, yamlFile(t, filepath.Join(alerts, "alerts.yaml")), normalize(t, got.Alerts), "prometheusAlerts")

	thresholds := yamlFile(t, filepath.Join(alerts, "thresholds.yaml")).(map[string]any)
	rules := yamlFile(t, filepath.Join(alerts, "rules.yaml")).(map[string]any)
	wantGroups := append(thresholds["groups"].([]any), rules["groups"].([]any)...)
	assert.Equal(t, map[string]any{"groups": wantGroups}, normalize(t, got.Rules), "prometheusRules")

	files, err := filepath.Glob(filepath.Join(root, "dashboards", "*.json"))
	require.NoError(t, err)
	want := map[string]any{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		var d any
		require.NoError(t, json.Unmarshal(b, &d))
		want[filepath.Base(f)] = d
	}
	require.NotEmpty(t, want)
	assert.Equal(t, want, got.Dashboards, "grafanaDashboards must hold every file in dashboards/, unchanged")
}

// The mixin's list of raw series, which take the selectors, is the tests'.
func TestMixinMetricsList(t *testing.T) {
	vm := jsonnet.MakeVM()
	vm.Importer(&jsonnet.FileImporter{JPaths: []string{exportertest.RepoRoot(t)}})
	out, err := vm.EvaluateAnonymousSnippet("metrics.jsonnet", `import 'mixin/metrics.libsonnet'`)
	require.NoError(t, err)
	var got struct{ Exporter, Prometheus []string }
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.ElementsMatch(t, monitoringtest.ExporterMetrics, got.Exporter)
	assert.ElementsMatch(t, monitoringtest.PrometheusMetrics, got.Prometheus)
}

// A mixin's rules that the mixin changed under the user (a typo in a
// threshold name) must fail the render, not pass silently.
func TestMixinRejectsUnknownThreshold(t *testing.T) {
	vm := jsonnet.MakeVM()
	vm.Importer(&jsonnet.FileImporter{JPaths: []string{exportertest.RepoRoot(t)}})
	_, err := vm.EvaluateAnonymousSnippet("bad.jsonnet", `
		local m = (import 'mixin.libsonnet') + { _config+:: { thresholds: { 'debt:threshold_unpaid_amount': 1 } } };
		m.prometheusRules`)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "_config.thresholds has no")
}

type renderedRule struct {
	Group string
	rule
}

func renderedRules(t *testing.T, groups map[string]any) []renderedRule {
	t.Helper()
	b, err := json.Marshal(groups)
	require.NoError(t, err)
	var f struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Alert         string            `json:"alert"`
				Record        string            `json:"record"`
				Expr          string            `json:"expr"`
				For           string            `json:"for"`
				KeepFiringFor string            `json:"keep_firing_for"`
				Labels        map[string]string `json:"labels"`
				Annotations   map[string]string `json:"annotations"`
			} `json:"rules"`
		} `json:"groups"`
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&f))
	var out []renderedRule
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			out = append(out, renderedRule{Group: g.Name, rule: rule(r)})
		}
	}
	return out
}

var camelCaseRE = regexp.MustCompile(`^[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)*$`)

// lintMixin applies the checks of mixtool lint (which is not installable
// here) to a rendering: at most 20 rules per group; group and alert names
// of at most 40 characters; alerts in CamelCase with the one prefix Debt; severity
// critical, warning or info; a static summary starting with a capital and
// ending with a period; a templated description; dashboards with a title
// and a uid.
func lintMixin(t *testing.T, m mixinOutput) {
	t.Helper()
	for _, groups := range []map[string]any{m.Alerts, m.Rules} {
		counts := map[string]int{}
		for _, r := range renderedRules(t, groups) {
			counts[r.Group]++
			if r.Alert == "" {
				// Recorded series follow level:metric:operations and the
				// threshold names are public: no length limit.
				continue
			}
			assert.LessOrEqual(t, len(r.Alert), 40, "%s: name longer than 40 characters", r.Alert)
			assert.Regexp(t, camelCaseRE, r.Alert, "alert names are CamelCase")
			assert.True(t, strings.HasPrefix(r.Alert, "Debt"), "%s: alert names start with Debt", r.Alert)
			assert.Contains(t, []string{"critical", "warning", "info"}, r.Labels["severity"], "%s: severity", r.Alert)
			summary := r.Annotations["summary"]
			if assert.NotEmpty(t, summary, "%s: summary", r.Alert) {
				assert.True(t, unicode.IsUpper([]rune(summary)[0]), "%s: summary %q starts with a capital", r.Alert, summary)
			}
			assert.True(t, strings.HasSuffix(summary, "."), "%s: summary %q ends with a period", r.Alert, summary)
			assert.NotContains(t, summary, "{{", "%s: summary is static", r.Alert)
			assert.Contains(t, r.Annotations["description"], "{{", "%s: description is templated", r.Alert)
		}
		for g, n := range counts {
			assert.LessOrEqual(t, len(g), 40, "group name %s longer than 40 characters", g)
			assert.LessOrEqual(t, n, 20, "group %s has %d rules", g, n)
		}
	}
	require.NotEmpty(t, m.Dashboards)
	for name, d := range m.Dashboards {
		dm, _ := d.(map[string]any)
		assert.NotEmpty(t, dm["title"], "%s: title", name)
		assert.NotEmpty(t, dm["uid"], "%s: uid", name)
	}
}

func TestMixinLint(t *testing.T) {
	t.Run("default", func(t *testing.T) { lintMixin(t, renderMixin(t, "{}")) })
	t.Run("custom", func(t *testing.T) { lintMixin(t, renderMixin(t, customConfig)) })
}

// The lint must catch what it checks.
func TestMixinLintCatches(t *testing.T) {
	m := renderMixin(t, "{}")
	m.Alerts = map[string]any{"groups": []any{map[string]any{"name": "g", "rules": []any{map[string]any{
		"alert": "debt_down", "expr": "up == 0", "labels": map[string]any{"severity": "page"},
		"annotations": map[string]any{"summary": "down", "description": "static"},
	}}}}}
	ft := &testing.T{}
	done := make(chan struct{})
	go func() { defer close(done); lintMixin(ft, m) }()
	<-done
	assert.True(t, ft.Failed(), "lintMixin passed a badly named alert")
}

// writeRules writes rule groups as a Prometheus rule file.
func writeRules(t *testing.T, dir, name string, groups ...map[string]any) string {
	t.Helper()
	var all []any
	for _, g := range groups {
		all = append(all, g["groups"].([]any)...)
	}
	b, err := yaml.Marshal(map[string]any{"groups": all})
	require.NoError(t, err)
	return writeFile(t, dir, name, string(b))
}

// rawSelectionsHave asserts that every selection of a raw series in expr
// holds sel.
func rawSelectionsHave(t *testing.T, where, expr, sel string, names []string) int {
	t.Helper()
	n := 0
	for _, s := range monitoringtest.Selections(expr, names) {
		assert.Contains(t, s.Matchers, sel, "%s: %s in %q lacks the selector", where, s.Name, expr)
		n++
	}
	return n
}

func TestMixinCustomConfig(t *testing.T) {
	m := renderMixin(t, customConfig)
	raw := slices.Concat(monitoringtest.ExporterMetrics, monitoringtest.PrometheusMetrics)

	t.Run("selector in every rule", func(t *testing.T) {
		n := 0
		for _, r := range slices.Concat(renderedRules(t, m.Rules), renderedRules(t, m.Alerts)) {
			assert.NotContains(t, r.Expr, `job="debt"`, r.Alert+r.Record)
			assert.NotContains(t, r.Expr, `job="debt-accounts"`, r.Alert+r.Record)
			expr := r.Expr
			if r.Alert == "DebtAccountProbeFailing" {
				// The accounts' own job takes debtAccountsSelector.
				accounts := `up{job="billing-accounts",cluster="eu"} == 0 or `
				assert.Contains(t, expr, accounts)
				expr = strings.Replace(expr, accounts, "", 1)
			}
			n += rawSelectionsHave(t, r.Alert+r.Record, expr, customSelector, raw)
		}
		assert.Greater(t, n, 15)
	})

	t.Run("durations, thresholds and runbooks", func(t *testing.T) {
		alerts := map[string]renderedRule{}
		for _, r := range renderedRules(t, m.Alerts) {
			alerts[r.Alert] = r
			assert.True(t, strings.HasPrefix(r.Annotations["runbook_url"], "https://wiki.example.com/debt#debt"), r.Alert)
		}
		down := alerts["DebtExporterDown"]
		assert.Equal(t, "up{"+customSelector+`, account=""} == 0`, down.Expr)
		assert.Equal(t, "5m", down.For)
		assert.Contains(t, down.Annotations["description"], "for more than 5 minutes.")
		probe := alerts["DebtAccountProbeFailing"]
		assert.Equal(t, `(up{job="billing-accounts",cluster="eu"} == 0 or up{`+customSelector+`, account!=""} == 0)`+"\n"+
			`unless on (exporter)`+"\n"+
			`  label_replace(up{`+customSelector+`, account=""} == 0, "exporter", "$1", "instance", "(.*)")`, probe.Expr)
		assert.Equal(t, "20m", probe.For)
		assert.Contains(t, probe.Annotations["description"], "for more than 20 minutes.")
		assert.Equal(t, "1h", alerts["DebtUnpaidAmountForecastHigh"].For)
		assert.Contains(t, alerts["DebtUnpaidAmountForecastHigh"].Expr, "sum[12h]")
		assert.Contains(t, alerts["DebtUnpaidAmountForecastHigh"].Annotations["description"], "over the last 12 hours")
		assert.Contains(t, alerts["DebtUnpaidAmountForecastHigh"].Annotations["description"], "The Billing EU / Outstanding dashboard")
		assert.Contains(t, alerts["DebtAPIErrors"].Expr, "[30m]")
		assert.NotContains(t, alerts["DebtAPIErrors"].Expr, "[15m]")
		assert.Contains(t, alerts["DebtAPIErrors"].Annotations["description"], "over the last 30 minutes")
		assert.Equal(t, "15m", alerts["DebtUnpaidAmountOld"].KeepFiringFor)

		th := map[string]string{}
		for _, r := range renderedRules(t, m.Rules) {
			if r.Record == "job_instance_currency:debt_unpaid_amount:deriv" {
				assert.Contains(t, r.Expr, "[12h]")
			}
			if strings.HasPrefix(r.Record, "debt:threshold_") {
				id := r.Record + "{" + r.Labels["currency"] + "}"
				assert.NotContains(t, th, id, "twice")
				th[id] = r.Expr
			}
		}
		assert.Equal(t, map[string]string{
			"debt:threshold_unpaid_amount{CNY}":                "vector(250000)",
			"debt:threshold_unpaid_amount{USD}":                "vector(15000)",
			"debt:threshold_unpaid_amount{EUR}":                "vector(20000)",
			"debt:threshold_unpaid_amount_growth{CNY}":         "vector(5000)",
			"debt:threshold_unpaid_amount_growth{USD}":         "vector(5000)",
			"debt:threshold_unpaid_amount_old{CNY}":            "vector(20000)",
			"debt:threshold_forecast_horizon_seconds{}":        "vector(48 * 3600)",
			"debt:threshold_oldest_unpaid_order_age_seconds{}": "vector(14 * 86400)",
			"debt:threshold_last_success_age_seconds{}":        "vector(3600)",
			"debt:threshold_api_error_ratio{}":                 "vector(0.1)",
			"debt:threshold_api_throttled_ratio{}":             "vector(0.2)",
			"debt:threshold_invalid_orders{}":                  "vector(0)",
		}, th)
	})

	t.Run("promtool check rules", func(t *testing.T) {
		promtool := exportertest.Tool(t, "promtool")
		f := writeRules(t, t.TempDir(), "custom.yaml", m.Rules, m.Alerts)
		out, err := exec.Command(promtool, "check", "rules", f).CombinedOutput()
		require.NoError(t, err, "%s", out)
		assert.Contains(t, string(out), "SUCCESS")
	})

	t.Run("dashboards", func(t *testing.T) {
		dir := t.TempDir()
		for name, d := range m.Dashboards {
			b, err := json.MarshalIndent(d, "", "  ")
			require.NoError(t, err)
			writeFile(t, dir, name, string(b))
		}
		ds, err := monitoringtest.LoadDashboards(dir)
		require.NoError(t, err)
		uids := checkImportable(t, ds, "billing")
		assert.Equal(t, map[string]string{
			"billing-eu-outstanding.json":     "billing-eu-outstanding",
			"billing-eu-exporter-health.json": "billing-eu-exporter-health",
		}, uids)
		checkPanels(t, ds)
		checkQueriesParse(t, ds)
		n := 0
		for _, d := range ds {
			assert.True(t, strings.HasPrefix(d.JSON["title"].(string), "Billing EU / "), d.File)
			assert.Equal(t, []any{"billing"}, d.JSON["tags"], d.File)
			for _, q := range d.Queries() {
				n += rawSelectionsHave(t, q.String(), q.Expr, customSelector, raw)
				if strings.Contains(q.Expr, "predict_linear") {
					assert.Contains(t, q.Expr, "[12h]", q.String())
				}
			}
			vqs, err := d.VariableQueries()
			require.NoError(t, err)
			for _, vq := range vqs {
				n += rawSelectionsHave(t, d.File+" variable "+vq.Name, vq.Selector, customSelector, raw)
				// A selector by __name__ alone (the health dashboard's job
				// and instance) is no selection of a named series: check it
				// here.
				if strings.HasPrefix(vq.Selector, "{") {
					assert.Contains(t, vq.Selector, customSelector, "%s variable %s", d.File, vq.Name)
					n++
				}
			}
		}
		assert.Greater(t, n, 30)
	})
}

// alertsKeepingSeriesLabels are the alerts that do not aggregate, so that
// the selector's extra labels (cluster) stay on them; absent() keeps the
// selector's equality matchers.
var alertsKeepingSeriesLabels = map[string]bool{
	"DebtExporterDown":        true,
	"DebtExporterAbsent":      true,
	"DebtAccountProbeFailing": true,
	"DebtSweepsFailing":       true,
	"DebtFiguresStale":        true,
	"DebtInvalidOrders":       true,
	"DebtUnpaidOrderOld":      true,
}

// The repository's promtool unit tests pass on a rendering with a custom
// selector, once their series carry it: job="debt" becomes
// job="billing",cluster="eu" in the input, job="debt-accounts"
// job="billing-accounts",cluster="eu", and the expected alerts follow.
// Series of another cluster, added to every test, must fire nothing.
func TestMixinCustomSelectorPassesRuleTests(t *testing.T) {
	promtool := exportertest.Tool(t, "promtool")
	m := renderMixin(t, `{ debtSelector: 'job="billing",cluster="eu"', debtAccountsSelector: 'job="billing-accounts",cluster="eu"', debtSeriesSelector: 'cluster="eu"' }`)
	dir := t.TempDir()
	rules := writeRules(t, dir, "custom.yaml", m.Rules, m.Alerts)

	var tests map[string]any
	b, err := os.ReadFile(unitTestPaths(t)[0])
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(b, &tests))
	tests["rule_files"] = []string{rules}
	for _, tc := range tests["tests"].([]any) {
		tm := tc.(map[string]any)
		var series []any
		for _, s := range tm["input_series"].([]any) {
			sm := s.(map[string]any)
			text := sm["series"].(string)
			// The same series from the other cluster: filtered out.
			series = append(series, map[string]any{
				"series": strings.Replace(text, "{", `{cluster="us", `, 1),
				"values": sm["values"],
			})
			text = strings.ReplaceAll(text, `job="debt-accounts"`, `job="billing-accounts", cluster="eu"`)
			sm["series"] = strings.ReplaceAll(text, `job="debt"`, `job="billing", cluster="eu"`)
			series = append(series, sm)
		}
		tm["input_series"] = series
		for _, c := range tm["alert_rule_test"].([]any) {
			cm := c.(map[string]any)
			exp, _ := cm["exp_alerts"].([]any)
			for _, a := range exp {
				am := a.(map[string]any)
				labels := am["exp_labels"].(map[string]any)
				if labels["job"] == "debt" || labels["job"] == "debt-accounts" {
					labels["job"] = strings.Replace(labels["job"].(string), "debt", "billing", 1)
					if alertsKeepingSeriesLabels[cm["alertname"].(string)] {
						labels["cluster"] = "eu"
					}
				}
				ann := am["exp_annotations"].(map[string]any)
				d := ann["description"].(string)
				d = strings.ReplaceAll(d, "(job debt)", "(job billing)")
				d = strings.ReplaceAll(d, "(job debt,", "(job billing,")
				d = strings.ReplaceAll(d, "(job debt-accounts", "(job billing-accounts")
				d = strings.ReplaceAll(d, `job "debt"`, `job "billing"`)
				ann["description"] = d
			}
		}
	}
	out, err := yaml.Marshal(tests)
	require.NoError(t, err)
	f := writeFile(t, dir, "custom.test.yaml", string(out))
	res, err := exec.Command(promtool, "test", "rules", f).CombinedOutput()
	require.NoError(t, err, "promtool test rules on the custom selector:\n%s", res)
	assert.Contains(t, string(res), "SUCCESS")
}

// thresholdSteps are the non-base threshold steps of each panel of a
// rendered dashboard that has any, by panel id.
func thresholdSteps(t *testing.T, d any) map[float64][]float64 {
	t.Helper()
	out := map[float64][]float64{}
	var walk func(ps []any)
	walk = func(ps []any) {
		for _, p := range ps {
			pm := p.(map[string]any)
			if sub, ok := pm["panels"].([]any); ok {
				walk(sub)
			}
			fc, _ := pm["fieldConfig"].(map[string]any)
			defaults, _ := fc["defaults"].(map[string]any)
			th, _ := defaults["thresholds"].(map[string]any)
			steps, _ := th["steps"].([]any)
			for _, s := range steps {
				if v, ok := s.(map[string]any)["value"].(float64); ok {
					out[pm["id"].(float64)] = append(out[pm["id"].(float64)], v)
				}
			}
		}
	}
	walk(d.(map[string]any)["panels"].([]any))
	return out
}

// The dashboards' threshold lines follow _config.thresholds: the oldest
// order's age (Outstanding panels 8 and 14) and the figures' age
// (Outstanding panel 2, Exporter health panels 3 and 9), their warning
// steps in the same proportion; the defaults draw the shipped lines; the
// status panels' steps (1: up) stay.
func TestMixinDashboardThresholds(t *testing.T) {
	def := renderMixin(t, "{}")
	custom := renderMixin(t, `{ thresholds+: {
		'debt:threshold_oldest_unpaid_order_age_seconds': '7 * 86400',
		'debt:threshold_last_success_age_seconds': 7200,
	} }`)
	for _, c := range []struct {
		out  mixinOutput
		want map[string]map[float64][]float64
	}{
		{def, map[string]map[float64][]float64{
			"debt-outstanding.json":     {1: {1}, 2: {900, 3600}, 8: {604800, 1209600}, 14: {1209600}},
			"debt-exporter-health.json": {1: {1}, 2: {1}, 3: {900, 3600}, 9: {3600}},
		}},
		{custom, map[string]map[float64][]float64{
			"debt-outstanding.json":     {1: {1}, 2: {1800, 7200}, 8: {302400, 604800}, 14: {604800}},
			"debt-exporter-health.json": {1: {1}, 2: {1}, 3: {1800, 7200}, 9: {7200}},
		}},
	} {
		for file, want := range c.want {
			require.Contains(t, c.out.Dashboards, file)
			assert.Equal(t, want, thresholdSteps(t, c.out.Dashboards[file]), file)
		}
	}
}
