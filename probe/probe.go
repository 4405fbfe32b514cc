// Package probe serves the accounts of --config.file: one API client (its
// own pace and plan), one collector (its own single-flight sweep) and, with
// --sweep.interval, one background sweep per account, so that one
// account's slowness or failure never reaches another's figures.
//
//	set, err := probe.New(probe.Config{File: path, Defaults: d, Client: shared, Collector: shared, Logger: l})
//	mux.Handle("/probe", set.ProbeHandler())           // GET /probe?account=NAME
//	mux.Handle("/-/reload", set.ReloadHandler(enabled)) // POST
//	registry.MustRegister(set.Collector())            // the reload metrics, on /metrics
//	go set.Run(ctx)                                   // background sweeps
//	set.Reload()                                      // on SIGHUP
//
// As in blackbox_exporter, the scraper names a target (an account) and
// nothing else: the endpoint and keys are configuration, never a request
// parameter. As there, a reload that fails keeps the running configuration.
package probe

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/model"

	"github.com/debt-exporter/debt_exporter/accounts"
	"github.com/debt-exporter/debt_exporter/apiclient"
	"github.com/debt-exporter/debt_exporter/collector"
)

// Config configures a Set.
type Config struct {
	File     string            // --config.file
	Defaults accounts.Defaults // --api.endpoint, --window and the --filter.* flags
	// Client holds what every account's client shares (PageSize, Timeout,
	// Concurrency, RateLimit, MaxPages, Retry, HTTPClient, UserAgent).
	// Endpoint, PublicKey, PrivateKey, ProjectID and Observe are each
	// account's own and are ignored here.
	Client apiclient.Config
	// Collector holds what every account's collector shares (MinInterval,
	// Interval, MaxTimeout, MaxSeries, AgeBuckets, Context, Now). Client,
	// Requests, Query, Window and Logger are each account's own.
	Collector collector.Config
	// TimeoutOffset is subtracted from the scrape timeout
	// (--sweep.timeout-offset), as on /metrics.
	TimeoutOffset time.Duration
	Logger        log.Logger
}

// Set is the running set of accounts. Its methods are safe for concurrent
// use.
type Set struct {
	cfg    Config
	logger log.Logger

	reloadMu sync.Mutex // one reload at a time

	mu       sync.Mutex
	accounts map[string]*account
	running  context.Context // Run's, while it runs; nil before
	ok       bool            // the last load succeeded
	okAt     time.Time       // when a load last succeeded
}

// account is one account's client and collector, kept across reloads while
// the account is unchanged.
type account struct {
	acc    accounts.Account
	client *apiclient.Client
	coll   *collector.Collector
	stop   context.CancelFunc // ends its background sweeps; nil when none run
	done   chan struct{}      // closed when they have ended
}

// New loads cfg.File and returns the Set of its accounts. Nothing is swept
// until a probe, or Run with Collector.Interval > 0.
func New(cfg Config) (*Set, error) {
	if cfg.Logger == nil {
		cfg.Logger = log.NewNopLogger()
	}
	if cfg.Collector.MaxTimeout <= 0 {
		cfg.Collector.MaxTimeout = time.Minute
	}
	s := &Set{cfg: cfg, logger: cfg.Logger, accounts: map[string]*account{}}
	accs, err := accounts.Load(cfg.File, cfg.Defaults)
	if err != nil {
		return nil, err
	}
	next, _, _, err := s.plan(accs)
	if err != nil {
		return nil, err
	}
	s.accounts, s.ok, s.okAt = next, true, time.Now()
	level.Info(s.logger).Log("msg", "accounts loaded", "file", cfg.File, "accounts", strings.Join(accounts.Names(accs), ","))
	return s, nil
}

// plan builds the accounts of accs, reusing those of the running set that
// are unchanged (same keys, endpoint, window and filters), so that their
// learned pace and plan, request counters and last sweeps survive.
// It returns the new map, and the accounts started and ended by the swap.
func (s *Set) plan(accs []accounts.Account) (next map[string]*account, added, removed []*account, err error) {
	s.mu.Lock()
	running := s.accounts
	s.mu.Unlock()
	next = make(map[string]*account, len(accs))
	for _, acc := range accs {
		if cur, ok := running[acc.Name]; ok && reflect.DeepEqual(cur.acc, acc) {
			next[acc.Name] = cur
			continue
		}
		a, err := s.newAccount(acc)
		if err != nil {
			return nil, nil, nil, err
		}
		next[acc.Name] = a
		added = append(added, a)
	}
	for name, cur := range running {
		if next[name] != cur {
			removed = append(removed, cur)
		}
	}
	return next, added, removed, nil
}

func (s *Set) newAccount(acc accounts.Account) (*account, error) {
	requests := collector.NewRequests()
	cc := s.cfg.Client
	cc.Endpoint, cc.PublicKey, cc.PrivateKey, cc.ProjectID = acc.Endpoint, acc.PublicKey, string(acc.PrivateKey), acc.ProjectID
	cc.Observe = requests.Observe
	client, err := apiclient.New(cc)
	if err != nil {
		return nil, fmt.Errorf("accounts file %s: account %q: %w", s.cfg.File, acc.Name, err)
	}
	kc := s.cfg.Collector
	kc.Client, kc.Requests, kc.Query, kc.Window = client, requests, acc.Query, acc.Window
	// An account on --window was warned about at start, with the flag.
	if never := kc.AgeBuckets.Unfillable(acc.Window); len(never) > 0 && acc.Window != s.cfg.Defaults.Window {
		level.Warn(s.logger).Log("msg", "age buckets begin past the account's window and can never fill",
			"account", acc.Name, "window", model.Duration(acc.Window).String(), "buckets", strings.Join(never, ", "))
	}
	kc.Logger = log.With(s.logger, "account", acc.Name)
	return &account{acc: acc, client: client, coll: collector.New(kc)}, nil
}

// Run sweeps every account in the background every Collector.Interval
// until ctx ends, and returns when their sweeps have ended; accounts
// added by a reload start, removed ones stop. With Interval 0 (sweeps on
// each probe) it returns at once. Call it once.
func (s *Set) Run(ctx context.Context) {
	if s.cfg.Collector.Interval <= 0 {
		return
	}
	s.mu.Lock()
	s.running = ctx
	for _, a := range s.accounts {
		s.start(a)
	}
	s.mu.Unlock()
	<-ctx.Done()
	s.mu.Lock()
	all := make([]*account, 0, len(s.accounts))
	for _, a := range s.accounts {
		all = append(all, a)
	}
	s.mu.Unlock()
	wait(all)
}

// start begins a's background sweeps if Run runs; s.mu is held.
func (s *Set) start(a *account) {
	if s.running == nil || s.running.Err() != nil || a.stop != nil {
		return
	}
	ctx, cancel := context.WithCancel(s.running)
	a.stop, a.done = cancel, make(chan struct{})
	go func() {
		defer close(a.done)
		a.coll.Run(ctx)
	}()
}

// wait returns when the background sweeps of accs have ended.
func wait(accs []*account) {
	for _, a := range accs {
		if a.done != nil {
			<-a.done
		}
	}
}

// Reload re-reads the accounts file and the key files it names. If they
// do not load, the running accounts go on unchanged, the error is logged
// and returned, and debt_config_last_reload_successful is 0. Otherwise the
// new accounts replace the running ones at once: a probe in flight ends
// with the account it began with; unchanged accounts keep their client
// and collector; removed accounts' background sweeps have ended when
// Reload returns.
//
// On a nil Set (no --config.file) it returns an error: there is nothing
// to reload.
func (s *Set) Reload() error {
	if s == nil {
		return errNoFile
	}
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	accs, err := accounts.Load(s.cfg.File, s.cfg.Defaults)
	var next map[string]*account
	var added, removed []*account
	if err == nil {
		next, added, removed, err = s.plan(accs)
	}
	if err != nil {
		s.mu.Lock()
		s.ok = false
		s.mu.Unlock()
		level.Error(s.logger).Log("msg", "cannot reload the accounts file: keeping the running configuration", "err", err)
		return err
	}
	s.mu.Lock()
	s.accounts = next
	for _, a := range added {
		s.start(a)
	}
	for _, a := range removed {
		if a.stop != nil {
			a.stop()
		}
	}
	s.ok, s.okAt = true, time.Now()
	s.mu.Unlock()
	wait(removed)
	for _, a := range removed {
		// Their connections would stay open until the idle timeout,
		// each with two goroutines; a probe still in flight with a
		// removed account opens what it needs.
		a.client.CloseIdleConnections()
	}

	level.Info(s.logger).Log("msg", "accounts reloaded", "file", s.cfg.File, "accounts", strings.Join(accounts.Names(accs), ","),
		"started", names(added), "stopped", names(removed))
	return nil
}

