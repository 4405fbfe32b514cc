// Package apiclient reads the provider's signed ListUnpaidOrders API: one
// sweep reads every unpaid order of a time window exactly once, even while
// orders are paid and posted, and streams them to the caller.
//
//	c, err := apiclient.New(apiclient.Config{Endpoint: url, PublicKey: pub, PrivateKey: priv})
//	stats, err := c.Sweep(ctx, apiclient.Query{Start: from, End: to},
//		func(worker int, orders []apiclient.Order) error {
//			for _, o := range orders { /* aggregate o in worker's own sums */ }
//			return nil
//		})
//
// How a sweep reads the window (time slices, each answered atomically by
// one request) is in sweep.go; requests are signed form POSTs (no
// credential in a URL), paced against throttling (pace.go), retried when
// transient, never redirected. An unsorted API's first sweep walks the
// window (walk.go). Answers are decoded by a validating scanner
// (jsonindex.go, jsonscan.go) into the API's schema (response.go).
package apiclient

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
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
	Concurrency      int           // most requests in flight
	RateLimit        float64       // most requests per second; 0 = none
	MaxPages         int           // a sweep that needs more requests fails
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

// Query selects the orders of a sweep: CreateTime in [Start, End], both
// ends included, in whole seconds, and the optional filters, sent as the
// API's .N lists.
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

// Client sweeps the API. It is safe for concurrent use; it keeps what
// sweeps learn (the API's pace, the orders' spread in time) for the next.
type Client struct {
	cfg      Config
	endpoint string
	http     *http.Client
	bufs     sync.Pool
	pace     *pacer

	mu    sync.Mutex
	plans map[string]*profile // by query filters
	// inclusiveEnd is set once an answer held an order at its EndTime.
	inclusiveEnd atomic.Bool
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
	if cfg.Timeout < 0 || cfg.Concurrency < 0 || cfg.MaxPages < 0 || cfg.MaxResponseBytes < 0 || cfg.RateLimit < 0 {
		return nil, errors.New("timeout, concurrency, rate limit, max pages and max response size must be positive")
	}
	if cfg.Observe == nil {
		cfg.Observe = func(string) {}
	}
	c := &Client{cfg: cfg, endpoint: u.String(), http: cfg.HTTPClient,
		pace: newPacer(cfg.Concurrency, cfg.RateLimit), plans: map[string]*profile{}}
	if c.http == nil {
		c.http = &http.Client{Transport: newTransport(cfg)}
	} else {
		h := *c.http
		c.http = &h
	}
	// A redirect is answered as an error (see attempt), never followed.
	c.http.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.bufs.New = func() any {
		dec := newDecoder()
		dec.maxOrders, dec.secret = c.cfg.PageSize, c.cfg.PrivateKey
		return &pageBuf{dec: dec}
	}
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
		MaxConnsPerHost:       cfg.Concurrency * 2,
		MaxIdleConnsPerHost:   cfg.Concurrency * 2,
		IdleConnTimeout:       90 * time.Second,
	}
}

// Workers is the number of workers of a sweep: twice Config.Concurrency.
// Concurrency of them take slices; a spare one takes a slice while
// another's request waits out a Retry-After or a backoff (that one keeps
// its slice and finishes it). Requests in flight stay within the pacer's
// window, at most Concurrency.
func (c *Client) Workers() int { return 2 * c.cfg.Concurrency }

// Pace reports the requests the client now allows in flight and its rate
// limit in requests per second (0: none), as learned from throttling.
func (c *Client) Pace() (inflight, perSecond float64) { return c.pace.state() }

// CloseIdleConnections closes the client's idle keep-alive connections,
// for a client no longer used (an account a reload removed): they would
// otherwise stay open, with their goroutines, until the idle timeout.
// A request after it opens a new connection.
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }
