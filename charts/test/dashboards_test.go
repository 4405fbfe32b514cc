package charttest

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The panels that draw a threshold as their last step, and their steps
// (beyond the base step) in the shipped dashboards.
var shippedSteps = map[string]map[float64][]float64{
	"debt-outstanding.json":     {2: {900, 3600}, 8: {604800, 1209600}, 14: {1209600}},
	"debt-exporter-health.json": {3: {900, 3600}, 9: {3600}},
}

// Which threshold each of those panels draws.
var drawnRecords = map[string]map[float64]string{
	"debt-outstanding.json": {
		2:  "debt:threshold_last_success_age_seconds",
		8:  "debt:threshold_oldest_unpaid_order_age_seconds",
		14: "debt:threshold_oldest_unpaid_order_age_seconds",
	},
	"debt-exporter-health.json": {
		3: "debt:threshold_last_success_age_seconds",
		9: "debt:threshold_last_success_age_seconds",
	},
}

// dashboardsCM renders the chart with these arguments and returns the
// dashboards ConfigMap's data, and the raw text of that document.
func dashboardsCM(t *testing.T, args ...string) (map[string]string, string) {
	t.Helper()
	out := template(t, args...)
	cm := decode(t, out).ConfigMaps[fullname+"-dashboards"]
	require.NotNil(t, cm, "dashboards ConfigMap")
	var doc string
	for _, d := range docSep.Split(out, -1) {
		if strings.Contains(d, "\n  name: "+fullname+"-dashboards\n") {
			require.Empty(t, doc, "two dashboards ConfigMaps")
			doc = d
		}
	}
	require.NotEmpty(t, doc)
	return cm.Data, doc
}

// forPanels calls f on every panel of a dashboard, those in rows included.
func forPanels(d map[string]any, f func(p map[string]any)) {
	var walk func(ps []any)
	walk = func(ps []any) {
		for _, p := range ps {
			pm := p.(map[string]any)
			f(pm)
			if sub, ok := pm["panels"].([]any); ok {
				walk(sub)
			}
		}
	}
	walk(d["panels"].([]any))
}

func parseJSON(t *testing.T, what, text string) map[string]any {
	t.Helper()
	var d map[string]any
	require.NoError(t, json.Unmarshal([]byte(text), &d), what)
	return d
}

// withSteps is a dashboard with the given panels' non-base step values
// replaced, in order.
func withSteps(t *testing.T, d map[string]any, steps map[float64][]float64) map[string]any {
	t.Helper()
	seen := map[float64]bool{}
	forPanels(d, func(p map[string]any) {
		want, ok := steps[p["id"].(float64)]
		if !ok {
			return
		}
		seen[p["id"].(float64)] = true
		ss := p["fieldConfig"].(map[string]any)["defaults"].(map[string]any)["thresholds"].(map[string]any)["steps"].([]any)
		var i int
		for _, s := range ss {
			sm := s.(map[string]any)
			if sm["value"] == nil {
				continue
			}
			require.Less(t, i, len(want), "panel %v has more steps than %v", p["id"], want)
			sm["value"] = want[i]
			i++
		}
		require.Equal(t, len(want), i, "panel %v steps", p["id"])
	})
	require.Len(t, seen, len(steps), "panels %v", steps)
	return d
}

