// Package collector turns sweeps of the ListUnpaidOrders API into
// Prometheus metrics: exact sums per region, model, product code and
// currency (and per age), and the health of the sweeps. When a sweep
// fails, only health metrics are exposed.
//
// collector.go exposes, sweep.go schedules (per scrape or in the
// background), aggregate.go sums, requests.go counts requests, handler.go
// turns a scrape's timeout into a deadline.
package collector

import (
	"context"
	"sync"
	"time"

	"github.com/go-kit/log"
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
	helpAgeAmount    = "Sum of OrderTotalPrice over unpaid orders in the rolling window whose age (sweep time minus CreateTime) is in the age bucket, in the currency of the currency label."
	helpAgeOrders    = "Number of unpaid orders in the rolling window whose age (sweep time minus CreateTime) is in the age bucket."
	helpSweepReqs    = "API requests made by the last sweep, retries included."
	helpSweepSlices  = "Time slices the last complete sweep read the window in."
	helpSweepPages   = "API answers with data the last complete sweep read (retries and failed answers not included)."
	helpDense        = "Seconds read by paging because they held a page of orders or more (an order of such a second paid during the sweep moves the later ones up a place, so one still unpaid may be missed), summed over complete sweeps."
	helpConcurrency  = "API requests the client now allows in flight: --api.concurrency, less after throttling."
	helpRate         = "API requests per second the client now allows, learned from throttling or set by --api.rate-limit; 0 when unlimited."
	helpFolded       = "Business series of the last complete sweep folded into model=\"(other)\" by --metrics.max-series."
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
	ageAmountDesc    = prometheus.NewDesc(namespace+"_unpaid_amount_by_age", helpAgeAmount, ageLabels, nil)
	ageOrdersDesc    = prometheus.NewDesc(namespace+"_unpaid_orders_by_age", helpAgeOrders, ageLabels, nil)
	sweepReqsDesc    = prometheus.NewDesc(namespace+"_sweep_requests", helpSweepReqs, nil, nil)
	sweepSlicesDesc  = prometheus.NewDesc(namespace+"_sweep_slices", helpSweepSlices, nil, nil)
	sweepPagesDesc   = prometheus.NewDesc(namespace+"_sweep_pages", helpSweepPages, nil, nil)
	denseDesc        = prometheus.NewDesc(namespace+"_sweep_dense_seconds_total", helpDense, nil, nil)
	concurrencyDesc  = prometheus.NewDesc(namespace+"_api_concurrency", helpConcurrency, nil, nil)
	rateDesc         = prometheus.NewDesc(namespace+"_api_rate_limit_requests_per_second", helpRate, nil, nil)
	foldedDesc       = prometheus.NewDesc(namespace+"_series_folded", helpFolded, nil, nil)
)

var ageLabels = []string{"region", "product_code", "currency", "age"}

// Sweeper is what the collector needs of apiclient.Client.
type Sweeper interface {
	Sweep(ctx context.Context, q apiclient.Query, fn func(worker int, orders []apiclient.Order) error) (apiclient.Stats, error)
	Workers() int
	Pace() (inflight, perSecond float64)
}

// Config configures a Collector.
type Config struct {
	Client   Sweeper
	Requests *Requests // the counter given to the client's Observe
	// Query holds the filters; each sweep sets its own Start and End.
	Query  apiclient.Query
	Window time.Duration
	// MinInterval, when positive, serves the last complete result to
	// scrapes that come sooner than this after it began.
	MinInterval time.Duration
	// Interval, when positive, sweeps in the background (see Run); scrapes
	// answer from the last sweep.
	Interval time.Duration
	// MaxTimeout bounds every sweep (--sweep.max-timeout).
	MaxTimeout time.Duration
	MaxSeries  int // 0: no cap
	AgeBuckets AgeBuckets
	// Context ends every sweep when it ends (SIGTERM).
	Context context.Context
	Logger  log.Logger
	Now     func() time.Time // for tests
}

// Collector is a prometheus.Collector. Register it as is (sweeps then use
// MaxTimeout), or per scrape through ForScrape to pass the scrape's
// deadline.
type Collector struct {
	cfg    Config
	logger log.Logger

	mu          sync.Mutex
	inflight    *call
	lastSuccess *result // last complete sweep
	latest      *result // last finished sweep, complete or not
	dense       int     // DenseSeconds summed over complete sweeps

	first     chan struct{} // closed when the first background sweep ends
	firstOnce sync.Once

	joined func() // for tests: a scrape joined the sweep in flight (c.mu held)
}

