// The shipped monitoring end to end: the exporter in demo mode, a real
// Prometheus loading the bundled rules, and a real Alertmanager delivering
// to a webhook written here.

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/debt-exporter/debt_exporter/internal/exportertest"
	"github.com/debt-exporter/debt_exporter/internal/monitoringtest"
)

// The whole test must finish well within this.
const budget = 75 * time.Second

// TestMonitoringEndToEnd checks that every dashboard query returns data from
// a Prometheus scraping the demo exporter, and that DebtUnpaidAmountHigh,
// with a test-only threshold, travels Prometheus → Alertmanager → webhook
// with the right labels and annotations.
func TestMonitoringEndToEnd(t *testing.T) {
	root := exportertest.RepoRoot(t)
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	promBin := exportertest.Tool(t, "prometheus")
	amBin := exportertest.Tool(t, "prometheus-alertmanager")

	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	tmp := t.TempDir()

	// The exporter, built from the repository root, in demo mode.
	exe := exportertest.Binary(t)

	exporterAddr := exportertest.FreeAddr(t)
	exporter := start(t, "debt_exporter", exe, "--demo", "--web.listen-address="+exporterAddr)
	waitForUp(ctx, t, exporter, "http://"+exporterAddr+"/metrics")

	// The webhook Alertmanager delivers to.
	hook := newWebhook(t)

	amAddr := exportertest.FreeAddr(t)
	amConfig := writeFile(t, tmp, "alertmanager.yml", fmt.Sprintf(`
route:
  receiver: webhook
  group_by: [alertname, currency]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: webhook
    webhook_configs:
      - url: %q
        send_resolved: false
`, hook.url))
	am := start(t, "alertmanager", amBin,
		"--config.file="+amConfig,
		"--storage.path="+filepath.Join(tmp, "alertmanager"),
		"--web.listen-address="+amAddr,
		"--cluster.listen-address=",
	)
	waitFor(ctx, t, "Alertmanager to be ready", []*proc{am}, func() error {
		_, err := get(ctx, "http://"+amAddr+"/-/ready")
		return err
	})

	// Prometheus with the bundled alerts and recording rules, and the
	// bundled thresholds except for test-only amount thresholds: 0 CNY, so
	// DebtUnpaidAmountHigh and DebtUnpaidAmountOld fire for CNY at once, and
	// unreachable USD ones, so that they must not fire for USD.
	alerts := filepath.Join(root, "alerts")
	perCurrency := map[string]string{"CNY": "vector(0)", "USD": "vector(1e15)"}
	thresholds := testThresholds(t, filepath.Join(alerts, "thresholds.yaml"), tmp, map[string]map[string]string{
		"debt:threshold_unpaid_amount":     perCurrency,
		"debt:threshold_unpaid_amount_old": perCurrency,
	})
	promAddr := exportertest.FreeAddr(t)
	promConfig := writeFile(t, tmp, "prometheus.yml", fmt.Sprintf(`
global:
  scrape_interval: 2s
  scrape_timeout: 2s
  evaluation_interval: 1s
rule_files:
  - %q
  - %q
  - %q
alerting:
  alertmanagers:
    - static_configs:
        - targets: [%q]
scrape_configs:
  - job_name: debt
    static_configs:
      - targets: [%q]
`, filepath.Join(alerts, "alerts.yaml"), filepath.Join(alerts, "rules.yaml"), thresholds, amAddr, exporterAddr))
	prom := start(t, "prometheus", promBin,
		"--config.file="+promConfig,
		"--storage.tsdb.path="+filepath.Join(tmp, "prometheus"),
		"--web.listen-address="+promAddr,
	)
	procs := []*proc{exporter, am, prom}
	promURL := "http://" + promAddr
	waitFor(ctx, t, "Prometheus to be ready", procs, func() error {
		_, err := get(ctx, promURL+"/-/ready")
		return err
	})
	// A few scrapes, so that rate() has samples to work with.
	waitFor(ctx, t, "Prometheus to scrape the exporter 3 times", procs, func() error {
		res, err := query(ctx, promURL, `count_over_time(debt_up{job="debt"}[1m]) >= 3`)
		if err == nil && len(res) == 0 {
			err = fmt.Errorf("fewer than 3 scrapes")
		}
		return err
	})

	t.Run("dashboard queries return data", func(t *testing.T) {
		dashboards, err := monitoringtest.LoadDashboards(filepath.Join(root, "dashboards"))
		require.NoError(t, err)
		vals := monitoringtest.DefaultValues("debt")
		n := 0
		for _, d := range dashboards {
			for _, q := range d.Queries() {
				expr, err := monitoringtest.Substitute(q.Expr, vals)
				require.NoError(t, err, "%s", q)
				// Polled briefly: a sweep that misses its deadline on a slow
				// machine leaves a gap, which the next scrape closes.
				qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				assert.NoError(t, poll(qctx, q.String()+" to return data", procs, func() error {
					res, err := query(ctx, promURL, expr)
					if err == nil && len(res) == 0 {
						err = fmt.Errorf("no data for %s", expr)
					}
					return err
				}))
				cancel()
				n++
			}
			vqs, err := d.VariableQueries()
			require.NoError(t, err)
			for _, vq := range vqs {
				sel, err := monitoringtest.Substitute(vq.Selector, vals)
				require.NoError(t, err)
				qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				assert.NoError(t, poll(qctx, d.File+" variable "+vq.Name+" to have values", procs, func() error {
					values, err := labelValues(ctx, promURL, vq.Label, sel)
					if err == nil && len(values) == 0 {
						err = fmt.Errorf("label_values(%s, %s) is empty", sel, vq.Label)
					}
					return err
				}))
				cancel()
				n++
			}
		}
		assert.Greater(t, n, 20, "too few queries found in the dashboards")
	})

	t.Run("DebtUnpaidAmountHigh reaches the webhook", func(t *testing.T) {
		requireAlertAtWebhook(ctx, t, hook, procs, filepath.Join(alerts, "alerts.yaml"), "DebtUnpaidAmountHigh", exporterAddr,
			"above the threshold of 0.00 CNY.")

		// Per currency: the unreachable USD threshold keeps USD silent, and
		// both currencies of the demo have thresholds.
		res, err := query(ctx, promURL, `ALERTS{alertname="DebtUnpaidAmountHigh"}`)
		require.NoError(t, err)
		require.Len(t, res, 1, "DebtUnpaidAmountHigh must fire for CNY only: %v", res)
		assert.Equal(t, "CNY", res[0].Metric["currency"])
		res, err = query(ctx, promURL, `ALERTS{alertname="DebtThresholdMissing"}`)
		require.NoError(t, err)
		assert.Empty(t, res, "a demo currency has no threshold")
		for _, a := range hook.alerts() {
			if a.Labels["alertname"] == "DebtUnpaidAmountHigh" {
				assert.Equal(t, "CNY", a.Labels["currency"], "DebtUnpaidAmountHigh delivered for another currency")
			}
		}
	})

	// The demo's debt is flat, so the forecast cannot cross a threshold the
	// total is under (the promtool tests cover the firing case): here it is
	// evaluated without error on the real series, forecasts every demo
	// currency, and stays silent, for CNY because the total is already over
	// its 0 threshold (DebtUnpaidAmountHigh's turn), for USD because the
	// forecast is far under its threshold.
	t.Run("DebtUnpaidAmountForecastHigh is evaluated and silent", func(t *testing.T) {
		want := alertRule(t, filepath.Join(alerts, "alerts.yaml"), "DebtUnpaidAmountForecastHigh")
		forecast, _, ok := strings.Cut(want.Expr, "\n>")
		require.True(t, ok, "the alert's expression starts with the forecast: %s", want.Expr)
		waitFor(ctx, t, "a forecast for CNY and USD", procs, func() error {
			res, err := query(ctx, promURL, forecast)
			if err == nil && len(res) < 2 {
				err = fmt.Errorf("forecasts: %v", res)
			}
			return err
		})
		body, err := get(ctx, promURL+"/api/v1/rules")
		require.NoError(t, err)
		var rules struct {
			Data struct {
				Groups []struct {
					Rules []struct {
						Name      string `json:"name"`
						Health    string `json:"health"`
						LastError string `json:"lastError"`
						State     string `json:"state"`
					} `json:"rules"`
				} `json:"groups"`
			} `json:"data"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &rules))
		seen := map[string]bool{}
		for _, g := range rules.Data.Groups {
			for _, r := range g.Rules {
				seen[r.Name] = true
				assert.Equal(t, "ok", r.Health, "%s: %s", r.Name, r.LastError)
				if r.Name == "DebtUnpaidAmountForecastHigh" {
					assert.Equal(t, "inactive", r.State)
				}
			}
		}
		for _, name := range []string{"DebtUnpaidAmountForecastHigh", "DebtUnpaidAmountOld", "job_instance_currency:debt_unpaid_amount:deriv"} {
			assert.True(t, seen[name], "Prometheus did not load %s", name)
		}
		res, err := query(ctx, promURL, `ALERTS{alertname="DebtUnpaidAmountForecastHigh"}`)
		require.NoError(t, err)
		assert.Empty(t, res)
	})

	// Needs debt_unpaid_amount_by_age from the exporter: the demo's orders
	// span the window, so CNY has debt older than 7 days.
	t.Run("DebtUnpaidAmountOld reaches the webhook", func(t *testing.T) {
		requireAlertAtWebhook(ctx, t, hook, procs, filepath.Join(alerts, "alerts.yaml"), "DebtUnpaidAmountOld", exporterAddr,
			"unpaid for 7 days or more, above the threshold of 0.00 CNY.")
		res, err := query(ctx, promURL, `ALERTS{alertname="DebtUnpaidAmountOld"}`)
		require.NoError(t, err)
		require.Len(t, res, 1, "DebtUnpaidAmountOld must fire for CNY only: %v", res)
		assert.Equal(t, "CNY", res[0].Metric["currency"])
	})
}

// testThresholds writes a copy of the bundled thresholds file in dir with
// the expression of each given record and currency replaced, and returns
// its path.
func testThresholds(t *testing.T, bundled, dir string, amounts map[string]map[string]string) string {
	t.Helper()
	b, err := os.ReadFile(bundled)
	require.NoError(t, err)
	var f struct {
		Groups []struct {
			Name  string           `yaml:"name"`
			Rules []map[string]any `yaml:"rules"`
		} `yaml:"groups"`
	}
	require.NoError(t, yaml.Unmarshal(b, &f))
	want, replaced := 0, 0
	for _, m := range amounts {
		want += len(m)
	}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			labels, _ := r["labels"].(map[string]any)
			cur, _ := labels["currency"].(string)
			record, _ := r["record"].(string)
			if expr, ok := amounts[record][cur]; ok {
				r["expr"] = expr
				replaced++
			}
		}
	}
	require.Equal(t, want, replaced, "bundled thresholds.yaml lacks one of %v", amounts)
	out, err := yaml.Marshal(f)
	require.NoError(t, err)
	return writeFile(t, dir, "thresholds.yaml", string(out))
}

func alertRule(t *testing.T, path, name string) rule {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var f struct {
		Groups []struct {
			Rules []rule `yaml:"rules"`
		} `yaml:"groups"`
	}
	require.NoError(t, yaml.Unmarshal(b, &f))
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert == name {
				return r
			}
		}
	}
	t.Fatalf("%s has no alert %s", path, name)
	return rule{}
}

// proc is a process started for the test, killed when it ends.
type proc struct {
	name string
	out  *exportertest.SyncBuffer
	done chan struct{}
	err  error
}

func start(t *testing.T, name, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, out: &exportertest.SyncBuffer{}, done: make(chan struct{})}
	cmd := exec.Command(bin, args...)
	cmd.Stdout = p.out
	cmd.Stderr = p.out
	require.NoError(t, cmd.Start(), "starting %s", name)
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			t.Errorf("%s (pid %d) did not exit after kill", name, cmd.Process.Pid)
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.out.String())
		}
	})
	return p
}

// waitFor polls check until it succeeds, failing the test if the context
// ends first or one of the processes exits.
func waitFor(ctx context.Context, t *testing.T, what string, procs []*proc, check func() error) {
	t.Helper()
	if err := poll(ctx, what, procs, check); err != nil {
		t.Fatal(err)
	}
}

// poll calls check every 200ms until it succeeds, and returns an error if
// the context ends first or one of the processes exits.
func poll(ctx context.Context, what string, procs []*proc, check func() error) error {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		err := check()
		if err == nil {
			return nil
		}
		for _, p := range procs {
			select {
			case <-p.done:
				return fmt.Errorf("waiting for %s: %s exited (%v):\n%s", what, p.name, p.err, p.out.String())
			default:
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out waiting for %s: %v", what, err)
		case <-tick.C:
		}
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	return path
}

var client = &http.Client{Timeout: 5 * time.Second}

func get(ctx context.Context, u string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s: %s", u, resp.Status, b)
	}
	return string(b), nil
}

type sample struct {
	Metric map[string]string `json:"metric"`
	Value  []any             `json:"value"`
}

// query runs an instant query and returns its vector or scalar result; a
// scalar comes back as one sample without labels.
func query(ctx context.Context, promURL, expr string) ([]sample, error) {
	body, err := get(ctx, promURL+"/api/v1/query?"+url.Values{"query": {expr}}.Encode())
	if err != nil {
		return nil, err
	}
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		return nil, err
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("query %q: %s", expr, r.Error)
	}
	switch r.Data.ResultType {
	case "vector":
		var v []sample
		err := json.Unmarshal(r.Data.Result, &v)
		return v, err
	case "scalar":
		var v []any
		err := json.Unmarshal(r.Data.Result, &v)
		return []sample{{Value: v}}, err
	}
	return nil, fmt.Errorf("query %q: unexpected result type %s", expr, r.Data.ResultType)
}

func labelValues(ctx context.Context, promURL, label, selector string) ([]string, error) {
	body, err := get(ctx, promURL+"/api/v1/label/"+label+"/values?"+url.Values{"match[]": {selector}}.Encode())
	if err != nil {
		return nil, err
	}
	var r struct {
		Status string   `json:"status"`
		Data   []string `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		return nil, err
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("label values %s for %s: %s", label, selector, body)
	}
	return r.Data, nil
}

type webhookAlert struct {
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

// webhook records the alerts Alertmanager posts to it.
type webhook struct {
	url      string
	mu       sync.Mutex
	received []webhookAlert
}

func newWebhook(t *testing.T) *webhook {
	t.Helper()
	h := &webhook{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var msg struct {
			Version string         `json:"version"`
			Alerts  []webhookAlert `json:"alerts"`
		}
		if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			t.Errorf("webhook: undecodable notification: %v", err)
			return
		}
		h.mu.Lock()
		h.received = append(h.received, msg.Alerts...)
		h.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	h.url = srv.URL
	return h
}

func (h *webhook) alerts() []webhookAlert {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]webhookAlert(nil), h.received...)
}

// requireAlertAtWebhook waits for alert name at the webhook, firing for CNY
// on the demo exporter, with the rule's severity, summary and runbook, and a
// rendered description that contains want.
func requireAlertAtWebhook(ctx context.Context, t *testing.T, hook *webhook, procs []*proc, alertsFile, name, exporterAddr, want string) {
	t.Helper()
	rule := alertRule(t, alertsFile, name)
	var got webhookAlert
	waitFor(ctx, t, name+" at the webhook", procs, func() error {
		for _, a := range hook.alerts() {
			if a.Labels["alertname"] == name {
				got = a
				return nil
			}
		}
		return fmt.Errorf("not received; webhook has %d alerts", len(hook.alerts()))
	})
	assert.Equal(t, "firing", got.Status)
	assert.Equal(t, map[string]string{
		"alertname": name,
		"currency":  "CNY",
		"job":       "debt",
		"instance":  exporterAddr,
		"severity":  rule.Labels["severity"],
	}, got.Labels)
	assert.Equal(t, rule.Annotations["summary"], got.Annotations["summary"])
	assert.Equal(t, rule.Annotations["runbook_url"], got.Annotations["runbook_url"])
	assert.Contains(t, got.Annotations["description"], exporterAddr+" (job debt) reports ")
	assert.Contains(t, got.Annotations["description"], want)
	assert.NotContains(t, got.Annotations["description"], "{{")
}

// waitForUp waits until url, the exporter's /metrics or a probe, reports a
// complete sweep.
func waitForUp(ctx context.Context, t *testing.T, exporter *proc, url string) {
	t.Helper()
	waitFor(ctx, t, "a complete sweep at "+url, []*proc{exporter}, func() error {
		body, err := get(ctx, url)
		if err != nil {
			return err
		}
		if !strings.Contains(body, "\ndebt_up 1\n") {
			return fmt.Errorf("no debt_up 1 at %s yet", url)
		}
		return nil
	})
}
