package probe

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/debt-exporter/debt_exporter/accounts"
	"github.com/debt-exporter/debt_exporter/apiclient"
	"github.com/debt-exporter/debt_exporter/collector"
	"github.com/debt-exporter/debt_exporter/internal/exportertest"
	"github.com/debt-exporter/debt_exporter/internal/simapi"
)

var (
	now    = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	window = 30 * 24 * time.Hour
)

// api is a simulated API of one account, with its own keys.
type api struct {
	*simapi.Server
	public, private string
}

// newAPI starts a simulated API whose keys are named after name.
func newAPI(t *testing.T, name string, cfg simapi.Config) *api {
	t.Helper()
	a := &api{public: "pub-" + name, private: "probe-test-private-key-" + name + "-3c9f"}
	cfg.Now, cfg.PublicKey, cfg.PrivateKey = now, a.public, a.private
	a.Server = simapi.New(cfg)
	t.Cleanup(a.Close)
	return a
}

// settled returns the API's request count once it has stayed the same for
// 300 ms: a request cancelled in flight may still land after its client
// gave up (net/http reads it before it sees the connection closed), later
// on a loaded machine. It waits 10 s at most.
func (a *api) settled(t *testing.T) int64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	n := a.Requests()
	for time.Now().Before(deadline) {
		time.Sleep(300 * time.Millisecond)
		m := a.Requests()
		if m == n {
			return n
		}
		n = m
	}
	t.Fatalf("the API still gets requests after 10 s: %d", n)
	return n
}

// truth is what a probe of the account must report.
func (a *api) truth(q apiclient.Query) simapi.Truth {
	q.Start, q.End = now.Add(-window), now
	return a.Truth(q)
}

// fixture is a Set over an accounts file, served on a real HTTP server.
type fixture struct {
	t    *testing.T
	dir  string
	file string
	logs *exportertest.SyncBuffer
	set  *Set
	srv  *httptest.Server
	apis []*api // every API the test made, for the key checks
}

// entry is one account of the file.
type entry struct {
	name  string
	api   *api
	key   string // the private key's YAML line, if not private_key_file: <its key file>
	extra string // more YAML lines for the account
}

func newFixture(t *testing.T, interval time.Duration, entries ...entry) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: t.TempDir(), logs: &exportertest.SyncBuffer{}}
	f.file = filepath.Join(f.dir, "accounts.yml")
	f.write(entries...)
	set, err := New(Config{
		File:     f.file,
		Defaults: accounts.Defaults{Endpoint: "http://127.0.0.1:1/", Window: window},
		Client: apiclient.Config{
			Concurrency: 2,
			Retry:       apiclient.RetryPolicy{MaxAttempts: 50, BaseDelay: 5 * time.Millisecond, MaxDelay: 100 * time.Millisecond},
		},
		Collector: collector.Config{
			Interval:   interval,
			MaxTimeout: 30 * time.Second,
			Now:        func() time.Time { return now },
		},
		TimeoutOffset: 100 * time.Millisecond,
		Logger:        log.NewLogfmtLogger(f.logs), // no level filter: debug lines are in
	})
	require.NoError(t, err)
	f.set = set
	mux := http.NewServeMux()
	mux.Handle("/probe", set.ProbeHandler())
	mux.Handle("/-/reload", set.ReloadHandler(true))
	mux.Handle("/-/reload-disabled", set.ReloadHandler(false))
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// write writes the accounts file and the key files of entries.
func (f *fixture) write(entries ...entry) {
	f.t.Helper()
	var b strings.Builder
	b.WriteString("accounts:\n")
	for _, e := range entries {
		keyFile := filepath.Join(f.dir, e.name+".key")
		require.NoError(f.t, os.WriteFile(keyFile, []byte(e.api.private+"\n"), 0o600))
		key := e.key
		if key == "" {
			key = "private_key_file: " + keyFile
		}
		fmt.Fprintf(&b, "  - name: %s\n    public_key: %s\n    %s\n    endpoint: %s\n%s",
			e.name, e.api.public, key, e.api.URL, e.extra)
		if !containsAPI(f.apis, e.api) {
			f.apis = append(f.apis, e.api)
		}
	}
	require.NoError(f.t, os.WriteFile(f.file, []byte(b.String()), 0o600))
}

func containsAPI(apis []*api, a *api) bool {
	for _, x := range apis {
		if x == a {
			return true
		}
	}
	return false
}

