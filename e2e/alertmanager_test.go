package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/debt-exporter/debt_exporter/internal/exportertest"
)

// severityRank orders the severities of alerts/alerts.yaml.
var severityRank = map[string]int{"info": 0, "warning": 1, "critical": 2}

type amAlert struct {
	Labels      map[string]string `json:"labels"`
	Fingerprint string            `json:"fingerprint"`
	Status      struct {
		State       string   `json:"state"`
		InhibitedBy []string `json:"inhibitedBy"`
	} `json:"status"`
}

// TestExampleAlertmanagerInhibitions runs a real Alertmanager with
// examples/alertmanager.yml, posts the alerts of a few outages of one
// target each, and reads back which it inhibits: the critical alert of an
// outage reaches on-call (is never inhibited by a warning), the follow-on
// alerts of the same cause are inhibited, and no inhibiting alert is less
// severe than the alert it inhibits.
func TestExampleAlertmanagerInhibitions(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	amBin := exportertest.Tool(t, "prometheus-alertmanager")
	severity := map[string]string{}
	for _, r := range alertRules(t) {
		severity[r.Alert] = r.Labels["severity"]
		require.Contains(t, severityRank, r.Labels["severity"], r.Alert)
	}

	// The example as it is, its receivers pointed at a local webhook.
	hook := newWebhook(t)
	cfg := readRepoFile(t, "examples/alertmanager.yml")
	require.Contains(t, cfg, "http://alert-receiver.example:5001/")
	cfg = strings.ReplaceAll(cfg, "http://alert-receiver.example:5001/", hook.url+"/")
	tmp := t.TempDir()
	amAddr := exportertest.FreeAddr(t)
	am := start(t, "alertmanager", amBin,
		"--config.file="+writeFile(t, tmp, "alertmanager.yml", cfg),
		"--storage.path="+filepath.Join(tmp, "alertmanager"),
		"--web.listen-address="+amAddr,
		"--cluster.listen-address=",
	)
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	waitFor(ctx, t, "Alertmanager to be ready", []*proc{am}, func() error {
		_, err := get(ctx, "http://"+amAddr+"/-/ready")
		return err
	})

	// One target per outage: the alerts that fire together, and which of
	// them must reach a receiver.
	type outage struct {
		instance string
		firing   []string
		active   []string
	}
	outages := []outage{
		{ // restarted with a wrong key, for an hour
			instance: "sweeps-failing:9846",
			firing:   []string{"DebtSweepsFailing", "DebtAPIErrors", "DebtFiguresStale"},
			active:   []string{"DebtFiguresStale"},
		},
		{ // sweeps failing for 15 minutes, figures not yet stale
			instance: "sweeps-failing-briefly:9846",
			firing:   []string{"DebtSweepsFailing", "DebtAPIErrors", "DebtAPIThrottled"},
			active:   []string{"DebtSweepsFailing"},
		},
		{ // an account's /probe cannot be scraped (renamed in the accounts
			// file) after its sweeps had failed
			instance: "gone",
			firing:   []string{"DebtAccountProbeFailing", "DebtFiguresStale"},
			active:   []string{"DebtAccountProbeFailing"},
		},
		{ // the exporter cannot be scraped
			instance: "down:9846",
			firing:   []string{"DebtExporterDown", "DebtFiguresStale"},
			active:   []string{"DebtExporterDown"},
		},
	}
	var post []map[string]any
	add := func(instance, name string) {
		post = append(post, map[string]any{"labels": map[string]string{
			"alertname": name, "job": "debt", "instance": instance, "severity": severity[name],
		}})
	}
	for _, o := range outages {
		for _, name := range o.firing {
			require.Contains(t, severity, name)
			add(o.instance, name)
		}
	}
	// Last, a pair the example inhibits: once its target shows as
	// inhibited, Alertmanager's inhibitor has seen every alert before it
	// (one request, handled in order).
	add("sentinel:9846", "DebtAPIErrors")
	add("sentinel:9846", "DebtSweepsFailing")
	body, err := json.Marshal(post)
	require.NoError(t, err)
	resp, err := client.Post("http://"+amAddr+"/api/v2/alerts", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	var alerts []amAlert
	waitFor(ctx, t, "the sentinel's DebtAPIErrors to be inhibited", []*proc{am}, func() error {
		b, err := get(ctx, "http://"+amAddr+"/api/v2/alerts")
		if err != nil {
			return err
		}
		alerts = nil
		if err := json.Unmarshal([]byte(b), &alerts); err != nil {
			return err
		}
		for _, a := range alerts {
			if a.Labels["instance"] == "sentinel:9846" && a.Labels["alertname"] == "DebtAPIErrors" && len(a.Status.InhibitedBy) > 0 {
				return nil
			}
		}
		return fmt.Errorf("not yet: %+v", alerts)
	})

	byFP := map[string]amAlert{}
	active := map[string][]string{}
	for _, a := range alerts {
		byFP[a.Fingerprint] = a
		if len(a.Status.InhibitedBy) == 0 {
			active[a.Labels["instance"]] = append(active[a.Labels["instance"]], a.Labels["alertname"])
		}
	}
	for _, o := range outages {
		sort.Strings(active[o.instance])
		want := append([]string(nil), o.active...)
		sort.Strings(want)
		assert.Equal(t, want, active[o.instance], "%s: the alerts not inhibited, of %v", o.instance, o.firing)
	}
	for _, a := range alerts {
		for _, fp := range a.Status.InhibitedBy {
			src, ok := byFP[fp]
			if !assert.True(t, ok, "%s inhibited by unknown alert %s", a.Labels, fp) {
				continue
			}
			assert.GreaterOrEqual(t, severityRank[src.Labels["severity"]], severityRank[a.Labels["severity"]],
				"%s (%s) is inhibited by %s (%s), which is less severe", a.Labels["alertname"], a.Labels["severity"], src.Labels["alertname"], src.Labels["severity"])
			assert.Equal(t, a.Labels["instance"], src.Labels["instance"], "%s is inhibited by another target's %s", a.Labels["alertname"], src.Labels["alertname"])
		}
	}
}
