package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-jsonnet"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/debt-exporter/debt_exporter/internal/exportertest"
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

// mixin.libsonnet yields exactly the shipped rules and dashboards.
func TestMixinYieldsShippedFiles(t *testing.T) {
	root := exportertest.RepoRoot(t)
	vm := jsonnet.MakeVM()
	vm.Importer(&jsonnet.FileImporter{JPaths: []string{root}})
	out, err := vm.EvaluateAnonymousSnippet("mixin_test.jsonnet", `
		local mixin = import 'mixin.libsonnet';
		{
		  alerts: mixin.prometheusAlerts,
		  rules: mixin.prometheusRules,
		  dashboards: mixin.grafanaDashboards,
		}`)
	require.NoError(t, err)
	var got struct {
		Alerts     any            `json:"alerts"`
		Rules      map[string]any `json:"rules"`
		Dashboards map[string]any `json:"dashboards"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &got))

	alerts := filepath.Join(root, "alerts")
	assert.Equal(t, yamlFile(t, filepath.Join(alerts, "alerts.yaml")), got.Alerts, "prometheusAlerts")

	thresholds := yamlFile(t, filepath.Join(alerts, "thresholds.yaml")).(map[string]any)
	rules := yamlFile(t, filepath.Join(alerts, "rules.yaml")).(map[string]any)
	wantGroups := append(thresholds["groups"].([]any), rules["groups"].([]any)...)
	assert.Equal(t, map[string]any{"groups": wantGroups}, got.Rules, "prometheusRules")

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
