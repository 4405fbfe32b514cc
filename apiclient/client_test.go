package apiclient_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/debt-exporter/debt_exporter/apiclient"
	"github.com/debt-exporter/debt_exporter/internal/simapi"
	"github.com/debt-exporter/debt_exporter/money"
)

var now = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// fastRetry keeps retry tests short while exercising the same policy.
var fastRetry = apiclient.RetryPolicy{MaxAttempts: 4, BaseDelay: 5 * time.Millisecond, MaxDelay: 40 * time.Millisecond}

type outcomes struct {
	mu sync.Mutex
	n  map[string]int
}

func (o *outcomes) observe(outcome string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.n == nil {
		o.n = map[string]int{}
	}
	o.n[outcome]++
}

func (o *outcomes) get(outcome string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.n[outcome]
}

func newClient(t *testing.T, srv *simapi.Server, mod func(*apiclient.Config)) (*apiclient.Client, *outcomes) {
	t.Helper()
	obs := &outcomes{}
	cfg := apiclient.Config{
		Endpoint: srv.URL, PublicKey: simapi.DemoPublicKey, PrivateKey: simapi.DemoPrivateKey,
		Retry: fastRetry, Observe: obs.observe,
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := apiclient.New(cfg)
	require.NoError(t, err)
	return c, obs
}

// window is the query covering the whole synthetic dataset.
func window(srv *simapi.Server) apiclient.Query { return srv.Query() }

// sum aggregates a sweep the simplest way, to compare with the truth.
func sum(t *testing.T, c *apiclient.Client, q apiclient.Query) (map[simapi.Key]simapi.Series, int, apiclient.Stats) {
	t.Helper()
	got := map[simapi.Key]simapi.Series{}
	invalid := 0
	var mu sync.Mutex // workers call at once
	stats, err := c.Sweep(context.Background(), q, func(_ int, orders []apiclient.Order) error {
		mu.Lock()
		defer mu.Unlock()
		for _, o := range orders {
			if o.Invalid != "" {
				invalid++
				continue
			}
			k := simapi.Key{Region: o.Region, ModelID: o.ModelID, ProductCode: o.ProductCode, Currency: o.Currency}
			s, ok := got[k]
			if !ok || o.CreateTime < s.Oldest {
				s.Oldest = o.CreateTime
			}
			s.Amount = s.Amount.Add(o.Amount)
			s.Orders++
			got[k] = s
		}
		return nil
	})
	require.NoError(t, err)
	return got, invalid, stats
}

func requireSameSeries(t *testing.T, want, got map[simapi.Key]simapi.Series) {
	t.Helper()
	require.Equal(t, len(want), len(got), "series count")
	for k, w := range want {
		g, ok := got[k]
		require.True(t, ok, "missing series %+v", k)
		assert.Zero(t, w.Amount.Cmp(g.Amount), "%+v: amount %s, want %s", k, g.Amount, w.Amount)
		assert.Equal(t, w.Orders, g.Orders, "%+v orders", k)
		assert.Equal(t, w.Oldest, g.Oldest, "%+v oldest", k)
	}
}

func TestSweepMatchesTruth(t *testing.T) {
	tests := []struct {
		name   string
		cfg    simapi.Config
		client func(*apiclient.Config)
	}{
		{name: "5000 orders, 50 pages, sequential", cfg: simapi.Config{Seed: 7, Orders: 5000, InvalidAmountEvery: 97},
			client: func(c *apiclient.Config) { c.Concurrency = 1 }},
		{name: "5000 orders, 50 pages, 8 pages in flight", cfg: simapi.Config{Seed: 7, Orders: 5000, InvalidAmountEvery: 97},
			client: func(c *apiclient.Config) { c.Concurrency = 8 }},
		{name: "orders under Data, numbers as strings", cfg: simapi.Config{Seed: 3, Orders: 1234, DataWrapped: true, NumbersAsStrings: true}},
		{name: "TotalCount sent", cfg: simapi.Config{Seed: 4, Orders: 999, SendTotalCount: true}},
		{name: "page size 10", cfg: simapi.Config{Seed: 5, Orders: 333},
			client: func(c *apiclient.Config) { c.PageSize = 10 }},
		{name: "project id", cfg: simapi.Config{Seed: 6, Orders: 250, ProjectID: "org-abc123"},
			client: func(c *apiclient.Config) { c.ProjectID = "org-abc123" }},
		{name: "no orders", cfg: simapi.Config{Seed: 1, Orders: 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Now = now
			srv := simapi.New(tt.cfg)
			defer srv.Close()
			c, obs := newClient(t, srv, tt.client)
			q := window(srv)
			want := srv.Truth(q)
			got, invalid, stats := sum(t, c, q)
			requireSameSeries(t, want.Series, got)
			assert.Equal(t, want.Invalid, invalid)
			assert.Equal(t, want.Matched, stats.Orders)
			assert.Zero(t, obs.get(apiclient.OutcomeAPIError)+obs.get(apiclient.OutcomeHTTPError))
		})
	}
}

// TestRequestsPerSweep: requests per sweep against ceil(orders/PageSize).
// A sorted API is walked by time cursor: the first sweep at most 1.5x, the
// next (planned from it) at most 1.1x. An unsorted one is read in slices
// of three quarters of a page: at most 1.5x, the first sweep (which must
// survey the window, then walks it) included. Evenly spread orders, and
// orders in a daily cycle nine times denser at its peak than at its trough
// (1,000 pages: see walk.go for a small account's first sweep).
func TestRequestsPerSweep(t *testing.T) {
	for _, tt := range []struct {
		name          string
		sort          int
		first, steady float64
		peaks         bool
	}{
		{"descending", simapi.SortDesc, 1.5, 1.1, false},
		{"ascending", simapi.SortAsc, 1.5, 1.1, false},
		{"unsorted", simapi.Unsorted, 1.5, 1.5, false},
		{"descending", simapi.SortDesc, 1.5, 1.1, true},
		{"ascending", simapi.SortAsc, 1.5, 1.1, true},
		{"unsorted", simapi.Unsorted, 1.5, 1.5, true},
	} {
		t.Run(fmt.Sprintf("%s/daily_peaks=%v", tt.name, tt.peaks), func(t *testing.T) {
			orders := 20000
			if tt.peaks {
				orders = 100000
			}
			srv := simapi.New(simapi.Config{Seed: 11, Orders: orders, Now: now, Sort: tt.sort, Varied: true, DailyPeaks: tt.peaks})
			defer srv.Close()
			c, _ := newClient(t, srv, nil)
			pages := float64(orders / 100)
			_, _, first := sum(t, c, window(srv))
			assert.Equal(t, orders, first.Orders)
			assert.LessOrEqual(t, float64(first.Requests), tt.first*pages, "first sweep")
			for range 2 {
				before := srv.Requests()
				_, _, steady := sum(t, c, window(srv))
				assert.Equal(t, orders, steady.Orders)
				assert.LessOrEqual(t, float64(steady.Requests), tt.steady*pages, "steady sweep")
				assert.EqualValues(t, steady.Requests, srv.Requests()-before, "Stats.Requests counts what the server saw")
				assert.Equal(t, tt.name, steady.Sorted)
			}
		})
	}
}

// TestSmallSortedAccountFirstSweep: the first sweep of a sorted API cuts
// the window into as many slices as its first answer's density calls for,
// not a fixed 8 per worker: 300 orders took 33 requests.
func TestSmallSortedAccountFirstSweep(t *testing.T) {
	for _, sort := range []int{simapi.SortDesc, simapi.SortAsc} {
		for _, orders := range []int{300, 1000, 3000} {
			t.Run(fmt.Sprintf("%s/%d", map[int]string{simapi.SortDesc: "descending", simapi.SortAsc: "ascending"}[sort], orders), func(t *testing.T) {
				srv := simapi.New(simapi.Config{Seed: 11, Orders: orders, Now: now, Sort: sort, Varied: true})
				defer srv.Close()
				c, _ := newClient(t, srv, nil)
				want := srv.Truth(window(srv))
				got, _, first := sum(t, c, window(srv))
				requireSameSeries(t, want.Series, got)
				assert.LessOrEqual(t, float64(first.Requests), 1.5*float64(orders/100), "first sweep")
			})
		}
	}
}

// TestAWokenAccountIsShared: the plan expects a slice to hold a few pages,
// but the account has woken up there (30,000 orders in its last day). The
// walk of that slice shares what is left with the other workers once it
// has read well past its expectation; it was walked by one worker alone,
// all 300 pages in a row.
func TestAWokenAccountIsShared(t *testing.T) {
	for _, sort := range []int{simapi.SortAsc, simapi.SortDesc} {
		t.Run(map[int]string{simapi.SortDesc: "descending", simapi.SortAsc: "ascending"}[sort], func(t *testing.T) {
			quiet := simapi.NewHandler(simapi.Config{Seed: 11, Orders: 3000, Now: now, Sort: sort, Span: 30 * 24 * time.Hour})
			woken := simapi.NewHandler(simapi.Config{Seed: 12, Orders: 30000, Now: now, Sort: sort, Span: 24 * time.Hour})
			var api atomic.Pointer[simapi.Server]
			api.Store(quiet)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(2 * time.Millisecond) // so that the others are idle while one walks
				api.Load().Handler().ServeHTTP(w, r)
			}))
			defer srv.Close()
			c, err := apiclient.New(apiclient.Config{Endpoint: srv.URL, PublicKey: simapi.DemoPublicKey,
				PrivateKey: simapi.DemoPrivateKey, Retry: fastRetry})
			require.NoError(t, err)
			q := quiet.Query()
			sweep := func() (apiclient.Stats, map[int]int) {
				var mu sync.Mutex
				byWorker := map[int]int{}
				stats, err := c.Sweep(context.Background(), q, func(worker int, orders []apiclient.Order) error {
					mu.Lock()
					defer mu.Unlock()
					byWorker[worker] += len(orders)
					return nil
				})
				require.NoError(t, err)
				return stats, byWorker
			}
			sweep()
			planned, _ := sweep() // planned from the quiet account
			api.Store(woken)
			stats, byWorker := sweep()
			require.Equal(t, 30000, stats.Orders)
			assert.GreaterOrEqual(t, stats.Slices, planned.Slices+3, "the woken slice was cut for the other workers")
			assert.LessOrEqual(t, float64(stats.Requests), 1.1*300, "sharing costs a request or so a part")
			for w, n := range byWorker {
				assert.LessOrEqual(t, n, 30000*3/4, "worker %d read %d of 30000 orders: %v", w, n, byWorker)
			}
		})
	}
}

