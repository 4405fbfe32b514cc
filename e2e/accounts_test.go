package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/debt-exporter/debt_exporter/internal/exportertest"
	"github.com/debt-exporter/debt_exporter/internal/monitoringtest"
	"github.com/debt-exporter/debt_exporter/internal/simapi"
)

// TestExampleAccountsConfig: promtool accepts examples/prometheus-accounts.yml
// (with the bundled rules), and examples/accounts.yml names no key value.
func TestExampleAccountsConfig(t *testing.T) {
	out := runTool(t, filepath.Join(exportertest.RepoRoot(t), "examples"), "promtool", "check", "config", "prometheus-accounts.yml")
	assert.Contains(t, out, "SUCCESS")
	accounts := readRepoFile(t, "examples/accounts.yml")
	assert.NotContains(t, accounts, "private_key:")
	assert.Contains(t, accounts, "private_key_file:")
}

// TestAccountsThroughPrometheus: a real Prometheus scrapes two accounts of
// one exporter through /probe, with the relabeling of
// examples/prometheus-accounts.yml; each account's series carry its
// account label and its own exact figures, and the bundled rules evaluate
// per account; a target the accounts file lacks ("gone", as after a rename)
// is DebtAccountProbeFailing, not the exporter down.
func TestAccountsThroughPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	promBin := exportertest.Tool(t, "prometheus")
	root := exportertest.RepoRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tmp := t.TempDir()

	// Two accounts on two simulated APIs with different keys and data.
	apis := map[string]*simapi.Server{}
	var file strings.Builder
	file.WriteString("accounts:\n")
	for i, name := range []string{"prod", "research"} {
		key := fmt.Sprintf("e2e-private-key-%s-0123456789", name)
		// A span well inside the 30-day window: no order at its edge.
		srv := simapi.New(simapi.Config{Seed: int64(i + 1), Orders: 3000 * (i + 1), PrivateKey: key, Span: 29 * 24 * time.Hour,
			PublicKey: "pub-" + name, InvalidAmountEvery: 500})
		t.Cleanup(srv.Close)
		apis[name] = srv
		keyFile := writeFile(t, tmp, name+".key", key+"\n")
		require.NoError(t, os.Chmod(keyFile, 0o600))
		fmt.Fprintf(&file, "  - name: %s\n    public_key: pub-%s\n    private_key_file: %s\n    endpoint: %s/\n",
			name, name, keyFile, srv.URL)
	}
	accountsFile := writeFile(t, tmp, "accounts.yml", file.String())

	exe := exportertest.Binary(t)
	exporterAddr := exportertest.FreeAddr(t)
	exporter := start(t, "debt_exporter", exe, "--config.file="+accountsFile, "--web.listen-address="+exporterAddr)
	waitForUp(ctx, t, exporter, "http://"+exporterAddr+"/probe?account=prod")

	// The documented scrape job, pointed at this exporter, scraping fast.
	var example struct {
		ScrapeConfigs []map[string]any `yaml:"scrape_configs"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(readRepoFile(t, "examples/prometheus-accounts.yml")), &example))
	var job map[string]any
	for _, sc := range example.ScrapeConfigs {
		if sc["job_name"] == "debt-accounts" {
			job = sc
		}
	}
	require.NotNil(t, job, "examples/prometheus-accounts.yml has no debt-accounts job")
	relabel, err := yaml.Marshal(job["relabel_configs"])
	require.NoError(t, err)
	relabelText := strings.ReplaceAll(string(relabel), "debt-exporter:9846", exporterAddr)
	promAddr := exportertest.FreeAddr(t)
	promConfig := writeFile(t, tmp, "prometheus.yml", fmt.Sprintf(`
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - %q
scrape_configs:
  - job_name: debt
    static_configs:
      - targets: [%q]
  - job_name: debt-accounts
    metrics_path: /probe
    static_configs:
      - targets: [prod, research, gone]
    relabel_configs:
%s`, filepath.Join(root, "alerts", "*.yaml"), exporterAddr, indent(relabelText, "      ")))
	prom := start(t, "prometheus", promBin, "--config.file="+promConfig, "--storage.tsdb.path="+filepath.Join(tmp, "data"),
		"--web.listen-address="+promAddr)
	promURL := "http://" + promAddr
	procs := []*proc{exporter, prom}

	for name, srv := range apis {
		want := srv.Truth(srv.Query())
		var orders int
		for _, s := range want.Series {
			orders += s.Orders
		}
		waitFor(ctx, t, "Prometheus to have "+name+"'s exact order count", procs, func() error {
			res, err := query(ctx, promURL, fmt.Sprintf(`sum(debt_unpaid_orders{account=%q, job="debt-accounts"})`, name))
			if err != nil {
				return err
			}
			if len(res) != 1 || res[0].Value[1] != fmt.Sprint(orders) {
				return fmt.Errorf("%s: got %v, want %d orders", name, res, orders)
			}
			return nil
		})
	}
	// The bundled recording rule, per account (instance is the account).
	waitFor(ctx, t, "the bundled rules to evaluate per account", procs, func() error {
		res, err := query(ctx, promURL, `count by (instance) (job_instance_currency:debt_unpaid_amount:sum{job="debt-accounts"})`)
		if err != nil {
			return err
		}
		if len(res) != 2 {
			return fmt.Errorf("recorded series for %d accounts, want 2: %v", len(res), res)
		}
		return nil
	})
	// "gone" answers 400 on every scrape: the bundled alert for it is
	// pending (for: 10m), and nothing says the exporter is down.
	waitFor(ctx, t, "DebtAccountProbeFailing to be pending for gone alone", procs, func() error {
		res, err := query(ctx, promURL, `ALERTS{alertname=~"DebtAccountProbeFailing|DebtExporterDown"}`)
		if err != nil {
			return err
		}
		if len(res) != 1 || res[0].Metric["alertname"] != "DebtAccountProbeFailing" || res[0].Metric["instance"] != "gone" ||
			res[0].Metric["account"] != "gone" || res[0].Metric["job"] != "debt-accounts" || res[0].Metric["alertstate"] != "pending" {
			return fmt.Errorf("got %v, want DebtAccountProbeFailing pending for gone alone", res)
		}
		return nil
	})
	res, err := query(ctx, promURL, `up{job="debt-accounts", instance=~"prod|research"} == 1`)
	require.NoError(t, err)
	assert.Len(t, res, 2, "the accounts the file has are up: %v", res)

	// The health dashboard offers both jobs, the exporter's own (/metrics:
	// no debt_up without a flag account, but its build) and the accounts',
	// and every instance of them, and its build panel finds the exporter.
	health := healthDashboard(t)
	vqs, err := health.VariableQueries()
	require.NoError(t, err)
	var jobVar, instanceVar monitoringtest.VariableQuery
	for _, vq := range vqs {
		switch vq.Name {
		case "job":
			jobVar = vq
		case "instance":
			instanceVar = vq
		}
	}
	require.Equal(t, "job", jobVar.Label)
	require.Equal(t, "instance", instanceVar.Label)
	var jobs []string
	waitFor(ctx, t, "the health dashboard's job variable to offer both jobs", procs, func() error {
		jobs, err = labelValues(ctx, promURL, "job", jobVar.Selector)
		if err != nil {
			return err
		}
		if !slices.Equal(jobs, []string{"debt", "debt-accounts"}) {
			return fmt.Errorf("label_values(%s, job) = %v, want [debt debt-accounts]", jobVar.Selector, jobs)
		}
		return nil
	})
	// All jobs selected, as Grafana writes a multi-value variable without
	// a custom all value.
	vals := monitoringtest.DefaultValues("(" + strings.Join(jobs, "|") + ")")
	sel, err := monitoringtest.Substitute(instanceVar.Selector, vals)
	require.NoError(t, err)
	instances, err := labelValues(ctx, promURL, "instance", sel)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{exporterAddr, "prod", "research"}, instances, "label_values(%s, instance)", sel)
	for _, q := range health.Queries() {
		if !strings.Contains(q.Expr, "debt_exporter_build_info") {
			continue
		}
		expr, err := monitoringtest.Substitute(q.Expr, vals)
		require.NoError(t, err)
		res, err := query(ctx, promURL, expr)
		require.NoError(t, err)
		assert.Len(t, res, 1, "%s: %s", q, expr)
	}

	// No key ever reaches the exporter's log.
	for name := range apis {
		assert.NotContains(t, exporter.out.String(), fmt.Sprintf("e2e-private-key-%s", name))
	}
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n") + "\n"
}

// healthDashboard is dashboards/debt-exporter-health.json.
func healthDashboard(t *testing.T) monitoringtest.Dashboard {
	t.Helper()
	for _, d := range loadDashboards(t) {
		if d.JSON["uid"] == "debt-exporter-health" {
			return d
		}
	}
	t.Fatal("no debt-exporter-health dashboard")
	return monitoringtest.Dashboard{}
}
