package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logfmt/logfmt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/debt-exporter/debt_exporter/internal/exportertest"
	"github.com/debt-exporter/debt_exporter/internal/simapi"
)

// logLine is one parsed line: its keys in the order written, and values.
type logLine struct {
	keys   []string
	values map[string]string
}

func parseLogfmt(t *testing.T, line string) logLine {
	t.Helper()
	l := logLine{values: map[string]string{}}
	d := logfmt.NewDecoder(strings.NewReader(line))
	require.True(t, d.ScanRecord(), "%q", line)
	for d.ScanKeyval() {
		l.keys = append(l.keys, string(d.Key()))
		l.values[string(d.Key())] = string(d.Value())
	}
	require.NoError(t, d.Err(), "not logfmt: %q", line)
	require.False(t, d.ScanRecord(), "one record a line: %q", line)
	return l
}

func parseJSON(t *testing.T, line string) logLine {
	t.Helper()
	l := logLine{values: map[string]string{}}
	d := json.NewDecoder(strings.NewReader(line))
	d.UseNumber()
	tok, err := d.Token()
	require.NoError(t, err, "not JSON: %q", line)
	require.Equal(t, json.Delim('{'), tok, "%q", line)
	for d.More() {
		k, err := d.Token()
		require.NoError(t, err, "%q", line)
		var v any
		require.NoError(t, d.Decode(&v), "%q", line)
		s, ok := v.(string)
		if !ok {
			b, _ := json.Marshal(v)
			s = string(b)
		}
		l.keys = append(l.keys, k.(string))
		l.values[k.(string)] = s
	}
	_, err = d.Token()
	require.NoError(t, err)
	_, err = d.Token()
	require.Error(t, err, "one object a line: %q", line)
	return l
}

// TestLogFormat runs the exporter in each --log.format and parses every
// line it writes, from every source: its own (go-kit), exporter-toolkit's
// (slog), net/http's server errors (a bad TLS client hello), the
// collector's (a scrape abandoned by its client). Each line is one record
// with the same first keys, level, ts, caller and msg, in that order for
// logfmt (go-kit's JSON sorts keys), and no other timestamp key.
func TestLogFormat(t *testing.T) {
	dir := t.TempDir()
	certPEM := writeSelfSignedCert(t, dir)
	webConfig := filepath.Join(dir, "web.yml")
	require.NoError(t, os.WriteFile(webConfig, []byte("tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n"), 0o600))
	pool := x509Pool(t, certPEM)

	for _, format := range []string{"logfmt", "json"} {
		t.Run(format, func(t *testing.T) {
			// The simulated API holds every request until the short scrape
			// below has ended, so that the sweep outlasts it however fast
			// this machine is.
			gate := make(chan struct{})
			var once sync.Once
			open := func() { once.Do(func() { close(gate) }) }
			sim := simapi.NewHandler(simapi.Config{Seed: 3, Orders: 3000, Now: time.Now()})
			api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-gate:
				case <-r.Context().Done():
					return
				}
				sim.Handler().ServeHTTP(w, r)
			}))
			defer api.Close()
			defer open() // before Close, which waits for the held requests
			e := exportertest.Start(t, []string{"DEBT_EXPORTER_PRIVATE_KEY=" + simapi.DemoPrivateKey},
				"--api.endpoint="+api.URL, "--api.public-key="+simapi.DemoPublicKey, "--log.level=debug",
				"--log.format="+format, "--web.config.file="+webConfig)
			waitLog := func(what string) {
				t.Helper()
				// The log reaches us through a pipe: wait for it.
				assert.Eventually(t, func() bool { return strings.Contains(e.Log.String(), what) }, 10*time.Second, 10*time.Millisecond,
					"no %q in the log", what)
			}
			waitLog("TLS is enabled")

			// net/http: a client hello that is not one.
			c, err := net.Dial("tcp", e.Addr)
			require.NoError(t, err)
			_, err = c.Write(bytes.Repeat([]byte{0x01}, 64))
			require.NoError(t, err)
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, _ = c.Read(make([]byte, 1))
			c.Close()
			waitLog("TLS handshake error")

			// The collector: a scrape whose own deadline (its scrape-timeout
			// header) passes while another, with a later one, keeps the
			// shared sweep going (held at the gate until then).
			transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
			get := func(timeout string) (string, error) {
				req, err := http.NewRequest(http.MethodGet, "https://"+e.Addr+"/metrics", nil)
				if err != nil {
					return "", err
				}
				req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", timeout)
				resp, err := (&http.Client{Transport: transport}).Do(req)
				if err != nil {
					return "", err
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				return string(b), err
			}
			long := make(chan error, 1)
			go func() { _, err := get("60"); long <- err }()
			time.Sleep(300 * time.Millisecond)
			// Past 5 s the gate opens anyway: a short scrape that waited for
			// the sweep then fails the test rather than hang it.
			defer time.AfterFunc(5*time.Second, open).Stop()
			body, err := get("1")
			open()
			require.NoError(t, err)
			assert.Contains(t, body, "\ndebt_up 0\n", "the short scrape ends by its own deadline")
			require.NoError(t, <-long)
			waitLog("scrape abandoned")
			waitLog("sweep complete")

			lines := strings.Split(strings.TrimSuffix(e.Log.String(), "\n"), "\n")
			require.Greater(t, len(lines), 5)
			for _, line := range lines {
				var l logLine
				if format == "json" {
					l = parseJSON(t, line)
				} else {
					l = parseLogfmt(t, line)
					require.GreaterOrEqual(t, len(l.keys), 4, "%q", line)
					assert.Equal(t, []string{"level", "ts", "caller", "msg"}, l.keys[:4], "%q", line)
				}
				for _, k := range []string{"level", "ts", "caller", "msg"} {
					assert.Contains(t, l.values, k, "%q", line)
				}
				assert.NotContains(t, l.values, "time", "one timestamp key: %q", line)
				_, err := time.Parse(time.RFC3339Nano, l.values["ts"])
				assert.NoError(t, err, "%q", line)
				assert.NotContains(t, line, "unsupported value type")
				assert.Contains(t, []string{"debug", "info", "warn", "error"}, l.values["level"], "%q", line)
			}
		})
	}
}

