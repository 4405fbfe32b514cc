package collector

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/debt-exporter/debt_exporter/apiclient"
	"github.com/debt-exporter/debt_exporter/internal/exportertest"
	"github.com/debt-exporter/debt_exporter/internal/simapi"
)

var (
	now    = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	window = 30 * 24 * time.Hour
)

const privateKey = "collector-test-private-key-7d3e"

// logBuffer is the collector's log, as lines to count.
type logBuffer struct{ exportertest.SyncBuffer }

func (l *logBuffer) count(substr string) int { return strings.Count(l.String(), substr) }

type fixture struct {
	srv  *simapi.Server
	coll *Collector
	logs *logBuffer
	// setNow moves the clock of a backgroundFixture, whose Run reads it.
	setNow func(time.Time)
}

func newFixture(t *testing.T, cfg simapi.Config, mod func(*apiclient.Config, *Config)) *fixture {
	t.Helper()
	cfg.Now = now
	cfg.PrivateKey = privateKey
	srv := simapi.New(cfg)
	t.Cleanup(srv.Close)
	logs := &logBuffer{}
	requests := NewRequests()
	ccfg := apiclient.Config{
		Endpoint: srv.URL, PublicKey: simapi.DemoPublicKey, PrivateKey: privateKey,
		Retry:   apiclient.RetryPolicy{MaxAttempts: 3, BaseDelay: 5 * time.Millisecond, MaxDelay: 20 * time.Millisecond},
		Observe: requests.Observe,
	}
	collCfg := Config{
		Window: window, Now: func() time.Time { return now }, MaxTimeout: 10 * time.Second, Requests: requests,
		Logger: log.NewLogfmtLogger(logs),
	}
	if mod != nil {
		mod(&ccfg, &collCfg)
	}
	client, err := apiclient.New(ccfg)
	require.NoError(t, err)
	collCfg.Client = client
	coll := New(collCfg)
	return &fixture{srv: srv, coll: coll, logs: logs}
}

func (f *fixture) truth(q apiclient.Query) simapi.Truth {
	q.Start, q.End = now.Add(-window), now // the collector's window at the fixture's clock
	return f.srv.Truth(q)
}

// expected renders the exposition the collector must produce for a truth:
// the test's own rendering, from the simulated API's independent totals.
func expected(truth simapi.Truth, invalidAmount int) string {
	keys := make([]simapi.Key, 0, len(truth.Series))
	for k := range truth.Series {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
	var b strings.Builder
	family := func(name, help string, value func(simapi.Series) string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name)
		for _, k := range keys {
			fmt.Fprintf(&b, "%s{currency=%q,model=%q,product_code=%q,region=%q} %s\n",
				name, k.Currency, k.ModelID, k.ProductCode, k.Region, value(truth.Series[k]))
		}
	}
	family("debt_unpaid_amount", helpUnpaidAmount, func(s simapi.Series) string { return s.Amount.String() })
	family("debt_unpaid_orders", helpUnpaidOrders, func(s simapi.Series) string { return strconv.Itoa(s.Orders) })
	family("debt_unpaid_oldest_order_timestamp_seconds", helpOldest, func(s simapi.Series) string { return strconv.FormatInt(s.Oldest, 10) })
	fmt.Fprintf(&b, "# HELP debt_up %s\n# TYPE debt_up gauge\ndebt_up 1\n", helpUp)
	fmt.Fprintf(&b, "# HELP debt_window_seconds %s\n# TYPE debt_window_seconds gauge\ndebt_window_seconds %d\n", helpWindow, int(window.Seconds()))
	fmt.Fprintf(&b, "# HELP debt_invalid_orders %s\n# TYPE debt_invalid_orders gauge\ndebt_invalid_orders{reason=\"amount\"} %d\ndebt_invalid_orders{reason=\"create_time\"} 0\ndebt_invalid_orders{reason=\"out_of_window\"} 0\n", helpInvalid, invalidAmount)
	return b.String()
}

var stableMetrics = []string{"debt_unpaid_amount", "debt_unpaid_orders", "debt_unpaid_oldest_order_timestamp_seconds",
	"debt_up", "debt_window_seconds", "debt_invalid_orders"}