// get fetches a path of the fixture's server.
func (f *fixture) get(path string, header ...string) (int, string) {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
	require.NoError(f.t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return f.do(req)
}

func (f *fixture) do(req *http.Request) (int, string) {
	f.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(f.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(f.t, err)
	return resp.StatusCode, string(body)
}

func (f *fixture) post(path string) (int, string) {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+path, nil)
	require.NoError(f.t, err)
	return f.do(req)
}

// probe fetches /probe?account=name and parses the answer.
func (f *fixture) probe(name string) exposition {
	f.t.Helper()
	code, body := f.get("/probe?account=" + name)
	require.Equal(f.t, http.StatusOK, code, body)
	return parse(f.t, body)
}

// exposition is a parsed answer: series by name{labels}.
type exposition struct {
	body     string
	families map[string]*dto.MetricFamily
}

func parse(t *testing.T, body string) exposition {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(body))
	require.NoError(t, err, body)
	return exposition{body: body, families: mfs}
}

// series returns the samples of the named families by their labels.
func (e exposition) series(names ...string) map[string]float64 {
	out := map[string]float64{}
	for _, name := range names {
		mf, ok := e.families[name]
		if !ok {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := make([]string, 0, len(m.GetLabel()))
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			sort.Strings(labels)
			v := m.GetGauge().GetValue()
			if m.Counter != nil {
				v = m.GetCounter().GetValue()
			}
			out[name+"{"+strings.Join(labels, ",")+"}"] = v
		}
	}
	return out
}

func (e exposition) value(name string) (float64, bool) {
	v, ok := e.series(name)[name+"{}"]
	return v, ok
}

var businessFamilies = []string{"debt_unpaid_amount", "debt_unpaid_orders", "debt_unpaid_oldest_order_timestamp_seconds"}

// expected renders a truth as the series a probe must hold, from the
// simulated API's own totals.
func expected(truth simapi.Truth) map[string]float64 {
	out := map[string]float64{}
	for k, s := range truth.Series {
		labels := fmt.Sprintf("{currency=%q,model=%q,product_code=%q,region=%q}", k.Currency, k.ModelID, k.ProductCode, k.Region)
		out["debt_unpaid_amount"+labels] = s.Amount.Float64()
		out["debt_unpaid_orders"+labels] = float64(s.Orders)
		out["debt_unpaid_oldest_order_timestamp_seconds"+labels] = float64(s.Oldest)
	}
	return out
}

// requireExact checks a probe against the truth of its account.
func requireExact(t *testing.T, e exposition, a *api, q apiclient.Query) {
	t.Helper()
	truth := a.truth(q)
	require.NotEmpty(t, truth.Series)
	up, _ := e.value("debt_up")
	require.Equal(t, 1.0, up, e.body)
	require.Equal(t, expected(truth), e.series(businessFamilies...))
	assert.Equal(t, float64(truth.Invalid), e.series("debt_invalid_orders")[`debt_invalid_orders{reason="amount"}`])
	w, _ := e.value("debt_window_seconds")
	assert.Equal(t, window.Seconds(), w)
}

// requireFailed checks a probe of a failing account: debt_up 0, no figures.
func requireFailed(t *testing.T, e exposition) {
	t.Helper()
	up, ok := e.value("debt_up")
	require.True(t, ok, e.body)
	require.Equal(t, 0.0, up, e.body)
	assert.Empty(t, e.series(append(businessFamilies, "debt_unpaid_amount_by_age", "debt_invalid_orders")...), "no figures on failure")
}

// onlyDebtMetrics: a probe holds the account's debt_* metrics and nothing
// of the process.
func onlyDebtMetrics(t *testing.T, e exposition) {
	t.Helper()
	for name := range e.families {
		assert.True(t, strings.HasPrefix(name, "debt_"), name)
		assert.NotContains(t, []string{"debt_exporter_build_info", "debt_config_last_reload_successful",
			"debt_config_last_reload_success_timestamp_seconds"}, name)
	}
}

// noKeys checks that no private key of the test shows in text.
func (f *fixture) noKeys(texts ...string) {
	f.t.Helper()
	for _, a := range f.apis {
		for _, text := range texts {
			assert.NotContains(f.t, text, a.private)
		}
	}
}

// gatherReload returns the reload metrics by name.
func gatherReload(t *testing.T, s *Set) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(s.Collector()))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf.GetMetric()[0].GetGauge().GetValue()
	}
	return out
}

// TestProbesAreIndependent: three accounts on three APIs, one healthy, one
// whose key is refused, one slow and throttled. Each probe reports its own
// exact figures or its own failure, and the healthy and failing ones end
// while the slow one's requests are held (it used to race a real-clock
// rate limit, and was throttled or not by the machine's speed).
func TestProbesAreIndependent(t *testing.T) {
	healthy := newAPI(t, "healthy", simapi.Config{Seed: 1, Orders: 1500, InvalidAmountEvery: 97})
	wrongKey := newAPI(t, "wrongkey", simapi.Config{Seed: 2, Orders: 500})
	wrongKey.FailRetCode(171, -1)
	// The slow account's API holds every request until the gate opens, and
	// throttles its first two: its probe cannot end before the others,
	// whatever the machine's speed.
	slow := &api{public: "pub-slow", private: "probe-test-private-key-slow-3c9f"}
	slow.Server = simapi.NewHandler(simapi.Config{Seed: 3, Orders: 400, Now: now, PublicKey: slow.public, PrivateKey: slow.private})
	slow.FailRetCode(153, 2)
	gate := make(chan struct{})
	var openGate sync.Once
	var held atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		held.Add(1)
		<-gate
		slow.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { openGate.Do(func() { close(gate) }); ts.Close() })
	slow.URL = ts.URL
	f := newFixture(t, 0,
		entry{name: "healthy", api: healthy},
		entry{name: "wrong-key", api: wrongKey},
		entry{name: "slow", api: slow, extra: "    filters: {product_code: [modelverse]}\n"})

	slowDone := make(chan exposition, 1)
	go func() {
		code, body := f.get("/probe?account=slow")
		if code != http.StatusOK {
			body = "status " + fmt.Sprint(code) + ": " + body
		}
		slowDone <- exposition{body: body}
	}()
	require.Eventually(t, func() bool { return held.Load() > 0 }, 10*time.Second, time.Millisecond, "the slow sweep began")

	// Both end while every request of the slow account is held.
	h := f.probe("healthy")
	requireExact(t, h, healthy, apiclient.Query{})
	onlyDebtMetrics(t, h)
	w := f.probe("wrong-key")
	requireFailed(t, w)
	onlyDebtMetrics(t, w)
	select {
	case <-slowDone:
		t.Fatal("the slow probe ended with its requests held")
	default:
	}

	openGate.Do(func() { close(gate) })
	s := <-slowDone
	se := parse(t, s.body)
	requireExact(t, se, slow, apiclient.Query{ProductCodes: []string{"modelverse"}})
	onlyDebtMetrics(t, se)
	assert.Equal(t, 2.0, se.series("debt_api_requests_total")[`debt_api_requests_total{outcome="throttled"}`], "the slow account's throttles")
	assert.Zero(t, h.series("debt_api_requests_total")[`debt_api_requests_total{outcome="throttled"}`], "none for the healthy one")

	// The failure is logged once, as the failing account's; the healthy
	// one has none.
	logs := f.logs.String()
	assert.Equal(t, 1, strings.Count(logs, `msg="sweep failed"`), logs)
	assert.Contains(t, logs, `account=wrong-key msg="sweep failed"`)
	assert.Contains(t, logs, "retcode=171")
	f.noKeys(logs, h.body, w.body, s.body)
}

func TestProbeBadRequests(t *testing.T) {
	a := newAPI(t, "a", simapi.Config{Seed: 1, Orders: 100})
	f := newFixture(t, 0, entry{name: "a", api: a})
	for _, path := range []string{"/probe", "/probe?account=", "/probe?target=a", "/probe?account=nope",
		"/probe?account=A", "/probe?account=a&account=a", "/probe?account=" + strings.Repeat("x", 500)} {
		code, body := f.get(path)
		assert.Equal(t, http.StatusBadRequest, code, path)
		assert.Equal(t, 1, strings.Count(body, "\n"), "one line: %q", body)
		assert.True(t, strings.HasSuffix(body, "\n"), body)
		assert.Less(t, len(body), 200, body)
	}
	_, body := f.get("/probe?account=nope")
	assert.Equal(t, "unknown account \"nope\": not in the accounts file\n", body)
	code, _ := f.post("/probe?account=a")
	assert.Equal(t, http.StatusMethodNotAllowed, code)
	assert.Zero(t, a.Requests(), "no bad request reaches the API")
}

