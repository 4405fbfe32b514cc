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
	"debug/buildinfo"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-kit/log/level"
	"github.com/go-logfmt/logfmt"
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

func labelsOf(m *dto.Metric) simapi.Key { return simapi.KeyOf(m.GetLabel()) }

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

// TestAPIFlagsReachTheClient: --api.rate-limit and --api.concurrency are
// the client's (its gauges say so), and a sweep paced at 20 requests a
// second takes the time that needs.
func TestAPIFlagsReachTheClient(t *testing.T) {
	srv := simapi.New(simapi.Config{Seed: 78, Orders: 1600, Span: 10 * 24 * time.Hour, PublicKey: "e2e-public", PrivateKey: e2ePrivateKey})
	defer srv.Close()
	e := exportertest.Start(t, []string{"DEBT_EXPORTER_PRIVATE_KEY=" + e2ePrivateKey, "DEBT_EXPORTER_PUBLIC_KEY=e2e-public"},
		"--api.endpoint="+srv.URL, "--api.rate-limit=20", "--api.concurrency=3")
	mfs := scrape(t, e)
	require.Equal(t, 1.0, gauge(mfs, "debt_up")[0].GetGauge().GetValue())
	assert.Equal(t, 20.0, gauge(mfs, "debt_api_rate_limit_requests_per_second")[0].GetGauge().GetValue())
	assert.Equal(t, 3.0, gauge(mfs, "debt_api_concurrency")[0].GetGauge().GetValue())
	requests := gauge(mfs, "debt_sweep_requests")[0].GetGauge().GetValue()
	require.GreaterOrEqual(t, requests, 16.0)
	assert.Equal(t, float64(srv.Requests()), requests)
	assert.Equal(t, requests, gauge(mfs, "debt_sweep_pages")[0].GetGauge().GetValue(), "no retries")
	// A lower bound on time: sends 1/20 s apart, one interval of credit.
	assert.GreaterOrEqual(t, gauge(mfs, "debt_sweep_duration_seconds")[0].GetGauge().GetValue(), (requests-2)/20)
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
	assert.Contains(t, string(body), "\ndebt_up 1\n")

	resp, err = http.Get(e.URL + "/metrics")
	if err == nil {
		resp.Body.Close()
		assert.NotEqual(t, http.StatusOK, resp.StatusCode, "plain HTTP is not served")
	}
}

// runResult is what an in-process run() did.
type runResult struct {
	code           int
	stdout, stderr string
}

// runNow calls run() in process, as main does, with env as the whole
// environment. It fails the test if run does not return within 10s: every
// case here must end at start (a FIFO for a key file once hung it).
func runNow(t *testing.T, env map[string]string, args ...string) runResult {
	t.Helper()
	var stdout, stderr exportertest.SyncBuffer
	done := make(chan int, 1)
	go func() { done <- run(args, &stdout, &stderr, func(k string) string { return env[k] }) }()
	select {
	case code := <-done:
		return runResult{code, stdout.String(), stderr.String()}
	case <-time.After(10 * time.Second):
		t.Fatalf("run %q still running after 10s; stderr: %s", args, stderr.String())
		return runResult{}
	}
}

// requireOneLine: a start-up failure is exactly one line on stderr and
// nothing on stdout.
func requireOneLine(t *testing.T, r runResult) string {
	t.Helper()
	assert.NotZero(t, r.code)
	assert.Empty(t, r.stdout)
	out := strings.TrimSuffix(r.stderr, "\n")
	require.NotEmpty(t, out)
	assert.NotContains(t, out, "\n", "one line")
	assert.NotContains(t, out, "goroutine", "no stack trace")
	if !strings.HasPrefix(out, "level=") {
		return out // kingpin's: debt_exporter: error: ...
	}
	// A log record: its err, unquoted.
	d := logfmt.NewDecoder(strings.NewReader(out))
	for d.ScanRecord() {
		for d.ScanKeyval() {
			if string(d.Key()) == "err" {
				return string(d.Value())
			}
		}
	}
	require.NoError(t, d.Err())
	t.Fatalf("no err in %q", out)
	return ""
}

