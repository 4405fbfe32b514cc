package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/debt-exporter/debt_exporter/internal/exportertest"
	"github.com/debt-exporter/debt_exporter/internal/simapi"
)

func TestMain(m *testing.M) { os.Exit(exportertest.Main(m)) }

// scrape fetches /metrics as Prometheus would and parses it.
func scrape(t *testing.T, e *exportertest.Exporter) map[string]*dto.MetricFamily {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.URL+"/metrics", nil)
	require.NoError(t, err)
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "10")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	require.NoError(t, err)
	return mfs
}

func gauge(mfs map[string]*dto.MetricFamily, name string) []*dto.Metric {
	if mf, ok := mfs[name]; ok {
		return mf.GetMetric()
	}
	return nil
}

func labelsOf(m *dto.Metric) simapi.Key {
	var k simapi.Key
	for _, l := range m.GetLabel() {
		switch l.GetName() {
		case "region":
			k.Region = l.GetValue()
		case "model":
			k.ModelID = l.GetValue()
		case "product_code":
			k.ProductCode = l.GetValue()
		case "currency":
			k.Currency = l.GetValue()
		}
	}
	return k
}

func requireTruth(t *testing.T, mfs map[string]*dto.MetricFamily, truth simapi.Truth) {
	t.Helper()
	require.Len(t, gauge(mfs, "debt_up"), 1)
	require.Equal(t, 1.0, gauge(mfs, "debt_up")[0].GetGauge().GetValue())
	amounts := gauge(mfs, "debt_unpaid_amount")
	require.Len(t, amounts, len(truth.Series))
	for _, m := range amounts {
		want, ok := truth.Series[labelsOf(m)]
		require.True(t, ok, "unexpected series %v", labelsOf(m))
		assert.Equal(t, want.Amount.Float64(), m.GetGauge().GetValue(), "%v", labelsOf(m))
	}
	for _, m := range gauge(mfs, "debt_unpaid_orders") {
		assert.Equal(t, float64(truth.Series[labelsOf(m)].Orders), m.GetGauge().GetValue())
	}
	for _, m := range gauge(mfs, "debt_unpaid_oldest_order_timestamp_seconds") {
		assert.Equal(t, float64(truth.Series[labelsOf(m)].Oldest), m.GetGauge().GetValue())
	}
	for _, m := range gauge(mfs, "debt_invalid_orders") {
		if m.GetLabel()[0].GetValue() == "amount" {
			assert.Equal(t, float64(truth.Invalid), m.GetGauge().GetValue())
		}
	}
}

const e2ePrivateKey = "e2e-private-key-3a9f0c71d2"

func TestExporterEndToEnd(t *testing.T) {
	srv := simapi.New(simapi.Config{Seed: 77, Orders: 5000, Span: 20 * 24 * time.Hour, InvalidAmountEvery: 250,
		PublicKey: "e2e-public", PrivateKey: e2ePrivateKey})
	defer srv.Close()
	truth := srv.Truth(srv.Query())

	e := exportertest.Start(t, []string{"DEBT_EXPORTER_PRIVATE_KEY=" + e2ePrivateKey, "DEBT_EXPORTER_PUBLIC_KEY=e2e-public"},
		"--api.endpoint="+srv.URL, "--log.level=debug", "--filter.product-code=modelverse", "--filter.product-code=sandbox")

	mfs := scrape(t, e)
	requireTruth(t, mfs, truth)
	for _, name := range []string{"debt_window_seconds", "debt_sweep_duration_seconds", "debt_last_success_timestamp_seconds",
		"debt_api_requests_total", "debt_exporter_build_info", "go_goroutines", "process_resident_memory_bytes"} {
		assert.Contains(t, mfs, name)
	}
	assert.Equal(t, 30*24*3600.0, gauge(mfs, "debt_window_seconds")[0].GetGauge().GetValue())
	last := srv.LastRequest()
	assert.Equal(t, "modelverse", last.Params.Get("ProductCodes.0"))
	assert.Equal(t, "sandbox", last.Params.Get("ProductCodes.1"))

	// A broken API: debt_up 0, no business series, still serving.
	srv.FailRetCode(171, -1)
	mfs = scrape(t, e)
	assert.Equal(t, 0.0, gauge(mfs, "debt_up")[0].GetGauge().GetValue())
	assert.NotContains(t, mfs, "debt_unpaid_amount")
	// The log reaches us through a pipe: wait for it, never assume it.
	assert.Eventually(t, func() bool { return strings.Contains(e.Log.String(), "retcode=171") }, 5*time.Second, 10*time.Millisecond)

	srv.ClearFaults()
	requireTruth(t, scrape(t, e), truth)

	// The private key is nowhere but in the environment it was given in.
	assert.NotContains(t, e.Log.String(), e2ePrivateKey, "logs at debug level")
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", e.Cmd.Process.Pid))
	require.NoError(t, err)
	assert.NotContains(t, string(cmdline), e2ePrivateKey)
	for _, r := range srv.LastRequests(simapi.LoggedRequests) {
		assert.Empty(t, r.RawQuery, "request URL")
		assert.Equal(t, http.MethodPost, r.Method)
	}
	resp, err := http.Get(e.URL + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.NotContains(t, string(body), e2ePrivateKey, "metrics")
}

func TestDemoModeServesSyntheticDebt(t *testing.T) {
	e := exportertest.Start(t, nil, "--demo", "--demo.orders=2000")
	mfs := scrape(t, e)
	assert.Equal(t, 1.0, gauge(mfs, "debt_up")[0].GetGauge().GetValue())
	assert.NotEmpty(t, gauge(mfs, "debt_unpaid_amount"))
	assert.Eventually(t, func() bool { return strings.Contains(e.Log.String(), "DEMO MODE") }, 5*time.Second, 10*time.Millisecond)
}

// writeTLSFiles makes a self-signed certificate for 127.0.0.1.
func writeTLSFiles(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "debt_exporter test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestWebConfigTLSAndBasicAuth(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := writeTLSFiles(t, dir)
	hash, err := bcrypt.GenerateFromPassword([]byte("scrape-pass"), bcrypt.MinCost)
	require.NoError(t, err)
	webConfig := filepath.Join(dir, "web.yml")
	require.NoError(t, os.WriteFile(webConfig, []byte(fmt.Sprintf(
		"tls_server_config:\n  cert_file: %s\n  key_file: %s\nbasic_auth_users:\n  prometheus: %s\n", certFile, keyFile, hash)), 0o600))

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 30 * time.Second}
	e := exportertest.Start(t, nil, "--demo", "--demo.orders=500", "--web.config.file="+webConfig)
	url := "https://" + e.Addr + "/metrics"

	resp, err := client.Get(url)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "no credentials")

	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.SetBasicAuth("prometheus", "wrong")
	resp, err = client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "wrong password")

	req.SetBasicAuth("prometheus", "scrape-pass")
	resp, err = client.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), "debt_up 1")

	resp, err = http.Get(e.URL + "/metrics")
	if err == nil {
		resp.Body.Close()
		assert.NotEqual(t, http.StatusOK, resp.StatusCode, "plain HTTP is not served")
	}
}

