package e2e

import (
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

const runbookBase = "https://github.com/debt-exporter/debt_exporter/blob/main/alerts/RUNBOOK.md#runbook-"

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	} `yaml:"groups"`
}

type rule struct {
	Alert         string            `yaml:"alert"`
	Record        string            `yaml:"record"`
	Expr          string            `yaml:"expr"`
	For           string            `yaml:"for"`
	KeepFiringFor string            `yaml:"keep_firing_for"`
	Labels        map[string]string `yaml:"labels"`
	Annotations   map[string]string `yaml:"annotations"`
}

type unitTestFile struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		AlertRuleTest []struct {
			EvalTime  string `yaml:"eval_time"`
			Alertname string `yaml:"alertname"`
			ExpAlerts []struct {
				ExpLabels      map[string]string `yaml:"exp_labels"`
				ExpAnnotations map[string]string `yaml:"exp_annotations"`
			} `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

func alertsDir(t *testing.T) string {
	return filepath.Join(exportertest.RepoRoot(t), "alerts")
}

// ruleFilePaths are the shipped rule files: every alerts/*.yaml.
func ruleFilePaths(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(alertsDir(t), "*.yaml"))
	require.NoError(t, err)
	require.Len(t, files, 3, "expected alerts.yaml, rules.yaml and thresholds.yaml")
	return files
}

func unitTestPaths(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(alertsDir(t), "tests", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	return files
}

// decodeYAML decodes path into v; strict rejects fields v has no room for.
func decodeYAML(t *testing.T, path string, v any, strict bool) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(strict)
	require.NoError(t, dec.Decode(v), path)
}

func loadRules(t *testing.T, name string) []rule {
	t.Helper()
	var f ruleFile
	decodeYAML(t, filepath.Join(alertsDir(t), name), &f, true)
	var out []rule
	for _, g := range f.Groups {
		out = append(out, g.Rules...)
	}
	return out
}

func alertRules(t *testing.T) []rule {
	t.Helper()
	rules := loadRules(t, "alerts.yaml")
	require.NotEmpty(t, rules)
	for _, r := range rules {
		require.NotEmpty(t, r.Alert, "alerts.yaml holds alerting rules only: %+v", r)
	}
	return rules
}

func TestPromtoolCheckRules(t *testing.T) {
	promtool := exportertest.Tool(t, "promtool")
	for _, f := range ruleFilePaths(t) {
		out, err := exec.Command(promtool, "check", "rules", f).CombinedOutput()
		assert.NoError(t, err, "promtool check rules %s:\n%s", f, out)
		assert.Contains(t, string(out), "SUCCESS", f)
	}
}

func TestPromtoolTestRules(t *testing.T) {
	promtool := exportertest.Tool(t, "promtool")
	args := append([]string{"test", "rules"}, unitTestPaths(t)...)
	out, err := exec.Command(promtool, args...).CombinedOutput()
	require.NoError(t, err, "promtool test rules:\n%s", out)
	assert.Contains(t, string(out), "SUCCESS")
	assert.NotContains(t, string(out), "FAILED")
}

// A wrong expectation must make promtool, and so this package, fail:
// otherwise TestPromtoolTestRules would prove nothing.
func TestPromtoolTestRulesCatchesWrongExpectation(t *testing.T) {
	promtool := exportertest.Tool(t, "promtool")
	src := unitTestPaths(t)[0]
	b, err := os.ReadFile(src)
	require.NoError(t, err)
	text := string(b)
	// Point the rule files at the real ones from a temporary copy.
	text = strings.ReplaceAll(text, "  - ../", "  - "+alertsDir(t)+"/")
	const good = "summary: The debt exporter cannot be scraped."
	require.Contains(t, text, good)
	text = strings.Replace(text, good, "summary: Something else.", 1)
	tmp := filepath.Join(t.TempDir(), "broken.test.yaml")
	require.NoError(t, os.WriteFile(tmp, []byte(text), 0o644))

	out, err := exec.Command(promtool, "test", "rules", tmp).CombinedOutput()
	require.Error(t, err, "promtool accepted a wrong expectation:\n%s", out)
	assert.Contains(t, string(out), "DebtExporterDown")
}

func TestEveryAlertHasFiringAndSilentCase(t *testing.T) {
	rules := alertRules(t)
	severity := map[string]string{}
	for _, r := range rules {
		severity[r.Alert] = r.Labels["severity"]
	}
	firing := map[string]int{}
	silent := map[string]int{}
	loaded := map[string]bool{}
	for _, path := range unitTestPaths(t) {
		var f unitTestFile
		decodeYAML(t, path, &f, false)
		for _, rf := range f.RuleFiles {
			loaded[filepath.Base(rf)] = true
		}
		for _, tc := range f.Tests {
			for _, c := range tc.AlertRuleTest {
				if _, ok := severity[c.Alertname]; !ok {
					t.Errorf("%s: test case for unknown alert %q", path, c.Alertname)
					continue
				}
				if len(c.ExpAlerts) == 0 {
					silent[c.Alertname]++
					continue
				}
				firing[c.Alertname]++
				for _, a := range c.ExpAlerts {
					assert.Equal(t, severity[c.Alertname], a.ExpLabels["severity"], "%s at %s: severity", c.Alertname, c.EvalTime)
					for _, k := range []string{"summary", "description", "runbook_url"} {
						assert.NotEmpty(t, a.ExpAnnotations[k], "%s at %s: the firing case must expect annotation %s", c.Alertname, c.EvalTime, k)
					}
				}
			}
		}
	}
	for _, name := range []string{"alerts.yaml", "rules.yaml", "thresholds.yaml"} {
		assert.True(t, loaded[name], "the unit tests must load %s", name)
	}
	for _, r := range rules {
		assert.Positive(t, firing[r.Alert], "%s has no promtool test case that fires", r.Alert)
		assert.Positive(t, silent[r.Alert], "%s has no promtool test case that stays silent", r.Alert)
	}
}

var (
	alertNameRE = regexp.MustCompile(`^Debt[A-Z][A-Za-z0-9]+$`)
	headingRE   = regexp.MustCompile(`(?m)^#{1,6}\s+(.+?)\s*$`)
)

