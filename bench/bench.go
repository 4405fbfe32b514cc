// Package bench measures a full sweep of the ListUnpaidOrders API against
// two baselines run on the same simulated API: the raw transfer of the very
// requests a steady-state sweep makes (recorded by the server, replayed
// signed at the same concurrency, bodies discarded: the limit a sweep can
// approach), and a naive client (sequential offset pages, encoding/json
// into all 38 fields, math/big sums). Every run is checked against the
// server's exact Truth: a fast wrong answer is a failure.
package bench

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/debt-exporter/debt_exporter/apiclient"
	"github.com/debt-exporter/debt_exporter/collector"
	"github.com/debt-exporter/debt_exporter/internal/simapi"
)

// PageSize is the page size of every measured sweep: the API's maximum.
const PageSize = 100

// Sorts names the API's sort orders (simapi.Config.Sort), for flags and
// tables.
var Sorts = []struct {
	Name string
	Sort int
}{{"desc", simapi.SortDesc}, {"asc", simapi.SortAsc}, {"unsorted", simapi.Unsorted}}

// SortName is the name of a simapi sort order.
func SortName(sort int) string {
	for _, s := range Sorts {
		if s.Sort == sort {
			return s.Name
		}
	}
	return strconv.Itoa(sort)
}

// ParseSort is the simapi sort order of a name of Sorts.
func ParseSort(name string) (int, error) {
	for _, s := range Sorts {
		if s.Name == name {
			return s.Sort, nil
		}
	}
	return 0, fmt.Errorf("unknown sort %q (desc, asc or unsorted)", name)
}

// ServerConfig is the dataset every harness run uses: deterministic, as
// varied as a real API's answers (Varied: never one rendering a decoder
// could be tuned to), with a sprinkling of invalid amounts so the invalid
// path is measured and checked, and answers memoised by request so that a
// repeated request costs the server the same in every contender. The span
// leaves a day of slack so that an exporter's 30d window, taken a little
// later on the real clock, still covers every order.
func ServerConfig(orders int, now time.Time, sort int) simapi.Config {
	return simapi.Config{
		Seed: 1, Orders: orders, Now: now, Span: 29 * 24 * time.Hour, Sort: sort,
		InvalidAmountEvery: 1000, MemoResponses: true, Varied: true,
	}
}

// Target is a simulated API to sweep, and what a full sweep must return.
type Target struct {
	URL        string
	PublicKey  string
	PrivateKey string
	Query      apiclient.Query // covers every order
	Truth      simapi.Truth
}

// NewTarget describes srv (a listening server, or a NewHandler twin of a
// server in another process, given its url) and computes its Truth.
func NewTarget(srv *simapi.Server, url string) *Target {
	cfg := srv.Config()
	q := srv.Query()
	return &Target{URL: url, PublicKey: cfg.PublicKey, PrivateKey: cfg.PrivateKey, Query: q, Truth: srv.Truth(q)}
}

// Pages is the number of offset pages of the whole window (the naive
// baseline's requests): every full page and the short, possibly empty,
// last one.
func (t *Target) Pages() int { return t.Truth.Matched/PageSize + 1 }

// MinRequests is ceil(orders / PageSize): the fewest requests that can
// read every order, what requests per sweep are measured against.
func (t *Target) MinRequests() int { return max(1, (t.Truth.Matched+PageSize-1)/PageSize) }

// ---- the sweep, as the exporter runs it ----

// Sweeper is a long-lived client, as in the exporter, so its connection pool
// is warm and its plan learned from one sweep to the next.
type Sweeper struct {
	t    *Target
	coll *collector.Collector
}

// NewSweeper returns an apiclient.Client for t with concurrency conc,
// under the collector's aggregation.
func NewSweeper(t *Target, conc int) (*Sweeper, error) {
	c, err := apiclient.New(apiclient.Config{
		Endpoint: t.URL, PublicKey: t.PublicKey, PrivateKey: t.PrivateKey,
		PageSize: PageSize, Concurrency: conc, Timeout: 30 * time.Second,
		MaxPages: math.MaxInt32, // unsorted first sweeps may need many; their count is what is measured
	})
	if err != nil {
		return nil, err
	}
	start, end := t.Query.Start, t.Query.End
	// The collector's window ends at its clock: hold it at the end of the
	// target's window, so every sweep reads the same orders.
	coll := collector.New(collector.Config{Client: c, Window: end.Sub(start), MaxTimeout: time.Hour,
		Now: func() time.Time { return end }})
	return &Sweeper{t: t, coll: coll}, nil
}

// Collector is the sweeper's collector (to render its exposition).
func (s *Sweeper) Collector() *collector.Collector { return s.coll }

