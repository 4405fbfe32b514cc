// Package bench measures a full sweep of the ListUnpaidOrders API against
// two baselines run on the same simulated API: the raw transfer of the same
// signed pages at the same concurrency (the limit a sweep can approach), and
// a naive client (sequential pages, encoding/json into all 38 fields,
// math/big sums). Every run is checked against the server's exact Truth: a
// fast wrong answer is a failure.
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/debt-exporter/debt_exporter/apiclient"
	"github.com/debt-exporter/debt_exporter/collector"
	"github.com/debt-exporter/debt_exporter/internal/simapi"
)

// PageSize is the page size of every measured sweep: the API's maximum.
const PageSize = 100

// Target is a simulated API to sweep, and what a full sweep must return.
type Target struct {
	URL        string
	PublicKey  string
	PrivateKey string
	Query      apiclient.Query // covers every order
	Truth      simapi.Truth
}

// Pages is the number of pages a full sweep requests: every full page and
// the short (possibly empty) last one.
func (t *Target) Pages() int { return t.Truth.Matched/PageSize + 1 }

// ServerConfig is the dataset every harness run uses: deterministic, with a
// sprinkling of invalid amounts so the invalid path is measured and checked.
// The span leaves a day of slack so that an exporter's 30d window, taken a
// little later on the real clock, still covers every order.
func ServerConfig(orders int, now time.Time) simapi.Config {
	return simapi.Config{
		Seed: 1, Orders: orders, Now: now, Span: 29 * 24 * time.Hour,
		InvalidAmountEvery: 1000, MemoResponses: true, Varied: true,
	}
}

// NewTarget describes srv (a listening server, or a NewHandler twin of a
// server in another process, given its url) and computes its Truth.
func NewTarget(srv *simapi.Server, url string) *Target {
	cfg := srv.Config()
	q := srv.Query()
	return &Target{URL: url, PublicKey: cfg.PublicKey, PrivateKey: cfg.PrivateKey, Query: q, Truth: srv.Truth(q)}
}

func (t *Target) window() (start, end time.Time) { return t.Query.Start, t.Query.End }

// ---- the sweep, as the exporter runs it ----

// Sweeper is a long-lived client, as in the exporter, so its connection pool
// is warm from one sweep to the next.
type Sweeper struct {
	t    *Target
	coll *collector.Collector
}

// NewSweeper returns an apiclient.Client for t with concurrency conc.
func NewSweeper(t *Target, conc int) (*Sweeper, error) {
	c, err := apiclient.New(apiclient.Config{
		Endpoint: t.URL, PublicKey: t.PublicKey, PrivateKey: t.PrivateKey,
		PageSize: PageSize, Concurrency: conc, Timeout: 30 * time.Second,
	})
	if err != nil {
		return nil, err
	}
	start, end := t.window()
	// The collector's window ends at its clock: hold it at the end of the
	// target's window, so every sweep reads the same orders.
	coll := collector.New(collector.Config{Client: c, Window: end.Sub(start), MaxTimeout: time.Hour,
		Now: func() time.Time { return end }})
	return &Sweeper{t: t, coll: coll}, nil
}

// Run sweeps the whole window with the collector's aggregation and checks
// the exact totals against Truth.
func (s *Sweeper) Run(ctx context.Context) error {
	sums, invalid, stats, err := s.coll.SweepOnce(ctx)
	if err != nil {
		return err
	}
	if stats.Orders != s.t.Truth.Matched {
		return fmt.Errorf("sweep: %d orders delivered, want %d", stats.Orders, s.t.Truth.Matched)
	}
	return CheckSums(s.t.Truth, sums, invalid[apiclient.InvalidAmount])
}

// CheckSums compares exact per-series sums with Truth.
func CheckSums(want simapi.Truth, got []collector.Sum, invalid int) error {
	if invalid != want.Invalid {
		return fmt.Errorf("%d invalid amounts, want %d", invalid, want.Invalid)
	}
	if len(got) != len(want.Series) {
		return fmt.Errorf("%d series, want %d", len(got), len(want.Series))
	}
	for _, g := range got {
		k := simapi.Key{Region: g.Region, ModelID: g.Model, ProductCode: g.ProductCode, Currency: g.Currency}
		w, ok := want.Series[k]
		switch {
		case !ok:
			return fmt.Errorf("unexpected series %+v", k)
		case g.Amount.Cmp(w.Amount) != 0:
			return fmt.Errorf("series %+v: amount %s, want %s", k, g.Amount, w.Amount)
		case g.Orders != w.Orders || g.Oldest != w.Oldest:
			return fmt.Errorf("series %+v: %d orders oldest %d, want %d oldest %d", k, g.Orders, g.Oldest, w.Orders, w.Oldest)
		}
	}
	return nil
}

// ---- request signing shared by the baselines ----

// form returns the signed request body for one page, exactly as the client
// sends it (same parameters, same signature).
func (t *Target) form(page int) string {
	p := map[string]string{
		"Action": simapi.Action, "PublicKey": t.PublicKey,
		"StartTime": strconv.FormatInt(t.Query.Start.Unix(), 10), "EndTime": strconv.FormatInt(t.Query.End.Unix(), 10),
		"Page": strconv.Itoa(page), "PageSize": strconv.Itoa(PageSize),
	}
	p["Signature"] = apiclient.Sign(p, t.PrivateKey)
	v := url.Values{}
	for k, x := range p {
		v.Set(k, x)
	}
	return v.Encode()
}

func (t *Target) post(ctx context.Context, hc *http.Client, page int) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, strings.NewReader(t.form(page)))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("page %d: HTTP %d", page, resp.StatusCode)
	}
	return resp, nil
}

// newHTTPClient keeps as many idle connections as there are requests in
// flight, like the exporter's transport, so no baseline pays for dials.
func newHTTPClient(conc int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        2 * conc,
		MaxIdleConnsPerHost: 2 * conc,
		IdleConnTimeout:     90 * time.Second,
	}, Timeout: 30 * time.Second}
}

// ---- baseline 1: the transfer limit ----

// Raw fetches the same signed pages as a sweep at the same concurrency and
// discards the bodies: signing, HTTP and loopback transfer, no decoding.
type Raw struct {
	t    *Target
	conc int
	hc   *http.Client
	bufs sync.Pool
}

// NewRaw returns the raw-fetch baseline for t.
func NewRaw(t *Target, conc int) *Raw {
	r := &Raw{t: t, conc: conc, hc: newHTTPClient(conc)}
	r.bufs.New = func() any { b := make([]byte, 64<<10); return &b }
	return r
}

// Run fetches every page once; it returns the bytes received.
func (r *Raw) Run(ctx context.Context) (int64, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next, total atomic.Int64
	pages := int64(r.t.Pages())
	var wg sync.WaitGroup
	for range r.conc {
		wg.Go(func() {
			buf := r.bufs.Get().(*[]byte)
			defer r.bufs.Put(buf)
			for p := next.Add(1); p <= pages && ctx.Err() == nil; p = next.Add(1) {
				resp, err := r.t.post(ctx, r.hc, int(p))
				if err != nil {
					cancel(err)
					return
				}
				n, err := io.CopyBuffer(io.Discard, resp.Body, *buf)
				resp.Body.Close()
				if err != nil {
					cancel(err)
					return
				}
				total.Add(n)
			}
		})
	}
	wg.Wait()
	return total.Load(), context.Cause(ctx)
}

// ---- baseline 2: the naive client ----

// naiveOrder is every field of UnpaidOrderItem, typed as the reference
// documents them.
type naiveOrder struct {
	Region              string
	OrderNo             string
	SourceOrderNo       string
	CompanyID           int64
	OrganizationID      int64
	OrganizationName    string
	UserEmail           string
	ChargeType          int
	ChargeTypeDisplay   string
	Channel             int
	Currency            string
	CurrencyDisplay     string
	ResourceID          string
	ResourceType        int
	ResourceTypeDisplay string
	ModelID             string
	ModelName           string
	OrderType           int
	OrderTypeDisplay    string
	PricingSKU          string
	Quantity            int64
	QuantityDisplay     string
	PricingUnit         int
	PricingUnitDisplay  string
	ListPrice           string
	DiscountPrice       string
	OrderTotalPrice     string
	OriginalPrice       string
	Status              int
	StatusDisplay       string
	CreateTime          json.Number // a string in the reference, sometimes a number
	StartTime           int64
	EndTime             int64
	PaidTime            int64
	RevocationTime      string
	RegionDisplay       string
	ProductCode         string
	ProductCodeDisplay  string
}

type naiveResponse struct {
	RetCode int
	Message string
	Orders  []naiveOrder
}

var plainDecimal = regexp.MustCompile(`^[+-]?[0-9]+(\.[0-9]+)?$`)

type naiveSum struct {
	amount *big.Rat
	orders int
	oldest int64
}

// Naive is the baseline a first version would be: one page at a time,
// encoding/json into the full struct, exact sums with big.Rat.
type Naive struct {
	t  *Target
	hc *http.Client
}

// NewNaive returns the naive baseline for t.
func NewNaive(t *Target) *Naive { return &Naive{t: t, hc: newHTTPClient(1)} }

// Run sweeps every page in order and checks its sums against Truth.
func (n *Naive) Run(ctx context.Context) error {
	sums := map[simapi.Key]*naiveSum{}
	invalid, orders := 0, 0
	for page := 1; ; page++ {
		resp, err := n.t.post(ctx, n.hc, page)
		if err != nil {
			return err
		}
		var r naiveResponse
		err = json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("page %d: %w", page, err)
		}
		if r.RetCode != 0 {
			return fmt.Errorf("page %d: RetCode %d: %s", page, r.RetCode, r.Message)
		}
		for _, o := range r.Orders {
			orders++
			amount, ok := new(big.Rat).SetString(o.OrderTotalPrice)
			if !ok || !plainDecimal.MatchString(o.OrderTotalPrice) {
				invalid++
				continue
			}
			created, err := strconv.ParseInt(o.CreateTime.String(), 10, 64)
			if err != nil {
				return fmt.Errorf("order %s: CreateTime %q", o.OrderNo, o.CreateTime)
			}
			k := simapi.Key{Region: o.Region, ModelID: o.ModelID, ProductCode: o.ProductCode, Currency: o.Currency}
			s, ok := sums[k]
			if !ok {
				s = &naiveSum{amount: new(big.Rat), oldest: created}
				sums[k] = s
			}
			s.amount.Add(s.amount, amount)
			s.orders++
			s.oldest = min(s.oldest, created)
		}
		if len(r.Orders) < PageSize {
			break
		}
	}
	if orders != n.t.Truth.Matched || invalid != n.t.Truth.Invalid || len(sums) != len(n.t.Truth.Series) {
		return fmt.Errorf("naive: %d orders, %d invalid, %d series; want %d, %d, %d", orders, invalid, len(sums),
			n.t.Truth.Matched, n.t.Truth.Invalid, len(n.t.Truth.Series))
	}
	for k, w := range n.t.Truth.Series {
		want, _ := new(big.Rat).SetString(w.Amount.String())
		s := sums[k]
		if s == nil || s.amount.Cmp(want) != 0 || s.orders != w.Orders || s.oldest != w.Oldest {
			return fmt.Errorf("naive: series %+v differs from Truth", k)
		}
	}
	return nil
}

// ---- measuring ----

// Measurement is one run of one contender.
type Measurement struct {
	Wall     time.Duration
	Bytes    uint64 // heap bytes allocated (runtime.MemStats.TotalAlloc delta)
	Allocs   uint64 // heap objects allocated (Mallocs delta)
	PeakHeap uint64 // highest sampled in-use heap (objects and fragmentation) during the run
}

// heapInUse reads the in-use heap like MemStats.HeapInuse, without stopping
// the world, so it can be sampled often during a run.
var heapSamples = []metrics.Sample{
	{Name: "/memory/classes/heap/objects:bytes"},
	{Name: "/memory/classes/heap/unused:bytes"},
}

func heapInUse(s []metrics.Sample) uint64 {
	metrics.Read(s)
	return s[0].Value.Uint64() + s[1].Value.Uint64()
}

// Measure runs fn once after a GC and returns its figures. The heap is
// sampled every 2ms; the peak is what the process must hold, so it
// includes garbage not yet collected, as RSS would.
func Measure(fn func() error) (Measurement, error) {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	samples := slices.Clone(heapSamples)
	peak := heapInUse(samples)
	stop := make(chan struct{})
	sampled := make(chan uint64)
	go func() {
		s := slices.Clone(heapSamples)
		p := uint64(0)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				sampled <- p
				return
			case <-tick.C:
				p = max(p, heapInUse(s))
			}
		}
	}()
	start := time.Now()
	err := fn()
	wall := time.Since(start)
	close(stop)
	peak = max(peak, <-sampled, heapInUse(samples))
	runtime.ReadMemStats(&after)
	return Measurement{
		Wall: wall, Bytes: after.TotalAlloc - before.TotalAlloc, Allocs: after.Mallocs - before.Mallocs,
		PeakHeap: peak,
	}, err
}

// Median returns the run with the median wall time, and the median of each
// other figure taken on its own (runs are noisy in every figure).
func Median(ms []Measurement) Measurement {
	if len(ms) == 0 {
		return Measurement{}
	}
	med := func(f func(Measurement) uint64) uint64 {
		v := make([]uint64, len(ms))
		for i, m := range ms {
			v[i] = f(m)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	return Measurement{
		Wall:     time.Duration(med(func(m Measurement) uint64 { return uint64(m.Wall) })),
		Bytes:    med(func(m Measurement) uint64 { return m.Bytes }),
		Allocs:   med(func(m Measurement) uint64 { return m.Allocs }),
		PeakHeap: med(func(m Measurement) uint64 { return m.PeakHeap }),
	}
}

// NewServer serves the harness dataset on ln with every page of the full
// window prerendered.
func NewServer(orders int, now time.Time, ln net.Listener) *simapi.Server {
	srv := simapi.NewWithListener(ServerConfig(orders, now), ln)
	srv.Prerender(srv.Query(), PageSize)
	return srv
}