// TestStartupErrors: bad configuration exits non-zero with one line.
func TestStartupErrors(t *testing.T) {
	dir := t.TempDir()
	badWeb := filepath.Join(dir, "web.yml")
	require.NoError(t, os.WriteFile(badWeb, []byte("tls_server_config:\n  cert_file: /nonexistent.pem\n"), 0o600))
	withKeys := []string{"DEBT_EXPORTER_PUBLIC_KEY=pub", "DEBT_EXPORTER_PRIVATE_KEY=startup-secret"}
	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"no public key", []string{"DEBT_EXPORTER_PRIVATE_KEY=startup-secret"}, nil, "no public key"},
		{"no private key", []string{"DEBT_EXPORTER_PUBLIC_KEY=pub"}, nil, "no private key"},
		{"page size out of range", withKeys, []string{"--api.page-size=500"}, "--api.page-size 500 is outside 10 to 100"},
		{"unparsable window", withKeys, []string{"--window=forever"}, "--window \"forever\""},
		{"unreadable key file", []string{"DEBT_EXPORTER_PUBLIC_KEY=pub"}, []string{"--api.private-key-file=" + filepath.Join(dir, "nope")}, "cannot read --api.private-key-file"},
		{"bad web config", withKeys, []string{"--web.config.file=" + badWeb}, "error"},
		{"private key as a flag is refused", []string{"DEBT_EXPORTER_PUBLIC_KEY=pub"}, []string{"--api.private-key=startup-secret"}, "unknown long flag"},
		{"unknown log level", withKeys, []string{"--log.level=loud"}, "--log.level \"loud\""},
		{"unknown log format", withKeys, []string{"--log.format=xml"}, "--log.format \"xml\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(exportertest.Binary(t), append([]string{"--web.listen-address=" + exportertest.FreeAddr(t)}, tt.args...)...)
			cmd.Env = tt.env
			var stderr bytes.Buffer
			cmd.Stderr, cmd.Stdout = &stderr, &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, "must exit non-zero; output: %s", stderr.String())
			assert.NotZero(t, exit.ExitCode())
			out := strings.TrimRight(stderr.String(), "\n")
			assert.Equal(t, 1, strings.Count(out, "\n")+1, "one line: %q", out)
			assert.Contains(t, out, tt.want)
			assert.NotContains(t, out, "startup-secret")
			assert.NotContains(t, out, "goroutine", "no stack trace")
		})
	}
}

func TestSIGTERMShutsDownGracefully(t *testing.T) {
	e := exportertest.Start(t, nil, "--demo", "--demo.orders=100")
	require.NoError(t, e.Cmd.Process.Signal(syscall.SIGTERM))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	select {
	case <-e.Exited:
	case <-ctx.Done():
		t.Fatal("still running 15s after SIGTERM")
	}
	assert.Equal(t, 0, e.Cmd.ProcessState.ExitCode())
	assert.Eventually(t, func() bool { return strings.Contains(e.Log.String(), "shutting down") }, 5*time.Second, 10*time.Millisecond)
}

func TestVersionFlag(t *testing.T) {
	out, err := exec.Command(exportertest.Binary(t), "--version").CombinedOutput()
	require.NoError(t, err)
	assert.Contains(t, string(out), "debt_exporter, version")
}
