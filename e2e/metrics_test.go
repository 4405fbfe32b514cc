package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/debt-exporter/debt_exporter/apiclient"
	"github.com/debt-exporter/debt_exporter/internal/exportertest"
	"github.com/debt-exporter/debt_exporter/internal/simapi"
)

// documentedMetric is one row of the README's metrics table.
type documentedMetric struct {
	Name    string // may end in * for a family prefix (go_*)
	Type    string
	Labels  []string
	Exposed string // always, on success, after a success, with --config.file
	Meaning string
}

var exposedWhen = map[string]bool{"always": true, "on success": true, "after a success": true, withConfigFile: true}

// withConfigFile is the "exposed" of the metrics on /metrics only when
// --config.file names an accounts file (the reload metrics).
const withConfigFile = "with --config.file"

func readmeMetrics(t *testing.T) []documentedMetric {
	t.Helper()
	readme := readRepoFile(t, "README.md")
	section := readmeSection(t, readme, "Metrics")
	require.Contains(t, section, "<!-- BEGIN METRICS -->")
	rows := tableRows(section[strings.Index(section, "<!-- BEGIN METRICS -->"):])
	require.NotEmpty(t, rows, "README.md's Metrics section has no table")
	var out []documentedMetric
	for _, r := range rows {
		require.Len(t, r, 5, "metrics table row %q: want metric | type | labels | exposed | meaning", r)
		m := documentedMetric{Name: unquote(r[0]), Type: r[1], Exposed: r[3], Meaning: r[4]}
		if r[2] != "" && r[2] != "various" {
			for _, l := range strings.Split(r[2], ",") {
				m.Labels = append(m.Labels, unquote(strings.TrimSpace(l)))
			}
			sort.Strings(m.Labels)
		}
		assert.True(t, exposedWhen[m.Exposed], "%s: exposed %q is not one of always, on success, after a success, %s", m.Name, m.Exposed, withConfigFile)
		out = append(out, m)
	}
	return out
}

func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, body := httpGet(t, http.DefaultClient, base+"/metrics", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(strings.NewReader(body))
	require.NoError(t, err)
	return families
}

func labelNames(f *dto.MetricFamily) []string {
	set := map[string]bool{}
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			set[l.GetName()] = true
		}
	}
	var names []string // nil when unlabelled, as the README rows parse
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// lookup finds the README row that documents family name.
func lookup(doc []documentedMetric, name string) (documentedMetric, bool) {
	for _, d := range doc {
		if d.Name == name {
			return d, true
		}
	}
	for _, d := range doc {
		if prefix, ok := strings.CutSuffix(d.Name, "*"); ok && strings.HasPrefix(name, prefix) {
			return d, true
		}
	}
	return documentedMetric{}, false
}

// TestREADMEMetricsMatchDemo: everything the exporter exposes in demo mode
// is in the README's table with its type and labels (and every value of the
// outcome and reason labels is explained), and every documented debt_ metric
// is exposed: in demo mode every sweep succeeds, so all of them are, but
// those exposed only with --config.file.
func TestREADMEMetricsMatchDemo(t *testing.T) {
	doc := readmeMetrics(t)
	e := exportertest.Start(t, nil, "--demo", "--demo.orders=2000")
	families := scrape(t, e.URL)
	require.Contains(t, families, "debt_up")
	require.Equal(t, 1.0, families["debt_up"].GetMetric()[0].GetGauge().GetValue(), "the demo sweep failed")
	checkDocumented(t, doc, families)
	for _, d := range doc {
		switch {
		case !strings.HasPrefix(d.Name, "debt_"):
		case d.Exposed == withConfigFile:
			assert.NotContains(t, families, d.Name, "README.md documents %s as exposed %s, but demo mode exposes it", d.Name, d.Exposed)
		default:
			assert.Contains(t, families, d.Name, "README.md documents %s but demo mode does not expose it", d.Name)
		}
	}
}

