package charttest

import (
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// The public key of the ci/ files (UCloud's documented example key).
const ciPublicKey = "ucloudsomeone@example.com1296235120854146120"

// A private key that must never reach the output: UCloud's documented one,
// and a marker that cannot occur by chance.
var fakePrivateKeys = []string{
	"46f09bb9fab4f12dfc160dae12273d5332b5debe",
	"FAKE-PRIVATE-KEY-never-rendered-7c1d",
}

// scenario is what one ci/ file must render.
type scenario struct {
	kinds []string // sorted
	// the endpoints of the ServiceMonitor: path, or path?account=NAME
	endpoints []string
	scheme    string
	// probe handler: "http", "https" or "tcp"
	probe       string
	flagAccount bool
	// how the public key reaches the container: "value" or "secret"
	publicKey string
}

var scenarios = map[string]scenario{
	"default-values.yaml": {
		kinds:       []string{"ConfigMap", "Deployment", "PrometheusRule", "Service", "ServiceAccount", "ServiceMonitor"},
		endpoints:   []string{"/metrics"},
		scheme:      "http",
		probe:       "http",
		flagAccount: true,
		publicKey:   "value",
	},
	"public-key-secret-values.yaml": {
		kinds:       []string{"ConfigMap", "Deployment", "PrometheusRule", "Service", "ServiceAccount", "ServiceMonitor"},
		endpoints:   []string{"/metrics"},
		scheme:      "http",
		probe:       "http",
		flagAccount: true,
		publicKey:   "secret",
	},
	"web-config-values.yaml": {
		kinds:       []string{"ConfigMap", "Deployment", "PrometheusRule", "Service", "ServiceAccount", "ServiceMonitor"},
		endpoints:   []string{"/metrics"},
		scheme:      "https",
		probe:       "tcp",
		flagAccount: true,
		publicKey:   "value",
	},
	"no-rules-dashboards-values.yaml": {
		kinds:       []string{"Deployment", "Service", "ServiceAccount", "ServiceMonitor"},
		endpoints:   []string{"/metrics"},
		scheme:      "http",
		probe:       "http",
		flagAccount: true,
		publicKey:   "value",
	},
	"accounts-values.yaml": {
		kinds:     []string{"ConfigMap", "ConfigMap", "Deployment", "PrometheusRule", "Service", "ServiceAccount", "ServiceMonitor"},
		endpoints: []string{"/metrics", "/probe?account=prod", "/probe?account=staging"},
		scheme:    "http",
		probe:     "http",
	},
}

// TestScenariosCoverCI: every ci/ file has its expectations here, and back.
func TestScenariosCoverCI(t *testing.T) {
	var have, want []string
	for name := range ciFiles(t) {
		have = append(have, name)
	}
	for name := range scenarios {
		want = append(want, name)
	}
	sort.Strings(have)
	sort.Strings(want)
	assert.Equal(t, want, have)
}

func TestLint(t *testing.T) {
	helm := helmBin(t)
	for name, f := range ciFiles(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out, stderr, err := run(t, nil, helm, "lint", "--strict", chartDir(t), "--namespace", namespace, "-f", f)
			require.NoError(t, err, "%s%s", out, stderr)
		})
	}
}

func TestScenarios(t *testing.T) {
	helmBin(t)
	for name, want := range scenarios {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := render(t, "-f", ciFile(t, name))
			kinds := slices.Clone(r.kinds)
			sort.Strings(kinds)
			assert.Equal(t, want.kinds, kinds)

			checkLabels(t, r)
			d, c := r.deployment(t)
			checkHardening(t, r)
			checkProbes(t, c, want.probe)
			checkFlagAccount(t, d.Spec.Template.Spec, c, want.flagAccount, want.publicKey)
			checkServiceMonitor(t, r, want.endpoints, want.scheme)
			checkNoKeyValues(t, r)
		})
	}
}

