package collector

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/debt-exporter/debt_exporter/apiclient"
	"github.com/debt-exporter/debt_exporter/internal/simapi"
	"github.com/debt-exporter/debt_exporter/money"
)

// scrapeWith runs one scrape through the handler with Prometheus' timeout
// header, and returns the body.
func scrapeWith(f *fixture, timeout string) string {
	r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	r.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", timeout)
	rec := httptest.NewRecorder()
	f.coll.Handler(prometheus.NewRegistry(), 100*time.Millisecond, time.Minute, f.coll.logger).ServeHTTP(rec, r)
	return rec.Body.String()
}

// TestAShorterDeadlineDoesNotFailAnotherScrape: scrape A (timeout 0.5 s)
// starts a sweep of about 1.5 s, scrape B (timeout 10 s) joins it: A fails
// by its own deadline, B gets the complete sweep.
func TestAShorterDeadlineDoesNotFailAnotherScrape(t *testing.T) {
	f := newFixture(t, simapi.Config{Seed: 8, Orders: 300}, func(c *apiclient.Config, _ *Config) { c.Concurrency = 1 })
	f.srv.SetLatency(300 * time.Millisecond)
	var a, b string
	var wg sync.WaitGroup
	wg.Go(func() { a = scrapeWith(f, "0.6") })
	time.Sleep(50 * time.Millisecond)
	wg.Go(func() { b = scrapeWith(f, "10") })
	wg.Wait()
	assert.Contains(t, a, "\ndebt_up 0\n")
	assert.Contains(t, b, "\ndebt_up 1\n", "the joiner's own deadline was later")
	assert.Contains(t, b, "debt_unpaid_amount{")
	assert.Equal(t, 1, f.logs.count(`msg="scrape abandoned"`), f.logs.String())
	assert.Zero(t, f.logs.count(`msg="sweep failed"`), f.logs.String())
}

// TestShutdownEndsSweepsInFlight: when the exporter's context ends
// (SIGTERM), a sweep in flight stops at once and its scrape is answered
// with debt_up 0, long before the sweep would have ended.
func TestShutdownEndsSweepsInFlight(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	f := newFixture(t, simapi.Config{Seed: 8, Orders: 3000}, func(c *apiclient.Config, cc *Config) {
		c.Concurrency = 1
		cc.Context = ctx
	})
	f.srv.SetLatency(time.Second) // a sweep of 30+ s
	done := make(chan string)
	go func() { done <- scrapeWith(f, "60") }()
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	cancel()
	select {
	case body := <-done:
		assert.Contains(t, body, "\ndebt_up 0\n")
		assert.Less(t, time.Since(start), 2*time.Second)
	case <-time.After(5 * time.Second):
		t.Fatal("the scrape was not answered after shutdown")
	}
	assert.Eventually(t, func() bool { return strings.Contains(f.logs.String(), "shutting down") }, 2*time.Second, 10*time.Millisecond)
}

// TestDeadAPIHint tells a dead API from a sweep that needs more time.
func TestDeadAPIHint(t *testing.T) {
	f := newFixture(t, simapi.Config{Seed: 8, Orders: 300}, nil)
	f.srv.SetLatency(5 * time.Second) // accepts, never answers in time
	assert.Contains(t, scrapeWith(f, "0.5"), "\ndebt_up 0\n")
	assert.Contains(t, f.logs.String(), "the API gave no answer in time")
	assert.NotContains(t, f.logs.String(), "raise scrape_timeout or --sweep.min-interval")
}

const backgroundMaxTimeout = 30 * time.Second

func backgroundFixture(t *testing.T, interval time.Duration, latency time.Duration) (*fixture, context.CancelFunc) {
	t.Helper()
	clock := struct {
		sync.Mutex
		now time.Time
	}{now: now}
	f := newFixture(t, simapi.Config{Seed: 8, Orders: 2000}, func(_ *apiclient.Config, c *Config) {
		c.Interval = interval
		// Far above a sweep here (0.5 s at most), so that a busy machine
		// cannot make one fail.
		c.MaxTimeout = backgroundMaxTimeout
		c.Now = func() time.Time {
			clock.Lock()
			defer clock.Unlock()
			return clock.now
		}
	})
	f.setNow = func(t time.Time) {
		clock.Lock()
		defer clock.Unlock()
		clock.now = t
	}
	f.srv.SetLatency(latency)
	ctx, cancel := context.WithCancel(context.Background())
	go f.coll.Run(ctx)
	t.Cleanup(cancel)
	return f, cancel
}

