package e2e

import (
	"github.com/debt-exporter/debt_exporter/internal/exportertest"

	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

func examplePath(t testing.TB, name string) string {
	return filepath.Join(exportertest.RepoRoot(t), "examples", name)
}

func runTool(t *testing.T, dir, tool string, args ...string) string {
	t.Helper()
	cmd := exec.Command(exportertest.Tool(t, tool), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s %s:\n%s", tool, strings.Join(args, " "), out)
	return string(out)
}

// TestExamplePrometheusConfig: promtool accepts examples/prometheus.yml,
// including the bundled rule files it loads, and it scrapes the job name the
// rules select.
func TestExamplePrometheusConfig(t *testing.T) {
	out := runTool(t, filepath.Join(exportertest.RepoRoot(t), "examples"), "promtool", "check", "config", "prometheus.yml")

	var cfg struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName string `yaml:"job_name"`
		} `yaml:"scrape_configs"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(readRepoFile(t, "examples/prometheus.yml")), &cfg))
	var rules []string
	for _, glob := range cfg.RuleFiles {
		m, err := filepath.Glob(filepath.Join(exportertest.RepoRoot(t), "examples", glob))
		require.NoError(t, err)
		rules = append(rules, m...)
	}
	shipped, err := filepath.Glob(filepath.Join(exportertest.RepoRoot(t), "alerts", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, shipped, "no rule files in alerts/")
	assert.ElementsMatch(t, shipped, rules, "examples/prometheus.yml must load every alerts/*.yaml")
	for _, f := range shipped {
		assert.Contains(t, out, filepath.Join("alerts", filepath.Base(f)), "promtool did not check %s", f)
	}

	var jobs []string
	for _, sc := range cfg.ScrapeConfigs {
		jobs = append(jobs, sc.JobName)
	}
	assert.Contains(t, jobs, "debt", "the alert rules select job=\"debt\"")
	assert.Contains(t, readRepoFile(t, "alerts/alerts.yaml"), `job="debt"`,
		"the rules no longer select job=\"debt\": update the job name in examples/prometheus.yml and README.md")
}

// TestExampleAlertmanagerConfig: amtool accepts examples/alertmanager.yml,
// and the alert names its inhibit rules match exist in alerts/alerts.yaml.
func TestExampleAlertmanagerConfig(t *testing.T) {
	runTool(t, filepath.Join(exportertest.RepoRoot(t), "examples"), "amtool", "check-config", "alertmanager.yml")

	alerts := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s*-\s*alert:\s*(\S+)`).FindAllStringSubmatch(readRepoFile(t, "alerts/alerts.yaml"), -1) {
		alerts[m[1]] = true
	}
	require.NotEmpty(t, alerts)
	names := regexp.MustCompile(`alertname=~?"([^"]+)"`).FindAllStringSubmatch(readRepoFile(t, "examples/alertmanager.yml"), -1)
	require.NotEmpty(t, names, "examples/alertmanager.yml inhibits nothing by alertname")
	for _, m := range names {
		for _, name := range strings.Split(m[1], "|") {
			assert.True(t, alerts[name], "examples/alertmanager.yml names alert %s, which alerts/alerts.yaml does not define", name)
		}
	}
}

