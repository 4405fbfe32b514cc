package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/debt-exporter/debt_exporter/internal/exportertest"
	"github.com/debt-exporter/debt_exporter/internal/monitoringtest"
)

// The dashboards and their uids. A uid is what links and bookmarks point
// to: changing one breaks them, so this list changes only on purpose.
var wantDashboards = map[string]string{
	"debt-outstanding.json":     "debt-outstanding",
	"debt-exporter-health.json": "debt-exporter-health",
}

const dsRef = "${datasource}"

func loadDashboards(t *testing.T) []monitoringtest.Dashboard {
	t.Helper()
	ds, err := monitoringtest.LoadDashboards(filepath.Join(exportertest.RepoRoot(t), "dashboards"))
	require.NoError(t, err)
	return ds
}

func variable(d monitoringtest.Dashboard, name string) map[string]any {
	for _, v := range d.Variables() {
		if v["name"] == name {
			return v
		}
	}
	return nil
}

func TestDashboardsAreImportable(t *testing.T) {
	got := checkImportable(t, loadDashboards(t), "debt_exporter")
	assert.Equal(t, wantDashboards, got, "dashboard files and uids")
}

// checkImportable checks what Grafana needs to import the dashboards, and
// returns their uids by file.
func checkImportable(t *testing.T, dashboards []monitoringtest.Dashboard, tag string) map[string]string {
	t.Helper()
	got := map[string]string{}
	titles := map[string]bool{}
	for _, d := range dashboards {
		t.Run(d.File, func(t *testing.T) {
			uid, _ := d.JSON["uid"].(string)
			got[d.File] = uid
			assert.Regexp(t, `^[a-z0-9-]{1,40}$`, uid)
			title, _ := d.JSON["title"].(string)
			assert.NotEmpty(t, title)
			assert.False(t, titles[title], "duplicate title %q", title)
			titles[title] = true
			assert.NotEmpty(t, d.JSON["description"])
			assert.EqualValues(t, 39, d.JSON["schemaVersion"])
			assert.Contains(t, d.JSON["tags"], tag)
			assert.NotContains(t, d.JSON, "id", "an id would clash on import; Grafana assigns one")

			ds := variable(d, "datasource")
			require.NotNil(t, ds, "no datasource variable")
			assert.Equal(t, "datasource", ds["type"])
			assert.Equal(t, "prometheus", ds["query"])
			for _, name := range []string{"job", "instance"} {
				v := variable(d, name)
				if assert.NotNil(t, v, "no %s variable", name) {
					assert.Equal(t, "query", v["type"])
				}
			}
			for _, v := range d.Variables() {
				if v["type"] == "query" {
					assert.Equal(t, map[string]any{"type": "prometheus", "uid": dsRef}, v["datasource"], "variable %s", v["name"])
				}
			}
			assertDatasourceRefs(t, d.JSON, "")
		})
	}
	return got
}

// assertDatasourceRefs walks the JSON: every datasource is the variable,
// never a hard-coded uid (the built-in annotation's Grafana source aside).
func assertDatasourceRefs(t *testing.T, v any, path string) {
	switch v := v.(type) {
	case map[string]any:
		for k, c := range v {
			if k == "datasource" {
				switch ds := c.(type) {
				case map[string]any:
					if ds["type"] != "grafana" {
						assert.Equal(t, dsRef, ds["uid"], "%s.datasource", path)
						assert.Equal(t, "prometheus", ds["type"], "%s.datasource", path)
					}
				default:
					t.Errorf("%s.datasource = %v: want {type: prometheus, uid: %s}", path, c, dsRef)
				}
				continue
			}
			assertDatasourceRefs(t, c, path+"."+k)
		}
	case []any:
		for i, c := range v {
			assertDatasourceRefs(t, c, fmt.Sprintf("%s[%d]", path, i))
		}
	}
}

func TestOutstandingDashboardFilters(t *testing.T) {
	for _, d := range loadDashboards(t) {
		if d.JSON["uid"] != "debt-outstanding" {
			continue
		}
		for _, name := range []string{"instance", "region", "model", "product_code", "currency"} {
			v := variable(d, name)
			require.NotNil(t, v, "no %s variable", name)
			assert.Equal(t, true, v["multi"], "%s: multi-value", name)
			assert.Equal(t, true, v["includeAll"], "%s: All", name)
			// label_values never lists an empty value; ".*" keeps those series.
			assert.Equal(t, ".*", v["allValue"], "%s: All must match empty label values", name)
		}
		return
	}
	t.Fatal("no debt-outstanding dashboard")
}

func TestPanelsHaveUnitsAndDescriptions(t *testing.T) {
	checkPanels(t, loadDashboards(t))
}

func checkPanels(t *testing.T, dashboards []monitoringtest.Dashboard) {
	t.Helper()
	for _, d := range dashboards {
		ids := map[float64]bool{}
		for _, p := range d.Panels() {
			title, _ := p["title"].(string)
			id, _ := p["id"].(float64)
			assert.False(t, ids[id], "%s: duplicate panel id %v", d.File, id)
			ids[id] = true
			if p["type"] == "row" {
				continue
			}
			assert.NotEmpty(t, title, "%s: panel %v has no title", d.File, id)
			assert.NotEmpty(t, p["description"], "%s / %q: no description", d.File, title)
			fc, _ := p["fieldConfig"].(map[string]any)
			defaults, _ := fc["defaults"].(map[string]any)
			assert.NotEmpty(t, defaults["unit"], "%s / %q: no unit", d.File, title)
			targets, _ := p["targets"].([]any)
			assert.NotEmpty(t, targets, "%s / %q: no query", d.File, title)
		}
	}
}

// sumRE is the sum aggregation, not the ":sum" of a recorded series' name.
var sumRE = regexp.MustCompile(`(?:^|[^\w:])sum\s*(?:by\s*\(([^)]*)\))?\s*\(`)

// Amounts in different currencies are never added: every sum of money keeps
// currency, and the amount stat panels repeat per currency.
func TestMoneyIsNeverSummedAcrossCurrencies(t *testing.T) {
	repeated := false
	for _, d := range loadDashboards(t) {
		for _, q := range d.Queries() {
			if !strings.Contains(q.Expr, "debt_unpaid_amount") {
				continue
			}
			for _, m := range sumRE.FindAllStringSubmatch(q.Expr, -1) {
				assert.Contains(t, strings.Split(strings.ReplaceAll(m[1], " ", ""), ","), "currency",
					"%s: %q sums amounts without keeping currency", q, m[0])
			}
		}
		// A row repeated by currency holds the amount stat panel.
		rowRepeat := ""
		for _, p := range d.Panels() {
			if p["type"] == "row" {
				rowRepeat, _ = p["repeat"].(string)
				continue
			}
			if p["type"] != "stat" {
				continue
			}
			for _, tgt := range p["targets"].([]any) {
				expr, _ := tgt.(map[string]any)["expr"].(string)
				if strings.Contains(expr, "debt_unpaid_amount") && strings.Contains(expr, "sum by (currency)") &&
					(rowRepeat == "currency" || p["repeat"] == "currency") {
					repeated = true
				}
			}
		}
	}
	assert.True(t, repeated, "no amount stat panel repeated per currency")
}

// substituted returns every panel and variable query with the template
// variables replaced as Grafana would at their defaults.
func substituted(t *testing.T) (queries []monitoringtest.Query, names []string) {
	t.Helper()
	return substitutedQueries(t, loadDashboards(t))
}

func substitutedQueries(t *testing.T, dashboards []monitoringtest.Dashboard) (queries []monitoringtest.Query, names []string) {
	t.Helper()
	vals := monitoringtest.DefaultValues("debt")
	for _, d := range dashboards {
		for _, q := range d.Queries() {
			expr, err := monitoringtest.Substitute(q.Expr, vals)
			require.NoError(t, err, "%s", q)
			q.Expr = expr
			queries = append(queries, q)
		}
		vqs, err := d.VariableQueries()
		require.NoError(t, err)
		for _, vq := range vqs {
			expr, err := monitoringtest.Substitute(vq.Selector, vals)
			require.NoError(t, err, "%s variable %s", d.File, vq.Name)
			queries = append(queries, monitoringtest.Query{Dashboard: d.File, Panel: "variable " + vq.Name, RefID: "-", Expr: expr})
		}
	}
	for _, q := range queries {
		names = append(names, q.String())
	}
	return queries, names
}

// Every dashboard query parses as PromQL once the variables are filled in:
// each becomes a recording rule that promtool checks.
func TestDashboardQueriesParse(t *testing.T) {
	checkQueriesParse(t, loadDashboards(t))
}

func checkQueriesParse(t *testing.T, dashboards []monitoringtest.Dashboard) {
	t.Helper()
	promtool := exportertest.Tool(t, "promtool")
	queries, names := substitutedQueries(t, dashboards)
	type rec struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	type group struct {
		Name  string `yaml:"name"`
		Rules []rec  `yaml:"rules"`
	}
	var groups []group
	for i, q := range queries {
		groups = append(groups, group{Name: fmt.Sprintf("%03d %s", i, names[i]), Rules: []rec{{Record: fmt.Sprintf("dashboard:query_%03d", i), Expr: q.Expr}}})
	}
	b, err := yaml.Marshal(map[string]any{"groups": groups})
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "dashboard-queries.yaml")
	require.NoError(t, os.WriteFile(path, b, 0o644))
	out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput()
	require.NoError(t, err, "promtool rejects dashboard queries:\n%s", out)
	assert.Contains(t, string(out), fmt.Sprintf("SUCCESS: %d rules found", len(queries)))
}

// The same check must reject a query that does not parse.
func TestDashboardQueryCheckRejectsBadPromQL(t *testing.T) {
	promtool := exportertest.Tool(t, "promtool")
	path := filepath.Join(t.TempDir(), "bad.yaml")
	bad := "groups:\n  - name: bad\n    rules:\n      - record: dashboard:query\n        expr: 'sum by (job (debt_up)'\n"
	require.NoError(t, os.WriteFile(path, []byte(bad), 0o644))
	out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput()
	require.Error(t, err, "promtool accepted broken PromQL:\n%s", out)
}

// Dashboards query the exporter's metrics, Prometheus' own, and the series
// the shipped rules record (the forecast panel draws the recorded total and
// the thresholds; its description says the rules must be loaded).
func TestDashboardsUseOnlyExposedMetrics(t *testing.T) {
	allowed := map[string]bool{}
	for _, m := range slices.Concat(monitoringtest.ExporterMetrics, monitoringtest.PrometheusMetrics) {
		allowed[m] = true
	}
	for _, f := range []string{"thresholds.yaml", "rules.yaml"} {
		for _, r := range loadRules(t, f) {
			allowed[r.Record] = true
		}
	}
	shown := map[string]bool{}
	queries, names := substituted(t)
	for i, q := range queries {
		ms := monitoringtest.MetricNames(q.Expr)
		for _, m := range ms {
			shown[m] = true
			assert.True(t, allowed[m], "%s selects %q, which the exporter does not expose", names[i], m)
		}
	}
	for _, m := range monitoringtest.ExporterMetrics {
		assert.True(t, shown[m], "no dashboard shows %s", m)
	}
}

// The names the dashboards and rules may select (ExporterMetrics, which
// TestDashboardsUseOnlyExposedMetrics and TestRulesUseOnlyExposedMetrics
// check them against) are names the exporter exposes: a metric misspelt
// alike in a panel and in that list fails here, without a Prometheus to
// query (TestMonitoringEndToEnd). In demo mode every sweep succeeds, so
// the metrics exposed "on success" are there too.
func TestExporterMetricsAreExposed(t *testing.T) {
	e := exportertest.Start(t, nil, "--demo")
	families := scrape(t, e.URL)
	for _, m := range monitoringtest.ExporterMetrics {
		assert.Contains(t, families, m, "monitoringtest.ExporterMetrics lists %s, which demo mode does not expose", m)
	}
}

// Every variable a dashboard defines is used, and none it uses is missing
// (Substitute fails on an unknown one).
func TestDashboardVariablesAreUsed(t *testing.T) {
	for _, d := range loadDashboards(t) {
		var all strings.Builder
		for _, q := range d.Queries() {
			all.WriteString(q.Expr + "\n")
		}
		vqs, err := d.VariableQueries()
		require.NoError(t, err)
		for _, vq := range vqs {
			all.WriteString(vq.Selector + "\n")
		}
		for _, v := range d.Variables() {
			name, _ := v["name"].(string)
			if name == "datasource" {
				continue
			}
			assert.Regexp(t, `\$\{?`+regexp.QuoteMeta(name)+`\b`, all.String(), "%s: variable %s is never used", d.File, name)
		}
	}
}