// TestREADMEMetricsWithConfigFile: with --config.file, /metrics exposes
// the metrics documented as exposed "with --config.file", with their type
// and labels, and nothing the README's table does not document.
func TestREADMEMetricsWithConfigFile(t *testing.T) {
	doc := readmeMetrics(t)
	tmp := t.TempDir()
	const key = "e2e-reload-metrics-private-key-0123456789"
	srv := simapi.New(simapi.Config{Seed: 3, Orders: 100, PrivateKey: key, PublicKey: "pub-prod"})
	t.Cleanup(srv.Close)
	keyFile := writeFile(t, tmp, "prod.key", key+"\n")
	accounts := writeFile(t, tmp, "accounts.yml", fmt.Sprintf(
		"accounts:\n  - name: prod\n    public_key: pub-prod\n    private_key_file: %s\n    endpoint: %s/\n", keyFile, srv.URL))
	e := exportertest.Start(t, nil, "--config.file="+accounts)
	families := scrape(t, e.URL)
	checkDocumented(t, doc, families)
	n := 0
	for _, d := range doc {
		if d.Exposed == withConfigFile {
			n++
			assert.Contains(t, families, d.Name, "README.md documents %s as exposed %s", d.Name, d.Exposed)
		}
	}
	assert.Positive(t, n, "README.md documents no metric as exposed %s", withConfigFile)
	// With the file alone there is no flag account: none of its series,
	// not even those the table marks "always" (the table's legend says so).
	for _, d := range doc {
		if d.Exposed != withConfigFile && strings.HasPrefix(d.Name, "debt_") && d.Name != "debt_exporter_build_info" {
			assert.NotContains(t, families, d.Name, "with --config.file alone /metrics has no flag account")
		}
	}
	if f := families["debt_config_last_reload_successful"]; assert.NotNil(t, f) {
		assert.Equal(t, 1.0, f.GetMetric()[0].GetGauge().GetValue(), "the accounts file loaded")
	}
}

// checkDocumented: every family exposed is in the README's table, with its
// type and labels, and every value of its outcome and reason labels is
// explained there.
func checkDocumented(t *testing.T, doc []documentedMetric, families map[string]*dto.MetricFamily) {
	t.Helper()
	for name, f := range families {
		d, ok := lookup(doc, name)
		if !assert.True(t, ok, "%s (%s) is exposed but not in README.md's metrics table", name, f.GetType()) {
			continue
		}
		if strings.HasSuffix(d.Name, "*") {
			continue // standard collectors, documented as a family
		}
		assert.Equal(t, strings.ToLower(f.GetType().String()), d.Type, "%s: type in README.md", name)
		assert.Equal(t, labelNames(f), d.Labels, "%s: labels in README.md", name)
		for _, label := range []string{"outcome", "reason"} {
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == label {
						assert.Contains(t, d.Meaning, "`"+l.GetValue()+"`", "%s: README.md does not explain %s=%q", name, label, l.GetValue())
					}
				}
			}
		}
	}
}

// fakeAPI answers ListUnpaidOrders with one valid order until fail is set,
// then with RetCode 171 (signature wrong, not retried).
type fakeAPI struct {
	fail atomic.Bool
	bad  atomic.Value // string: what was wrong with a request, if anything
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost || r.URL.RawQuery != "" ||
		r.PostForm.Get("Action") != "ListUnpaidOrders" || r.PostForm.Get("Signature") == "" {
		f.bad.Store(fmt.Sprintf("%s %s form=%v", r.Method, r.URL, r.PostForm))
	}
	w.Header().Set("Content-Type", "application/json")
	if f.fail.Load() {
		fmt.Fprint(w, `{"Action":"ListUnpaidOrdersResponse","RetCode":171,"Message":"signature wrong"}`)
		return
	}
	created := time.Now().Add(-time.Hour).Unix()
	fmt.Fprintf(w, `{"Action":"ListUnpaidOrdersResponse","RetCode":0,"Orders":[{"OrderNo":"o-1","Region":"cn-bj2","ModelID":"m","ProductCode":"modelverse","Currency":"CNY","OrderTotalPrice":"1.50","CreateTime":"%d"}]}`, created)
}