// TestExampleSystemdUnit: the unit keeps its hardening and passes the key as
// a credential file, never in the command line or environment; and
// systemd-analyze accepts it (with ExecStart pointed at a real binary).
func TestExampleSystemdUnit(t *testing.T) {
	unit := readRepoFile(t, "examples/debt_exporter.service")
	for _, directive := range []string{
		"DynamicUser=yes", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
		"CapabilityBoundingSet=\n", "RestrictAddressFamilies=", "MemoryDenyWriteExecute=yes",
		"LoadCredential=private-key:", "--api.private-key-file=${CREDENTIALS_DIRECTORY}/private-key",
	} {
		assert.Contains(t, unit, directive)
	}
	assert.NotContains(t, unit, "DEBT_EXPORTER_PRIVATE_KEY", "the key belongs in a credential file")
	// /metrics without TLS or auth stays on loopback until a web config is
	// given; the comment says how.
	execStart := unit[strings.Index(unit, "ExecStart="):]
	execStart = execStart[:strings.Index(execStart, "\nRestart=")]
	assert.Contains(t, execStart, "--web.listen-address=127.0.0.1:9846")
	assert.NotContains(t, execStart, "--web.listen-address=:")
	assert.Contains(t, unit, "--web.config.file=${CREDENTIALS_DIRECTORY}/web-config.yml", "the comment says how to open it up")

	dir := t.TempDir()
	const installed = "/usr/local/bin/debt_exporter"
	require.Contains(t, unit, "ExecStart="+installed)
	unit = strings.ReplaceAll(unit, installed, exportertest.Binary(t))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "debt_exporter.service"), []byte(unit), 0o644))
	out := runTool(t, dir, "systemd-analyze", "verify", "./debt_exporter.service")
	assert.Empty(t, strings.TrimSpace(out), "systemd-analyze verify warned")
}

// TestExampleWebConfig runs the exporter with examples/web-config.yml (its
// certificate paths pointed at a generated pair): plain HTTP and anonymous
// scrapes are refused, the documented user and password get the metrics.
func TestExampleWebConfig(t *testing.T) {
	webConfig := readRepoFile(t, "examples/web-config.yml")
	const user, password = "prometheus", "change-me"
	require.Contains(t, webConfig, `password is "`+password+`"`, "the example's password is no longer the one this test uses")

	dir := t.TempDir()
	certPEM := writeSelfSignedCert(t, dir)
	webConfig = strings.ReplaceAll(webConfig, "/etc/debt_exporter/tls.crt", filepath.Join(dir, "tls.crt"))
	webConfig = strings.ReplaceAll(webConfig, "/etc/debt_exporter/tls.key", filepath.Join(dir, "tls.key"))
	cfgPath := filepath.Join(dir, "web-config.yml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(webConfig), 0o600))

	e := exportertest.Start(t, nil, "--demo", "--demo.orders=100", "--web.config.file="+cfgPath)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(certPEM))
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	secure := strings.Replace(e.URL, "http://", "https://", 1)

	resp, body := httpGet(t, http.DefaultClient, e.URL+"/metrics", nil)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "plain HTTP must be refused: %s", body)

	resp, _ = httpGet(t, client, secure+"/metrics", nil)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "a scrape without credentials")

	req := http.Header{}
	r, _ := http.NewRequest(http.MethodGet, secure, nil)
	r.SetBasicAuth(user, "wrong")
	req.Set("Authorization", r.Header.Get("Authorization"))
	resp, _ = httpGet(t, client, secure+"/metrics", req)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "a scrape with a wrong password")

	r.SetBasicAuth(user, password)
	req.Set("Authorization", r.Header.Get("Authorization"))
	resp, body = httpGet(t, client, secure+"/metrics", req)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, "\ndebt_up 1\n")
}

// writeSelfSignedCert writes tls.crt and tls.key for 127.0.0.1 into dir and
// returns the certificate.
func writeSelfSignedCert(t *testing.T, dir string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "debt_exporter test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tls.crt"), certPEM, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tls.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600))
	return certPEM
}

type composeService struct {
	Build       any      `yaml:"build"`
	Image       string   `yaml:"image"`
	Command     []string `yaml:"command"`
	Volumes     []string `yaml:"volumes"`
	Ports       []string `yaml:"ports"`
	Environment any      `yaml:"environment"`
}