// TestStartupErrors: bad configuration exits non-zero with one line, which
// names the flag, variable or file, in run() itself.
func TestStartupErrors(t *testing.T) {
	dir := t.TempDir()
	badWeb := filepath.Join(dir, "web.yml")
	require.NoError(t, os.WriteFile(badWeb, []byte("tls_server_config:\n  cert_file: /nonexistent.pem\n"), 0o600))
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	withKeys := map[string]string{"DEBT_EXPORTER_PUBLIC_KEY": "pub", "DEBT_EXPORTER_PRIVATE_KEY": "startup-secret"}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"no public key", map[string]string{"DEBT_EXPORTER_PRIVATE_KEY": "startup-secret"}, nil, 1, "no public key"},
		{"no private key", map[string]string{"DEBT_EXPORTER_PUBLIC_KEY": "pub"}, nil, 1, "no private key"},
		{"page size out of range", withKeys, []string{"--api.page-size=500"}, 1, "--api.page-size 500 is outside 10 to 100"},
		{"page size not a number", withKeys, []string{"--api.page-size=abc"}, 2, "--api.page-size: not an integer"},
		{"timeout not a duration", withKeys, []string{"--api.timeout=abc"}, 2, "--api.timeout: not a duration"},
		{"rate limit not a number", withKeys, []string{"--api.rate-limit=fast"}, 2, "--api.rate-limit: not a number"},
		{"bool with a value", withKeys, []string{"--demo=maybe"}, 2, "unexpected argument"},
		{"stray argument", withKeys, []string{"startup-secret"}, 2, "unexpected argument"},
		{"repeated flag", withKeys, []string{"--api.timeout=1s", "--api.timeout=2s"}, 2, "--api.timeout cannot be repeated"},
		{"flag without its value", withKeys, []string{"--api.timeout"}, 2, "expected argument for flag '--api.timeout'"},
		{"unparsable window", withKeys, []string{"--window=forever"}, 1, "--window is not a duration"},
		{"missing key file", map[string]string{"DEBT_EXPORTER_PUBLIC_KEY": "pub"}, []string{"--api.private-key-file=" + filepath.Join(dir, "nope")}, 1, "--api.private-key-file: no such file"},
		{"key file a FIFO", map[string]string{"DEBT_EXPORTER_PUBLIC_KEY": "pub"}, []string{"--api.private-key-file=" + mkfifo(t, dir)}, 1, "is a named pipe"},
		{"bad web config", withKeys, []string{"--web.config.file=" + badWeb}, 1, "--web.config.file " + badWeb + ": "},
		{"private key as a flag is refused", map[string]string{"DEBT_EXPORTER_PUBLIC_KEY": "pub"}, []string{"--api.private-key=startup-secret"}, 2, "unknown long flag '--api.private-key'"},
		{"unknown log level", withKeys, []string{"--log.level=loud"}, 2, "--log.level takes debug, info, warn or error"},
		{"unknown log format", withKeys, []string{"--log.format=xml"}, 2, "--log.format takes logfmt or json"},
		{"bad endpoint", withKeys, []string{"--api.endpoint=ftp://x/"}, 1, `--api.endpoint "ftp://x/" is not an http or https URL with a host`},
		{"bad endpoint from the environment", map[string]string{"DEBT_EXPORTER_PUBLIC_KEY": "pub", "DEBT_EXPORTER_PRIVATE_KEY": "startup-secret", "DEBT_EXPORTER_API_ENDPOINT": "x"}, nil, 1, "DEBT_EXPORTER_API_ENDPOINT is not an http or https URL"},
		{"flag wins over the environment", map[string]string{"DEBT_EXPORTER_PUBLIC_KEY": "pub", "DEBT_EXPORTER_PRIVATE_KEY": "startup-secret", "DEBT_EXPORTER_API_ENDPOINT": "https://ok/"}, []string{"--api.endpoint=x"}, 1, "--api.endpoint is not an http or https URL"},
		{"listen address not host:port", withKeys, []string{"--web.listen-address=foo"}, 1, "--web.listen-address is not host:port"},
		{"port in use", withKeys, []string{"--web.listen-address=" + busy.Addr().String()}, 1, "--web.listen-address " + busy.Addr().String() + ": address already in use"},
		{"second address in use", withKeys, []string{"--web.listen-address=127.0.0.1:0", "--web.listen-address=" + busy.Addr().String()}, 1, "address already in use"},
		{"demo orders past int32", nil, []string{"--demo", "--demo.orders=3000000000"}, 1, "--demo.orders 3000000000 is outside 1 to 1000000"},
		{"blank public key", map[string]string{"DEBT_EXPORTER_PUBLIC_KEY": " ", "DEBT_EXPORTER_PRIVATE_KEY": "startup-secret"}, nil, 1, "DEBT_EXPORTER_PUBLIC_KEY is blank"},
		{"empty filter", withKeys, []string{"--filter.model="}, 1, "--filter.model has an empty value"},
		{"telemetry path of another route", withKeys, []string{"--web.telemetry-path=/probe"}, 1, "--web.telemetry-path /probe is the exporter's own /probe route"},
		{"telemetry path no pattern", withKeys, []string{"--web.telemetry-path=/m{"}, 1, "--web.telemetry-path must be a path such as /metrics"},
		{"accounts file missing", nil, []string{"--config.file=" + filepath.Join(dir, "none.yml")}, 1, "--config.file: no such file"},
		{"accounts file unreadable", nil, []string{"--config.file=" + dir}, 1, "accounts file " + dir + ": is a directory"},
		{"accounts file a FIFO", nil, []string{"--config.file=" + mkfifo(t, t.TempDir())}, 1, "is not a regular file"},
		{"the flag account's key in the accounts file", withKeys, []string{"--config.file=" + writeTemp(t, dir, "named.yml",
			"accounts:\n  - name: startup-secret/prod\n    public_key: pub\n    private_key_env: PROD_KEY\n")}, 1, "[private key, not shown]"},
		{"the flag account's key as an account's name", withKeys, []string{"--config.file=" + writeTemp(t, dir, "keyname.yml",
			"accounts:\n  - name: startup-secret\n    public_key: pub\n    private_key_env: PROD_KEY\n")}, 1, `account "[private key, not shown]": name: holds a private key`},
		{"key pasted as the accounts file's key file", nil, []string{"--config.file=" + writeTemp(t, dir, "pasted.yml",
			"accounts:\n  - name: prod\n    public_key: pub\n    private_key_file: startup-secret\n")}, 1, "private_key_file: cannot read the key file"},
		{"key value in the accounts file", nil, []string{"--config.file=" + writeTemp(t, dir, "keyed.yml",
			"accounts:\n  - name: prod\n    public_key: pub\n    private_key: startup-secret\n")}, 1, "private_key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runNow(t, tt.env, append([]string{"--web.listen-address=127.0.0.1:0"}, tt.args...)...)
			out := requireOneLine(t, r)
			assert.Equal(t, tt.code, r.code, out)
			assert.Contains(t, out, tt.want)
			assert.NotContains(t, out, "startup-secret")
			assert.NotContains(t, out, "starting", "the error is the only line")
		})
	}
}