// checkLabels: the recommended labels on every object, and a Service and a
// ServiceMonitor that select the Deployment's pods.
func checkLabels(t *testing.T, r *rendered) {
	t.Helper()
	want := map[string]string{
		"app.kubernetes.io/name":       "debt-exporter",
		"app.kubernetes.io/instance":   release,
		"app.kubernetes.io/managed-by": "Helm",
	}
	var objs []map[string]string
	d, _ := r.deployment(t)
	objs = append(objs, d.Labels)
	for _, o := range r.Services {
		objs = append(objs, o.Labels)
	}
	for _, o := range r.ServiceAccounts {
		objs = append(objs, o.Labels)
	}
	for _, o := range r.ConfigMaps {
		objs = append(objs, o.Labels)
	}
	for _, o := range r.ServiceMonitors {
		objs = append(objs, o.Labels)
	}
	for _, o := range r.PrometheusRules {
		objs = append(objs, o.Labels)
	}
	for _, l := range objs {
		for k, v := range want {
			assert.Equal(t, v, l[k], k)
		}
		assert.NotEmpty(t, l["app.kubernetes.io/version"])
		assert.NotEmpty(t, l["helm.sh/chart"])
	}
	podLabels := d.Spec.Template.Labels
	for k, v := range d.Spec.Selector.MatchLabels {
		assert.Equal(t, v, podLabels[k], "pod label %s", k)
	}
	require.Len(t, r.Services, 1)
	svc := r.Services[0]
	assert.Equal(t, fullname, svc.Name)
	assert.Equal(t, d.Spec.Selector.MatchLabels, svc.Spec.Selector)
	require.Len(t, svc.Spec.Ports, 1)
	assert.Equal(t, "http", svc.Spec.Ports[0].Name)
	assert.Equal(t, intstr.FromString("http"), svc.Spec.Ports[0].TargetPort)
	for _, sm := range r.ServiceMonitors {
		for k, v := range sm.Spec.Selector.MatchLabels {
			assert.Equal(t, v, svc.Labels[k], "ServiceMonitor selects Service label %s", k)
		}
		assert.Equal(t, []string{namespace}, sm.Spec.NamespaceSelector.MatchNames)
	}
}

// checkHardening: non-root, read-only, no privilege, no capability, the
// runtime's seccomp profile, no service account token.
func checkHardening(t *testing.T, r *rendered) {
	t.Helper()
	d, c := r.deployment(t)
	pod := d.Spec.Template.Spec
	psc := pod.SecurityContext
	require.NotNil(t, psc)
	require.NotNil(t, psc.RunAsNonRoot)
	assert.True(t, *psc.RunAsNonRoot)
	require.NotNil(t, psc.RunAsUser)
	assert.Equal(t, int64(65532), *psc.RunAsUser, "the image's nonroot uid")
	require.NotNil(t, psc.FSGroup)
	assert.Equal(t, int64(65532), *psc.FSGroup, "the mounted Secrets must be readable by the uid")
	require.NotNil(t, psc.SeccompProfile)
	assert.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, psc.SeccompProfile.Type)

	sc := c.SecurityContext
	require.NotNil(t, sc)
	require.NotNil(t, sc.RunAsNonRoot)
	assert.True(t, *sc.RunAsNonRoot)
	require.NotNil(t, sc.RunAsUser)
	assert.NotZero(t, *sc.RunAsUser)
	require.NotNil(t, sc.ReadOnlyRootFilesystem)
	assert.True(t, *sc.ReadOnlyRootFilesystem)
	require.NotNil(t, sc.AllowPrivilegeEscalation)
	assert.False(t, *sc.AllowPrivilegeEscalation)
	if sc.Privileged != nil {
		assert.False(t, *sc.Privileged)
	}
	require.NotNil(t, sc.Capabilities)
	assert.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop)
	assert.Empty(t, sc.Capabilities.Add)
	require.NotNil(t, sc.SeccompProfile)
	assert.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, sc.SeccompProfile.Type)

	require.NotNil(t, pod.AutomountServiceAccountToken)
	assert.False(t, *pod.AutomountServiceAccountToken)
	require.NotNil(t, pod.EnableServiceLinks)
	assert.False(t, *pod.EnableServiceLinks)
	require.Len(t, r.ServiceAccounts, 1)
	sa := r.ServiceAccounts[0]
	assert.Equal(t, pod.ServiceAccountName, sa.Name)
	require.NotNil(t, sa.AutomountServiceAccountToken)
	assert.False(t, *sa.AutomountServiceAccountToken)

	assert.NotEmpty(t, c.Resources.Requests, "resources.requests")
	assert.NotEmpty(t, c.Resources.Limits.Memory(), "resources.limits.memory")

	for _, v := range pod.Volumes {
		assert.Nil(t, v.HostPath, "volume %s", v.Name)
	}
	for _, m := range c.VolumeMounts {
		assert.True(t, m.ReadOnly, "mount %s is read-only", m.Name)
		assert.Empty(t, m.SubPath, "mount %s: a subPath mount never sees a rotated Secret", m.Name)
	}
}