// TestExampleDockerCompose: the compose stack runs the exporter from this
// repository's Dockerfile in demo mode and wires the checked configurations:
// every mounted file exists, Prometheus finds the rules where its config
// looks for them, Alertmanager reads the checked config, Grafana gets the
// datasource and the dashboards where its provider looks.
func TestExampleDockerCompose(t *testing.T) {
	examples := filepath.Join(exportertest.RepoRoot(t), "examples")
	var compose struct {
		Services map[string]composeService `yaml:"services"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(readRepoFile(t, "examples/docker-compose.yml")), &compose))
	for _, name := range []string{"debt-exporter", "prometheus", "alertmanager", "grafana"} {
		require.Contains(t, compose.Services, name)
	}

	// mounts maps container path to the host path, for every service.
	mounts := map[string]map[string]string{}
	for name, s := range compose.Services {
		mounts[name] = map[string]string{}
		for _, v := range s.Volumes {
			parts := strings.Split(v, ":")
			require.GreaterOrEqual(t, len(parts), 2, "%s: volume %q", name, v)
			host := filepath.Join(examples, parts[0])
			_, err := os.Stat(host)
			assert.NoError(t, err, "%s mounts %s, which does not exist", name, parts[0])
			mounts[name][parts[1]] = host
		}
	}

	exp := compose.Services["debt-exporter"]
	assert.Contains(t, exp.Command, "--demo")
	build, ok := exp.Build.(map[string]any)
	require.True(t, ok, "debt-exporter must build this repository")
	assert.Equal(t, exportertest.RepoRoot(t), filepath.Join(examples, build["context"].(string)))
	_, err := os.Stat(filepath.Join(examples, build["context"].(string), "Dockerfile"))
	assert.NoError(t, err)
	assert.Contains(t, readRepoFile(t, "examples/prometheus.yml"), `"debt-exporter:9846"`, "prometheus.yml must scrape the compose service")

	// Prometheus: its config is the checked one, and the rule_files glob,
	// taken relative to the config inside the container, lands on alerts/.
	promCfg := flagValue(t, compose.Services["prometheus"].Command, "--config.file")
	assert.Equal(t, examplePath(t, "prometheus.yml"), mounts["prometheus"][promCfg])
	var cfg struct {
		RuleFiles []string `yaml:"rule_files"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(readRepoFile(t, "examples/prometheus.yml")), &cfg))
	for _, glob := range cfg.RuleFiles {
		dir := path.Dir(path.Join(path.Dir(promCfg), glob))
		assert.Equal(t, filepath.Join(exportertest.RepoRoot(t), "alerts"), mounts["prometheus"][dir], "rule_files %s resolves to %s in the container, which is not alerts/", glob, dir)
	}

	amCfg := flagValue(t, compose.Services["alertmanager"].Command, "--config.file")
	assert.Equal(t, examplePath(t, "alertmanager.yml"), mounts["alertmanager"][amCfg])

	// Grafana: provisioning mounted where Grafana reads it by default, and
	// the dashboards where the provider says.
	assert.Equal(t, examplePath(t, "grafana/provisioning"), mounts["grafana"]["/etc/grafana/provisioning"])
	var provider struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(readRepoFile(t, "examples/grafana/provisioning/dashboards/debt_exporter.yml")), &provider))
	require.Len(t, provider.Providers, 1)
	assert.Equal(t, filepath.Join(exportertest.RepoRoot(t), "dashboards"), mounts["grafana"][provider.Providers[0].Options.Path])
	var datasources struct {
		Datasources []struct {
			Type string `yaml:"type"`
			URL  string `yaml:"url"`
		} `yaml:"datasources"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(readRepoFile(t, "examples/grafana/provisioning/datasources/prometheus.yml")), &datasources))
	require.Len(t, datasources.Datasources, 1)
	assert.Equal(t, "prometheus", datasources.Datasources[0].Type)
	assert.Equal(t, "http://prometheus:9090", datasources.Datasources[0].URL)
}

// flagValue finds --name=value in a command.
func flagValue(t *testing.T, cmd []string, name string) string {
	t.Helper()
	for _, a := range cmd {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	t.Fatalf("%s not in command %q", name, cmd)
	return ""
}