func names(accs []*account) string {
	out := make([]string, len(accs))
	for i, a := range accs {
		out[i] = a.acc.Name
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

// errNoFile is Reload's error on a nil Set.
var errNoFile = errors.New("no --config.file given: nothing to reload")

// Accounts returns the names of the running accounts, sorted.
func (s *Set) Accounts() []string {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.accounts))
	for name := range s.accounts {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

func (s *Set) lookup(name string) *account {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accounts[name]
}

// ProbeHandler answers GET /probe?account=NAME with that account's debt_*
// metrics, swept within the scrape's timeout (or answered from the last
// background sweep). Only the account parameter is read; a missing or
// unknown account is HTTP 400 with one line. A nil Set (no --config.file)
// knows no account.
func (s *Set) ProbeHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "use GET /probe?account=NAME", http.StatusMethodNotAllowed)
			return
		}
		names := r.URL.Query()["account"]
		switch {
		case len(names) == 0 || names[0] == "":
			http.Error(w, "missing parameter account: use /probe?account=NAME", http.StatusBadRequest)
			return
		case len(names) > 1:
			http.Error(w, "parameter account given more than once", http.StatusBadRequest)
			return
		}
		a := s.lookup(names[0])
		if a == nil {
			name := names[0]
			if len(name) > 64 {
				name = name[:64] + "..."
			}
			where := "not in the accounts file"
			if s == nil {
				where = "no accounts file is loaded (--config.file)"
			}
			http.Error(w, fmt.Sprintf("unknown account %q: %s", name, where), http.StatusBadRequest)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), collector.SweepTimeout(r, s.cfg.TimeoutOffset, s.cfg.Collector.MaxTimeout))
		defer cancel()
		reg := prometheus.NewRegistry()
		reg.MustRegister(a.coll.ForScrape(ctx))
		promhttp.HandlerFor(reg, promhttp.HandlerOpts{
			ErrorLog:      promLogger{log.With(s.logger, "account", a.acc.Name)},
			ErrorHandling: promhttp.ContinueOnError,
		}).ServeHTTP(w, r)
	})
}

type promLogger struct{ logger log.Logger }

func (l promLogger) Println(v ...any) {
	level.Error(l.logger).Log("msg", "serving probe", "err", fmt.Sprint(v...))
}

// ReloadHandler answers POST /-/reload: 200 when the new configuration is
// in force, 500 with the error in one line when the running one was kept
// (or on a nil Set: no --config.file), 403 when enabled is false
// (--web.enable-lifecycle not set).
func (s *Set) ReloadHandler(enabled bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !enabled {
			http.Error(w, "Lifecycle API is not enabled: start with --web.enable-lifecycle", http.StatusForbidden)
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "This endpoint requires a POST request.", http.StatusMethodNotAllowed)
			return
		}
		if err := s.Reload(); err != nil {
			http.Error(w, "failed to reload config: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "OK")
	})
}

var (
	reloadOKDesc = prometheus.NewDesc("debt_config_last_reload_successful",
		"1 if the last load of --config.file (and the key files it names) succeeded, else 0.", nil, nil)
	reloadAtDesc = prometheus.NewDesc("debt_config_last_reload_success_timestamp_seconds",
		"Unix time when --config.file last loaded successfully.", nil, nil)
)

// Collector returns the reload metrics, for the registry of /metrics.
func (s *Set) Collector() prometheus.Collector { return reloadMetrics{s} }

type reloadMetrics struct{ s *Set }

func (m reloadMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- reloadOKDesc
	ch <- reloadAtDesc
}

func (m reloadMetrics) Collect(ch chan<- prometheus.Metric) {
	m.s.mu.Lock()
	ok, at := m.s.ok, m.s.okAt
	m.s.mu.Unlock()
	v := 0.0
	if ok {
		v = 1
	}
	ch <- prometheus.MustNewConstMetric(reloadOKDesc, prometheus.GaugeValue, v)
	ch <- prometheus.MustNewConstMetric(reloadAtDesc, prometheus.GaugeValue, float64(at.UnixNano())/1e9)
}