// checkProbes: both probes on the landing page, or TCP when the web config
// asks for credentials.
func checkProbes(t *testing.T, c *corev1.Container, handler string) {
	t.Helper()
	for name, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		require.NotNil(t, p, name)
		switch handler {
		case "http", "https":
			require.NotNil(t, p.HTTPGet, name)
			assert.Nil(t, p.TCPSocket, name)
			assert.Equal(t, "/", p.HTTPGet.Path, "%s: the landing page, not the metrics path (a scrape sweeps the API)", name)
			assert.Equal(t, intstr.FromString("http"), p.HTTPGet.Port, name)
			assert.Equal(t, corev1.URIScheme(strings.ToUpper(handler)), p.HTTPGet.Scheme, name)
			assert.Empty(t, p.HTTPGet.HTTPHeaders, "%s: no credentials in the pod spec", name)
		case "tcp":
			assert.Nil(t, p.HTTPGet, "%s: an unauthenticated GET gets 401", name)
			require.NotNil(t, p.TCPSocket, name)
			assert.Equal(t, intstr.FromString("http"), p.TCPSocket.Port, name)
		default:
			t.Fatalf("unknown probe handler %q", handler)
		}
		assert.Positive(t, p.PeriodSeconds, name)
		assert.Positive(t, p.TimeoutSeconds, name)
	}
	require.Len(t, c.Ports, 1)
	assert.Equal(t, "http", c.Ports[0].Name)
	v, ok := flag(c.Args, "web.listen-address")
	require.True(t, ok)
	assert.Equal(t, ":9846", v)
	assert.Equal(t, int32(9846), c.Ports[0].ContainerPort)
}

// secretFile finds the Secret item mounted at file: the Secret's name and key.
// It follows plain secret volumes and the secret sources of projected ones.
func secretFile(t *testing.T, pod corev1.PodSpec, c *corev1.Container, file string) (name, key string, mode int32) {
	t.Helper()
	for _, m := range c.VolumeMounts {
		rel, ok := strings.CutPrefix(file, strings.TrimSuffix(m.MountPath, "/")+"/")
		if !ok {
			continue
		}
		require.True(t, m.ReadOnly, "mount of %s", file)
		for _, v := range pod.Volumes {
			if v.Name != m.Name {
				continue
			}
			if s := v.Secret; s != nil {
				for _, it := range s.Items {
					if it.Path == rel {
						require.NotNil(t, s.DefaultMode)
						return s.SecretName, it.Key, *s.DefaultMode
					}
				}
			}
			if p := v.Projected; p != nil {
				for _, src := range p.Sources {
					if src.Secret == nil {
						continue
					}
					for _, it := range src.Secret.Items {
						if it.Path == rel {
							require.NotNil(t, p.DefaultMode)
							return src.Secret.Name, it.Key, *p.DefaultMode
						}
					}
				}
			}
		}
	}
	t.Fatalf("%s is not a mounted Secret item", file)
	return "", "", 0
}

// checkFlagAccount: the flag account's private key is a file of an existing
// Secret, mounted read-only, and passed with --api.private-key-file; its
// public key is env DEBT_EXPORTER_PUBLIC_KEY from a value or a Secret.
func checkFlagAccount(t *testing.T, pod corev1.PodSpec, c *corev1.Container, want bool, publicKey string) {
	t.Helper()
	file, ok := flag(c.Args, "api.private-key-file")
	var env *corev1.EnvVar
	for i := range c.Env {
		if c.Env[i].Name == "DEBT_EXPORTER_PUBLIC_KEY" {
			env = &c.Env[i]
		}
		assert.NotEqual(t, "DEBT_EXPORTER_PRIVATE_KEY", c.Env[i].Name, "the private key is a file, never an env var")
	}
	if !want {
		assert.False(t, ok, "no flag account: no --api.private-key-file")
		assert.Nil(t, env, "no flag account: no public key")
		return
	}
	require.True(t, ok, "--api.private-key-file in %v", c.Args)
	name, key, mode := secretFile(t, pod, c, file)
	assert.Equal(t, "debt-exporter-api", name)
	assert.Equal(t, "private-key", key)
	assert.Equal(t, int32(0o440), mode, "owner and fsGroup may read, nobody may write")

	require.NotNil(t, env, "env DEBT_EXPORTER_PUBLIC_KEY")
	switch publicKey {
	case "value":
		assert.Equal(t, ciPublicKey, env.Value)
		assert.Nil(t, env.ValueFrom)
	case "secret":
		assert.Empty(t, env.Value)
		require.NotNil(t, env.ValueFrom)
		require.NotNil(t, env.ValueFrom.SecretKeyRef)
		assert.Equal(t, "debt-exporter-api", env.ValueFrom.SecretKeyRef.Name)
		assert.Equal(t, "public-key", env.ValueFrom.SecretKeyRef.Key)
	default:
		t.Fatalf("unknown public key source %q", publicKey)
	}
}

