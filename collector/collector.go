// Package collector turns sweeps of the ListUnpaidOrders API into
// Prometheus metrics: one sweep per scrape (shared by concurrent scrapes),
// exact sums per region, model, product code and currency, and the health
// of the sweep itself. When a sweep fails, only health metrics are exposed.
package collector

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/debt-exporter/debt_exporter/apiclient"
)

const namespace = "debt"

var businessLabels = []string{"region", "model", "product_code", "currency"}

// HELP texts say where each number comes from.
const (
	helpUnpaidAmount = "Sum of OrderTotalPrice over unpaid orders created in the rolling window, in the currency of the currency label (ListUnpaidOrders)."
	helpUnpaidOrders = "Number of unpaid orders created in the rolling window (ListUnpaidOrders)."
	helpOldest       = "Earliest CreateTime among the unpaid orders in the rolling window, as a Unix timestamp."
	helpUp           = "1 if the last sweep of the ListUnpaidOrders API completed, else 0."
	helpWindow       = "Length of the rolling window the unpaid figures cover."
	helpDuration     = "Wall time of the last sweep of the API, complete or not."
	helpLastSuccess  = "Unix time when the last complete sweep ended; the unpaid figures are as of this time."
	helpRequests     = "ListUnpaidOrders HTTP requests made, by outcome (retries included)."
	helpInvalid      = "Orders left out of the last complete sweep because a field was not valid, by reason."
)

var (
	unpaidAmountDesc = prometheus.NewDesc(namespace+"_unpaid_amount", helpUnpaidAmount, businessLabels, nil)
	unpaidOrdersDesc = prometheus.NewDesc(namespace+"_unpaid_orders", helpUnpaidOrders, businessLabels, nil)
	oldestDesc       = prometheus.NewDesc(namespace+"_unpaid_oldest_order_timestamp_seconds", helpOldest, businessLabels, nil)
	upDesc           = prometheus.NewDesc(namespace+"_up", helpUp, nil, nil)
	windowDesc       = prometheus.NewDesc(namespace+"_window_seconds", helpWindow, nil, nil)
	durationDesc     = prometheus.NewDesc(namespace+"_sweep_duration_seconds", helpDuration, nil, nil)
	lastSuccessDesc  = prometheus.NewDesc(namespace+"_last_success_timestamp_seconds", helpLastSuccess, nil, nil)
	requestsDesc     = prometheus.NewDesc(namespace+"_api_requests_total", helpRequests, []string{"outcome"}, nil)
	invalidDesc      = prometheus.NewDesc(namespace+"_invalid_orders", helpInvalid, []string{"reason"}, nil)
)

// Sweeper is what the collector needs of apiclient.Client.
type Sweeper interface {
	Sweep(ctx context.Context, q apiclient.Query, fn func([]apiclient.Order) error) (apiclient.Stats, error)
}

// Config configures a Collector.
type Config struct {
	Client Sweeper
	// Query holds the filters; each sweep sets its own Start and End.
	Query  apiclient.Query
	Window time.Duration
	// MinInterval, when positive, serves the last complete result to
	// scrapes that come sooner than this after it began.
	MinInterval time.Duration
	// DefaultTimeout bounds a sweep whose caller sets no deadline.
	DefaultTimeout time.Duration
	Logger         log.Logger
	Now            func() time.Time // for tests
}

// Collector is a prometheus.Collector. Register it as is (sweeps then use
// DefaultTimeout), or per scrape through ForScrape to pass the scrape's
// deadline.
type Collector struct {
	cfg      Config
	logger   log.Logger
	requests map[string]*atomic.Uint64

	mu          sync.Mutex
	inflight    *sweepCall
	lastSuccess *result // last complete sweep
}

// result is the outcome of one sweep.
type result struct {
	err      error
	sums     []Sum
	invalid  map[string]int
	started  time.Time
	ended    time.Time
	duration time.Duration
}

type sweepCall struct {
	done    chan struct{}
	res     *result
	started time.Time
}

// New returns a Collector for cfg.
func New(cfg Config) *Collector {
	if cfg.Logger == nil {
		cfg.Logger = log.NewNopLogger()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.DefaultTimeout <= 0 {
		cfg.DefaultTimeout = time.Minute
	}
	c := &Collector{cfg: cfg, logger: cfg.Logger, requests: make(map[string]*atomic.Uint64)}
	for _, o := range apiclient.Outcomes {
		c.requests[o] = new(atomic.Uint64)
	}
	return c
}

// ObserveRequest counts one API request by outcome; pass it to
// apiclient.Config.Observe.
func (c *Collector) ObserveRequest(outcome string) {
	if n, ok := c.requests[outcome]; ok {
		n.Add(1)
	}
}

// Describe sends every descriptor the collector can emit.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{unpaidAmountDesc, unpaidOrdersDesc, oldestDesc, upDesc,
		windowDesc, durationDesc, lastSuccessDesc, requestsDesc, invalidDesc} {
		ch <- d
	}
}

// Collect runs (or joins) a sweep bounded by DefaultTimeout.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.DefaultTimeout)
	defer cancel()
	c.collect(ctx, ch)
}

// ForScrape returns a collector whose sweep is bounded by ctx, the scrape's
// own deadline.
func (c *Collector) ForScrape(ctx context.Context) prometheus.Collector {
	return scrape{c: c, ctx: ctx}
}