// TestProbeWithoutAccountsFile: without --config.file (a nil Set) every
// account is unknown, and the answer says why, not "not in the file".
func TestProbeWithoutAccountsFile(t *testing.T) {
	rec := httptest.NewRecorder()
	(*Set)(nil).ProbeHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/probe?account=prod", nil))
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Equal(t, "unknown account \"prod\": no accounts file is loaded (--config.file)\n", rec.Body.String())
}

// TestProbeReadsOnlyTheAccount: other parameters, whatever they name, do
// not change the answer and never reach the API.
func TestProbeReadsOnlyTheAccount(t *testing.T) {
	a := newAPI(t, "a", simapi.Config{Seed: 4, Orders: 800})
	elsewhere := newAPI(t, "elsewhere", simapi.Config{Seed: 5, Orders: 800})
	f := newFixture(t, 0, entry{name: "a", api: a})
	plain := f.probe("a")
	requireExact(t, plain, a, apiclient.Query{})

	extra := "a&endpoint=" + elsewhere.URL + "&target=" + elsewhere.URL + "&module=x&PublicKey=" + elsewhere.public +
		"&Regions.0=hk&region=hk&ProjectId=evil-project&window=1h&StartTime=1&Action=Other&debug=1"
	got := f.probe(extra)
	requireExact(t, got, a, apiclient.Query{})
	assert.Equal(t, plain.series(businessFamilies...), got.series(businessFamilies...))
	assert.Zero(t, elsewhere.Requests(), "no request to a URL from the probe")

	allowed := map[string]bool{"Action": true, "PublicKey": true, "Signature": true, "StartTime": true,
		"EndTime": true, "Page": true, "PageSize": true}
	reqs := a.LastRequests(simapi.LoggedRequests)
	require.Len(t, reqs, int(a.Requests()), "the log holds every request")
	for _, r := range reqs {
		assert.Empty(t, r.RawQuery)
		assert.Equal(t, "ListUnpaidOrders", r.Params.Get("Action"))
		assert.Equal(t, a.public, r.Params.Get("PublicKey"))
		for k, v := range r.Params {
			assert.True(t, allowed[k], "parameter %s=%v", k, v)
			for _, s := range v {
				assert.NotContains(t, s, "evil")
				assert.NotContains(t, s, elsewhere.public)
			}
		}
	}
}

// TestProbeHonoursTheScrapeTimeout: the scrape-timeout header bounds the
// sweep of a probe as it does /metrics.
func TestProbeHonoursTheScrapeTimeout(t *testing.T) {
	a := newAPI(t, "a", simapi.Config{Seed: 1, Orders: 300})
	a.SetLatency(3 * time.Second)
	f := newFixture(t, 0, entry{name: "a", api: a})
	begin := time.Now()
	code, body := f.get("/probe?account=a", "X-Prometheus-Scrape-Timeout-Seconds", "0.6")
	assert.Equal(t, http.StatusOK, code)
	requireFailed(t, parse(t, body))
	assert.Less(t, time.Since(begin), 2500*time.Millisecond, "ended by the scrape's deadline, not the API")
	assert.Contains(t, f.logs.String(), "the sweep needs more time than the scrape allows")
}