// checkServiceMonitor: one endpoint per path (and account), on the Service's
// named port, with the scheme of the web config; the account endpoints in
// the multi-target pattern.
func checkServiceMonitor(t *testing.T, r *rendered, want []string, scheme string) {
	t.Helper()
	sm := r.serviceMonitor(t)
	assert.Equal(t, fullname, sm.Name)
	var have []string
	for _, e := range sm.Spec.Endpoints {
		id := e.Path
		assert.Equal(t, "http", e.Port)
		require.NotNil(t, e.Scheme)
		assert.Equal(t, scheme, e.Scheme.String())
		assert.Equal(t, monitoringv1.Duration("2m"), e.Interval)
		assert.Equal(t, monitoringv1.Duration("90s"), e.ScrapeTimeout)
		switch e.Path {
		case "/metrics":
			assert.Empty(t, e.Params)
		case "/probe":
			require.Len(t, e.Params, 1, "only the account parameter: the exporter reads no other")
			require.Len(t, e.Params["account"], 1)
			account := e.Params["account"][0]
			id += "?account=" + account
			// The account becomes the target's account and instance labels
			// (TestAccountsAreKeptApart: why instance).
			require.GreaterOrEqual(t, len(e.RelabelConfigs), 2)
			for i, label := range []string{"account", "instance"} {
				rc := e.RelabelConfigs[i]
				assert.Equal(t, []monitoringv1.LabelName{"__param_account"}, rc.SourceLabels)
				assert.Equal(t, label, rc.TargetLabel)
				assert.Equal(t, "replace", strings.ToLower(rc.Action))
			}
		default:
			t.Errorf("unexpected endpoint path %q", e.Path)
		}
		have = append(have, id)
		if scheme == "https" {
			require.NotNil(t, e.TLSConfig, "tlsConfig")
			require.NotNil(t, e.TLSConfig.CA.Secret, "tlsConfig.ca")
			require.NotNil(t, e.BasicAuth, "basicAuth: the web config asks for it")
			assert.Equal(t, "debt-scrape", e.BasicAuth.Username.Name)
			assert.Equal(t, "password", e.BasicAuth.Password.Key)
		} else {
			assert.Nil(t, e.TLSConfig)
			assert.Nil(t, e.BasicAuth)
		}
	}
	assert.Equal(t, want, have)
}

// checkNoKeyValues: no private key anywhere; the public key only as the
// value of env DEBT_EXPORTER_PUBLIC_KEY; the args and ConfigMaps hold
// references (file paths), never keys.
func checkNoKeyValues(t *testing.T, r *rendered) {
	t.Helper()
	for _, k := range fakePrivateKeys {
		assert.NotContains(t, r.raw, k)
	}
	_, c := r.deployment(t)
	want := 0
	for _, e := range c.Env {
		if e.Name == "DEBT_EXPORTER_PUBLIC_KEY" && e.Value != "" {
			want++
		}
	}
	assert.Equal(t, want, strings.Count(r.raw, ciPublicKey), "the public key only in env DEBT_EXPORTER_PUBLIC_KEY")
	for _, a := range c.Args {
		assert.NotRegexp(t, `^--api\.(private|public)-key=`, a, "no key in args")
	}
	for name, cm := range r.ConfigMaps {
		for k, v := range cm.Data {
			assert.NotRegexp(t, `(?m)^\s*-?\s*(private_key|public_key)\s*:`, v, "ConfigMap %s key %s holds a key value", name, k)
			assert.NotContains(t, v, ciPublicKey, "ConfigMap %s", name)
		}
	}
	assert.Empty(t, r.Secrets, "the chart creates no Secret: keys come from existing ones")
}

// TestAccounts: the accounts file holds the accounts, with file paths that
// are the accounts' Secret items, and nothing else.
func TestAccounts(t *testing.T) {
	helmBin(t)
	r := render(t, "-f", ciFile(t, "accounts-values.yaml"))
	d, c := r.deployment(t)
	pod := d.Spec.Template.Spec

	cfgFile, ok := flag(c.Args, "config.file")
	require.True(t, ok, "--config.file")
	cm := r.ConfigMaps[fullname+"-accounts"]
	require.NotNil(t, cm, "accounts ConfigMap")
	var mount *corev1.VolumeMount
	for i, m := range c.VolumeMounts {
		if m.MountPath == path.Dir(cfgFile) {
			mount = &c.VolumeMounts[i]
		}
	}
	require.NotNil(t, mount, "the directory of %s is mounted", cfgFile)
	var vol *corev1.Volume
	for i, v := range pod.Volumes {
		if v.Name == mount.Name {
			vol = &pod.Volumes[i]
		}
	}
	require.NotNil(t, vol)
	require.NotNil(t, vol.ConfigMap)
	assert.Equal(t, cm.Name, vol.ConfigMap.Name)
	text, ok := cm.Data[path.Base(cfgFile)]
	require.True(t, ok, "ConfigMap key %s", path.Base(cfgFile))

	type account struct {
		Name           string              `json:"name"`
		PublicKeyFile  string              `json:"public_key_file"`
		PrivateKeyFile string              `json:"private_key_file"`
		ProjectID      string              `json:"project_id,omitempty"`
		Endpoint       string              `json:"endpoint,omitempty"`
		Window         string              `json:"window,omitempty"`
		Filters        map[string][]string `json:"filters,omitempty"`
	}
	var cfg struct {
		Accounts []account `json:"accounts"`
	}
	// Strict: any other key (public_key, private_key_env, ...) fails.
	require.NoError(t, yaml.UnmarshalStrict([]byte(text), &cfg), text)
	want := []account{
		{Name: "prod", ProjectID: "org-abc123"},
		{Name: "staging", Window: "7d", Filters: map[string][]string{"product_code": {"sandbox"}, "pricing_unit": {"1"}}},
	}
	secrets := map[string]string{"prod": "debt-prod", "staging": "debt-staging"}
	require.Len(t, cfg.Accounts, len(want))
	for i, a := range cfg.Accounts {
		w := want[i]
		assert.Equal(t, w.Name, a.Name)
		assert.Equal(t, w.ProjectID, a.ProjectID)
		assert.Equal(t, w.Window, a.Window)
		assert.Equal(t, w.Filters, a.Filters)
		for file, key := range map[string]string{a.PublicKeyFile: "public-key", a.PrivateKeyFile: "private-key"} {
			name, k, mode := secretFile(t, pod, c, file)
			assert.Equal(t, secrets[a.Name], name, "%s: %s", a.Name, file)
			assert.Equal(t, key, k, "%s: %s", a.Name, file)
			assert.Equal(t, int32(0o440), mode)
		}
	}
	assert.Contains(t, c.Args, "--web.enable-lifecycle")
	assert.Contains(t, c.Args, "--sweep.interval=5m")
	assert.NotEmpty(t, d.Spec.Template.Annotations["checksum/accounts"], "a changed accounts list rolls the pods")
	// An old and a new pod must not both be scraped for an account.
	assert.Equal(t, appsv1.RecreateDeploymentStrategyType, d.Spec.Strategy.Type)
}

// TestAccountFilters: an account's filters: {} reaches the accounts file as
// filters: {} (no filters), and an account without filters gets none there
// (it takes the --filter.* flags, which the top-level filters set). The
// chart dropped an empty filters, so such an account silently took the
// top-level ones.
func TestAccountFilters(t *testing.T) {
	helmBin(t)
	r := render(t, "-f", writeValues(t, `filters: {productCode: [modelverse]}
accounts:
  - {name: none, filters: {}, publicKey: {existingSecret: {name: s, key: p}}, privateKey: {existingSecret: {name: s, key: k}}}
  - {name: inherits, publicKey: {existingSecret: {name: s, key: p}}, privateKey: {existingSecret: {name: s, key: k}}}
  - {name: own, filters: {region: [hk]}, publicKey: {existingSecret: {name: s, key: p}}, privateKey: {existingSecret: {name: s, key: k}}}
`))
	_, c := r.deployment(t)
	assert.Contains(t, c.Args, "--filter.product-code=modelverse")
	cm := r.ConfigMaps[fullname+"-accounts"]
	require.NotNil(t, cm, "accounts ConfigMap")
	require.Len(t, cm.Data, 1)
	var cfg struct {
		Accounts []map[string]any `json:"accounts"`
	}
	for _, text := range cm.Data {
		require.NoError(t, yaml.Unmarshal([]byte(text), &cfg), text)
	}
	require.Len(t, cfg.Accounts, 3)
	byName := map[string]map[string]any{}
	for _, a := range cfg.Accounts {
		byName[a["name"].(string)] = a
	}
	f, ok := byName["none"]["filters"]
	assert.True(t, ok, "filters: {} is kept")
	assert.Equal(t, map[string]any{}, f)
	assert.NotContains(t, byName["inherits"], "filters")
	assert.Equal(t, map[string]any{"region": []any{"hk"}}, byName["own"]["filters"])
}

