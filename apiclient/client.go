// Package apiclient speaks the provider's signed ListUnpaidOrders API.
//
// A sweep walks every page of a time window and streams the orders, page by
// page, to a callback; the client never holds the whole result:
//
//	c, err := apiclient.New(apiclient.Config{Endpoint: url, PublicKey: pub, PrivateKey: priv})
//	stats, err := c.Sweep(ctx, apiclient.Query{Start: from, End: to},
//		func(orders []apiclient.Order) error {
//			for _, o := range orders { /* aggregate o */ }
//			return nil
//		})
//
// Requests are signed form POSTs, so no credential is ever in a URL. Transient
// failures are retried with capped, jittered exponential backoff that never
// runs past the context's deadline; every other failure ends the sweep at once.
package apiclient

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/version"
)

// Request outcomes passed to Config.Observe, one per HTTP attempt.
const (
	OutcomeSuccess      = "success"
	OutcomeThrottled    = "throttled"
	OutcomeAPIError     = "api_error"
	OutcomeHTTPError    = "http_error"
	OutcomeNetworkError = "network_error"
	OutcomeDecodeError  = "decode_error"
	OutcomeCanceled     = "canceled"
)

// Outcomes lists every outcome, so a counter can be initialised at zero.
var Outcomes = []string{OutcomeSuccess, OutcomeThrottled, OutcomeAPIError, OutcomeHTTPError,
	OutcomeNetworkError, OutcomeDecodeError, OutcomeCanceled}

// Defaults for the zero values of Config.
const (
	DefaultPageSize         = 100
	DefaultTimeout          = 10 * time.Second
	DefaultConcurrency      = 4
	DefaultMaxPages         = 50000
	DefaultMaxResponseBytes = 16 << 20
)

// Config configures a Client. Endpoint, PublicKey and PrivateKey are required.
type Config struct {
	Endpoint   string // base URL of the API, e.g. https://api.dezai.com/
	PublicKey  string
	PrivateKey string
	ProjectID  string // optional ProjectId

	PageSize         int           // 10 to 100
	Timeout          time.Duration // one HTTP attempt
	Concurrency      int           // pages requested at once
	MaxPages         int           // a sweep that needs more pages fails
	MaxResponseBytes int64         // a larger body fails the page
	UserAgent        string        // default debt_exporter/<version>
	Retry            RetryPolicy

	// Observe, if set, is called once per HTTP attempt with its outcome,
	// from several goroutines at once.
	Observe func(outcome string)
	// HTTPClient replaces the default client (tests, custom TLS).
	HTTPClient *http.Client
}

// RetryPolicy is capped exponential backoff with full jitter.
type RetryPolicy struct {
	MaxAttempts int           // per page, the first one included; default 5
	BaseDelay   time.Duration // default 250ms
	MaxDelay    time.Duration // default 5s
}

// Query selects the orders of a sweep: CreateTime in [Start, End] (both ends
// inclusive, as the API treats StartTime and EndTime), and the
// optional filters, sent as the API's .N lists.
type Query struct {
	Start, End   time.Time
	ResourceIDs  []string
	ModelIDs     []string
	PricingUnits []int
	OrderTypes   []int
	Regions      []string
	PricingSKUs  []string
	ProductCodes []string
}

// Stats describes a finished sweep.
type Stats struct {
	Pages  int // pages delivered
	Orders int // orders delivered
}

// Client sweeps the API. It is safe for concurrent use.
type Client struct {
	cfg      Config
	endpoint string
	http     *http.Client
	bufs     sync.Pool
}

// New checks cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("API endpoint %q is not an http or https URL", cfg.Endpoint)
	}
	if u.RawQuery != "" {
		return nil, errors.New("API endpoint must not carry a query string")
	}
	if cfg.PublicKey == "" {
		return nil, errors.New("no public key configured")
	}
	if cfg.PrivateKey == "" {
		return nil, errors.New("no private key configured")
	}
	if cfg.PageSize == 0 {
		cfg.PageSize = DefaultPageSize
	}
	if cfg.PageSize < 10 || cfg.PageSize > 100 {
		return nil, fmt.Errorf("page size %d is outside 10 to 100", cfg.PageSize)
	}
	setDefault(&cfg.Timeout, DefaultTimeout)
	setDefault(&cfg.Concurrency, DefaultConcurrency)
	setDefault(&cfg.MaxPages, DefaultMaxPages)
	setDefault(&cfg.MaxResponseBytes, DefaultMaxResponseBytes)
	setDefault(&cfg.UserAgent, "debt_exporter/"+cmp.Or(version.Version, "dev")) // unstamped builds (go run) are dev
	setDefault(&cfg.Retry.MaxAttempts, 5)
	setDefault(&cfg.Retry.BaseDelay, 250*time.Millisecond)
	setDefault(&cfg.Retry.MaxDelay, 5*time.Second)
	if cfg.Timeout < 0 || cfg.Concurrency < 0 || cfg.MaxPages < 0 || cfg.MaxResponseBytes < 0 {
		return nil, errors.New("timeout, concurrency, max pages and max response size must be positive")
	}
	if cfg.Observe == nil {
		cfg.Observe = func(string) {}
	}
	c := &Client{cfg: cfg, endpoint: u.String(), http: cfg.HTTPClient}
	if c.http == nil {
		c.http = &http.Client{Transport: newTransport(cfg)}
	}
	c.bufs.New = func() any { return &pageBuf{dec: newDecoder()} }
	return c, nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