// TestBackgroundSweepsAnswerAtOnce: a sweep longer than the scrape timeout
// still gives exact figures; every scrape after the first is answered at
// once from the last complete sweep.
func TestBackgroundSweepsAnswerAtOnce(t *testing.T) {
	f, _ := backgroundFixture(t, time.Second, 100*time.Millisecond) // a sweep of about 0.5 s
	first := scrapeWith(f, "30")                                    // waits for the first sweep
	require.Contains(t, first, "\ndebt_up 1\n")
	for range 5 {
		// Far shorter than a sweep: debt_up 1 says it did not wait for
		// one (a timed bound would fail on a busy machine).
		body := scrapeWith(f, "0.2")
		assert.Contains(t, body, "\ndebt_up 1\n")
	}
	requireHealthy(t, f)
}

// TestBackgroundFiguresExpire: when the API fails, debt_up turns 0 at the
// next sweep, but the last figures stay until 3 x interval + max timeout
// after their sweep, and not a moment longer.
func TestBackgroundFiguresExpire(t *testing.T) {
	f, _ := backgroundFixture(t, 200*time.Millisecond, 0)
	require.Contains(t, scrapeWith(f, "30"), "\ndebt_up 1\n")
	f.srv.FailRetCode(171, -1)
	assert.Eventually(t, func() bool { return strings.Contains(scrapeWith(f, "1"), "\ndebt_up 0\n") }, 3*time.Second, 20*time.Millisecond)
	body := scrapeWith(f, "1")
	assert.Contains(t, body, "debt_unpaid_amount{", "the last complete figures, with their age")
	assert.Contains(t, body, "debt_last_success_timestamp_seconds")
	// Move the clock past the bound: 3 x 200ms + the max timeout.
	f.setNow(now.Add(backgroundMaxTimeout + 601*time.Millisecond))
	body = scrapeWith(f, "1")
	assert.Contains(t, body, "\ndebt_up 0\n")
	assert.NotContains(t, body, "debt_unpaid_amount{", "too old to be shown")
}

// TestHAPairSharesBackgroundSweeps: two scrapers at staggered offsets cause
// one sweep per interval, counted at the simulated API.
func TestHAPairSharesBackgroundSweeps(t *testing.T) {
	f, cancel := backgroundFixture(t, 500*time.Millisecond, 0)
	require.Contains(t, scrapeWith(f, "30"), "\ndebt_up 1\n")
	perSweep := f.srv.Requests()
	require.Positive(t, perSweep)
	stop := time.Now().Add(3 * time.Second)
	var wg sync.WaitGroup
	for _, offset := range []time.Duration{0, 130 * time.Millisecond} {
		wg.Go(func() {
			time.Sleep(offset)
			for time.Now().Before(stop) {
				assert.Contains(t, scrapeWith(f, "1"), "\ndebt_up 1\n")
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	cancel()
	// 3.x s at one sweep per 0.5 s (±10% jitter): 6 to 9 sweeps in all,
	// against about 60 scrapes. A steady sweep costs fewer requests than
	// the first, so count sweeps by the collector's own gauge.
	sweeps := float64(f.srv.Requests()) / float64(perSweep)
	assert.Less(t, sweeps, 12.0, "sweeps follow the interval, not the scrapes")
}

// TestAgeBucketsAddUp: on every sweep of a live account, the orders and
// amounts of the age buckets add up to debt_unpaid_orders and
// debt_unpaid_amount of the same labels summed over model.
func TestAgeBucketsAddUp(t *testing.T) {
	f := newFixture(t, simapi.Config{Seed: 21, Orders: 5000, Varied: true}, func(_ *apiclient.Config, c *Config) {
		c.AgeBuckets = NewAgeBuckets([]time.Duration{24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour}, []string{"1d", "7d", "30d"})
	})
	f.srv.SetChurn(5, 5)
	for range 3 {
		res := f.coll.sweep(context.Background())
		require.NoError(t, res.err)
		type total struct {
			orders int
			amount string
		}
		add := func(m map[groupKey]*total, g groupKey, orders int, amount money.Decimal) {
			tt := m[g]
			if tt == nil {
				tt = &total{amount: "0"}
				m[g] = tt
			}
			d, _ := money.ParseString(tt.amount)
			tt.orders += orders
			tt.amount = d.Add(amount).String()
		}
		series, ages := map[groupKey]*total{}, map[groupKey]*total{}
		for _, s := range res.totals.sums {
			add(series, groupKey{s.Region, s.ProductCode, s.Currency}, s.Orders, s.Amount)
		}
		for _, a := range res.totals.byAge {
			add(ages, groupKey{a.Region, a.ProductCode, a.Currency}, a.Orders, a.Amount)
		}
		require.NotEmpty(t, series)
		require.Len(t, ages, len(series))
		for g, s := range series {
			a := ages[g]
			require.NotNil(t, a, "%+v", g)
			x, _ := money.ParseString(s.amount)
			y, _ := money.ParseString(a.amount)
			assert.Equal(t, s.orders, a.orders, "%+v", g)
			assert.Zero(t, x.Cmp(y), "%+v: %s by model, %s by age", g, s.amount, a.amount)
		}
		buckets := map[string]bool{}
		for _, a := range res.totals.byAge {
			buckets[a.Age] = true
		}
		assert.Subset(t, []string{"0-1d", "1d-7d", "7d-30d"}, keys(buckets))
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// closedConn is a response writer whose connection is gone, as when a
// scraper hangs up before the answer.
type closedConn struct{ h http.Header }

func (c *closedConn) Header() http.Header       { return c.h }
func (c *closedConn) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }
func (c *closedConn) WriteHeader(int)           {}

// TestAbandonedScrapeLogsOneLine: promhttp reports every metric family it
// could not send; the log gets one readable line per scrape.
func TestAbandonedScrapeLogsOneLine(t *testing.T) {
	f := newFixture(t, simapi.Config{Seed: 8, Orders: 500}, nil)
	r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	f.coll.Handler(prometheus.NewRegistry(), 100*time.Millisecond, time.Minute, f.coll.logger).ServeHTTP(&closedConn{h: http.Header{}}, r)
	assert.Equal(t, 1, f.logs.count("could not send the metrics"), f.logs.String())
	assert.Contains(t, f.logs.String(), "closed pipe")
	assert.NotContains(t, f.logs.String(), "unsupported value type")
}

// failingGatherer fails as a registry does when two collected metrics are
// alike: one error line per metric, many metrics.
type failingGatherer struct{}

func (failingGatherer) Gather() ([]*dto.MetricFamily, error) {
	var errs prometheus.MultiError
	for i := range 100 {
		errs = append(errs, fmt.Errorf("collected metric %q { label:{name:\"model\" value:\"m%d\"} } was collected before with the same name and label values", "debt_unpaid_amount", i))
	}
	return nil, errs
}

// TestGatherErrorIsLoggedAsSuch: metrics left out because gathering failed
// are not a scraper that hung up: the log line says what happened, in one
// bounded line, without the scraper hint.
func TestGatherErrorIsLoggedAsSuch(t *testing.T) {
	f := newFixture(t, simapi.Config{Seed: 8, Orders: 100}, nil)
	r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	rec := httptest.NewRecorder()
	f.coll.Handler(failingGatherer{}, 100*time.Millisecond, time.Minute, f.coll.logger).ServeHTTP(rec, r)
	assert.Contains(t, rec.Body.String(), "\ndebt_up 1\n", "the collector's own metrics are served")
	require.Equal(t, 1, f.logs.count(`msg="metrics left out of the answer"`), f.logs.String())
	assert.NotContains(t, f.logs.String(), "the scraper hung up")
	for _, line := range strings.Split(f.logs.String(), "\n") {
		assert.Less(t, len(line), 2048, line)
	}
	assert.Contains(t, f.logs.String(), "bytes in all]")
}

// TestDenseSecondsAreCounted: a second holding more than a page of orders
// is read by paging, exactly, and counted in
// debt_sweep_dense_seconds_total, on every complete sweep.
func TestDenseSecondsAreCounted(t *testing.T) {
	f := newFixture(t, simapi.Config{Seed: 9, Orders: 2000}, nil)
	f.srv.PostAt(250, now.Add(-time.Hour))
	requireHealthy(t, f) // exact, the 250 orders of one second included
	first := gather(t, f.coll)["debt_sweep_dense_seconds_total"]
	require.Len(t, first, 1)
	assert.GreaterOrEqual(t, first[0], 2.0, "the two sweeps so far each read the dense second")
	second := gather(t, f.coll)["debt_sweep_dense_seconds_total"]
	assert.Greater(t, second[0], first[0], "a counter over sweeps")
}

// windingDownSweeper stands for a client whose first sweep, once its
// context ends, takes a while to stop (requests in flight winding down):
// it closes canceled and returns only when windDown is closed. Later
// sweeps complete at once.
type windingDownSweeper struct {
	canceled, windDown chan struct{}

	mu    sync.Mutex
	calls int
}

func (s *windingDownSweeper) Sweep(ctx context.Context, _ apiclient.Query, _ func(int, []apiclient.Order) error) (apiclient.Stats, error) {
	s.mu.Lock()
	s.calls++
	first := s.calls == 1
	s.mu.Unlock()
	if !first {
		return apiclient.Stats{Requests: 1}, nil
	}
	<-ctx.Done()
	close(s.canceled)
	<-s.windDown
	return apiclient.Stats{}, context.Cause(ctx)
}

func (s *windingDownSweeper) Workers() int             { return 1 }
func (s *windingDownSweeper) Pace() (float64, float64) { return 1, 0 }

// waitingContext tells when a scrape, its sweep chosen, waits on it.
type waitingContext struct {
	context.Context
	once    sync.Once
	waiting chan struct{}
}

func (c *waitingContext) Done() <-chan struct{} {
	c.once.Do(func() { close(c.waiting) })
	return c.Context.Done()
}

// TestAScrapeDoesNotJoinACanceledSweep: scrape A's deadline cancels its
// sweep, which takes a while to stop; scrape B, with a later deadline,
// comes in that while. B must not share A's failure: it gets a sweep of
// its own, complete. Channels order the events, not sleeps: A's deadline
// has canceled the sweep before B arrives, and the sweep stops only once B
// waits on the sweep it chose.
func TestAScrapeDoesNotJoinACanceledSweep(t *testing.T) {
	sw := &windingDownSweeper{canceled: make(chan struct{}), windDown: make(chan struct{})}
	c := New(Config{Client: sw, Window: window, MaxTimeout: time.Minute})
	upOf := func(ctx context.Context) float64 { // no require: it runs in goroutines
		ch := make(chan prometheus.Metric, 100)
		c.ForScrape(ctx).Collect(ch)
		close(ch)
		up := -1.0
		for m := range ch {
			var pb dto.Metric
			if m.Desc() == upDesc && m.Write(&pb) == nil {
				up = pb.GetGauge().GetValue()
			}
		}
		return up
	}

	actx, cancelA := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancelA()
	a := make(chan float64)
	go func() { a <- upOf(actx) }()
	<-sw.canceled // A's deadline has canceled the sweep; it is winding down

	bctx, cancelB := context.WithTimeout(context.Background(), time.Minute)
	defer cancelB()
	waiting := &waitingContext{Context: bctx, waiting: make(chan struct{})}
	b := make(chan float64)
	go func() { b <- upOf(waiting) }()
	<-waiting.waiting
	close(sw.windDown)

	assert.Equal(t, 0.0, <-a, "A fails by its own deadline")
	assert.Equal(t, 1.0, <-b, "B, whose deadline is a minute away, does not fail by A's")
	sw.mu.Lock()
	defer sw.mu.Unlock()
	assert.Equal(t, 2, sw.calls, "B swept again")
}