// TestStrategy: with one key the chart leaves the update strategy to
// Kubernetes (RollingUpdate: the two pods are two instances), with accounts
// it recreates, and a strategy in the values wins either way.
func TestStrategy(t *testing.T) {
	helmBin(t)
	single := "privateKey: {existingSecret: {name: s}}\npublicKey: {value: p}\n"
	accounts := "accounts: [{name: a, publicKey: {existingSecret: {name: s, key: k}}, privateKey: {existingSecret: {name: s, key: k}}}]\n"
	for name, tc := range map[string]struct {
		values string
		want   appsv1.DeploymentStrategyType
	}{
		"one key":                        {single, ""},
		"accounts":                       {accounts, appsv1.RecreateDeploymentStrategyType},
		"accounts, rolling update asked": {accounts + "strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 0}}", appsv1.RollingUpdateDeploymentStrategyType},
		"one key, recreate asked":        {single + "strategy: {type: Recreate}", appsv1.RecreateDeploymentStrategyType},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d, _ := render(t, "-f", writeValues(t, tc.values)).deployment(t)
			assert.Equal(t, tc.want, d.Spec.Strategy.Type)
		})
	}
}

// TestFlags: the values of the exporter's flags reach its command line.
func TestFlags(t *testing.T) {
	helmBin(t)
	_, c := render(t, "-f", ciFile(t, "public-key-secret-values.yaml")).deployment(t)
	for name, want := range map[string][]string{
		"api.endpoint":         {"https://api.example.com/"},
		"api.project-id":       {"org-abc123"},
		"api.concurrency":      {"2"},
		"window":               {"7d"},
		"filter.product-code":  {"modelverse", "sandbox"},
		"filter.pricing-unit":  {"1", "2"},
		"filter.region":        {"cn-bj2"},
		"sweep.interval":       {"5m"},
		"sweep.max-timeout":    {"3m"},
		"log.level":            {"debug"},
		"log.format":           {"json"},
		"api.max-pages":        {"100000"},
		"api.page-size":        nil,
		"filter.resource-id":   nil,
		"config.file":          nil,
		"web.config.file":      nil,
		"api.private-key-file": {"/etc/debt-exporter/private-key/private-key"},
	} {
		assert.Equal(t, want, flagValues(c.Args, name), "--%s", name)
	}
	assert.NotContains(t, c.Args, "--web.enable-lifecycle")

	// Defaults: only what the chart must set; the exporter's own defaults
	// apply to the rest.
	_, c = render(t, "-f", ciFile(t, "default-values.yaml")).deployment(t)
	assert.Equal(t, []string{
		"--web.listen-address=:9846",
		"--api.private-key-file=/etc/debt-exporter/private-key/private-key",
		"--log.level=info",
		"--log.format=logfmt",
	}, c.Args)
}

// TestWebConfig: the web config Secret is mounted and passed; TLS alone keeps
// an HTTPS GET probe.
func TestWebConfig(t *testing.T) {
	helmBin(t)
	r := render(t, "-f", ciFile(t, "web-config-values.yaml"))
	d, c := r.deployment(t)
	file, ok := flag(c.Args, "web.config.file")
	require.True(t, ok)
	assert.Equal(t, "/etc/debt-exporter/web/web-config.yml", file)
	var found bool
	for _, m := range c.VolumeMounts {
		if m.MountPath == path.Dir(file) {
			for _, v := range d.Spec.Template.Spec.Volumes {
				if v.Name == m.Name {
					require.NotNil(t, v.Secret)
					assert.Equal(t, "debt-exporter-web", v.Secret.SecretName)
					found = true
				}
			}
		}
	}
	assert.True(t, found, "web config Secret mounted at %s", path.Dir(file))

	tlsOnly := writeValues(t, "webConfig: {basicAuth: false}\nserviceMonitor: {basicAuth: {}}\n")
	r = render(t, "-f", ciFile(t, "web-config-values.yaml"), "-f", tlsOnly)
	_, c = r.deployment(t)
	checkProbes(t, c, "https")

	clientCerts := writeValues(t, "webConfig: {basicAuth: false, clientCertificates: true}\nserviceMonitor: {basicAuth: {}}\n")
	_, c = render(t, "-f", ciFile(t, "web-config-values.yaml"), "-f", clientCerts).deployment(t)
	checkProbes(t, c, "tcp")
}