func newTransport(cfg Config) *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: cfg.Timeout,
		ExpectContinueTimeout: time.Second,
		MaxIdleConns:          cfg.Concurrency * 2,
		MaxIdleConnsPerHost:   cfg.Concurrency * 2,
		IdleConnTimeout:       90 * time.Second,
	}
}

// params renders the query's parameters, without Page and Signature.
func (c *Client) params(q Query) (map[string]string, error) {
	if q.Start.IsZero() || q.End.IsZero() || q.End.Unix() <= q.Start.Unix() {
		// The API takes whole seconds and wants EndTime > StartTime.
		return nil, errors.New("query window: End must be at least a second after Start")
	}
	p := map[string]string{
		"Action":    "ListUnpaidOrders",
		"PublicKey": c.cfg.PublicKey,
		"ProjectId": c.cfg.ProjectID,
		"StartTime": strconv.FormatInt(q.Start.Unix(), 10),
		"EndTime":   strconv.FormatInt(q.End.Unix(), 10),
		"PageSize":  strconv.Itoa(c.cfg.PageSize),
	}
	addList(p, "ResourceIds", q.ResourceIDs)
	addList(p, "ModelIds", q.ModelIDs)
	addList(p, "PricingUnits", itoas(q.PricingUnits))
	addList(p, "OrderTypes", itoas(q.OrderTypes))
	addList(p, "Regions", q.Regions)
	addList(p, "PricingSkus", q.PricingSKUs)
	addList(p, "ProductCodes", q.ProductCodes)
	for k, v := range p {
		if v == "" { // empty optional parameters are neither sent nor signed
			delete(p, k)
		}
	}
	return p, nil
}

// addList flattens a list as Name.0, Name.1, ..., skipping empty values so
// the indices stay contiguous.
func addList(p map[string]string, name string, values []string) {
	n := 0
	for _, v := range values {
		if v != "" {
			p[name+"."+strconv.Itoa(n)] = v
			n++
		}
	}
}

func itoas(ns []int) []string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return s
}

// pageBuf is the reusable memory of one page in flight.
type pageBuf struct {
	body bytes.Buffer
	dec  *decoder
	page page
}

type slot struct {
	number int
	buf    *pageBuf
	err    error
	done   chan struct{}
}

// Sweep requests every page of q and calls fn with each page's orders, in
// page order, from one goroutine. The slice and its orders are reused after
// fn returns. Up to Config.Concurrency pages are fetched ahead; the sweep
// ends at the first page shorter than the page size, or at the last page by
// TotalCount when the API sends one. On error, what fn received is an
// incomplete sweep and must be discarded.
func (c *Client) Sweep(ctx context.Context, q Query, fn func([]Order) error) (Stats, error) {
	var stats Stats
	base, err := c.params(q)
	if err != nil {
		return stats, err
	}
	ctx, cancel := context.WithCancel(ctx)
	var inflight []*slot
	defer func() {
		cancel()
		for _, s := range inflight { // leave no request behind the caller
			<-s.done
			c.bufs.Put(s.buf)
		}
	}()

	limit := c.cfg.MaxPages // no page past this is requested
	totalKnown := false
	next := 1
	for {
		for len(inflight) < c.cfg.Concurrency && next <= limit {
			s := &slot{number: next, buf: c.bufs.Get().(*pageBuf), done: make(chan struct{})}
			go func() {
				defer close(s.done)
				s.err = c.fetchPage(ctx, base, s.number, s.buf)
			}()
			inflight = append(inflight, s)
			next++
		}
		if len(inflight) == 0 {
			return stats, fmt.Errorf("%w (%d pages of %d)", ErrTooManyPages, c.cfg.MaxPages, c.cfg.PageSize)
		}
		s := inflight[0]
		inflight = inflight[1:]
		<-s.done
		if s.err != nil {
			c.bufs.Put(s.buf)
			return stats, s.err
		}
		p := &s.buf.page
		if s.number == 1 && p.totalCount >= 0 {
			// Compared before any arithmetic, so a huge TotalCount cannot
			// wrap into a small page count.
			if p.totalCount > int64(c.cfg.MaxPages)*int64(c.cfg.PageSize) {
				c.bufs.Put(s.buf)
				return stats, fmt.Errorf("%w: TotalCount %d needs more than %d pages of %d", ErrTooManyPages, p.totalCount, c.cfg.MaxPages, c.cfg.PageSize)
			}
			pages := int((p.totalCount + int64(c.cfg.PageSize) - 1) / int64(c.cfg.PageSize))
			limit, totalKnown = max(pages, 1), true
		}
		stats.Pages++
		stats.Orders += len(p.orders)
		err := fn(p.orders)
		last := len(p.orders) < c.cfg.PageSize || (totalKnown && s.number >= limit)
		c.bufs.Put(s.buf)
		if err != nil {
			return stats, err
		}
		if last {
			return stats, nil
		}
	}
}