func TestCollectMatchesTruth(t *testing.T) {
	f := newFixture(t, simapi.Config{Seed: 42, Orders: 3000, InvalidAmountEvery: 101}, nil)
	truth := f.truth(apiclient.Query{})
	// The dataset must exercise what the exposition has to get right.
	var usd, cny, emptyRegion, emptyModel bool
	for k := range truth.Series {
		usd = usd || k.Currency == "USD"
		cny = cny || k.Currency == "CNY"
		emptyRegion = emptyRegion || k.Region == ""
		emptyModel = emptyModel || k.ModelID == ""
	}
	require.True(t, usd && cny && emptyRegion && emptyModel, "dataset lacks a case")
	require.Positive(t, truth.Invalid)

	require.NoError(t, testutil.CollectAndCompare(f.coll, strings.NewReader(expected(truth, truth.Invalid)), stableMetrics...))
}

func TestCollectWithFilters(t *testing.T) {
	q := apiclient.Query{Regions: []string{"hk", "us-ca"}, ProductCodes: []string{"modelverse"}}
	f := newFixture(t, simapi.Config{Seed: 5, Orders: 2000}, func(_ *apiclient.Config, c *Config) { c.Query = q })
	truth := f.truth(q)
	require.NotEmpty(t, truth.Series)
	require.NoError(t, testutil.CollectAndCompare(f.coll, strings.NewReader(expected(truth, truth.Invalid)), stableMetrics...))
}

func TestCollectAndLint(t *testing.T) {
	f := newFixture(t, simapi.Config{Seed: 42, Orders: 500, InvalidAmountEvery: 50}, nil)
	problems, err := testutil.CollectAndLint(f.coll)
	require.NoError(t, err)
	assert.Empty(t, problems)
}

// gather collects once and returns the families by name.
func gather(t *testing.T, c prometheus.Collector) map[string][]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string][]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			v := m.GetGauge().GetValue()
			if m.Counter != nil {
				v = m.GetCounter().GetValue()
			}
			out[mf.GetName()] = append(out[mf.GetName()], v)
		}
	}
	return out
}

func requireHealthy(t *testing.T, f *fixture) {
	t.Helper()
	require.NoError(t, testutil.CollectAndCompare(f.coll, strings.NewReader(expected(f.truth(apiclient.Query{}), f.truth(apiclient.Query{}).Invalid)), stableMetrics...))
}