// TestREADMEDescribesEveryPanel: the README's panel guide names every
// panel, with " ($currency)" dropped from the repeated ones, so the guide
// cannot fall behind the dashboards.
func TestREADMEDescribesEveryPanel(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(exportertest.RepoRoot(t), "README.md"))
	require.NoError(t, err)
	for _, d := range loadDashboards(t) {
		for _, p := range d.Panels() {
			title, _ := p["title"].(string)
			if p["type"] == "row" || title == "" {
				continue
			}
			title = strings.TrimSuffix(title, " ($currency)")
			// The guide writes "Unpaid amount by product, by model, by region".
			if rest, ok := strings.CutPrefix(title, "Unpaid amount by "); ok && (rest == "model" || rest == "region") {
				title = "by " + rest
			}
			assert.Contains(t, string(readme), "**"+title+"**", "%s: panel %q is not in the README's panel guide", d.File, title)
		}
	}
}

// TestStatPanelsShowTheCurrentValue: every stat panel queries the value now
// (an instant query), so that a series the exporter no longer exposes (a
// failed sweep's totals) shows no value. Over a range, with lastNotNull,
// a stat showed the last totals seen as if they were current.
func TestStatPanelsShowTheCurrentValue(t *testing.T) {
	n := 0
	for _, d := range loadDashboards(t) {
		for _, p := range d.Panels() {
			if p["type"] != "stat" {
				continue
			}
			targets, _ := p["targets"].([]any)
			require.NotEmpty(t, targets, "%s: stat %q has no query", d.File, p["title"])
			for _, tg := range targets {
				tm, _ := tg.(map[string]any)
				n++
				assert.Equal(t, true, tm["instant"], "%s: stat %q: an instant query", d.File, p["title"])
				assert.NotEqual(t, true, tm["range"], "%s: stat %q: not a range query", d.File, p["title"])
			}
		}
	}
	assert.GreaterOrEqual(t, n, 8, "the stat panels of both dashboards")
}

// TestFiguresAgePanelsCoverNoSuccess: the dashboards' panels of the
// figures' age show, for an exporter that has completed no sweep since it
// started (so exposes no debt_last_success_timestamp_seconds), how long its
// sweeps have failed, as DebtFiguresStale ages it; and the plain age for
// one that completes sweeps. Their queries, read from the JSON, are
// evaluated by promtool on the bundled rules.
func TestFiguresAgePanelsCoverNoSuccess(t *testing.T) {
	promtool := exportertest.Tool(t, "promtool")
	root := exportertest.RepoRoot(t)
	var exprs []string
	for _, d := range loadDashboards(t) {
		for _, q := range d.Queries() {
			if strings.Contains(q.Expr, "debt_last_success_timestamp_seconds") {
				expr, err := monitoringtest.Substitute(q.Expr, monitoringtest.DefaultValues("debt"))
				require.NoError(t, err)
				exprs = append(exprs, expr)
			}
		}
	}
	require.Len(t, exprs, 3, "the health dashboard's stat and graph of the figures' age, and Figures as of")
	var tests strings.Builder
	for _, e := range exprs {
		fmt.Fprintf(&tests, `      - expr: %q
        eval_time: 3h
        exp_samples:
          - labels: '{job="debt", instance="a:9846"}'
            value: 10800
          - labels: '{job="debt", instance="b:9846"}'
            value: 60
`, e)
	}
	alerts := filepath.Join(root, "alerts")
	file := filepath.Join(t.TempDir(), "panels.test.yaml")
	require.NoError(t, os.WriteFile(file, []byte(fmt.Sprintf(`rule_files:
  - %q
  - %q
  - %q
evaluation_interval: 1m
tests:
  # a: started with a wrong key at 0, no sweep ever completes.
  # b: completes a sweep every minute, the last at 2h59m.
  - interval: 1m
    input_series:
      - series: 'up{job="debt", instance="a:9846"}'
        values: '1x180'
      - series: 'debt_up{job="debt", instance="a:9846"}'
        values: '0x180'
      - series: 'up{job="debt", instance="b:9846"}'
        values: '1x180'
      - series: 'debt_up{job="debt", instance="b:9846"}'
        values: '1x180'
      - series: 'debt_last_success_timestamp_seconds{job="debt", instance="b:9846"}'
        values: '-60+60x180'
    promql_expr_test:
%s`, filepath.Join(alerts, "thresholds.yaml"), filepath.Join(alerts, "rules.yaml"), filepath.Join(alerts, "alerts.yaml"), tests.String())), 0o644))
	out, err := exec.Command(promtool, "test", "rules", file).CombinedOutput()
	require.NoError(t, err, "promtool test rules:\n%s", out)
	assert.Contains(t, string(out), "SUCCESS")
}