// TestREADMEMetricsExposedColumn checks the README's "exposed" column
// against a real API failure: after a successful sweep everything documented
// is there; when the next sweep fails, debt_up is 0, "always" and "after a
// success" metrics stay and "on success" ones vanish. It also checks that the
// private key shows up in neither the metrics nor the log.
func TestREADMEMetricsExposedColumn(t *testing.T) {
	doc := readmeMetrics(t)
	api := &fakeAPI{}
	srv := httptest.NewServer(api)
	defer srv.Close()
	const privateKey = "docs-test-private-key-0123456789abcdef"
	e := exportertest.Start(t, []string{"DEBT_EXPORTER_PRIVATE_KEY=" + privateKey},
		"--api.endpoint="+srv.URL, "--api.public-key=docs-test-public-key", "--sweep.max-timeout=10s")

	check := func(phase string, up float64, want func(d documentedMetric) bool) {
		resp, body := httpGet(t, http.DefaultClient, e.URL+"/metrics", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.NotContains(t, body, privateKey)
		families, err := func() (map[string]*dto.MetricFamily, error) {
			p := expfmt.NewTextParser(model.UTF8Validation)
			return p.TextToMetricFamilies(strings.NewReader(body))
		}()
		require.NoError(t, err)
		require.Contains(t, families, "debt_up", phase)
		assert.Equal(t, up, families["debt_up"].GetMetric()[0].GetGauge().GetValue(), "%s: debt_up", phase)
		for _, d := range doc {
			if !strings.HasPrefix(d.Name, "debt_") {
				continue
			}
			if want(d) {
				assert.Contains(t, families, d.Name, "%s: %s is documented as exposed %s", phase, d.Name, d.Exposed)
			} else {
				assert.NotContains(t, families, d.Name, "%s: %s is documented as exposed %s", phase, d.Name, d.Exposed)
			}
		}
	}
	check("after a successful sweep", 1, func(d documentedMetric) bool { return d.Exposed != withConfigFile })
	api.fail.Store(true)
	check("after a failed sweep", 0, func(d documentedMetric) bool { return d.Exposed != "on success" && d.Exposed != withConfigFile })

	assert.Nil(t, api.bad.Load(), "the exporter sent a request the README says it does not (signed form POST, nothing in the URL)")
	// The log reaches us through a pipe, a little after the scrape.
	assert.Eventually(t, func() bool { return strings.Contains(e.Log.String(), "retcode=171") },
		5*time.Second, 20*time.Millisecond, "the failed sweep's RetCode is not logged")
	log := e.Log.String()
	assert.NotContains(t, log, privateKey)
	assert.NotContains(t, log, url.QueryEscape(privateKey))
}

// TestREADMERetCodes: the troubleshooting table covers every RetCode the
// contract names, and its "retried" column matches the client's behaviour.
func TestREADMERetCodes(t *testing.T) {
	readme := readRepoFile(t, "README.md")
	section := readmeSection(t, readme, "Troubleshooting")
	require.Contains(t, section, "<!-- BEGIN RETCODES -->")
	rows := tableRows(section[strings.Index(section, "<!-- BEGIN RETCODES -->"):])
	contract := []string{"110", "130", "150", "153", "160", "161", "170", "171", "172", "174", "230", "292", "294", "299"}
	var codes []string
	for _, r := range rows {
		require.Len(t, r, 4, "RetCode row %q: want RetCode | meaning | retried | what to do", r)
		codes = append(codes, r[0])
		require.Contains(t, []string{"yes", "no"}, r[2], "RetCode %s: retried must be yes or no", r[0])
		for _, code := range retCodeSamples(t, r[0]) {
			assert.Equal(t, r[2] == "yes", transient(code), "RetCode %d: README says retried=%s", code, r[2])
			if meaning := apiMeaning(code); meaning != "" {
				assert.Equal(t, meaning, r[1], "RetCode %d: meaning differs from the client's error text", code)
			}
		}
	}
	assert.Subset(t, codes, contract, "README.md's RetCode table misses codes of the contract")
}

var retCodeRE = regexp.MustCompile(`\d+`)

// retCodeSamples turns a table cell ("171", "≥ 2000") into codes to test.
func retCodeSamples(t *testing.T, cell string) []int64 {
	t.Helper()
	n := retCodeRE.FindString(cell)
	require.NotEmpty(t, n, "RetCode cell %q", cell)
	var v int64
	_, err := fmt.Sscan(n, &v)
	require.NoError(t, err)
	if strings.Contains(cell, "≥") {
		return []int64{v, v + 1, v * 10}
	}
	require.Equal(t, n, cell, "RetCode cell %q", cell)
	return []int64{v}
}

func transient(code int64) bool {
	return (&apiclient.APIError{RetCode: code}).Transient()
}

// apiMeaning is the meaning the client gives code in its errors (and so
// in the log), or "" if it knows none.
func apiMeaning(code int64) string { return apiclient.RetCodeMeaning(code) }

// TestRunbookNamesEveryInvalidReason: the runbook of DebtInvalidOrders,
// whose alert says "whose {{ $labels.reason }} field is invalid", explains
// every reason the exporter counts in debt_invalid_orders.
func TestRunbookNamesEveryInvalidReason(t *testing.T) {
	section := readmeSection(t, readRepoFile(t, "alerts/RUNBOOK.md"), "Runbook: DebtInvalidOrders")
	for _, reason := range []string{apiclient.InvalidAmount, apiclient.InvalidCreateTime, apiclient.InvalidOutOfWindow} {
		assert.Contains(t, section, `reason="`+reason+`"`, "RUNBOOK.md's DebtInvalidOrders section")
	}
}