func writeTemp(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

// TestSIGTERMEndsASweepInFlight: once a sweep of many seconds is under
// way, SIGTERM stops the calls to the API, answers the scrape in flight
// with debt_up 0, and the process exits within a couple of seconds.
func TestSIGTERMEndsASweepInFlight(t *testing.T) {
	srv := simapi.New(simapi.Config{Seed: 7, Orders: 3000, PublicKey: "e2e-public", PrivateKey: e2ePrivateKey})
	defer srv.Close()
	srv.SetLatency(time.Second) // a sweep of 10 s or more
	e := exportertest.Start(t, []string{"DEBT_EXPORTER_PRIVATE_KEY=" + e2ePrivateKey, "DEBT_EXPORTER_PUBLIC_KEY=e2e-public"},
		"--api.endpoint="+srv.URL, "--api.concurrency=1")
	answered := make(chan string, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, e.URL+"/metrics", nil)
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "60")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			answered <- "error: " + err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		answered <- string(b)
	}()
	// A sweep is in flight once its first request reached the API (which
	// holds it a second), however slowly the scrape got there.
	require.Eventually(t, func() bool { return srv.Requests() > 0 }, 10*time.Second, 5*time.Millisecond)
	signalled := time.Now()
	require.NoError(t, e.Cmd.Process.Signal(syscall.SIGTERM))
	select {
	case body := <-answered:
		assert.Contains(t, body, "\ndebt_up 0\n", "the scrape in flight is answered")
	case <-time.After(5 * time.Second):
		t.Fatal("the scrape in flight was not answered")
	}
	select {
	case <-e.Exited:
		assert.Less(t, time.Since(signalled), 3*time.Second)
	case <-time.After(5 * time.Second):
		t.Fatal("still running 5 s after SIGTERM")
	}
	requests := srv.Requests()
	time.Sleep(1500 * time.Millisecond)
	assert.Equal(t, requests, srv.Requests(), "no API call after the exit")
}