// TestBackgroundSweepsPerAccount: with an interval each account is swept
// on its own schedule; probes answer from the last sweep of their account.
func TestBackgroundSweepsPerAccount(t *testing.T) {
	good := newAPI(t, "good", simapi.Config{Seed: 6, Orders: 600})
	bad := newAPI(t, "bad", simapi.Config{Seed: 7, Orders: 600})
	bad.FailHTTP(500, -1)
	f := newFixture(t, 100*time.Millisecond, entry{name: "good", api: good}, entry{name: "bad", api: bad})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { f.set.Run(ctx); close(ran) }()

	// Each API is swept again and again, without a probe.
	require.Eventually(t, func() bool { return good.Requests() >= 3*5 && bad.Requests() >= 3 }, 20*time.Second, 10*time.Millisecond)
	requireExact(t, f.probe("good"), good, apiclient.Query{})
	requireFailed(t, f.probe("bad"))
	assert.Contains(t, f.logs.String(), `account=bad msg="sweep failed"`)
	assert.NotContains(t, f.logs.String(), `account=good msg="sweep failed"`)

	cancel()
	select {
	case <-ran:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	n := good.settled(t)
	// Probes answer from the last complete sweep (the one Run's end cut
	// short may make debt_up 0): they start none.
	g := f.probe("good")
	assert.Equal(t, expected(good.truth(apiclient.Query{})), g.series(businessFamilies...))
	last, _ := g.value("debt_last_success_timestamp_seconds")
	assert.Equal(t, float64(now.Unix()), last)
	time.Sleep(300 * time.Millisecond)
	assert.Equal(t, n, good.Requests(), "no request from the probe, nor after Run ended")
}

func TestReload(t *testing.T) {
	a := newAPI(t, "a", simapi.Config{Seed: 1, Orders: 400})
	b := newAPI(t, "b", simapi.Config{Seed: 2, Orders: 400})
	c := newAPI(t, "c", simapi.Config{Seed: 3, Orders: 400})
	f := newFixture(t, 0, entry{name: "a", api: a}, entry{name: "b", api: b})
	first := gatherReload(t, f.set)
	assert.Equal(t, 1.0, first["debt_config_last_reload_successful"])
	assert.InDelta(t, float64(time.Now().Unix()), first["debt_config_last_reload_success_timestamp_seconds"], 60)
	problems, err := testutil.CollectAndLint(f.set.Collector())
	require.NoError(t, err)
	assert.Empty(t, problems)
	requireExact(t, f.probe("a"), a, apiclient.Query{})
	requireExact(t, f.probe("b"), b, apiclient.Query{})
	reqsA := f.probe("a").series("debt_api_requests_total")[`debt_api_requests_total{outcome="success"}`]
	require.Positive(t, reqsA)

	// A file that does not load keeps the running accounts.
	bad := func(name string, mutate func()) {
		t.Helper()
		mutate()
		err := f.set.Reload()
		require.Error(t, err, name)
		assert.NotContains(t, err.Error(), "\n")
		got := gatherReload(t, f.set)
		assert.Equal(t, 0.0, got["debt_config_last_reload_successful"], name)
		assert.Equal(t, first["debt_config_last_reload_success_timestamp_seconds"], got["debt_config_last_reload_success_timestamp_seconds"], name)
		assert.Equal(t, []string{"a", "b"}, f.set.Accounts(), name)
		requireExact(t, f.probe("b"), b, apiclient.Query{})
		code, body := f.post("/-/reload")
		assert.Equal(t, http.StatusInternalServerError, code, name)
		assert.Equal(t, 1, strings.Count(body, "\n"), body)
		assert.Contains(t, body, f.file)
	}
	bad("unknown key", func() {
		f.write(entry{name: "a", api: a}, entry{name: "c", api: c, extra: "    regoin: hk\n"})
	})
	bad("a key value in the file", func() {
		f.write(entry{name: "a", api: a}, entry{name: "c", api: c, extra: "    private_key: " + c.private + "\n"})
	})
	bad("a key file gone", func() {
		f.write(entry{name: "a", api: a}, entry{name: "c", api: c})
		require.NoError(t, os.Remove(filepath.Join(f.dir, "c.key")))
	})
	bad("not YAML", func() { require.NoError(t, os.WriteFile(f.file, []byte("accounts: [\n"), 0o600)) })
	logs := f.logs.String()
	assert.Equal(t, 8, strings.Count(logs, `msg="cannot reload the accounts file: keeping the running configuration"`), logs)

	// Lifecycle off: 403, and nothing is reloaded.
	f.write(entry{name: "a", api: a}, entry{name: "c", api: c})
	code, body := f.post("/-/reload-disabled")
	assert.Equal(t, http.StatusForbidden, code, body)
	assert.Equal(t, []string{"a", "b"}, f.set.Accounts())
	code, _ = f.get("/-/reload")
	assert.Equal(t, http.StatusMethodNotAllowed, code)
	assert.Equal(t, []string{"a", "b"}, f.set.Accounts())

	// A good file: b removed, c added, a unchanged keeps its collector
	// (its request counter goes on).
	before := time.Now()
	code, body = f.post("/-/reload")
	require.Equal(t, http.StatusOK, code, body)
	assert.Equal(t, []string{"a", "c"}, f.set.Accounts())
	got := gatherReload(t, f.set)
	assert.Equal(t, 1.0, got["debt_config_last_reload_successful"])
	assert.GreaterOrEqual(t, got["debt_config_last_reload_success_timestamp_seconds"], float64(before.UnixNano())/1e9)
	code, _ = f.get("/probe?account=b")
	assert.Equal(t, http.StatusBadRequest, code)
	requireExact(t, f.probe("c"), c, apiclient.Query{})
	pa := f.probe("a")
	requireExact(t, pa, a, apiclient.Query{})
	assert.Greater(t, pa.series("debt_api_requests_total")[`debt_api_requests_total{outcome="success"}`], reqsA,
		"a kept its collector and its counter")

	// A changed key file is a changed account: a new client and collector.
	a2 := newAPI(t, "a2", simapi.Config{Seed: 9, Orders: 300})
	f.write(entry{name: "a", api: a2}, entry{name: "c", api: c})
	require.NoError(t, f.set.Reload())
	pa = f.probe("a")
	requireExact(t, pa, a2, apiclient.Query{})
	assert.Equal(t, float64(a2.Requests()), pa.series("debt_api_requests_total")[`debt_api_requests_total{outcome="success"}`],
		"a fresh counter for the changed account")
	assert.Contains(t, f.logs.String(), `msg="accounts reloaded"`)
	f.noKeys(f.logs.String(), pa.body)
}

// TestReloadDuringAProbe: a probe in flight when its account is removed
// still answers with its exact figures.
func TestReloadDuringAProbe(t *testing.T) {
	slow := newAPI(t, "slow", simapi.Config{Seed: 3, Orders: 900})
	slow.SetLatency(100 * time.Millisecond)
	other := newAPI(t, "other", simapi.Config{Seed: 4, Orders: 200})
	f := newFixture(t, 0, entry{name: "slow", api: slow}, entry{name: "other", api: other})

	done := make(chan struct{})
	var code int
	var body string
	go func() {
		defer close(done)
		req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/probe?account=slow", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			body = err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		code, body = resp.StatusCode, string(b)
	}()
	require.Eventually(t, func() bool { return slow.Requests() > 0 }, 10*time.Second, time.Millisecond)
	f.write(entry{name: "other", api: other})
	require.NoError(t, f.set.Reload())
	assert.Equal(t, []string{"other"}, f.set.Accounts())
	select {
	case <-done:
		t.Fatal("the probe ended before the reload: the test proves nothing")
	default:
	}
	<-done
	require.Equal(t, http.StatusOK, code, body)
	requireExact(t, parse(t, body), slow, apiclient.Query{})
	c, _ := f.get("/probe?account=slow")
	assert.Equal(t, http.StatusBadRequest, c, "removed once the probe in flight is answered")
}

// TestReloadStartsAndStopsBackgroundSweeps: with an interval, a removed
// account's API is no longer called; an added one's is.
func TestReloadStartsAndStopsBackgroundSweeps(t *testing.T) {
	a := newAPI(t, "a", simapi.Config{Seed: 1, Orders: 200})
	b := newAPI(t, "b", simapi.Config{Seed: 2, Orders: 200})
	c := newAPI(t, "c", simapi.Config{Seed: 3, Orders: 200})
	f := newFixture(t, 50*time.Millisecond, entry{name: "a", api: a}, entry{name: "b", api: b})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { f.set.Run(ctx); close(ran) }()
	defer func() { cancel(); <-ran }()

	require.Eventually(t, func() bool { return a.Requests() >= 4 && b.Requests() >= 4 }, 20*time.Second, 5*time.Millisecond)
	f.write(entry{name: "a", api: a}, entry{name: "c", api: c})
	require.NoError(t, f.set.Reload())
	nb := b.settled(t)
	na := a.Requests()
	require.Eventually(t, func() bool { return c.Requests() >= 4 && a.Requests() >= na+4 }, 20*time.Second, 5*time.Millisecond,
		"the added account is swept, the unchanged one still is")
	time.Sleep(200 * time.Millisecond)
	assert.Equal(t, nb, b.Requests(), "the removed account is no longer swept")
	requireExact(t, f.probe("c"), c, apiclient.Query{})
	requireExact(t, f.probe("a"), a, apiclient.Query{})
}

// TestReloadClosesRemovedAccountsConnections: the keep-alive connections
// of an account a reload removed are closed. They stayed open until the
// idle timeout (90 s), two goroutines each, reload after reload.
func TestReloadClosesRemovedAccountsConnections(t *testing.T) {
	gone := &api{public: "pub-gone", private: "probe-test-private-key-gone-3c9f"}
	gone.Server = simapi.NewHandler(simapi.Config{Seed: 1, Orders: 400, Now: now, PublicKey: gone.public, PrivateKey: gone.private})
	var mu sync.Mutex
	open := 0
	ts := httptest.NewUnstartedServer(gone.Server)
	ts.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		mu.Lock()
		defer mu.Unlock()
		switch state {
		case http.StateNew:
			open++
		case http.StateClosed, http.StateHijacked:
			open--
		}
	}
	ts.Start()
	t.Cleanup(ts.Close)
	gone.URL = ts.URL
	openConns := func() int { mu.Lock(); defer mu.Unlock(); return open }

	stays := newAPI(t, "stays", simapi.Config{Seed: 2, Orders: 200})
	f := newFixture(t, 0, entry{name: "gone", api: gone}, entry{name: "stays", api: stays})
	requireExact(t, f.probe("gone"), gone, apiclient.Query{})
	require.Positive(t, openConns(), "the probe's connections, kept alive")

	f.write(entry{name: "stays", api: stays})
	require.NoError(t, f.set.Reload())
	// The server sees a close once it reads the end of the connection: a
	// moment, where the idle timeout would be 90 s.
	require.Eventually(t, func() bool { return openConns() == 0 }, 10*time.Second, 5*time.Millisecond,
		"connections of the removed account still open")
	requireExact(t, f.probe("stays"), stays, apiclient.Query{})
}