// Run sweeps the whole window with the collector's aggregation and checks
// the exact totals against Truth.
func (s *Sweeper) Run(ctx context.Context) (apiclient.Stats, error) {
	sums, invalid, stats, err := s.coll.SweepOnce(ctx)
	if err != nil {
		return stats, err
	}
	if stats.Orders != s.t.Truth.Matched {
		return stats, fmt.Errorf("sweep: %d orders delivered, want %d", stats.Orders, s.t.Truth.Matched)
	}
	return stats, CheckSums(s.t.Truth, sums, invalid[apiclient.InvalidAmount])
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

// CheckExposition checks a /metrics exposition of the exporter against
// Truth: debt_up 1, every business series (and no other) with its exact
// order count and oldest CreateTime, its amount equal to the float64
// nearest the exact sum (what the exporter exposes), and the invalid
// amounts. It returns the exposition's debt_sweep_requests.
func CheckExposition(want simapi.Truth, text io.Reader) (requests int, err error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(text)
	if err != nil {
		return 0, fmt.Errorf("exposition: %w", err)
	}
	value := func(name string) (float64, bool) {
		f := families[name]
		if f == nil || len(f.Metric) != 1 {
			return 0, false
		}
		m := f.Metric[0]
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		}
		return 0, false
	}
	if up, ok := value("debt_up"); !ok || up != 1 {
		return 0, fmt.Errorf("debt_up %v (present %v), want 1", up, ok)
	}
	type got struct {
		amount, orders, oldest float64
		seen                   int
	}
	series := map[simapi.Key]*got{}
	for name, set := range map[string]func(*got, float64){
		"debt_unpaid_amount":                         func(g *got, v float64) { g.amount = v },
		"debt_unpaid_orders":                         func(g *got, v float64) { g.orders = v },
		"debt_unpaid_oldest_order_timestamp_seconds": func(g *got, v float64) { g.oldest = v },
	} {
		f := families[name]
		if f == nil {
			return 0, fmt.Errorf("no %s in the exposition", name)
		}
		for _, m := range f.Metric {
			k := simapi.KeyOf(m.Label)
			g := series[k]
			if g == nil {
				g = &got{}
				series[k] = g
			}
			set(g, m.GetGauge().GetValue())
			g.seen++
		}
	}
	if len(series) != len(want.Series) {
		return 0, fmt.Errorf("%d series exposed, want %d", len(series), len(want.Series))
	}
	for k, g := range series {
		w, ok := want.Series[k]
		switch {
		case !ok:
			return 0, fmt.Errorf("unexpected series %+v", k)
		case g.seen != 3:
			return 0, fmt.Errorf("series %+v: %d of its 3 metrics", k, g.seen)
		case g.amount != w.Amount.Float64():
			return 0, fmt.Errorf("series %+v: amount %v, want %v (%s)", k, g.amount, w.Amount.Float64(), w.Amount)
		case g.orders != float64(w.Orders) || g.oldest != float64(w.Oldest):
			return 0, fmt.Errorf("series %+v: %v orders oldest %v, want %d oldest %d", k, g.orders, g.oldest, w.Orders, w.Oldest)
		}
	}
	invalid := -1.0
	if f := families["debt_invalid_orders"]; f != nil {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if l.GetName() == "reason" && l.GetValue() == apiclient.InvalidAmount {
					invalid = m.GetGauge().GetValue()
				}
			}
		}
	}
	if invalid != float64(want.Invalid) {
		return 0, fmt.Errorf("debt_invalid_orders{reason=%q} %v, want %d", apiclient.InvalidAmount, invalid, want.Invalid)
	}
	r, ok := value("debt_sweep_requests")
	if !ok {
		return 0, errors.New("no debt_sweep_requests in the exposition")
	}
	return int(r), nil
}

// ---- the requests of a sweep, recorded by the server ----

// Request is one request as the server answered it: what a replay needs
// (StartTime, EndTime, Page, PageSize) and what it must get back (status,
// body size).
type Request struct {
	Start, End int64
	Page       int
	PageSize   int // PageSize, or less: a proof of a short answer (apiclient's probeCap)
	Status     int
	Bytes      int64
}

// Recorder is an http.Handler in front of the simulated API that records
// every request while it is switched on. It reads StartTime, EndTime and
// Page from every request, recording or not, so that the server's cost is
// the same for every contender.
type Recorder struct {
	h        http.Handler
	on       atomic.Bool
	inflight atomic.Int64 // requests being answered
	mu       sync.Mutex
	rs       []Request
}