// TestDashboardThresholds: overriding the thresholds the dashboards draw
// moves their lines: every step of those panels is scaled by configured /
// shipped (the warning steps keep their proportion), and nothing else of
// the dashboards changes. A value is a number (from a values file or
// --set) or a product of numbers, with or without the PromQL rules.
func TestDashboardThresholds(t *testing.T) {
	helmBin(t)
	source := readGlob(t, filepath.Join(repoRoot(t), "dashboards"), "*.json")
	require.Equal(t, slices.Sorted(maps.Keys(shippedSteps)), names(source), "every dashboard has panels drawing a threshold")
	// The shipped files hold the steps this test assumes.
	for name, text := range source {
		d := parseJSON(t, name, text)
		assert.Equal(t, d, withSteps(t, parseJSON(t, name, text), shippedSteps[name]), "dashboards/%s's threshold steps", name)
	}

	scaled := map[string]map[float64][]float64{
		"debt-outstanding.json":     {2: {1800, 7200}, 8: {302400, 604800}, 14: {604800}},
		"debt-exporter-health.json": {3: {1800, 7200}, 9: {7200}},
	}
	both := "prometheusRule:\n  thresholds:\n    debt:threshold_last_success_age_seconds: 7200\n    debt:threshold_oldest_unpaid_order_age_seconds: \"7 * 86400\"\n"
	for name, args := range map[string][]string{
		"values file":   {"-f", writeValues(t, both)},
		"without rules": {"-f", writeValues(t, both+"  enabled: false\n")},
		"set": {
			"--set", "prometheusRule.thresholds.debt:threshold_last_success_age_seconds=7200",
			"--set-string", "prometheusRule.thresholds.debt:threshold_oldest_unpaid_order_age_seconds=7*86400",
		},
		"with the other overrides": {"-f", ciFile(t, "accounts-values.yaml")},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if name != "with the other overrides" {
				args = append([]string{"-f", ciFile(t, "default-values.yaml")}, args...)
			}
			data, _ := dashboardsCM(t, args...)
			require.Equal(t, names(source), names(data))
			for file, text := range source {
				want := withSteps(t, parseJSON(t, file, text), scaled[file])
				assert.Equal(t, want, parseJSON(t, "ConfigMap key "+file, data[file]), "ConfigMap key %s: dashboards/%s with the steps scaled", file, file)
			}
		})
	}

	// One threshold: only the dashboards drawing it change.
	t.Run("one threshold", func(t *testing.T) {
		t.Parallel()
		data, _ := dashboardsCM(t, "-f", ciFile(t, "default-values.yaml"), "-f", writeValues(t,
			"prometheusRule: {thresholds: {'debt:threshold_oldest_unpaid_order_age_seconds': ' 2.5 * 86400*2 '}}\n"))
		want := withSteps(t, parseJSON(t, "", source["debt-outstanding.json"]), map[float64][]float64{
			2: {900, 3600}, 8: {216000, 432000}, 14: {432000},
		})
		assert.Equal(t, want, parseJSON(t, "", data["debt-outstanding.json"]))
		assert.True(t, source["debt-exporter-health.json"] == data["debt-exporter-health.json"], "debt-exporter-health.json draws no order age: byte for byte the source")
	})
}

// TestDashboardsKeepOtherThresholds: overrides of the thresholds the
// dashboards do not draw, and of those they draw at the shipped value,
// leave the dashboards ConfigMap byte for byte as without overrides.
func TestDashboardsKeepOtherThresholds(t *testing.T) {
	helmBin(t)
	_, want := dashboardsCM(t, "-f", ciFile(t, "default-values.yaml"))
	for name, values := range map[string]string{
		"amounts": `prometheusRule:
  thresholds:
    debt:threshold_unpaid_amount:
      - labels: {currency: CNY}
        value: 250000
      - labels: {currency: EUR}
        value: 20000
    debt:threshold_unpaid_amount_growth: 5000
    debt:threshold_forecast_horizon_seconds: 48 * 3600
    debt:threshold_api_error_ratio: 0.1
`,
		"shipped values": `prometheusRule:
  thresholds:
    debt:threshold_last_success_age_seconds: 3600
    debt:threshold_oldest_unpaid_order_age_seconds: 14*86400
`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, got := dashboardsCM(t, "-f", ciFile(t, "default-values.yaml"), "-f", writeValues(t, values))
			assert.True(t, want == got, "the dashboards ConfigMap changed:\n%s", got)
		})
	}
}

// TestDashboardThresholdRefusals: a threshold the dashboards draw as one
// line cannot be a list of label sets or an expression other than a
// product of numbers: the render fails with one line naming it, with the
// rules on or off.
func TestDashboardThresholdRefusals(t *testing.T) {
	helmBin(t)
	for name, tc := range map[string]struct {
		record, value string
		rulesOff      bool
	}{
		"list":                 {record: "debt:threshold_last_success_age_seconds", value: "[{labels: {}, value: 7200}]"},
		"list of label sets":   {record: "debt:threshold_oldest_unpaid_order_age_seconds", value: "[{labels: {currency: CNY}, value: 86400}]"},
		"expression":           {record: "debt:threshold_oldest_unpaid_order_age_seconds", value: "'14 * 86400 + 3600'"},
		"function":             {record: "debt:threshold_last_success_age_seconds", value: "'scalar(up)'"},
		"duration":             {record: "debt:threshold_last_success_age_seconds", value: "1h"},
		"empty factor":         {record: "debt:threshold_last_success_age_seconds", value: "'3600 *'"},
		"list, rules disabled": {record: "debt:threshold_last_success_age_seconds", value: "[{value: 7200}]", rulesOff: true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			values := "prometheusRule:\n  thresholds:\n    " + tc.record + ": " + tc.value + "\n"
			if tc.rulesOff {
				values += "  enabled: false\n"
			}
			out, stderr, err := templateErr(t, nil, "-f", ciFile(t, "default-values.yaml"), "-f", writeValues(t, values))
			require.Error(t, err, "rendered:\n%s", out)
			if strings.Contains(stderr, "values don't meet the specifications of the schema") {
				t.Fatalf("refused by the schema, not by the dashboards: %s", stderr)
			}
			assert.Contains(t, stderr, "prometheusRule.thresholds."+tc.record+": the dashboards draw it as one line")
			assert.LessOrEqual(t, strings.Count(strings.TrimSpace(stderr), "\n"), 3, "a short message: %s", stderr)
		})
	}
}