type scrape struct {
	c   *Collector
	ctx context.Context
}

func (s scrape) Describe(ch chan<- *prometheus.Desc) { s.c.Describe(ch) }
func (s scrape) Collect(ch chan<- prometheus.Metric) { s.c.collect(s.ctx, ch) }

func (c *Collector) collect(ctx context.Context, ch chan<- prometheus.Metric) {
	res := c.result(ctx)

	ch <- prometheus.MustNewConstMetric(windowDesc, prometheus.GaugeValue, c.cfg.Window.Seconds())
	ch <- prometheus.MustNewConstMetric(durationDesc, prometheus.GaugeValue, res.duration.Seconds())
	for _, o := range apiclient.Outcomes {
		ch <- prometheus.MustNewConstMetric(requestsDesc, prometheus.CounterValue, float64(c.requests[o].Load()), o)
	}
	c.mu.Lock()
	lastSuccess := c.lastSuccess
	c.mu.Unlock()
	if lastSuccess != nil {
		ch <- prometheus.MustNewConstMetric(lastSuccessDesc, prometheus.GaugeValue, float64(lastSuccess.ended.UnixNano())/1e9)
	}
	if res.err != nil {
		ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, 1)
	for reason, n := range res.invalid {
		ch <- prometheus.MustNewConstMetric(invalidDesc, prometheus.GaugeValue, float64(n), reason)
	}
	for _, s := range res.sums {
		labels := []string{s.Region, s.Model, s.ProductCode, s.Currency}
		ch <- prometheus.MustNewConstMetric(unpaidAmountDesc, prometheus.GaugeValue, s.Amount.Float64(), labels...)
		ch <- prometheus.MustNewConstMetric(unpaidOrdersDesc, prometheus.GaugeValue, float64(s.Orders), labels...)
		ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, float64(s.Oldest), labels...)
	}
}

// result returns the sweep this scrape reports: a recent complete one when
// MinInterval allows, else the one in flight, else a new one.
func (c *Collector) result(ctx context.Context) *result {
	c.mu.Lock()
	if ls := c.lastSuccess; ls != nil && c.cfg.MinInterval > 0 && c.cfg.Now().Sub(ls.started) < c.cfg.MinInterval {
		c.mu.Unlock()
		return ls
	}
	call := c.inflight
	initiator := call == nil
	if initiator {
		call = &sweepCall{done: make(chan struct{}), started: c.cfg.Now()}
		c.inflight = call
		// The sweep outlives a scraper that hangs up, so that a scrape
		// sharing it still gets its answer; it keeps the first deadline.
		deadline, ok := ctx.Deadline()
		if !ok {
			deadline = time.Now().Add(c.cfg.DefaultTimeout)
		}
		sweepCtx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
		go func() {
			defer cancel()
			res := c.sweep(sweepCtx)
			c.mu.Lock()
			c.inflight = nil
			if res.err == nil {
				c.lastSuccess = res
			}
			c.mu.Unlock()
			call.res = res
			close(call.done)
		}()
	}
	c.mu.Unlock()

	if initiator { // the sweep has this scrape's deadline: it ends in time
		<-call.done
		return call.res
	}
	select {
	case <-call.done:
		return call.res
	case <-ctx.Done():
		// This scrape's own deadline ended first (it joined a longer sweep).
		err := fmt.Errorf("gave up waiting for the sweep in flight: %w", context.Cause(ctx))
		level.Error(c.logger).Log("msg", "sweep failed", "err", err)
		return &result{err: err, duration: c.cfg.Now().Sub(call.started)}
	}
}

func (c *Collector) sweep(ctx context.Context) *result {
	start := c.cfg.Now()
	q := c.cfg.Query
	q.Start, q.End = start.Add(-c.cfg.Window), start
	agg := NewAggregator()
	stats, err := c.cfg.Client.Sweep(ctx, q, agg.AddPage)
	end := c.cfg.Now()
	res := &result{err: err, started: start, ended: end, duration: end.Sub(start)}
	if err != nil {
		c.logFailure(err, stats, res.duration)
		return res
	}
	res.sums, res.invalid = agg.Sums(), agg.Invalid()
	for reason, s := range agg.invalid {
		if s.count > 0 {
			level.Warn(c.logger).Log("msg", "orders left out of the sums", "reason", reason, "count", s.count,
				"example_order", s.orderNo, "example_value", s.value)
		}
	}
	level.Debug(c.logger).Log("msg", "sweep complete", "pages", stats.Pages, "orders", stats.Orders,
		"duplicates", agg.duplicates, "series", len(res.sums), "duration", res.duration)
	return res
}

func (c *Collector) logFailure(err error, stats apiclient.Stats, d time.Duration) {
	kv := []any{"msg", "sweep failed", "err", err, "pages_done", stats.Pages, "duration", d}
	var apiErr *apiclient.APIError
	var statusErr *apiclient.StatusError
	if errors.As(err, &apiErr) {
		kv = append(kv, "retcode", strconv.FormatInt(apiErr.RetCode, 10))
	}
	if errors.As(err, &statusErr) {
		kv = append(kv, "status", statusErr.StatusCode)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		kv = append(kv, "hint", "the sweep ran out of time: raise scrape_timeout or --sweep.min-interval")
	}
	level.Error(c.logger).Log(kv...)
}