// TestReloadBeforeRun: accounts loaded before Run starts are swept once it
// runs.
func TestReloadBeforeRun(t *testing.T) {
	a := newAPI(t, "a", simapi.Config{Seed: 1, Orders: 200})
	b := newAPI(t, "b", simapi.Config{Seed: 2, Orders: 200})
	f := newFixture(t, 50*time.Millisecond, entry{name: "a", api: a})
	f.write(entry{name: "b", api: b})
	require.NoError(t, f.set.Reload())
	time.Sleep(100 * time.Millisecond)
	assert.Zero(t, b.Requests(), "nothing swept before Run")
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { f.set.Run(ctx); close(ran) }()
	requireExact(t, f.probe("b"), b, apiclient.Query{})
	cancel()
	<-ran
	assert.Zero(t, a.Requests(), "the removed account was never swept")
}

// TestNoKeyInLogsOrMetrics: across good and failing accounts, good and bad
// reloads, no private key shows in a log line, a probe, the reload metrics
// or an error.
func TestNoKeyInLogsOrMetrics(t *testing.T) {
	good := newAPI(t, "good", simapi.Config{Seed: 1, Orders: 300, InvalidAmountEvery: 7})
	sig := newAPI(t, "sig", simapi.Config{Seed: 2, Orders: 300})
	sig.FailRetCode(171, -1)
	proxy := newAPI(t, "proxy", simapi.Config{Seed: 3, Orders: 300})
	proxy.FailHTTP(500, -1)
	trunc := newAPI(t, "trunc", simapi.Config{Seed: 4, Orders: 300})
	trunc.TruncatePage(1, -1)
	all := []entry{{name: "good", api: good}, {name: "sig", api: sig}, {name: "proxy", api: proxy}, {name: "trunc", api: trunc}}
	f := newFixture(t, 0, all...)
	var texts []string
	for _, e := range all {
		_, body := f.get("/probe?account=" + e.name)
		texts = append(texts, body)
	}
	// A key pasted where a path or a name belongs, the account's own or
	// another's: the commonest mistake with key files.
	for _, bad := range []entry{
		{name: "sig", api: sig, extra: "    private_key: " + sig.private + "\n"},
		{name: "sig", api: sig, key: "private_key_file: x"},
		{name: "sig", api: sig, extra: "    window: " + sig.private + "\n"},
		{name: "sig", api: sig, key: "private_key_file: " + sig.private},
		{name: "sig", api: sig, key: "private_key_env: " + sig.private},
		{name: "sig", api: sig, key: "private_key_file: " + good.private},
		{name: "sig", api: sig, key: "private_key_env: " + good.private},
		{name: "sig", api: sig, extra: "    project_id: " + sig.private + "\n"},
		{name: "sig", api: sig, extra: "    project_id: " + good.private + "\n"},
	} {
		f.write(entry{name: "good", api: good}, bad)
		err := f.set.Reload()
		require.Error(t, err)
		code, body := f.post("/-/reload")
		assert.Equal(t, http.StatusInternalServerError, code, body)
		texts = append(texts, err.Error(), body)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(f.set.Collector())
	mfs, err := reg.Gather()
	require.NoError(t, err)
	texts = append(texts, fmt.Sprint(mfs), f.logs.String())
	require.Contains(t, f.logs.String(), "retcode=171")
	f.noKeys(texts...)
	for _, a := range f.apis {
		for _, r := range a.LastRequests(simapi.LoggedRequests) {
			assert.Empty(t, r.RawQuery, "no parameter in a URL")
		}
	}
}

// TestNewFails: a file that does not load at start is an error, one line.
func TestNewFails(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "accounts.yml")
	require.NoError(t, os.WriteFile(file, []byte("accounts:\n  - name: a\n    public_key: p\n"), 0o600))
	_, err := New(Config{File: file, Defaults: accounts.Defaults{Endpoint: "http://127.0.0.1:1/", Window: time.Hour}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), file)
	assert.Contains(t, err.Error(), `account "a"`)

	// A shared client setting that apiclient refuses is reported at start.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.key"), []byte("k"), 0o600))
	require.NoError(t, os.WriteFile(file, []byte("accounts:\n  - name: a\n    public_key: p\n    private_key_file: "+filepath.Join(dir, "a.key")+"\n"), 0o600))
	_, err = New(Config{File: file, Defaults: accounts.Defaults{Endpoint: "http://127.0.0.1:1/", Window: time.Hour},
		Client: apiclient.Config{PageSize: 5}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "page size")
}

// TestConcurrentProbesAndReloads runs probes and reloads together, for the
// race detector.
func TestConcurrentProbesAndReloads(t *testing.T) {
	a := newAPI(t, "a", simapi.Config{Seed: 1, Orders: 200})
	b := newAPI(t, "b", simapi.Config{Seed: 2, Orders: 200})
	f := newFixture(t, 0, entry{name: "a", api: a}, entry{name: "b", api: b})
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				code, body := f.get("/probe?account=a")
				assert.Equal(t, http.StatusOK, code, body)
				_ = i
			}
		}()
	}
	for i := range 5 {
		if i%2 == 0 {
			f.write(entry{name: "a", api: a}, entry{name: "b", api: b})
		} else {
			f.write(entry{name: "a", api: a})
		}
		require.NoError(t, f.set.Reload())
	}
	wg.Wait()
}