// githubAnchor is the anchor GitHub gives a Markdown heading.
func githubAnchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

func TestAlertConventions(t *testing.T) {
	runbook, err := os.ReadFile(filepath.Join(alertsDir(t), "RUNBOOK.md"))
	require.NoError(t, err)
	anchors := map[string]bool{}
	for _, m := range headingRE.FindAllStringSubmatch(string(runbook), -1) {
		anchors[githubAnchor(m[1])] = true
	}

	seen := map[string]bool{}
	for _, r := range alertRules(t) {
		t.Run(r.Alert, func(t *testing.T) {
			assert.Regexp(t, alertNameRE, r.Alert, "CamelCase with the Debt prefix")
			assert.False(t, seen[r.Alert], "duplicate alert name")
			seen[r.Alert] = true
			assert.Contains(t, []string{"critical", "warning", "info"}, r.Labels["severity"])

			summary := r.Annotations["summary"]
			assert.True(t, strings.HasSuffix(summary, "."), "summary %q must end with a period", summary)
			assert.NotContains(t, summary, "{{", "summary must be static")
			assert.Contains(t, r.Annotations["description"], "{{", "description must be templated")

			anchor := "runbook-" + strings.ToLower(r.Alert)
			assert.Equal(t, runbookBase+strings.TrimPrefix(anchor, "runbook-"), r.Annotations["runbook_url"])
			assert.True(t, anchors[anchor], "RUNBOOK.md has no heading with anchor #%s (e.g. \"## Runbook: %s\")", anchor, r.Alert)
			for k := range r.Annotations {
				assert.Contains(t, []string{"summary", "description", "runbook_url"}, k, "unexpected annotation")
			}
		})
	}
	// No runbook section for an alert that does not exist.
	for a := range anchors {
		if name, ok := strings.CutPrefix(a, "runbook-"); ok {
			found := false
			for s := range seen {
				found = found || strings.ToLower(s) == name
			}
			assert.True(t, found, "RUNBOOK.md section #%s has no alert", a)
		}
	}
}

var (
	thresholdRE = regexp.MustCompile(`debt:threshold_[a-z_]+`)
	rangeRE     = regexp.MustCompile(`\[[^\]]*\]`)
	stringRE    = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	numberRE    = regexp.MustCompile(`(?:^|[^\w.:$])(\d+(?:\.\d+)?(?:e[+-]?\d+)?)`)
)

// Thresholds live in thresholds.yaml only: the alerts compare against
// debt:threshold_* series and hold no number but 0.
func TestThresholdsLiveInThresholdsFile(t *testing.T) {
	recorded := map[string]bool{}
	for _, r := range loadRules(t, "thresholds.yaml") {
		require.NotEmpty(t, r.Record, "thresholds.yaml holds recording rules only")
		assert.Regexp(t, `^debt:threshold_[a-z_]+$`, r.Record)
		assert.Regexp(t, `^vector\([0-9.*+ ]+\)$`, r.Expr, "%s: a threshold is a constant", r.Record)
		recorded[r.Record] = true
	}
	used := map[string]bool{}
	for _, r := range alertRules(t) {
		for _, th := range thresholdRE.FindAllString(r.Expr, -1) {
			used[th] = true
			assert.True(t, recorded[th], "%s uses %s, which thresholds.yaml does not record", r.Alert, th)
		}
		// Ranges and label values (DebtUnpaidAmountOld's age regex) hold
		// digits that are no thresholds.
		bare := rangeRE.ReplaceAllString(stringRE.ReplaceAllString(r.Expr, `""`), "")
		for _, m := range numberRE.FindAllStringSubmatch(bare, -1) {
			assert.Equal(t, "0", m[1], "%s: threshold %s written in the alert; put it in thresholds.yaml", r.Alert, m[1])
		}
	}
	for th := range recorded {
		assert.True(t, used[th], "threshold %s is used by no alert", th)
	}
}

func TestRulesUseOnlyExposedMetrics(t *testing.T) {
	allowed := map[string]bool{}
	for _, m := range slices.Concat(monitoringtest.ExporterMetrics, monitoringtest.PrometheusMetrics) {
		allowed[m] = true
	}
	var all []rule
	for _, f := range []string{"thresholds.yaml", "rules.yaml", "alerts.yaml"} {
		for _, r := range loadRules(t, f) {
			if r.Record != "" {
				allowed[r.Record] = true
			}
			all = append(all, r)
		}
	}
	for _, r := range all {
		for _, m := range monitoringtest.MetricNames(r.Expr) {
			assert.True(t, allowed[m], "%s%s selects %q, which neither the exporter, Prometheus nor a recording rule provides", r.Alert, r.Record, m)
		}
	}
}