// New returns a Collector for cfg.
func New(cfg Config) *Collector {
	if cfg.Logger == nil {
		cfg.Logger = log.NewNopLogger()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxTimeout <= 0 {
		cfg.MaxTimeout = time.Minute
	}
	if cfg.Requests == nil {
		cfg.Requests = NewRequests()
	}
	if cfg.Context == nil {
		cfg.Context = context.Background()
	}
	if cfg.AgeBuckets.Labels == nil {
		cfg.AgeBuckets = NewAgeBuckets(nil, nil)
	}
	return &Collector{cfg: cfg, logger: cfg.Logger, first: make(chan struct{})}
}

// Describe sends every descriptor the collector can emit.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{unpaidAmountDesc, unpaidOrdersDesc, oldestDesc, upDesc,
		windowDesc, durationDesc, lastSuccessDesc, requestsDesc, invalidDesc, ageAmountDesc, ageOrdersDesc,
		sweepReqsDesc, sweepSlicesDesc, sweepPagesDesc, denseDesc, concurrencyDesc, rateDesc, foldedDesc} {
		ch <- d
	}
}

// Collect runs (or joins) a sweep bounded by MaxTimeout.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.MaxTimeout)
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

// staleAfter is how long background figures stay exposed after their
// sweep ended (the contract's bound).
func (c *Collector) staleAfter() time.Duration { return 3*c.cfg.Interval + c.cfg.MaxTimeout }

func (c *Collector) collect(ctx context.Context, ch chan<- prometheus.Metric) {
	res := c.result(ctx)
	c.mu.Lock()
	lastSuccess := c.lastSuccess
	dense := c.dense
	c.mu.Unlock()

	ch <- prometheus.MustNewConstMetric(windowDesc, prometheus.GaugeValue, c.cfg.Window.Seconds())
	c.cfg.Requests.collect(ch)
	inflight, rate := c.cfg.Client.Pace()
	ch <- prometheus.MustNewConstMetric(concurrencyDesc, prometheus.GaugeValue, inflight)
	ch <- prometheus.MustNewConstMetric(rateDesc, prometheus.GaugeValue, rate)
	ch <- prometheus.MustNewConstMetric(denseDesc, prometheus.CounterValue, float64(dense))
	if lastSuccess != nil {
		ch <- prometheus.MustNewConstMetric(lastSuccessDesc, prometheus.GaugeValue, float64(lastSuccess.ended.UnixNano())/1e9)
	}
	if res != nil {
		ch <- prometheus.MustNewConstMetric(durationDesc, prometheus.GaugeValue, res.duration.Seconds())
		ch <- prometheus.MustNewConstMetric(sweepReqsDesc, prometheus.GaugeValue, float64(res.stats.Requests))
	}
	up := res != nil && res.err == nil
	ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, boolValue(up))
	show := res
	if c.cfg.Interval > 0 {
		// Background: the last complete figures, until they are too old.
		show = lastSuccess
		if show != nil && c.cfg.Now().Sub(show.ended) >= c.staleAfter() {
			show = nil
		}
	} else if !up {
		show = nil
	}
	if show == nil {
		return
	}
	t := &show.totals
	ch <- prometheus.MustNewConstMetric(sweepSlicesDesc, prometheus.GaugeValue, float64(show.stats.Slices))
	ch <- prometheus.MustNewConstMetric(sweepPagesDesc, prometheus.GaugeValue, float64(show.stats.Pages))
	ch <- prometheus.MustNewConstMetric(foldedDesc, prometheus.GaugeValue, float64(t.folded))
	for _, reason := range invalidReasons {
		ch <- prometheus.MustNewConstMetric(invalidDesc, prometheus.GaugeValue, float64(t.invalid[reason]), reason)
	}
	for _, s := range t.sums {
		labels := []string{s.Region, s.Model, s.ProductCode, s.Currency}
		ch <- prometheus.MustNewConstMetric(unpaidAmountDesc, prometheus.GaugeValue, s.Amount.Float64(), labels...)
		ch <- prometheus.MustNewConstMetric(unpaidOrdersDesc, prometheus.GaugeValue, float64(s.Orders), labels...)
		ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, float64(s.Oldest), labels...)
	}
	for _, s := range t.byAge {
		labels := []string{s.Region, s.ProductCode, s.Currency, s.Age}
		ch <- prometheus.MustNewConstMetric(ageAmountDesc, prometheus.GaugeValue, s.Amount.Float64(), labels...)
		ch <- prometheus.MustNewConstMetric(ageOrdersDesc, prometheus.GaugeValue, float64(s.Orders), labels...)
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