// TestNilSet: without --config.file main may still mount the handlers.
func TestNilSet(t *testing.T) {
	var s *Set
	require.Error(t, s.Reload())
	assert.Nil(t, s.Accounts())
	rec := httptest.NewRecorder()
	s.ProbeHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/probe?account=a", nil))
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	rec = httptest.NewRecorder()
	s.ReloadHandler(true).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/-/reload", nil))
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Equal(t, "failed to reload config: no --config.file given: nothing to reload\n", rec.Body.String())
	rec = httptest.NewRecorder()
	s.ReloadHandler(false).ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/-/reload", nil))
	assert.Equal(t, http.StatusForbidden, rec.Code)
}

// TestWarnsOfUnfillableAgeBuckets: an account whose own window is shorter
// than an age bucket's start is named in a warning, at load and at a
// reload that gives it such a window; an account on the default window
// is not (the start-up warning of --window covers it).
func TestWarnsOfUnfillableAgeBuckets(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "accounts.yml")
	key := filepath.Join(dir, "k.key")
	require.NoError(t, os.WriteFile(key, []byte("k"), 0o600))
	write := func(shortWindow string) {
		require.NoError(t, os.WriteFile(file, []byte("accounts:\n"+
			"  - name: short\n    public_key: p\n    private_key_file: "+key+"\n    window: "+shortWindow+"\n"+
			"  - name: default\n    public_key: p\n    private_key_file: "+key+"\n"), 0o600))
	}
	buckets := collector.NewAgeBuckets([]time.Duration{24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour},
		[]string{"1d", "7d", "30d"})
	logs := &exportertest.SyncBuffer{}
	write("30d")
	set, err := New(Config{File: file, Defaults: accounts.Defaults{Endpoint: "http://127.0.0.1:1/", Window: 2 * time.Hour},
		Collector: collector.Config{AgeBuckets: buckets}, Logger: log.NewLogfmtLogger(logs)})
	require.NoError(t, err)
	assert.NotContains(t, logs.String(), "can never fill", "a 30d window fills 1d, 7d and 30d")

	write("36h")
	require.NoError(t, set.Reload())
	var warned []string
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "can never fill") {
			warned = append(warned, line)
		}
	}
	require.Len(t, warned, 1, logs.String())
	assert.Contains(t, warned[0], "level=warn")
	assert.Contains(t, warned[0], "account=short")
	assert.Contains(t, warned[0], "window=1d12h")
	assert.Contains(t, warned[0], `buckets="7d-30d, 30d+"`)
}