// TestRefusals: the chart fails with a clear message rather than render a
// pod that cannot work, and it has no field for a key value: a key given in
// one is refused without being echoed.
func TestRefusals(t *testing.T) {
	helmBin(t)
	key := fakePrivateKeys[1]
	for name, tc := range map[string]struct {
		values string
		want   string
	}{
		"no credentials":                 {"", "privateKey.existingSecret.name"},
		"no public key":                  {"privateKey: {existingSecret: {name: s}}", "publicKey"},
		"two public keys":                {"privateKey: {existingSecret: {name: s}}\npublicKey: {value: p, existingSecret: {name: s}}", "not both"},
		"public key alone":               {"publicKey: {value: p}\naccounts: [{name: a, publicKey: {existingSecret: {name: s, key: k}}, privateKey: {existingSecret: {name: s, key: k}}}]", "privateKey.existingSecret"},
		"private key value":              {"privateKey: {value: " + key + "}", "value"},
		"private key string":             {"privateKey: " + key, "privateKey"},
		"private key in secret ref":      {"privateKey: {existingSecret: {name: s, value: " + key + "}}", "value"},
		"account private key value":      {"accounts: [{name: a, publicKey: {existingSecret: {name: s, key: k}}, privateKey: {value: " + key + "}}]", "value"},
		"account private key env":        {"accounts: [{name: a, publicKey: {existingSecret: {name: s, key: k}}, privateKey: {existingSecret: {name: s, key: k}}, private_key: " + key + "}]", "private_key"},
		"key in extraArgs":               {"privateKey: {existingSecret: {name: s}}\npublicKey: {value: p}\nextraArgs: [--api.private-key=" + key + "]", "extraArgs"},
		"key in extraEnv":                {"privateKey: {existingSecret: {name: s}}\npublicKey: {value: p}\nextraEnv: [{name: DEBT_EXPORTER_PRIVATE_KEY, value: " + key + "}]", "extraEnv"},
		"key env from a Secret":          {"privateKey: {existingSecret: {name: s}}\npublicKey: {value: p}\nextraEnv: [{name: DEBT_EXPORTER_PRIVATE_KEY, valueFrom: {secretKeyRef: {name: s, key: k}}}]", "extraEnv"},
		"duplicate account":              {"accounts: [{name: a, publicKey: {existingSecret: {name: s, key: k}}, privateKey: {existingSecret: {name: s, key: k}}}, {name: a, publicKey: {existingSecret: {name: s, key: k}}, privateKey: {existingSecret: {name: s, key: k}}}]", "used twice"},
		"bad account name":               {"accounts: [{name: 'a b', publicKey: {existingSecret: {name: s, key: k}}, privateKey: {existingSecret: {name: s, key: k}}}]", "name"},
		"typo":                           {"privateKey: {existingSecret: {name: s}}\npublicKey: {value: p}\nserviceMonitor: {intervall: 1m}", "intervall"},
		"web config without secret":      {"privateKey: {existingSecret: {name: s}}\npublicKey: {value: p}\nwebConfig: {enabled: true}", "webConfig.existingSecret.name"},
		"basic auth without credentials": {"privateKey: {existingSecret: {name: s}}\npublicKey: {value: p}\nwebConfig: {enabled: true, existingSecret: {name: w}, basicAuth: true}", "serviceMonitor.basicAuth"},
		"unknown threshold":              {"privateKey: {existingSecret: {name: s}}\npublicKey: {value: p}\nprometheusRule: {thresholds: {'debt:threshold_nope': 1}}", "debt:threshold_nope"},
		"unknown threshold, rules off":   {"privateKey: {existingSecret: {name: s}}\npublicKey: {value: p}\nprometheusRule: {enabled: false, thresholds: {'debt:threshold_nope': 1}}", "prometheusRule.thresholds.debt:threshold_nope: no such threshold"},
		"two replicas with accounts":     {"replicaCount: 2\naccounts: [{name: a, publicKey: {existingSecret: {name: s, key: k}}, privateKey: {existingSecret: {name: s, key: k}}}]", "replicaCount is 2 with accounts"},
		"unknown strategy":               {"privateKey: {existingSecret: {name: s}}\npublicKey: {value: p}\nstrategy: {type: BlueGreen}", "strategy"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out, stderr, err := templateErr(t, nil, "-f", writeValues(t, tc.values))
			require.Error(t, err, "rendered:\n%s", out)
			assert.Contains(t, stderr, tc.want)
			assert.NotContains(t, stderr, key, "the error echoes the key")
			assert.LessOrEqual(t, strings.Count(strings.TrimSpace(stderr), "\n"), 6, "a short message: %s", stderr)
		})
	}
}