// fetchPage requests one page, retrying transient failures.
func (c *Client) fetchPage(ctx context.Context, base map[string]string, number int, buf *pageBuf) error {
	params := make(map[string]string, len(base)+2)
	for k, v := range base {
		params[k] = v
	}
	params["Page"] = strconv.Itoa(number)
	params["Signature"] = Sign(params, c.cfg.PrivateKey)
	form := make(url.Values, len(params))
	for k, v := range params {
		form.Set(k, v)
	}
	body := form.Encode()

	var answered error // the last failure the API itself gave
	for attempt := 1; ; attempt++ {
		retryAfter, err := c.attempt(ctx, body, params["Signature"], number, buf)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			// A request cut short by the deadline says nothing; the answer
			// before it (throttled, say) says why the sweep ran out of time.
			var netErr *networkError
			if errors.As(err, &netErr) && answered != nil {
				err = answered
			}
			return fmt.Errorf("page %d: %w (last error: %w)", number, context.Cause(ctx), err)
		}
		answered = err
		if !isTransient(err) {
			return err
		}
		if attempt >= c.cfg.Retry.MaxAttempts {
			return fmt.Errorf("giving up after %d attempts: %w", attempt, err)
		}
		delay := max(c.backoff(attempt), retryAfter)
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < delay {
			return fmt.Errorf("giving up: the next retry would pass the deadline: %w", err)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("page %d: %w (last error: %w)", number, context.Cause(ctx), err)
		case <-t.C:
		}
	}
}

// backoff is full jitter: a random delay up to the capped exponential step.
func (c *Client) backoff(attempt int) time.Duration {
	step := c.cfg.Retry.BaseDelay << min(attempt-1, 20)
	if step > c.cfg.Retry.MaxDelay || step <= 0 {
		step = c.cfg.Retry.MaxDelay
	}
	return step/2 + rand.N(step/2+1)
}

type transientError interface{ Transient() bool }

// networkError is a failure to reach the API or to read its answer.
type networkError struct {
	page int
	err  error
}

func (e *networkError) Error() string   { return fmt.Sprintf("page %d: %v", e.page, e.err) }
func (e *networkError) Unwrap() error   { return e.err }
func (e *networkError) Transient() bool { return true }

func isTransient(err error) bool {
	var t transientError
	return errors.As(err, &t) && t.Transient()
}

// attempt makes one HTTP request and decodes its answer into buf.page.
func (c *Client) attempt(ctx context.Context, body, signature string, number int, buf *pageBuf) (retryAfter time.Duration, err error) {
	outcome := OutcomeSuccess
	defer func() { c.cfg.Observe(outcome) }()

	rctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, c.endpoint, strings.NewReader(body))
	if err != nil {
		outcome = OutcomeNetworkError
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.cfg.UserAgent)

	resp, err := c.http.Do(req)
	if err != nil {
		outcome = OutcomeNetworkError
		if ctx.Err() != nil {
			outcome = OutcomeCanceled
		}
		return 0, &networkError{page: number, err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // keep the connection reusable
		outcome = OutcomeHTTPError
		if resp.StatusCode == http.StatusTooManyRequests {
			outcome = OutcomeThrottled
		}
		return parseRetryAfter(resp.Header.Get("Retry-After")), &StatusError{StatusCode: resp.StatusCode, Page: number}
	}

	buf.body.Reset()
	n, err := buf.body.ReadFrom(io.LimitReader(resp.Body, c.cfg.MaxResponseBytes+1))
	if err != nil {
		outcome = OutcomeNetworkError
		if ctx.Err() != nil {
			outcome = OutcomeCanceled
		}
		return 0, &networkError{page: number, err: fmt.Errorf("reading body: %w", err)}
	}
	if n > c.cfg.MaxResponseBytes {
		outcome = OutcomeDecodeError
		return 0, &DecodeError{Page: number, Err: fmt.Errorf("%w: over %d bytes", ErrResponseTooLarge, c.cfg.MaxResponseBytes)}
	}
	if err := buf.dec.decodePage(buf.body.Bytes(), &buf.page); err != nil {
		outcome = OutcomeDecodeError
		return 0, &DecodeError{Page: number, Err: err}
	}
	if p := &buf.page; p.retCode != 0 {
		outcome = OutcomeAPIError
		if p.retCode == 153 {
			outcome = OutcomeThrottled
		}
		return 0, &APIError{RetCode: p.retCode, Message: redactor{c.cfg.PrivateKey, c.cfg.PublicKey, signature}.clean(p.message), Action: p.action, Page: number}
	}
	return 0, nil
}

// parseRetryAfter reads a Retry-After of delay seconds (the HTTP-date form
// is rare on APIs and ignored), capped at a minute.
func parseRetryAfter(v string) time.Duration {
	s, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || s <= 0 {
		return 0
	}
	return min(time.Duration(s)*time.Second, time.Minute)
}