// TestFaultMatrix: each failure gives debt_up 0 and no business series,
// is logged once, and the next healthy scrape recovers exactly.
func TestFaultMatrix(t *testing.T) {
	tests := []struct {
		name        string
		client      func(*apiclient.Config)
		coll        func(*Config)
		fault       func(*simapi.Server)
		wantUp      float64
		wantLog     string
		recoverWith func(*apiclient.Config) // the healthy configuration, when the fault is in ours
	}{
		{name: "bad signature", client: func(c *apiclient.Config) { c.PrivateKey = "not-the-key" },
			wantLog: "retcode=171"},
		{name: "unknown public key", client: func(c *apiclient.Config) { c.PublicKey = "nobody" },
			wantLog: "retcode=172"},
		{name: "throttled beyond the deadline", fault: func(s *simapi.Server) { s.FailRetCode(153, -1) },
			client:  func(c *apiclient.Config) { c.Retry.MaxAttempts = 1000 },
			coll:    func(c *Config) { c.MaxTimeout = 300 * time.Millisecond },
			wantLog: "retcode=153"},
		{name: "5xx then success", fault: func(s *simapi.Server) { s.FailHTTP(503, 2) }, wantUp: 1},
		{name: "5xx that lasts", fault: func(s *simapi.Server) { s.FailHTTP(503, -1) }, wantLog: "status=503"},
		{name: "truncated JSON", fault: func(s *simapi.Server) { s.TruncatePage(1, 1) }, wantLog: "decoding response"},
		{name: "endless pages hit the guard", fault: func(s *simapi.Server) { s.SetEndless(true) },
			client: func(c *apiclient.Config) { c.MaxPages = 40 }, wantLog: "the API repeats itself"},
		{name: "scrape timeout shorter than the sweep", fault: func(s *simapi.Server) { s.SetLatency(300 * time.Millisecond) },
			coll: func(c *Config) { c.MaxTimeout = 100 * time.Millisecond }, wantLog: "more time than the scrape allows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var healthy apiclient.Config
			f := newFixture(t, simapi.Config{Seed: 8, Orders: 1500, InvalidAmountEvery: 200}, func(c *apiclient.Config, cc *Config) {
				healthy = *c
				if tt.client != nil {
					tt.client(c)
				}
				if tt.coll != nil {
					tt.coll(cc)
				}
			})
			if tt.fault != nil {
				tt.fault(f.srv)
			}
			got := gather(t, f.coll)
			require.Equal(t, []float64{tt.wantUp}, got["debt_up"])
			if tt.wantUp == 0 {
				for _, name := range []string{"debt_unpaid_amount", "debt_unpaid_orders", "debt_unpaid_oldest_order_timestamp_seconds", "debt_invalid_orders", "debt_last_success_timestamp_seconds"} {
					assert.NotContains(t, got, name, "no business series on failure")
				}
				assert.Equal(t, 1, f.logs.count(`msg="sweep failed"`), "logged once: %s", f.logs)
				assert.Contains(t, f.logs.String(), tt.wantLog)
			} else {
				assert.Zero(t, f.logs.count("sweep failed"))
			}
			assert.Contains(t, got, "debt_window_seconds")
			assert.Contains(t, got, "debt_sweep_duration_seconds")
			assert.Contains(t, got, "debt_api_requests_total")

			// The next scrape, with the fault gone, is whole and exact.
			f.srv.ClearFaults()
			healthy.Observe = f.coll.cfg.Requests.Observe
			client, err := apiclient.New(healthy)
			require.NoError(t, err)
			f.coll.cfg.Client = client
			f.coll.cfg.MaxTimeout = 10 * time.Second
			requireHealthy(t, f)
		})
	}
}

func TestFailureAfterSuccessKeepsOnlyTheTimestamp(t *testing.T) {
	f := newFixture(t, simapi.Config{Seed: 8, Orders: 300}, nil)
	first := gather(t, f.coll)
	require.Equal(t, []float64{1}, first["debt_up"])
	f.srv.FailHTTP(500, -1)
	second := gather(t, f.coll)
	assert.Equal(t, []float64{0}, second["debt_up"])
	assert.NotContains(t, second, "debt_unpaid_amount", "no stale totals as current")
	// Staleness stays visible: when the last complete sweep ended.
	assert.Equal(t, first["debt_last_success_timestamp_seconds"], second["debt_last_success_timestamp_seconds"])
}

func TestInvalidOrdersAreCountedAndLoggedOncePerSweep(t *testing.T) {
	f := newFixture(t, simapi.Config{Seed: 8, Orders: 2000, InvalidAmountEvery: 10}, nil)
	truth := f.truth(apiclient.Query{})
	require.Greater(t, truth.Invalid, 100)
	requireHealthy(t, f) // checks debt_invalid_orders{reason="amount"} and the exact rest
	assert.Equal(t, 1, f.logs.count(`msg="orders left out of the sums"`), f.logs.String())
	assert.Contains(t, f.logs.String(), "count="+strconv.Itoa(truth.Invalid))
}

// TestInvalidOrderLogIsBounded: an order with an invalid amount and a
// 1 MiB OrderNo is left out and logged once, its OrderNo cut to 64 bytes and
// marked as apiclient marks a cut, not written out whole.
func TestInvalidOrderLogIsBounded(t *testing.T) {
	api := &literalAPI{}
	ct := now.Add(-time.Hour).Unix()
	api.add(t, json.RawMessage(fmt.Sprintf(`{"OrderNo":%q,"Region":"cn","ModelID":"m","ProductCode":"modelverse","Currency":"CNY","OrderTotalPrice":"oops","CreateTime":%d}`,
		strings.Repeat("X", 1<<20), ct)))
	api.add(t, json.RawMessage(fmt.Sprintf(`{"OrderNo":"ok-1","Region":"cn","ModelID":"m","ProductCode":"modelverse","Currency":"CNY","OrderTotalPrice":"1.5","CreateTime":%d}`, ct)))
	coll, logs := literalCollector(t, api, nil)
	got := gather(t, coll)
	require.Equal(t, []float64{1}, got["debt_up"])
	assert.Equal(t, []float64{1.5}, got["debt_unpaid_amount"], "the valid order is summed")
	assert.Equal(t, []float64{1, 0, 0}, got["debt_invalid_orders"], "amount, create_time, out_of_window")

	require.Equal(t, 1, logs.count(`msg="orders left out of the sums"`), logs.String())
	for _, line := range strings.Split(logs.String(), "\n") {
		assert.Less(t, len(line), 512, "%.200s...", line)
	}
	want := `example_order="` + strings.Repeat("X", 64) + `…[cut: 1048576 bytes in all]"`
	assert.True(t, strings.Contains(logs.String(), want), "want %s in the log", want)
}

func TestConcurrentScrapesShareOneSweep(t *testing.T) {
	f := newFixture(t, simapi.Config{Seed: 8, Orders: 950}, func(c *apiclient.Config, _ *Config) { c.Concurrency = 1 })
	// The API holds its answers until the other three scrapes have joined
	// the sweep the first one started: they overlap it whatever the
	// machine's speed.
	release := f.srv.Hold()
	defer release()
	joined := make(chan struct{}, 4)
	f.coll.joined = func() { joined <- struct{}{} }
	var wg sync.WaitGroup
	ups := make([]float64, 4)
	reqs := make([]float64, 4)
	for i := range ups {
		wg.Go(func() {
			ch := make(chan prometheus.Metric, 1000)
			f.coll.Collect(ch)
			close(ch)
			for m := range ch {
				if strings.Contains(m.Desc().String(), `"debt_up"`) {
					var pb dto.Metric
					_ = m.Write(&pb)
					ups[i] = pb.GetGauge().GetValue()
				}
				if strings.Contains(m.Desc().String(), `"debt_sweep_requests"`) {
					var pb dto.Metric
					_ = m.Write(&pb)
					reqs[i] = pb.GetGauge().GetValue()
				}
			}
		})
	}
	for range 3 {
		<-joined
	}
	release()
	wg.Wait()
	assert.Equal(t, []float64{1, 1, 1, 1}, ups)
	assert.Positive(t, reqs[0])
	assert.Equal(t, []float64{reqs[0], reqs[0], reqs[0], reqs[0]}, reqs, "the four scrapes report one sweep")
	assert.EqualValues(t, reqs[0], f.srv.Requests(), "one sweep for the four scrapes, not four")
}

func TestMinIntervalServesTheLastCompleteSweep(t *testing.T) {
	clock := now
	var mu sync.Mutex
	// One page in flight: a page fetched ahead and abandoned could reach
	// the server after the sweep, and make its request count racy.
	f := newFixture(t, simapi.Config{Seed: 8, Orders: 250}, func(ac *apiclient.Config, c *Config) {
		ac.Concurrency = 1
		c.MinInterval = time.Minute
		c.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	})
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }
	requireHealthy(t, f)
	n := f.srv.Requests()
	advance(30 * time.Second)
	requireHealthy(t, f)
	assert.Equal(t, n, f.srv.Requests(), "served from the last sweep")
	advance(31 * time.Second)
	f.srv.FailHTTP(500, -1)
	got := gather(t, f.coll)
	assert.Equal(t, []float64{0}, got["debt_up"], "past the interval a new sweep runs, and its failure shows")
}

func TestSecretsStayOutOfLogsAndMetrics(t *testing.T) {
	for _, fault := range []func(*simapi.Server){
		func(*simapi.Server) {},
		func(s *simapi.Server) { s.FailRetCode(171, -1) },
		func(s *simapi.Server) { s.FailHTTP(502, -1) },
		func(s *simapi.Server) { s.TruncatePage(1, -1) },
	} {
		// The fixture's logger has no level filter: debug lines are in.
		f := newFixture(t, simapi.Config{Seed: 8, Orders: 300, InvalidAmountEvery: 7}, nil)
		fault(f.srv)
		rec := httptest.NewRecorder()
		f.coll.Handler(prometheus.NewRegistry(), 0, 5*time.Second, f.coll.logger).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		exposition := rec.Body.String()
		require.Contains(t, exposition, "debt_up")
		for _, text := range []string{f.logs.String(), exposition} {
			assert.NotContains(t, text, privateKey)
		}
		for _, r := range f.srv.LastRequests(simapi.LoggedRequests) {
			assert.NotContains(t, r.RawQuery, privateKey)
			assert.Empty(t, r.RawQuery, "no parameter in the URL")
		}
	}
}

func TestSweepTimeout(t *testing.T) {
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"", time.Minute},
		{"10", 9500 * time.Millisecond},
		{"0.25", 125 * time.Millisecond}, // smaller than the offset: half of it
		{"600", time.Minute},             // capped
		{"junk", time.Minute},
		{"-3", time.Minute},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		if tt.header != "" {
			r.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", tt.header)
		}
		assert.Equal(t, tt.want, SweepTimeout(r, 500*time.Millisecond, time.Minute), tt.header)
	}
}

// TestHandlerUsesTheScrapeTimeout: a sweep slower than Prometheus' scrape
// timeout ends in time with debt_up 0, instead of outliving the scrape.
func TestHandlerUsesTheScrapeTimeout(t *testing.T) {
	f := newFixture(t, simapi.Config{Seed: 8, Orders: 300}, nil)
	f.srv.SetLatency(2 * time.Second)
	r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	r.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "0.5")
	rec := httptest.NewRecorder()
	f.coll.Handler(prometheus.NewRegistry(), 200*time.Millisecond, time.Minute, f.coll.logger).ServeHTTP(rec, r)
	assert.Contains(t, rec.Body.String(), "\ndebt_up 0\n")
	assert.Contains(t, f.logs.String(), "the sweep needs more time than the scrape allows")
}

// dataAnswers counts the requests simapi answered with data (HTTP 200,
// RetCode 0), from its own log: the collector's page count, seen from
// the server.
func dataAnswers(srv *simapi.Server) int {
	n := 0
	for _, r := range srv.LastRequests(simapi.LoggedRequests) {
		if r.Status == http.StatusOK && r.RetCode == 0 {
			n++
		}
	}
	return n
}