// NewRecorder records the requests h answers.
func NewRecorder(h http.Handler) *Recorder { return &Recorder{h: h} }

// Start switches recording on, dropping what was recorded before. It waits
// for the requests being answered: they belong to the contender before.
func (rc *Recorder) Start() error {
	if err := rc.drain(); err != nil {
		return err
	}
	rc.mu.Lock()
	rc.rs = rc.rs[:0]
	rc.mu.Unlock()
	rc.on.Store(true)
	return nil
}

// Stop switches recording off and returns what was recorded since Start.
// A client may read an answer before its handler has returned: Stop first
// waits for the requests being answered (the contender has finished).
func (rc *Recorder) Stop() ([]Request, error) {
	if err := rc.drain(); err != nil {
		return nil, err
	}
	rc.on.Store(false)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.rs), nil
}

// drain waits until no request is being answered.
func (rc *Recorder) drain() error {
	for deadline := time.Now().Add(5 * time.Second); rc.inflight.Load() > 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			return errors.New("recorder: requests still being answered after 5s")
		}
	}
	return nil
}

type countingWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (w *countingWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

func (w *countingWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

func (rc *Recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.inflight.Add(1)
	defer rc.inflight.Add(-1)
	recording := rc.on.Load()
	var form string
	if r.Method == http.MethodPost && r.Body != nil {
		b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		form = string(b)
	} else {
		form = r.URL.RawQuery
	}
	req := Request{
		Start: formInt(form, "StartTime"), End: formInt(form, "EndTime"), Page: int(formInt(form, "Page")),
		PageSize: int(formInt(form, "PageSize")),
	}
	cw := &countingWriter{ResponseWriter: w}
	rc.h.ServeHTTP(cw, r)
	if recording {
		req.Status, req.Bytes = cw.status, cw.n
		rc.mu.Lock()
		rc.rs = append(rc.rs, req)
		rc.mu.Unlock()
	}
}

// formInt is the integer value of key in a form-encoded string, or -1.
func formInt(form, key string) int64 {
	for rest := form; rest != ""; {
		var kv string
		kv, rest, _ = strings.Cut(rest, "&")
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}

// WriteRequests writes requests one a line: start end page pagesize status bytes.
func WriteRequests(w io.Writer, rs []Request) error {
	bw := bufio.NewWriter(w)
	for _, r := range rs {
		fmt.Fprintf(bw, "%d %d %d %d %d %d\n", r.Start, r.End, r.Page, r.PageSize, r.Status, r.Bytes)
	}
	return bw.Flush()
}

// ReadRequests reads what WriteRequests wrote.
func ReadRequests(r io.Reader) ([]Request, error) {
	var rs []Request
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var q Request
		if _, err := fmt.Sscan(sc.Text(), &q.Start, &q.End, &q.Page, &q.PageSize, &q.Status, &q.Bytes); err != nil {
			return nil, fmt.Errorf("request %d: %q: %w", len(rs)+1, sc.Text(), err)
		}
		rs = append(rs, q)
	}
	return rs, sc.Err()
}

func compareRequests(a, b Request) int {
	return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(a.End, b.End), cmp.Compare(a.Page, b.Page),
		cmp.Compare(a.PageSize, b.PageSize), cmp.Compare(a.Status, b.Status), cmp.Compare(a.Bytes, b.Bytes))
}

// SameRequests reports whether two recordings hold the same requests,
// answered the same, in any order (workers interleave differently).
func SameRequests(a, b []Request) error {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.SortFunc(a, compareRequests)
	slices.SortFunc(b, compareRequests)
	for i := range min(len(a), len(b)) {
		if compareRequests(a[i], b[i]) != 0 {
			return fmt.Errorf("%d and %d requests; the first difference: %+v against %+v", len(a), len(b), a[i], b[i])
		}
	}
	if len(a) != len(b) {
		return fmt.Errorf("%d requests against %d", len(a), len(b))
	}
	return nil
}

// SamePages is SameRequests for the pages of two sweeps, leaving out the
// requests at a PageSize below PageSize: apiclient's probeCap asks an
// answer's page 2 at the answer's own size, and which answers it asks
// may depend on the order the answers come in. It returns how many such
// requests each holds.
func SamePages(a, b []Request) (proofsA, proofsB int, err error) {
	pages := func(rs []Request) ([]Request, int) {
		out := make([]Request, 0, len(rs))
		for _, r := range rs {
			if r.PageSize == PageSize {
				out = append(out, r)
			}
		}
		return out, len(rs) - len(out)
	}
	pa, proofsA := pages(a)
	pb, proofsB := pages(b)
	return proofsA, proofsB, SameRequests(pa, pb)
}

// Proofs counts the requests of a recording at a PageSize below PageSize
// (probeCap's page 2 of an answer; its page 1 of the window is at
// PageSize, a request like the others).
func Proofs(rs []Request) int {
	n := 0
	for _, r := range rs {
		if r.PageSize != PageSize {
			n++
		}
	}
	return n
}

// Bytes is the total body bytes of a recording.
func Bytes(rs []Request) int64 {
	var n int64
	for _, r := range rs {
		n += r.Bytes
	}
	return n
}

// Recording switches a server's recording on and off: a Recorder in this
// process, or one in a fakeapi process.
type Recording interface {
	Start() error
	Stop() ([]Request, error)
}

// Learn prepares the measured runs of a sweeper: a first sweep (no plan:
// it learns the API's order and spread), then steady-state sweeps planned
// from the one before, recorded, until two in a row make the same
// requests: a sweep can still learn something that changes the requests
// of the next (that EndTime is inclusive shows only when an order lies at
// a slice's end, which may first happen in the second sweep). Every later
// sweep of an unchanged dataset then makes those requests again, and the
// server's memo holds all their answers, so a replay of them and the
// sweeps after it cost the server the same. Every sweep is checked
// against Truth.
func Learn(ctx context.Context, s *Sweeper, rec Recording) (first, steady apiclient.Stats, reqs []Request, err error) {
	if first, err = s.Run(ctx); err != nil {
		return first, steady, nil, fmt.Errorf("first sweep: %w", err)
	}
	const most = 4 // steady sweeps; two suffice unless something is learnt late
	for range most {
		if err := rec.Start(); err != nil {
			return first, steady, nil, err
		}
		steady, err = s.Run(ctx)
		got, rerr := rec.Stop()
		if err != nil {
			return first, steady, nil, fmt.Errorf("steady sweep: %w", err)
		}
		if rerr != nil {
			return first, steady, nil, rerr
		}
		if len(got) != steady.Requests {
			return first, steady, nil, fmt.Errorf("the server recorded %d requests of the steady sweep, the sweep counted %d", len(got), steady.Requests)
		}
		if _, _, err := SamePages(reqs, got); reqs != nil && err == nil {
			return first, steady, got, nil
		}
		reqs = got
	}
	return first, steady, nil, fmt.Errorf("%d steady sweeps in a row made different requests", most)
}

// ---- baseline 1: the transfer limit ----

// userAgent is what the exporter sends when built without a version stamp.
const userAgent = "debt_exporter/dev"

// form returns the signed body of one request exactly as apiclient sends it
// (same parameters, same signature, same encoding).
func (t *Target) form(start, end int64, page, pageSize int) string {
	p := map[string]string{
		"Action": simapi.Action, "PublicKey": t.PublicKey,
		"StartTime": strconv.FormatInt(start, 10), "EndTime": strconv.FormatInt(end, 10),
		"Page": strconv.Itoa(page), "PageSize": strconv.Itoa(pageSize),
	}
	p["Signature"] = apiclient.Sign(p, t.PrivateKey)
	v := make(url.Values, len(p))
	for k, x := range p {
		v.Set(k, x)
	}
	return v.Encode()
}

func (t *Target) post(ctx context.Context, hc *http.Client, body string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return resp, nil
}

// newHTTPClient is configured like the exporter's transport (as many idle
// connections as requests in flight, and more), so no contender pays for
// dials.
func newHTTPClient(conc int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        2 * conc,
		MaxConnsPerHost:     2 * conc,
		MaxIdleConnsPerHost: 2 * conc,
		IdleConnTimeout:     90 * time.Second,
	}, Timeout: 30 * time.Second}
}