func x509Pool(t *testing.T, certPEM []byte) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(certPEM))
	return pool
}

// TestBidiControlsAreEscaped: text from the API holding Unicode bidi
// controls (U+202E reverses what follows it on screen) reaches neither a
// log line nor a label as such: the log writes them as \u202e (in an
// example order, in the server's Message), labels have U+FFFD, in both
// --log.format.
func TestBidiControlsAreEscaped(t *testing.T) {
	const rlo = "\u202e"
	for _, format := range []string{"logfmt", "json"} {
		t.Run(format, func(t *testing.T) {
			ct := time.Now().Add(-time.Hour).Unix()
			orders := fmt.Sprintf(`{"Region":"cn-%[1]s2jb","OrderNo":"UO-1","Currency":"CNY","ModelID":"m","ProductCode":"modelverse","OrderTotalPrice":"1.50","CreateTime":%[2]d},`+
				`{"Region":"cn-bj2","OrderNo":"UO-%[1]s2-OU","Currency":"CNY","ModelID":"m","ProductCode":"modelverse","OrderTotalPrice":"12abc","CreateTime":%[2]d}`, rlo, ct)
			var failing atomic.Bool
			api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if failing.Load() {
					fmt.Fprintf(w, `{"Action":"ListUnpaidOrdersResponse","RetCode":171,"Message":"key %sdilav%s not valid"}`, rlo, "\u202c")
					return
				}
				_ = r.ParseForm()
				start, _ := strconv.ParseInt(r.PostForm.Get("StartTime"), 10, 64)
				end, _ := strconv.ParseInt(r.PostForm.Get("EndTime"), 10, 64)
				page := ""
				if ct >= start && ct <= end {
					page = orders
				}
				fmt.Fprintf(w, `{"Action":"ListUnpaidOrdersResponse","RetCode":0,"Orders":[%s]}`, page)
			}))
			defer api.Close()
			e := exportertest.Start(t, []string{"DEBT_EXPORTER_PRIVATE_KEY=" + simapi.DemoPrivateKey},
				"--api.endpoint="+api.URL, "--api.public-key="+simapi.DemoPublicKey, "--log.format="+format)
			// The value of key in the first line that has it, decoded.
			value := func(key string) string {
				t.Helper()
				var v string
				assert.Eventually(t, func() bool {
					for _, line := range strings.Split(strings.TrimSuffix(e.Log.String(), "\n"), "\n") {
						l := parseLogfmt
						if format == "json" {
							l = parseJSON
						}
						if x, ok := l(t, line).values[key]; ok {
							v = x
							return true
						}
					}
					return false
				}, 10*time.Second, 10*time.Millisecond, "no %s in the log:\n%s", key, e.Log.String())
				return v
			}
			body, err := get(context.Background(), e.URL+"/metrics")
			require.NoError(t, err)
			assert.Contains(t, body, "\ndebt_up 1\n")
			assert.Contains(t, body, `region="cn-`+"\ufffd"+`2jb"`)
			assert.NotContains(t, body, rlo)
			assert.Equal(t, `UO-\u202e2-OU`, value("example_order"))

			failing.Store(true)
			body, err = get(context.Background(), e.URL+"/metrics")
			require.NoError(t, err)
			assert.Contains(t, body, "\ndebt_up 0\n")
			assert.Contains(t, value("err"), `key \u202edilav\u202c not valid`)
			assert.NotContains(t, e.Log.String(), rlo)
			assert.NotContains(t, e.Log.String(), "\u202c")
		})
	}
}