// TestEnvNotRead: a key in helm's environment does not reach the output
// (the chart has no way to read it; this guards against ever adding one).
func TestEnvNotRead(t *testing.T) {
	helmBin(t)
	for name, f := range ciFiles(t) {
		out, stderr, err := templateErr(t, []string{"DEBT_EXPORTER_PRIVATE_KEY=" + fakePrivateKeys[0]}, "-f", f)
		require.NoError(t, err, stderr)
		assert.NotContains(t, out, fakePrivateKeys[0], name)
	}
}

// TestREADME: the chart README's install examples are the ci/ files, word
// for word, so the documented installs are the tested ones.
func TestREADME(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(chartDir(t), "README.md"))
	require.NoError(t, err)
	readme := string(b)
	for _, name := range []string{"default-values.yaml", "web-config-values.yaml", "accounts-values.yaml"} {
		ci, err := os.ReadFile(ciFile(t, name))
		require.NoError(t, err)
		block := regexp.MustCompile("(?s)```yaml\n# ci/" + regexp.QuoteMeta(name) + "\n(.*?)```").FindStringSubmatch(readme)
		if assert.NotNil(t, block, "README.md has a ```yaml block starting with # ci/%s", name) {
			assert.Equal(t, string(ci), block[1], "README.md's block for ci/%s", name)
		}
		assert.Regexp(t, `helm install [^\n]*\\\n\s+-f \S*/ci/`+regexp.QuoteMeta(name), readme, "an install command with ci/%s", name)
	}
}

// TestServiceMonitorValues: the ServiceMonitor values reach every endpoint;
// the chart's account relabelings come first, so the user's can use them.
func TestServiceMonitorValues(t *testing.T) {
	helmBin(t)
	v := writeValues(t, `serviceMonitor:
  interval: 5m
  scrapeTimeout: 2m
  jobLabel: app.kubernetes.io/name
  namespace: monitoring
  relabelings:
    - {sourceLabels: [__meta_kubernetes_pod_node_name], targetLabel: node}
  metricRelabelings:
    - {sourceLabels: [__name__], regex: go_.*, action: drop}
prometheusRule:
  selector: job="debt-exporter"
`)
	sm := render(t, "-f", ciFile(t, "accounts-values.yaml"), "-f", v).serviceMonitor(t)
	assert.Equal(t, "monitoring", sm.Namespace)
	assert.Equal(t, "app.kubernetes.io/name", sm.Spec.JobLabel)
	assert.Equal(t, []string{namespace}, sm.Spec.NamespaceSelector.MatchNames, "the Service's namespace")
	require.Len(t, sm.Spec.Endpoints, 3)
	for _, e := range sm.Spec.Endpoints {
		assert.Equal(t, monitoringv1.Duration("5m"), e.Interval)
		assert.Equal(t, monitoringv1.Duration("2m"), e.ScrapeTimeout)
		require.Len(t, e.MetricRelabelConfigs, 1)
		assert.Equal(t, "drop", e.MetricRelabelConfigs[0].Action)
		last := e.RelabelConfigs[len(e.RelabelConfigs)-1]
		assert.Equal(t, "node", last.TargetLabel, e.Path)
		if e.Path == "/probe" {
			require.Len(t, e.RelabelConfigs, 4)
			assert.Equal(t, "account", e.RelabelConfigs[0].TargetLabel)
			assert.Equal(t, "instance", e.RelabelConfigs[1].TargetLabel)
			assert.Equal(t, "exporter", e.RelabelConfigs[2].TargetLabel)
		} else {
			require.Len(t, e.RelabelConfigs, 1)
		}
	}
}