// Raw replays recorded requests, signed as the client signs them, at the
// same concurrency, and discards the bodies: signing, HTTP and loopback
// transfer, no decoding, no planning. A body is read as apiclient reads
// one, into a reused buffer with reads as large as its free room, not
// through io.Discard: that reads 8 KiB at a time, seven times the read
// calls of the client, and would make the baseline slower than it is.
type Raw struct {
	t    *Target
	conc int
	hc   *http.Client
	bufs sync.Pool
}

// NewRaw returns the raw-fetch baseline for t.
func NewRaw(t *Target, conc int) *Raw {
	r := &Raw{t: t, conc: conc, hc: newHTTPClient(conc)}
	r.bufs.New = func() any { return new(bytes.Buffer) }
	return r
}

// Run makes every request of reqs once; it returns the body bytes received.
func (r *Raw) Run(ctx context.Context, reqs []Request) (int64, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next, total atomic.Int64
	var wg sync.WaitGroup
	for range r.conc {
		wg.Go(func() {
			buf := r.bufs.Get().(*bytes.Buffer)
			defer r.bufs.Put(buf)
			for i := next.Add(1) - 1; i < int64(len(reqs)) && ctx.Err() == nil; i = next.Add(1) - 1 {
				q := reqs[i]
				resp, err := r.t.post(ctx, r.hc, r.t.form(q.Start, q.End, q.Page, q.PageSize))
				if err != nil {
					cancel(fmt.Errorf("[%d, %d] page %d: %w", q.Start, q.End, q.Page, err))
					return
				}
				buf.Reset()
				n, err := buf.ReadFrom(resp.Body)
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

// Naive is the baseline a first version would be: offset pages of the
// whole window one at a time, encoding/json into the full struct, exact
// sums with big.Rat.
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
	start, end := n.t.Query.Start.Unix(), n.t.Query.End.Unix()
	for page := 1; ; page++ {
		resp, err := n.t.post(ctx, n.hc, n.t.form(start, end, page, PageSize))
		if err != nil {
			return fmt.Errorf("page %d: %w", page, err)
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
	// CPU is this process's user and system time during the run; ServerCPU
	// the same of the process given to Measure (the API's), when known.
	CPU, ServerCPU time.Duration
	// ServerSwitches is how often the API's threads gave up the processor
	// during the run (voluntary context switches: each a sleep and a wake,
	// what an idling server pays for), when known.
	ServerSwitches uint64
}

// ProcessSwitches sums the voluntary context switches of a process's
// threads so far from /proc, or 0 where /proc cannot tell.
func ProcessSwitches(pid int) uint64 {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	var n uint64
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "voluntary_ctxt_switches:"); ok {
				k, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
				n += k
			}
		}
	}
	return n
}

// ProcessCPU reads the user and system time a process has used so far
// from /proc (clock ticks of 10ms), or 0 where /proc cannot tell.
func ProcessCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: count from after it.
	_, rest, ok := bytes.Cut(b, []byte(") "))
	f := strings.Fields(string(rest))
	if !ok || len(f) < 13 {
		return 0
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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
// includes garbage not yet collected, as RSS would. serverPID, if not 0,
// is the process whose CPU time is reported as ServerCPU.
func Measure(serverPID int, fn func() error) (Measurement, error) {
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
	cpu0, server0, switches0 := selfCPU(), ProcessCPU(serverPID), ProcessSwitches(serverPID)
	start := time.Now()
	err := fn()
	wall := time.Since(start)
	cpu, server := selfCPU()-cpu0, ProcessCPU(serverPID)-server0
	switches := ProcessSwitches(serverPID) - switches0
	close(stop)
	peak = max(peak, <-sampled, heapInUse(samples))
	runtime.ReadMemStats(&after)
	return Measurement{
		Wall: wall, Bytes: after.TotalAlloc - before.TotalAlloc, Allocs: after.Mallocs - before.Mallocs,
		PeakHeap: peak, CPU: cpu, ServerCPU: server, ServerSwitches: switches,
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
		Wall:           time.Duration(med(func(m Measurement) uint64 { return uint64(m.Wall) })),
		Bytes:          med(func(m Measurement) uint64 { return m.Bytes }),
		Allocs:         med(func(m Measurement) uint64 { return m.Allocs }),
		PeakHeap:       med(func(m Measurement) uint64 { return m.PeakHeap }),
		CPU:            time.Duration(med(func(m Measurement) uint64 { return uint64(m.CPU) })),
		ServerCPU:      time.Duration(med(func(m Measurement) uint64 { return uint64(m.ServerCPU) })),
		ServerSwitches: med(func(m Measurement) uint64 { return m.ServerSwitches }),
	}
}

// ---- the simulated API ----

// API is a simulated API served on a listener behind a Recorder.
type API struct {
	Sim *simapi.Server
	Rec *Recorder
	URL string
	hs  *http.Server
}

// StartAPI serves cfg on ln. With prerender, every offset page of the whole
// window (the naive baseline's requests) is rendered into the memo first.
func StartAPI(cfg simapi.Config, ln net.Listener, prerender bool) *API {
	sim := simapi.NewHandler(cfg)
	if prerender {
		sim.Prerender(sim.Query(), PageSize)
	}
	a := &API{Sim: sim, Rec: NewRecorder(sim), URL: "http://" + ln.Addr().String()}
	a.hs = &http.Server{Handler: a.Rec, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = a.hs.Serve(ln) }()
	return a
}

// Close stops serving.
func (a *API) Close() { _ = a.hs.Close() }
