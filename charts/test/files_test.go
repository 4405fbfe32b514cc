package charttest

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The chart's copies of the repository's rule files and dashboards: Helm
// reads no file outside the chart directory (it follows symlinks, but warns
// on every command and a symlink breaks on checkouts without them).
var copies = []struct{ src, dst, glob string }{
	{"alerts", "charts/debt-exporter/files/alerts", "*.yaml"},
	{"dashboards", "charts/debt-exporter/files/dashboards", "*.json"},
}

func readGlob(t *testing.T, dir, glob string) map[string]string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, glob))
	require.NoError(t, err)
	files := map[string]string{}
	for _, f := range m {
		files[filepath.Base(f)] = string(must(os.ReadFile(f)))
	}
	return files
}

func names(m map[string]string) []string {
	var n []string
	for k := range m {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// TestCopiesMatchSources: the chart's copies are the sources, file for
// file. On failure run `make sync-chart`.
func TestCopiesMatchSources(t *testing.T) {
	root := repoRoot(t)
	for _, c := range copies {
		src := readGlob(t, filepath.Join(root, c.src), c.glob)
		dst := readGlob(t, filepath.Join(root, c.dst), c.glob)
		require.NotEmpty(t, src, c.src)
		if !assert.Equal(t, names(src), names(dst), "%s/%s and %s/%s differ: run make sync-chart", c.src, c.glob, c.dst, c.glob) {
			continue
		}
		for name, s := range src {
			assert.True(t, s == dst[name], "%s/%s differs from %s/%s: run make sync-chart", c.dst, name, c.src, name)
		}
	}
}

// TestDashboards: the dashboards ConfigMap holds dashboards/*.json byte for
// byte, labelled for the Grafana sidecar.
func TestDashboards(t *testing.T) {
	helmBin(t)
	want := readGlob(t, filepath.Join(repoRoot(t), "dashboards"), "*.json")
	require.NotEmpty(t, want)

	r := render(t, "-f", ciFile(t, "default-values.yaml"))
	cm := r.ConfigMaps[fullname+"-dashboards"]
	require.NotNil(t, cm, "dashboards ConfigMap")
	assert.Equal(t, "1", cm.Labels["grafana_dashboard"])
	assert.Equal(t, names(want), names(cm.Data))
	for name, text := range want {
		assert.True(t, text == cm.Data[name], "ConfigMap key %s differs from dashboards/%s", name, name)
	}
	assert.Empty(t, cm.BinaryData)
	var size int
	for _, v := range cm.Data {
		size += len(v)
	}
	assert.Less(t, size, 900*1024, "a ConfigMap holds at most 1 MiB")

	v := writeValues(t, "dashboards: {labelKey: grafana.io/dashboard, labelValue: debt, namespace: monitoring, annotations: {grafana_folder: Debt}}\n")
	cm = render(t, "-f", ciFile(t, "default-values.yaml"), "-f", v).ConfigMaps[fullname+"-dashboards"]
	require.NotNil(t, cm)
	assert.Equal(t, "debt", cm.Labels["grafana.io/dashboard"])
	assert.NotContains(t, cm.Labels, "grafana_dashboard")
	assert.Equal(t, "monitoring", cm.Namespace)
	assert.Equal(t, "Debt", cm.Annotations["grafana_folder"])
}