func mkfifo(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(p, 0o600))
	return p
}

// TestWebConfigErrors: each kind of broken web configuration is one line
// that names the file.
func TestWebConfigErrors(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := writeTLSFiles(t, dir)
	badPEM := filepath.Join(dir, "bad.pem")
	require.NoError(t, os.WriteFile(badPEM, []byte("not PEM\n"), 0o600))
	tls := func(extra string) string {
		return fmt.Sprintf("tls_server_config:\n  cert_file: %s\n  key_file: %s\n%s", certFile, keyFile, extra)
	}
	tests := []struct{ name, content, want string }{
		{"bad YAML", "tls_server_config: [\n", "yaml"},
		{"unknown key", "tls_server_config:\n  cert_file: x\n  colour: red\nmystery: 1\n", "field"},
		{"plaintext password", "basic_auth_users:\n  prometheus: plain-password\n", "not a bcrypt hash"},
		{"bad PEM", fmt.Sprintf("tls_server_config:\n  cert_file: %s\n  key_file: %s\n", badPEM, keyFile), "PEM"},
		{"unknown TLS version", tls("  min_version: TLS99\n"), "TLS99"},
		{"missing certificate", "tls_server_config:\n  cert_file: /nonexistent.pem\n  key_file: /nonexistent.key\n", "/nonexistent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".yml")
			require.NoError(t, os.WriteFile(path, []byte(tt.content), 0o600))
			r := runNow(t, nil, "--demo", "--web.listen-address=127.0.0.1:0", "--web.config.file="+path)
			out := requireOneLine(t, r)
			assert.Equal(t, 1, r.code)
			assert.Contains(t, out, "--web.config.file "+path+": ")
			assert.Contains(t, out, tt.want)
		})
	}
	r := runNow(t, nil, "--demo", "--web.config.file="+filepath.Join(dir, "missing.yml"))
	assert.Contains(t, requireOneLine(t, r), "--web.config.file: no such file")
}

var ignoredInDemo = regexp.MustCompile(`^--(api\.(private-key-file|public-key|endpoint|project-id)|filter\.(resource-id|model|region|pricing-sku))=`)

// TestPrivateKeyNeverShown puts the private key where it does not belong,
// in every flag and variable, with and without the key configured where it
// does: no output ever holds it.
func TestPrivateKeyNeverShown(t *testing.T) {
	const key = "46f09bb9fab4f12dfc160dae12273d5332b5debe"
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	require.NoError(t, os.WriteFile(keyFile, []byte(key+"\n"), 0o600))
	var flags []string
	for _, f := range []string{"api.private-key-file", "api.public-key", "api.endpoint", "api.project-id", "web.config.file",
		"web.listen-address", "web.telemetry-path", "window", "metrics.age-buckets", "api.timeout", "api.page-size",
		"api.rate-limit", "demo.orders", "log.level", "log.format", "filter.resource-id", "filter.model", "filter.pricing-unit",
		"filter.order-type", "filter.region", "filter.pricing-sku", "filter.product-code", "config.file"} {
		flags = append(flags, "--"+f+"="+key)
	}
	flags = append(flags, key, "--demo="+key, "--"+key)
	envs := []string{"DEBT_EXPORTER_PUBLIC_KEY", "DEBT_EXPORTER_API_ENDPOINT", "DEBT_EXPORTER_PROJECT_ID"}
	setups := map[string]struct {
		env  map[string]string
		args []string
	}{
		"nothing else":         {map[string]string{}, nil},
		"key in its file":      {map[string]string{"DEBT_EXPORTER_PUBLIC_KEY": "pub"}, []string{"--api.private-key-file=" + keyFile}},
		"key in its variable":  {map[string]string{"DEBT_EXPORTER_PUBLIC_KEY": "pub", privateKeyEnv: key}, nil},
		"demo mode":            {map[string]string{}, []string{"--demo"}},
		"demo mode with a key": {map[string]string{privateKeyEnv: key}, []string{"--demo"}},
	}
	for setupName, setup := range setups {
		check := func(t *testing.T, env map[string]string, args []string) {
			r := runNow(t, env, append(append([]string{"--web.listen-address=127.0.0.1:0"}, setup.args...), args...)...)
			out := requireOneLine(t, r)
			assert.NotContains(t, out, key)
			assert.NotContains(t, out, key[:16], "not even part of it")
		}
		for _, flag := range flags {
			if setupName == "key in its file" && strings.HasPrefix(flag, "--api.private-key-file=") {
				continue
			}
			if strings.HasPrefix(setupName, "demo") && ignoredInDemo.MatchString(flag) {
				continue // the demo does not read them, and starts
			}
			t.Run(setupName+"/"+flag[:min(len(flag), 30)], func(t *testing.T) { check(t, setup.env, []string{flag}) })
		}
		for _, v := range envs {
			if strings.HasPrefix(setupName, "demo") {
				break // the demo does not read them
			}
			t.Run(setupName+"/"+v, func(t *testing.T) {
				env := map[string]string{}
				for k, val := range setup.env {
					env[k] = val
				}
				env[v] = key
				check(t, env, nil)
			})
		}
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

// TestOneLogFormat: the go-kit logger, the slog view given to
// exporter-toolkit and the standard logger given to net/http write the same
// keys in the same order, in both formats; promhttp's error log (Println's
// arguments as one []any value) is text, not "unsupported value type".
func TestOneLogFormat(t *testing.T) {
	for _, format := range []string{"logfmt", "json"} {
		var buf bytes.Buffer
		l := newLogger(&buf, "debug", format)
		level.Info(l.kit).Log("msg", "kit", "n", 1)
		l.slog.Info("slog", "n", 1)
		l.slog.With("a", "b").WithGroup("g").Debug("grouped", "n", 1)
		l.std.Printf("http: TLS handshake error from %s: %v", "127.0.0.1:1", "EOF")
		level.Error(l.kit).Log("msg", "serving metrics", "err", []any{"error encoding and sending metric family:", errors.New("write: broken pipe")})
		lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
		require.Len(t, lines, 5, format)
		var got []map[string]any
		for _, line := range lines {
			m := map[string]any{}
			if format == "json" {
				require.NoError(t, json.Unmarshal([]byte(line), &m), line)
			} else {
				d := logfmt.NewDecoder(strings.NewReader(line))
				require.True(t, d.ScanRecord())
				var keys []string
				for d.ScanKeyval() {
					keys = append(keys, string(d.Key()))
					m[string(d.Key())] = string(d.Value())
				}
				require.NoError(t, d.Err())
				assert.Equal(t, []string{"level", "ts", "caller", "msg"}, keys[:4], line)
			}
			assert.NotContains(t, m, "time", line)
			ts, _ := m["ts"].(string)
			_, err := time.Parse(time.RFC3339Nano, ts)
			assert.NoError(t, err, line)
			assert.NotEqual(t, "unknown", m["caller"], line)
			got = append(got, m)
		}
		assert.Equal(t, "info", got[1]["level"])
		assert.Equal(t, "b", got[2]["a"])
		assert.Contains(t, got[2], "g.n")
		assert.Equal(t, "error", got[3]["level"])
		assert.Equal(t, "http: TLS handshake error from 127.0.0.1:1: EOF", got[3]["msg"])
		assert.Equal(t, "error encoding and sending metric family: write: broken pipe", got[4]["err"], format)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// TestLandingPageProfiling: the landing page links /debug/pprof/ only when
// --web.enable-pprof serves it.
func TestLandingPageProfiling(t *testing.T) {
	e := exportertest.Start(t, nil, "--demo", "--demo.orders=100")
	code, body := get(t, e.URL+"/")
	assert.Equal(t, http.StatusOK, code)
	assert.NotContains(t, body, "debug/pprof")
	code, _ = get(t, e.URL+"/debug/pprof/heap")
	assert.Equal(t, http.StatusNotFound, code, "off by default")

	e = exportertest.Start(t, nil, "--demo", "--demo.orders=100", "--web.enable-pprof")
	_, body = get(t, e.URL+"/")
	assert.Contains(t, body, `href="/debug/pprof/heap"`)
	code, _ = get(t, e.URL+"/debug/pprof/heap")
	assert.Equal(t, http.StatusOK, code)
	code, body = get(t, e.URL+"/debug/pprof/")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "goroutine")
}

// TestUnstampedVersion: a build without make's ldflags says version "dev"
// and the VCS revision Go recorded, on the landing page, in build info and
// in --version, instead of empty values.
func TestUnstampedVersion(t *testing.T) {
	e := exportertest.Start(t, nil, "--demo", "--demo.orders=100")
	_, landing := get(t, e.URL+"/")
	assert.Contains(t, landing, "version=dev,")
	mfs := scrape(t, e)
	require.Len(t, gauge(mfs, "debt_exporter_build_info"), 1)
	labels := map[string]string{}
	for _, l := range gauge(mfs, "debt_exporter_build_info")[0].GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	assert.Equal(t, "dev", labels["version"])
	assert.NotEmpty(t, labels["revision"])
	// The revision Go recorded in the binary, if any (GOFLAGS=-buildvcs=false
	// or a build outside a checkout records none).
	want := "unknown"
	bi, err := buildinfo.ReadFile(exportertest.Binary(t))
	require.NoError(t, err)
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			want = s.Value
		}
	}
	assert.True(t, strings.HasPrefix(labels["revision"], want), "revision %q, want %q", labels["revision"], want)
	assert.Contains(t, landing, "revision="+want)
	out, err := exec.Command(exportertest.Binary(t), "--version").CombinedOutput()
	require.NoError(t, err)
	assert.Contains(t, string(out), "debt_exporter, version dev ")
}

// TestStartupErrorExitStatus: the process, not only run(), exits 1 with
// one line on stderr and nothing on stdout.
func TestStartupErrorExitStatus(t *testing.T) {
	cmd := exec.Command(exportertest.Binary(t), "--demo", "--demo.orders=0", "--web.listen-address="+exportertest.FreeAddr(t))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, 1, exit.ExitCode())
	assert.Empty(t, stdout.String())
	assert.Equal(t, 1, strings.Count(stderr.String(), "\n"), stderr.String())
	assert.Contains(t, stderr.String(), "--demo.orders 0 is outside 1 to 1000000")

	cmd = exec.Command(exportertest.Binary(t), "--api.timeout=forever")
	out, err := cmd.CombinedOutput()
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, 2, exit.ExitCode())
	assert.Equal(t, "debt_exporter: error: --api.timeout: not a duration such as 10s, 1m30s or 2h (the value is not shown: it may be a key)\n", string(out))
}

// TestTelemetryPath: a path of URL punctuation is served as given, and
// the exporter's own routes stay theirs.
func TestTelemetryPath(t *testing.T) {
	e := exportertest.Start(t, nil, "--demo", "--demo.orders=100", "--web.telemetry-path=/debt;v=1/metrics:all")
	code, body := get(t, e.URL+"/debt;v=1/metrics:all")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "\ndebt_up 1\n")
	code, _ = get(t, e.URL+"/probe")
	assert.Equal(t, http.StatusBadRequest, code, "no account: the probe answers")
}