// TestThresholdPanelsAreTheMixins: the chart scales the steps of the
// panels the mixin does (thresholdPanels in mixin/dashboards.libsonnet),
// for the same thresholds.
func TestThresholdPanelsAreTheMixins(t *testing.T) {
	src := string(must(os.ReadFile(filepath.Join(repoRoot(t), "mixin", "dashboards.libsonnet"))))
	block := regexp.MustCompile(`(?s)local thresholdPanels = \{\n(.*?)\n  \},\n`).FindStringSubmatch(src)
	require.NotNil(t, block, "thresholdPanels in mixin/dashboards.libsonnet")
	mixin := map[string]map[float64]string{}
	var file string
	for _, l := range strings.Split(block[1], "\n") {
		if m := regexp.MustCompile(`^\s*'?([a-z-]+)'?: \{$`).FindStringSubmatch(l); m != nil {
			file = "debt-" + m[1] + ".json"
			mixin[file] = map[float64]string{}
		} else if m := regexp.MustCompile(`^\s*'([0-9]+)': '([^']+)',$`).FindStringSubmatch(l); m != nil {
			require.NotEmpty(t, file, l)
			var id float64
			require.NoError(t, json.Unmarshal([]byte(m[1]), &id))
			mixin[file][id] = m[2]
		}
	}
	assert.Equal(t, drawnRecords, mixin, "the mixin's thresholdPanels")

	// What the chart scales: the panels whose steps move with each
	// threshold alone.
	helmBin(t)
	source := readGlob(t, filepath.Join(repoRoot(t), "dashboards"), "*.json")
	chart := map[string]map[float64]string{}
	for _, rec := range []string{"debt:threshold_last_success_age_seconds", "debt:threshold_oldest_unpaid_order_age_seconds"} {
		data, _ := dashboardsCM(t, "-f", ciFile(t, "default-values.yaml"), "--set", "prometheusRule.thresholds."+rec+"=1")
		for file, text := range source {
			steps := map[float64]any{}
			forPanels(parseJSON(t, file, text), func(p map[string]any) { steps[p["id"].(float64)] = p["fieldConfig"] })
			forPanels(parseJSON(t, file, data[file]), func(p map[string]any) {
				if !assert.ObjectsAreEqual(steps[p["id"].(float64)], p["fieldConfig"]) {
					if chart[file] == nil {
						chart[file] = map[float64]string{}
					}
					chart[file][p["id"].(float64)] = rec
				}
			})
		}
	}
	assert.Equal(t, drawnRecords, chart, "the panels the chart scales")
}

// TestDashboardThresholdDrift: the chart checks, on every render, that the
// panels it scales are there and that their last step is the shipped
// threshold of alerts/thresholds.yaml (as the mixin asserts), so that a
// dashboard or threshold changed alone fails the render instead of drawing
// a wrong line.
func TestDashboardThresholdDrift(t *testing.T) {
	helm := helmBin(t)
	for name, tc := range map[string]struct {
		file, old, new, want string
	}{
		"last step":     {"files/dashboards/debt-exporter-health.json", `"value": 3600`, `"value": 3500`, "debt-exporter-health.json panel 3: its last threshold step is 3500, not debt:threshold_last_success_age_seconds (3600)"},
		"panel missing": {"files/dashboards/debt-outstanding.json", `"id": 14,`, `"id": 99,`, "debt-outstanding.json has no panel 14"},
		"threshold":     {"files/alerts/thresholds.yaml", "vector(14 * 86400)", "vector(14 * 86400 + 1)", "alerts/thresholds.yaml: debt:threshold_oldest_unpaid_order_age_seconds: the dashboards draw it as one line"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "debt-exporter")
			require.NoError(t, os.CopyFS(dir, os.DirFS(chartDir(t))))
			p := filepath.Join(dir, tc.file)
			b := string(must(os.ReadFile(p)))
			require.Contains(t, b, tc.old)
			require.NoError(t, os.WriteFile(p, []byte(strings.Replace(b, tc.old, tc.new, 1)), 0o600))
			out, stderr, err := run(t, nil, helm, "template", release, dir, "--namespace", namespace, "-f", ciFile(t, "default-values.yaml"))
			require.Error(t, err, "rendered:\n%s", out)
			assert.Contains(t, stderr, tc.want)
		})
	}
}
