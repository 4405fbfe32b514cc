// Package charttest checks the Helm chart in charts/debt-exporter offline:
// helm lint and helm template on every ci/ values file, every rendered object
// decoded strictly into its Kubernetes or Prometheus Operator type, the rules
// run through promtool, and the dashboards compared with dashboards/. It is a
// module of its own so that the Kubernetes libraries stay out of the
// exporter's.
//
// It needs helm (on PATH or in $(go env GOPATH)/bin) and promtool; with CI set
// a missing tool fails the tests instead of skipping them.
package charttest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

const (
	release   = "r"
	namespace = "debt"
	fullname  = "r-debt-exporter"
)

// repoRoot is the repository's top directory: this package is charts/test.
func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	require.True(t, ok)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

func chartDir(t testing.TB) string { return filepath.Join(repoRoot(t), "charts", "debt-exporter") }

// tool finds a command on PATH, then in dirs. Without it the test is skipped,
// or fails when CI is set.
func tool(t testing.TB, name string, dirs ...string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	msg := fmt.Sprintf("%s not found on PATH or in %v", name, dirs)
	if os.Getenv("CI") != "" {
		t.Fatal(msg + " (CI is set; see .ci/run)")
	}
	t.Skip(msg)
	return ""
}

var (
	gobinOnce sync.Once
	gobin     string
)

// goBin is $(go env GOPATH)/bin, where `go install` puts helm.
func goBin() string {
	gobinOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOPATH").Output()
		if err != nil {
			return
		}
		first := strings.Split(strings.TrimSpace(string(out)), string(os.PathListSeparator))[0]
		gobin = filepath.Join(first, "bin")
	})
	return gobin
}

func helmBin(t testing.TB) string { return tool(t, "helm", goBin()) }

func promtoolBin(t testing.TB) string { return tool(t, "promtool") }

// run runs a command and returns its stdout, or its combined output and the
// error.
func run(t testing.TB, env []string, name string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// ciFiles are the chart's ci/*.yaml values files, by base name.
func ciFiles(t testing.TB) map[string]string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(chartDir(t), "ci", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, m)
	files := map[string]string{}
	for _, f := range m {
		files[filepath.Base(f)] = f
	}
	return files
}

// ciFile is one ci/ values file's path.
func ciFile(t testing.TB, name string) string {
	t.Helper()
	f, ok := ciFiles(t)[name]
	require.True(t, ok, "no ci/%s", name)
	return f
}

// template runs helm template with these extra arguments (values files,
// --set ...) and returns its output, or fails the test.
func template(t testing.TB, args ...string) string {
	t.Helper()
	out, stderr, err := templateErr(t, nil, args...)
	require.NoError(t, err, "helm template %v: %s", args, stderr)
	return out
}

func templateErr(t testing.TB, env []string, args ...string) (string, string, error) {
	t.Helper()
	base := []string{"template", release, chartDir(t), "--namespace", namespace}
	return run(t, env, helmBin(t), append(base, args...)...)
}

// rendered holds the objects of one helm template output, each decoded
// strictly into its type.
type rendered struct {
	raw             string
	Deployments     []*appsv1.Deployment
	Services        []*corev1.Service
	ServiceAccounts []*corev1.ServiceAccount
	Secrets         []*corev1.Secret
	ConfigMaps      map[string]*corev1.ConfigMap
	ServiceMonitors []*monitoringv1.ServiceMonitor
	PrometheusRules []*monitoringv1.PrometheusRule
	kinds           []string
}

var docSep = regexp.MustCompile(`(?m)^---[ \t]*$`)

// decode splits a helm template output into documents and decodes each one
// strictly: an unknown or misplaced field, a duplicate key, or a kind this
// test does not know is an error.
func decode(t testing.TB, out string) *rendered {
	t.Helper()
	r := &rendered{raw: out, ConfigMaps: map[string]*corev1.ConfigMap{}}
	for _, doc := range docSep.Split(out, -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		var tm metav1.TypeMeta
		require.NoError(t, yaml.Unmarshal([]byte(doc), &tm), doc)
		strict := func(into any) {
			t.Helper()
			require.NoError(t, yaml.UnmarshalStrict([]byte(doc), into), "%s %s:\n%s", tm.APIVersion, tm.Kind, doc)
		}
		gvk := tm.APIVersion + "/" + tm.Kind
		r.kinds = append(r.kinds, tm.Kind)
		switch gvk {
		case "apps/v1/Deployment":
			var o appsv1.Deployment
			strict(&o)
			r.Deployments = append(r.Deployments, &o)
		case "v1/Service":
			var o corev1.Service
			strict(&o)
			r.Services = append(r.Services, &o)
		case "v1/ServiceAccount":
			var o corev1.ServiceAccount
			strict(&o)
			r.ServiceAccounts = append(r.ServiceAccounts, &o)
		case "v1/Secret":
			var o corev1.Secret
			strict(&o)
			r.Secrets = append(r.Secrets, &o)
		case "v1/ConfigMap":
			var o corev1.ConfigMap
			strict(&o)
			r.ConfigMaps[o.Name] = &o
		case "monitoring.coreos.com/v1/ServiceMonitor":
			var o monitoringv1.ServiceMonitor
			strict(&o)
			r.ServiceMonitors = append(r.ServiceMonitors, &o)
		case "monitoring.coreos.com/v1/PrometheusRule":
			var o monitoringv1.PrometheusRule
			strict(&o)
			r.PrometheusRules = append(r.PrometheusRules, &o)
		default:
			t.Fatalf("rendered an object of unexpected kind %s:\n%s", gvk, doc)
		}
	}
	return r
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// render is template and decode.
func render(t testing.TB, args ...string) *rendered {
	t.Helper()
	return decode(t, template(t, args...))
}

// deployment is the one Deployment, and its exporter container.
func (r *rendered) deployment(t testing.TB) (*appsv1.Deployment, *corev1.Container) {
	t.Helper()
	require.Len(t, r.Deployments, 1)
	d := r.Deployments[0]
	require.Len(t, d.Spec.Template.Spec.Containers, 1)
	return d, &d.Spec.Template.Spec.Containers[0]
}

func (r *rendered) serviceMonitor(t testing.TB) *monitoringv1.ServiceMonitor {
	t.Helper()
	require.Len(t, r.ServiceMonitors, 1)
	return r.ServiceMonitors[0]
}

func (r *rendered) rule(t testing.TB) *monitoringv1.PrometheusRule {
	t.Helper()
	require.Len(t, r.PrometheusRules, 1)
	return r.PrometheusRules[0]
}

// flag is the value of --name=value in args, and whether it is there.
func flag(args []string, name string) (string, bool) {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

func flagValues(args []string, name string) []string {
	var vs []string
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			vs = append(vs, v)
		}
	}
	return vs
}

// writeValues writes a values file for one test and returns its path. Not
// under t.TempDir(): its name comes from the test's, and helm splits -f
// arguments at commas.
func writeValues(t testing.TB, content string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "debt-chart-values")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	p := filepath.Join(dir, "values.yaml")
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}