func TestFiltersAreSentAsLists(t *testing.T) {
	srv := simapi.New(simapi.Config{Seed: 2, Orders: 3000, Now: now})
	defer srv.Close()
	c, _ := newClient(t, srv, nil)
	q := window(srv)
	q.Regions = []string{"cn-wlcb", "hk"}
	q.ModelIDs = []string{"deepseek-r1", "qwen-max", "glm-4"}
	q.ProductCodes = []string{"modelverse"}
	want := srv.Truth(q)
	require.NotEmpty(t, want.Series, "the filter must leave something to compare")
	got, _, _ := sum(t, c, q)
	requireSameSeries(t, want.Series, got)

	params := srv.LastRequest().Params
	assert.Equal(t, "cn-wlcb", params.Get("Regions.0"))
	assert.Equal(t, "hk", params.Get("Regions.1"))
	assert.Equal(t, "glm-4", params.Get("ModelIds.2"))
	assert.Equal(t, "modelverse", params.Get("ProductCodes.0"))
	assert.NotContains(t, params, "ResourceIds.0", "empty filters are not sent")
	assert.NotContains(t, params, "ProjectId", "an empty ProjectId is not sent")
}

func TestRequestsAreSignedFormPOSTs(t *testing.T) {
	srv := simapi.New(simapi.Config{Seed: 2, Orders: 150, Now: now})
	defer srv.Close()
	c, _ := newClient(t, srv, nil)
	sum(t, c, window(srv))
	reqs := srv.LastRequests(simapi.LoggedRequests)
	require.NotEmpty(t, reqs)
	for _, r := range reqs {
		assert.Equal(t, http.MethodPost, r.Method)
		assert.Equal(t, "application/x-www-form-urlencoded", r.ContentType)
		assert.Empty(t, r.RawQuery, "nothing in the URL")
		assert.True(t, strings.HasPrefix(r.UserAgent, "debt_exporter/"), r.UserAgent)
		assert.Equal(t, http.StatusOK, r.Status)
		assert.Zero(t, r.RetCode)
		assert.Equal(t, "ListUnpaidOrders", r.Params.Get("Action"))
		assert.Equal(t, "100", r.Params.Get("PageSize"))
		assert.Len(t, r.Params.Get("Signature"), 40)
	}
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name      string
		fault     func(*simapi.Server)
		wantErr   string
		wantCount map[string]int
	}{
		{name: "503 twice then success", fault: func(s *simapi.Server) { s.FailHTTP(503, 2) },
			wantCount: map[string]int{apiclient.OutcomeHTTPError: 2}},
		{name: "429 is throttling", fault: func(s *simapi.Server) { s.FailHTTP(429, 1) },
			wantCount: map[string]int{apiclient.OutcomeThrottled: 1}},
		{name: "RetCode 153 throttled, retried", fault: func(s *simapi.Server) { s.FailRetCode(153, 3) },
			wantCount: map[string]int{apiclient.OutcomeThrottled: 3}},
		{name: "RetCode 150 and 2000+ are transient", fault: func(s *simapi.Server) { s.FailRetCode(2001, 1) },
			wantCount: map[string]int{apiclient.OutcomeAPIError: 1}},
		{name: "500 is not retried", fault: func(s *simapi.Server) { s.FailHTTP(500, 1) },
			wantErr: "HTTP status 500", wantCount: map[string]int{apiclient.OutcomeHTTPError: 1}},
		{name: "171 is not retried", fault: func(s *simapi.Server) { s.FailRetCode(171, 1) },
			wantErr: "RetCode 171 (signature wrong)", wantCount: map[string]int{apiclient.OutcomeAPIError: 1}},
		{name: "230 is not retried", fault: func(s *simapi.Server) { s.FailRetCode(230, 1) },
			wantErr: "RetCode 230", wantCount: map[string]int{apiclient.OutcomeAPIError: 1}},
		{name: "throttled beyond the attempts", fault: func(s *simapi.Server) { s.FailRetCode(153, -1) },
			// Throttles wait behind the pacer, up to 2 x MaxAttempts (at least 10).
			wantErr: "giving up after 10 throttled attempts", wantCount: map[string]int{apiclient.OutcomeThrottled: 10}},
		{name: "a truncated page fails at once, naming the page", fault: func(s *simapi.Server) { s.TruncatePage(1, 1) },
			wantErr: "page 1: decoding response", wantCount: map[string]int{apiclient.OutcomeDecodeError: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Nine orders: one answer, too short to need probeCap's proof.
			srv := simapi.New(simapi.Config{Seed: 9, Orders: 9, Now: now})
			defer srv.Close()
			c, obs := newClient(t, srv, func(c *apiclient.Config) { c.Concurrency = 1 })
			tt.fault(srv)
			stats, err := c.Sweep(context.Background(), window(srv), func(int, []apiclient.Order) error { return nil })
			assert.EqualValues(t, srv.Requests(), stats.Requests, "Stats.Requests counts retries (debt_sweep_requests)")
			if tt.wantErr == "" {
				require.NoError(t, err)
				assert.Equal(t, 1, obs.get(apiclient.OutcomeSuccess))
			} else {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Zero(t, obs.get(apiclient.OutcomeSuccess))
			}
			for outcome, n := range tt.wantCount {
				assert.Equal(t, n, obs.get(outcome), outcome)
			}
		})
	}
}

func TestTypedErrors(t *testing.T) {
	srv := simapi.New(simapi.Config{Seed: 9, Orders: 50, Now: now})
	defer srv.Close()
	// One page in flight, so the fault cannot land on a page past the end,
	// whose answer a sweep rightly ignores.
	c, _ := newClient(t, srv, func(c *apiclient.Config) { c.Concurrency = 1 })
	noop := func(int, []apiclient.Order) error { return nil }

	srv.FailRetCode(172, 1)
	_, err := c.Sweep(context.Background(), window(srv), noop)
	var apiErr *apiclient.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.EqualValues(t, 172, apiErr.RetCode)
	assert.Contains(t, apiErr.Where, "page 1")
	assert.False(t, apiErr.Transient())

	srv.FailHTTP(502, -1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = c.Sweep(ctx, window(srv), noop)
	var statusErr *apiclient.StatusError
	require.ErrorAs(t, err, &statusErr)
	assert.Equal(t, 502, statusErr.StatusCode)
	srv.ClearFaults()

	srv.TruncatePage(1, 1)
	_, err = c.Sweep(context.Background(), window(srv), noop)
	var decErr *apiclient.DecodeError
	require.ErrorAs(t, err, &decErr)
	assert.Contains(t, decErr.Where, "page 1")
}

// TestRetryNeverPassesTheDeadline: under endless throttling with long
// backoff, the sweep gives up instead of sleeping past its deadline.
func TestRetryNeverPassesTheDeadline(t *testing.T) {
	srv := simapi.New(simapi.Config{Seed: 9, Orders: 50, Now: now})
	defer srv.Close()
	srv.FailRetCode(153, -1)
	c, obs := newClient(t, srv, func(c *apiclient.Config) {
		c.Retry = apiclient.RetryPolicy{MaxAttempts: 100, BaseDelay: 100 * time.Millisecond, MaxDelay: 10 * time.Second}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 800*time.Millisecond)
	defer cancel()
	deadline, _ := ctx.Deadline()
	_, err := c.Sweep(ctx, window(srv), func(int, []apiclient.Order) error { return nil })
	require.Error(t, err)
	// Whether it stopped because the next wait would pass the deadline
	// (the usual case) or the deadline cut a request short, the error says
	// why: the API kept throttling.
	assert.Contains(t, err.Error(), "RetCode 153 (throttled)")
	// Without the check, a wait of up to MaxDelay (10 s) would follow.
	assert.Less(t, time.Since(deadline), 2*time.Second, "returned long after the deadline")
	assert.Greater(t, obs.get(apiclient.OutcomeThrottled), 1, "it did retry")
	assert.Less(t, obs.get(apiclient.OutcomeThrottled), 100)
}

func TestCancelStopsTheSweep(t *testing.T) {
	srv := simapi.New(simapi.Config{Seed: 9, Orders: 5000, Now: now})
	defer srv.Close()
	srv.SetLatency(time.Second)
	c, obs := newClient(t, srv, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.Sweep(ctx, window(srv), func(int, []apiclient.Order) error { return nil })
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Positive(t, obs.get(apiclient.OutcomeCanceled), "the request in flight was abandoned")
	assert.Zero(t, obs.get(apiclient.OutcomeSuccess)+obs.get(apiclient.OutcomeNetworkError))
}

// TestEndlessPagesAreStopped: a server whose pages never end fails the
// sweep within a few requests, whatever the guard allows.
//
// The bound follows from the code, not from timing. Every endless page is
// full and holds the OrderNos E0..E9 (page 1 of each slice), each with the
// CreateTime of that position in its query, so a worker's second answer
// holds E0 with another CreateTime than its first did: ErrRepeats,
// whichever slices the two answered. The window's answer fans the rest
// out into slices of 40 orders and more (none one second's, which would
// be paged through). Until the sweep fails, a worker gives its slot back
// only between slices, or while its request waits out a backoff or a
// Retry-After (none here: no request fails). So after the window's
// request at most Concurrency workers hold a slot, each sending at most
// two requests before its second answer fails the sweep, and the EndTime
// probe is asked at most once a sweep: 1 + 2 x Concurrency + 1. There is
// no fetch-ahead: a worker sends its next request once its answer is
// read. Measured over 50 runs each: 3 requests at Concurrency 1, 2 to 9
// at the default 4, 6 to 17 at 8 (it allowed 200).
func TestEndlessPagesAreStopped(t *testing.T) {
	for _, conc := range []int{0, 1, 8} { // 0: apiclient.DefaultConcurrency
		t.Run(fmt.Sprintf("concurrency=%d", conc), func(t *testing.T) {
			srv := simapi.New(simapi.Config{Seed: 9, Orders: 500, Now: now})
			defer srv.Close()
			srv.SetEndless(true)
			c, _ := newClient(t, srv, func(c *apiclient.Config) { c.PageSize = 10; c.Concurrency = conc })
			_, err := c.Sweep(context.Background(), window(srv), func(int, []apiclient.Order) error { return nil })
			require.Error(t, err)
			assert.True(t, errors.Is(err, apiclient.ErrRepeats) || errors.Is(err, apiclient.ErrTooManyPages), "%v", err)
			concurrency := cmp.Or(conc, apiclient.DefaultConcurrency)
			assert.LessOrEqual(t, srv.Requests(), int64(2*concurrency+2), "%v", err)
		})
	}
}

func TestMaxPagesGuard(t *testing.T) {
	srv := simapi.New(simapi.Config{Seed: 9, Orders: 5000, Now: now})
	defer srv.Close()
	c, _ := newClient(t, srv, func(c *apiclient.Config) { c.MaxPages = 20; c.Concurrency = 1 })
	_, err := c.Sweep(context.Background(), window(srv), func(int, []apiclient.Order) error { return nil })
	require.ErrorIs(t, err, apiclient.ErrTooManyPages)
	assert.EqualValues(t, 20, srv.Requests(), "no request past the guard")
}

// TestMaxPagesCountsTheEndTimeProbe: the request that asks whether the
// API includes EndTime is a page asked for like any other; it was made
// past --api.max-pages.
func TestMaxPagesCountsTheEndTimeProbe(t *testing.T) {
	srv := simapi.New(simapi.Config{Seed: 1, Orders: 3000, Now: now, EndTimeExclusive: true})
	defer srv.Close()
	q := window(srv)
	c, _ := newClient(t, srv, func(c *apiclient.Config) { c.Concurrency = 1 })
	_, plain := collect(t, c, q)
	srv.SetAtEndTime(1)
	limited, _ := newClient(t, srv, func(c *apiclient.Config) { c.Concurrency = 1; c.MaxPages = plain.Requests })
	_, err := limited.Sweep(context.Background(), q, func(int, []apiclient.Order) error { return nil })
	require.ErrorIs(t, err, apiclient.ErrTooManyPages, "%d pages and the probe, with --api.max-pages=%d", plain.Requests, plain.Requests)
}

func TestCallbackErrorStopsTheSweep(t *testing.T) {
	srv := simapi.New(simapi.Config{Seed: 9, Orders: 5000, Now: now})
	defer srv.Close()
	c, _ := newClient(t, srv, nil)
	stop := errors.New("enough")
	var calls atomic.Int32
	_, err := c.Sweep(context.Background(), window(srv), func(int, []apiclient.Order) error {
		if calls.Add(1) == 3 {
			return stop
		}
		return nil
	})
	require.ErrorIs(t, err, stop)
}

// TestResponseSizeIsBounded uses a broken server that streams an endless
// body: the client must stop reading at its limit.
func TestResponseSizeIsBounded(t *testing.T) {
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"RetCode":0,"Orders":[`))
		chunk := []byte(strings.Repeat(`{"OrderTotalPrice":"1"},`, 1000))
		for i := 0; i < 10000; i++ { // bounded: 240 MB at most
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer broken.Close()
	c, err := apiclient.New(apiclient.Config{Endpoint: broken.URL, PublicKey: "p", PrivateKey: "k", MaxResponseBytes: 1 << 20})
	require.NoError(t, err)
	_, err = c.Sweep(context.Background(), apiclient.Query{Start: now.Add(-time.Hour), End: now}, func(int, []apiclient.Order) error { return nil })
	require.ErrorIs(t, err, apiclient.ErrResponseTooLarge)
}

// TestAnswerPastPageSizeIsRefused: an answer holds at most the PageSize
// asked for. A 16 MiB body of empty orders, within Config.MaxResponseBytes,
// used to decode into 5.6 million Orders (5.5 GB allocated, 2.3 GB kept in
// the page buffers); now it fails the sweep at the 101st.
func TestAnswerPastPageSizeIsRefused(t *testing.T) {
	const bodyBytes = 16 << 20
	var body strings.Builder
	body.WriteString(`{"Action":"ListUnpaidOrdersResponse","RetCode":0,"Orders":[{}`)
	for body.Len() < bodyBytes-16 {
		body.WriteString(`,{}`)
	}
	body.WriteString(`]}`)
	answer := []byte(body.String())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(answer)
	}))
	defer srv.Close()
	c, err := apiclient.New(apiclient.Config{Endpoint: srv.URL, PublicKey: "p", PrivateKey: "k", Retry: fastRetry, Concurrency: 1})
	require.NoError(t, err)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = c.Sweep(context.Background(), apiclient.Query{Start: now.Add(-time.Hour), End: now}, func(int, []apiclient.Order) error { return nil })
	runtime.ReadMemStats(&after)
	var decodeErr *apiclient.DecodeError
	require.ErrorAs(t, err, &decodeErr)
	assert.Contains(t, err.Error(), "more orders in one answer than the 100 asked for")
	// The body's buffer (grown to twice the body), its stop index, the
	// HTTP stack (more under -race): well under the 5.6 million Orders,
	// some 840 MB, that a copy per order would cost.
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(24*bodyBytes), "bytes allocated for one answer")
}

func TestNetworkErrorsAreRetriedThenReported(t *testing.T) {
	srv := simapi.New(simapi.Config{Seed: 9, Orders: 10, Now: now})
	url := srv.URL
	srv.Close() // nothing listens there any more
	c, obs := newClient(t, &simapi.Server{URL: url}, func(c *apiclient.Config) { c.Concurrency = 1 })
	_, err := c.Sweep(context.Background(), apiclient.Query{Start: now.Add(-time.Hour), End: now}, func(int, []apiclient.Order) error { return nil })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "connection refused")
	assert.Equal(t, fastRetry.MaxAttempts, obs.get(apiclient.OutcomeNetworkError))
}

// TestErrorsCarryNoSecrets provokes every kind of error and checks that
// none of them quotes the private key, the public key or a signature.
func TestErrorsCarryNoSecrets(t *testing.T) {
	const private = "PRIVATE-do-not-leak-5f2a"
	const public = "PUBLIC-do-not-leak-91c3"
	srv := simapi.New(simapi.Config{Seed: 9, Orders: 50, Now: now, PublicKey: public, PrivateKey: private})
	defer srv.Close()
	// An API that echoes what it got, as a careless gateway might.
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		w.Write([]byte(`{"RetCode":171,"Message":"bad signature ` + r.Form.Get("Signature") + ` for ` + r.Form.Get("PublicKey") + `"}`))
	}))
	defer echo.Close()

	provoke := []struct {
		name     string
		endpoint string
		key      string
		fault    func()
	}{
		{"wrong private key", srv.URL, private + "x", func() {}},
		{"gateway echoing the request", echo.URL, private, func() {}},
		{"HTTP 500", srv.URL, private, func() { srv.FailHTTP(500, 1) }},
		{"truncated page", srv.URL, private, func() { srv.TruncatePage(1, 1) }},
		{"throttled", srv.URL, private, func() { srv.FailRetCode(153, -1) }},
		{"unreachable", "http://127.0.0.1:1", private, func() {}},
	}
	for _, p := range provoke {
		t.Run(p.name, func(t *testing.T) {
			srv.ClearFaults()
			p.fault()
			c, err := apiclient.New(apiclient.Config{Endpoint: p.endpoint, PublicKey: public, PrivateKey: p.key, Retry: fastRetry, Concurrency: 1})
			require.NoError(t, err)
			_, err = c.Sweep(context.Background(), window(srv), func(int, []apiclient.Order) error { return nil })
			require.Error(t, err)
			msg := err.Error()
			assert.NotContains(t, msg, private)
			assert.NotContains(t, msg, public)
			for _, r := range srv.LastRequests(simapi.LoggedRequests) {
				if sig := r.Params.Get("Signature"); sig != "" {
					assert.NotContains(t, msg, sig)
				}
			}
			assert.NotRegexp(t, `[0-9a-f]{40}`, msg, "something shaped like a signature")
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	ok := apiclient.Config{Endpoint: "https://api.example.com/", PublicKey: "p", PrivateKey: "k"}
	tests := []struct {
		name string
		mod  func(*apiclient.Config)
		want string
	}{
		{"no public key", func(c *apiclient.Config) { c.PublicKey = "" }, "no public key"},
		{"no private key", func(c *apiclient.Config) { c.PrivateKey = "" }, "no private key"},
		{"not a URL", func(c *apiclient.Config) { c.Endpoint = "api.example.com" }, "not an http or https URL"},
		{"query in URL", func(c *apiclient.Config) { c.Endpoint = "https://api.example.com/?x=1" }, "query string"},
		{"page size 9", func(c *apiclient.Config) { c.PageSize = 9 }, "outside 10 to 100"},
		{"page size 101", func(c *apiclient.Config) { c.PageSize = 101 }, "outside 10 to 100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.mod(&cfg)
			_, err := apiclient.New(cfg)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	_, err := apiclient.New(ok)
	require.NoError(t, err)
}

// Money from the API is summed exactly: the client hands over decimals.
func TestAmountsAreExactDecimals(t *testing.T) {
	srv := simapi.New(simapi.Config{Seed: 21, Orders: 2000, Now: now})
	defer srv.Close()
	c, _ := newClient(t, srv, nil)
	q := window(srv)
	got, _, _ := sum(t, c, q)
	var total money.Decimal
	for _, s := range got {
		if s.Amount.Sign() != 0 {
			total = total.Add(s.Amount)
		}
	}
	want := srv.Truth(q)
	wantTotal := want.Total("CNY").Add(want.Total("USD"))
	assert.Zero(t, wantTotal.Cmp(total), "%s vs %s", total, wantTotal)
}

// TestOrdersOutsideTheRangeFailTheSweep: an API that ignores StartTime and
// EndTime (here with a huge TotalCount as well, which the sweep does not
// need) is refused rather than summed.
func TestOrdersOutsideTheRangeFailTheSweep(t *testing.T) {
	page := `{"RetCode":0,"TotalCount":9223372036854775807,"Orders":[` +
		`{"OrderNo":"a","OrderTotalPrice":"1","CreateTime":"1"},{"OrderNo":"b","OrderTotalPrice":"1","CreateTime":-9223372036854775808}]}`
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(page)) }))
	defer broken.Close()
	c, err := apiclient.New(apiclient.Config{Endpoint: broken.URL, PublicKey: "p", PrivateKey: "k", PageSize: 10, MaxPages: 50})
	require.NoError(t, err)
	delivered := 0
	_, err = c.Sweep(context.Background(), apiclient.Query{Start: now.Add(-time.Hour), End: now}, func(_ int, o []apiclient.Order) error {
		delivered += len(o)
		return nil
	})
	require.ErrorIs(t, err, apiclient.ErrIgnoresRange)
	assert.Contains(t, err.Error(), `OrderNo "a" CreateTime 1 in [`)
	assert.Zero(t, delivered)
}

// TestAnswerWithoutRetCodeFailsTheSweep: a proxy's 200 with some other
// JSON is not an empty, successful sweep.
func TestAnswerWithoutRetCodeFailsTheSweep(t *testing.T) {
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"error":"upstream maintenance"}`))
	}))
	defer proxy.Close()
	c, err := apiclient.New(apiclient.Config{Endpoint: proxy.URL, PublicKey: "p", PrivateKey: "k"})
	require.NoError(t, err)
	_, err = c.Sweep(context.Background(), apiclient.Query{Start: now.Add(-time.Hour), End: now}, func(int, []apiclient.Order) error { return nil })
	var decErr *apiclient.DecodeError
	require.ErrorAs(t, err, &decErr)
	assert.Contains(t, err.Error(), "no RetCode")
}