// TestSweepCostIsExposed: debt_sweep_requests, debt_sweep_pages and
// debt_sweep_slices are what the server saw of the last sweep, and
// debt_api_concurrency and debt_api_rate_limit_requests_per_second what
// the client allows: --api.concurrency on a calm API, less after
// throttling, and --api.rate-limit when set.
func TestSweepCostIsExposed(t *testing.T) {
	t.Run("one answer", func(t *testing.T) {
		f := newFixture(t, simapi.Config{Seed: 3, Orders: 40}, func(c *apiclient.Config, _ *Config) { c.Concurrency = 3 })
		got := gather(t, f.coll)
		require.Equal(t, []float64{1}, got["debt_up"])
		// 40 orders are one answer, and one more asks its page 2 at a
		// PageSize of 40, the proof that no gateway cut it short.
		assert.Equal(t, []float64{2}, got["debt_sweep_requests"])
		assert.Equal(t, []float64{2}, got["debt_sweep_pages"])
		assert.Equal(t, []float64{1}, got["debt_sweep_slices"])
		assert.Equal(t, "40", f.srv.LastRequest().Params.Get("PageSize"))
		assert.Equal(t, []float64{3}, got["debt_api_concurrency"], "--api.concurrency on a calm API")
		assert.Equal(t, []float64{0}, got["debt_api_rate_limit_requests_per_second"], "unlimited")
	})
	for _, tt := range []struct {
		name string
		sort int
	}{{"sorted", simapi.SortDesc}, {"unsorted", simapi.Unsorted}} {
		t.Run("retries and steady state, "+tt.name, func(t *testing.T) {
			const orders = 3000
			f := newFixture(t, simapi.Config{Seed: 3, Orders: orders, Sort: tt.sort}, func(c *apiclient.Config, _ *Config) { c.Concurrency = 1 })
			f.srv.FailHTTP(503, 2) // two retries, which are requests but not pages
			first := gather(t, f.coll)
			require.Equal(t, []float64{1}, first["debt_up"])
			assert.Equal(t, []float64{float64(f.srv.Requests())}, first["debt_sweep_requests"])
			assert.Equal(t, []float64{float64(dataAnswers(f.srv))}, first["debt_sweep_pages"], "pages are the answers with data")
			assert.Equal(t, first["debt_sweep_requests"][0]-2, first["debt_sweep_pages"][0])
			pages := math.Ceil(orders / 100.0)
			assert.GreaterOrEqual(t, first["debt_sweep_pages"][0], pages)
			assert.Positive(t, first["debt_sweep_slices"][0])
			assert.LessOrEqual(t, first["debt_sweep_slices"][0], first["debt_sweep_pages"][0], "a slice takes one answer or more")

			// The next sweep is planned from this one.
			before := f.srv.Requests()
			second := gather(t, f.coll)
			require.Equal(t, []float64{1}, second["debt_up"])
			assert.Equal(t, []float64{float64(f.srv.Requests() - before)}, second["debt_sweep_requests"], "this sweep's, not a running total")
			assert.Equal(t, second["debt_sweep_requests"], second["debt_sweep_pages"], "no retries this time")
			assert.LessOrEqual(t, second["debt_sweep_pages"][0], 1.5*pages)
			slices, got := second["debt_sweep_slices"][0], second["debt_sweep_pages"][0]
			if tt.sort == simapi.Unsorted {
				// Slices planned to hold three quarters of a page: one answer each.
				assert.GreaterOrEqual(t, slices, 0.9*got, "unsorted: a slice is about one answer")
			} else {
				// Slices of many pages, each walked by the time cursor.
				assert.LessOrEqual(t, slices, got/4, "sorted: a slice is many answers")
			}
		})
	}
	t.Run("while throttled", func(t *testing.T) {
		// Given up after a count of throttles, not a time: the first
		// sweep's first request alone, each throttle a cut.
		f := newFixture(t, simapi.Config{Seed: 3, Orders: 3000}, func(c *apiclient.Config, _ *Config) {
			c.Concurrency = 8
			c.Retry.MaxAttempts = 5
		})
		f.srv.FailRetCode(153, -1)
		got := gather(t, f.coll)
		require.Equal(t, []float64{0}, got["debt_up"], "throttled beyond the attempts")
		assert.Contains(t, f.logs.String(), "throttled attempts")
		require.Len(t, got["debt_api_concurrency"], 1, "exposed when the sweep fails too")
		assert.Less(t, got["debt_api_concurrency"][0], 8.0, "cut by the throttles")
		assert.GreaterOrEqual(t, got["debt_api_concurrency"][0], 2.0, "never below two")
	})
	t.Run("rate limit", func(t *testing.T) {
		f := newFixture(t, simapi.Config{Seed: 3, Orders: 300}, func(c *apiclient.Config, _ *Config) { c.RateLimit = 500 })
		got := gather(t, f.coll)
		require.Equal(t, []float64{1}, got["debt_up"])
		assert.Equal(t, []float64{500}, got["debt_api_rate_limit_requests_per_second"], "--api.rate-limit")
	})
}

// TestOutOfWindowOrdersAreExposed: orders an API sends outside the time
// slice asked for are left out of the sums, counted in
// debt_invalid_orders{reason="out_of_window"} and logged once.
func TestOutOfWindowOrdersAreExposed(t *testing.T) {
	f := newFixture(t, simapi.Config{Seed: 4, Orders: 1200}, nil)
	f.srv.SetOutOfRange(3)
	truth := f.truth(apiclient.Query{})
	got := gather(t, f.coll)
	require.Equal(t, []float64{1}, got["debt_up"])
	assert.Equal(t, []float64{0, 0, 3}, got["debt_invalid_orders"], "amount, create_time, out_of_window")
	var orders float64
	for _, v := range got["debt_unpaid_orders"] {
		orders += v
	}
	var want int
	for _, s := range truth.Series {
		want += s.Orders
	}
	assert.EqualValues(t, want, orders, "the orders of the window, none of the three")
	assert.Equal(t, 1, f.logs.count(`reason=out_of_window`), f.logs.String())
}