// TestEchoedKeyIsRedacted: a server that sends the private key back in an
// order, anywhere and in any case, gets it into no label value, no logged
// OrderNo or value of an order left out, and no error. It went into the
// metrics (as a Region) and the log (as an example) as sent.
func TestEchoedKeyIsRedacted(t *testing.T) {
	const key = "echoed-private-key-0123456789abcdef"
	upper := strings.ToUpper(key)
	created := now.Add(-30 * time.Minute).Unix()
	order := func(no, region, amount string) string {
		return fmt.Sprintf(`{"OrderNo":%q,"Region":%q,"ModelID":"m-%s","ProductCode":"modelverse","Currency":"CNY","OrderTotalPrice":%q,"CreateTime":"%d"}`,
			no, region, key, amount, created)
	}
	var repeat, refuse atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if refuse.Load() {
			fmt.Fprintf(w, `{"RetCode":171,"Message":"signature of %s is wrong"}`, upper)
			return
		}
		orders := []string{
			order("o-1", "cn-"+key, "1.50"),
			order("o-2", upper, "2.50"),
			order("o-"+key, "hk", key), // left out: its amount is no decimal
		}
		if repeat.Load() {
			orders = append(orders, order("o-"+upper, "hk", "1"), order("o-"+upper, "hk", "1"))
		}
		fmt.Fprintf(w, `{"Action":"ListUnpaidOrdersResponse","RetCode":0,"Orders":[%s]}`, strings.Join(orders, ","))
	}))
	defer srv.Close()
	c, err := apiclient.New(apiclient.Config{Endpoint: srv.URL, PublicKey: "p", PrivateKey: key, Retry: fastRetry, Concurrency: 1})
	require.NoError(t, err)
	q := apiclient.Query{Start: now.Add(-time.Hour), End: now}
	var mu sync.Mutex
	var got []apiclient.Order
	_, err = c.Sweep(context.Background(), q, func(_ int, orders []apiclient.Order) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, orders...)
		return nil
	})
	require.NoError(t, err)
	require.Len(t, got, 3)
	secret := strings.ToLower(key)
	for _, o := range got {
		for _, v := range []string{o.Region, o.ModelID, o.RawInvalid} {
			assert.NotContains(t, strings.ToLower(v), secret)
		}
		if o.Invalid != "" {
			assert.NotContains(t, strings.ToLower(o.OrderNo), secret, "the OrderNo logged as an example")
			assert.Contains(t, o.OrderNo, "[REDACTED]")
		}
	}
	assert.Contains(t, []string{got[0].Region, got[1].Region}, "cn-[REDACTED]")
	assert.Contains(t, []string{got[0].Region, got[1].Region}, "[REDACTED]")

	repeat.Store(true) // an OrderNo twice: the error quotes it
	_, err = c.Sweep(context.Background(), q, func(int, []apiclient.Order) error { return nil })
	require.ErrorIs(t, err, apiclient.ErrRepeats)
	assert.NotContains(t, strings.ToLower(err.Error()), secret)
	assert.Contains(t, err.Error(), "o-[REDACTED]")

	refuse.Store(true) // the key upper-cased in a Message
	_, err = c.Sweep(context.Background(), q, func(int, []apiclient.Order) error { return nil })
	var apiErr *apiclient.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.NotContains(t, strings.ToLower(err.Error()), secret)
	assert.Contains(t, apiErr.Message, "signature of [REDACTED] is wrong")
}
