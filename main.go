// Command debt_exporter exposes, for Prometheus, how much a company owes its
// AI-model provider: unpaid orders from the ListUnpaidOrders API, summed per
// region, model, product code and currency.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/debt-exporter/debt_exporter/accounts"
	"github.com/debt-exporter/debt_exporter/apiclient"
	"github.com/debt-exporter/debt_exporter/collector"
	"github.com/debt-exporter/debt_exporter/internal/simapi"
	"github.com/debt-exporter/debt_exporter/probe"
)

const exporterName = "debt_exporter"

// The exporter's routes besides --web.telemetry-path, which must be none of
// them (checkTelemetryPath).
const (
	probePath  = "/probe"
	reloadPath = "/-/reload"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// run is the whole program; it returns the exit code: 2 for a command line
// kingpin cannot parse, 1 for a configuration that does not hold or a
// failure to serve. Every start-up error is one line on stderr, and the
// only line.
func run(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	setVersion()
	c := newCLI(stdout, stderr)
	exitCode := -1
	c.app.Terminate(func(code int) { exitCode = code })
	err := c.parse(args, getenv)
	if exitCode >= 0 { // --help or --version
		return exitCode
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: error: %v\n", exporterName, err)
		return 2
	}
	// SIGHUP is caught from here on, before the listener opens: once it
	// listens the exporter looks up to whoever reloads it, and SIGHUP's
	// default effect is to end it. One sent during start-up waits in hup
	// for reloadOnSIGHUP.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	logger := newLogger(stderr, c.f.logLevel, c.f.logFormat)
	cfg, err := loadConfig(c.f, getenv)
	if err != nil {
		return startFailed(logger, err)
	}
	listeners, err := listen(c.f.web)
	if err != nil {
		return startFailed(logger, err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	// The accounts of --config.file, before anything is logged (a bad file
	// is the only line) and before demo mode replaces the default endpoint
	// (a file account never calls the demo API unless it says so).
	set, err := newAccounts(ctx, cfg, getenv, logger.kit)
	if err != nil {
		return startFailed(logger, redact(err, cfg.secrets))
	}

	level.Info(logger.kit).Log("msg", "starting "+exporterName, "version", version.Info(), "build_context", version.BuildContext())
	for _, w := range cfg.warnings {
		level.Warn(logger.kit).Log("msg", w)
	}
	if cfg.demo {
		api := simapi.New(simapi.Config{Seed: 1, Orders: cfg.demoOrders, InvalidAmountEvery: 1000, Varied: true})
		defer api.Close()
		cfg.endpoint, cfg.publicKey, cfg.privateKey, cfg.projectID = api.URL, simapi.DemoPublicKey, simapi.DemoPrivateKey, ""
		level.Warn(logger.kit).Log("msg", "DEMO MODE: every figure is synthetic, served by a simulated API on loopback; do not alert on it",
			"orders", cfg.demoOrders, "api", api.URL)
	}

	var coll *collector.Collector
	if cfg.flagAccount {
		if coll, err = newCollector(ctx, cfg, logger.kit); err != nil {
			return startFailed(logger, err)
		}
		go coll.Run(ctx) // background sweeps, with --sweep.interval
	}
	if set != nil {
		go set.Run(ctx) // the file accounts' background sweeps
	}
	go reloadOnSIGHUP(ctx, hup, set, logger.kit)
	handler, err := newHandler(cfg, coll, set, logger)
	if err != nil {
		return startFailed(logger, err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ErrorLog: logger.std}
	return serve(ctx, srv, c.f.web, listeners, logger)
}

func startFailed(logger logger, err error) int {
	level.Error(logger.kit).Log("msg", "cannot start", "err", err)
	return 1
}

// setVersion makes an unstamped build (go run, go build without make)
// say so: version "dev", and the VCS revision when the build recorded it.
func setVersion() {
	if version.Version == "" {
		version.Version = "dev"
	}
	if version.Revision == "" {
		version.Revision = version.GetRevision() // from debug.ReadBuildInfo: vcs.revision, or "unknown"
	}
	if version.Branch == "" {
		version.Branch = "unknown"
	}
}

func versionPrint() string { return version.Print(exporterName) }

// newCollector builds the request counter first and hands it to both the
// client (which counts) and the collector (which exposes).
func newCollector(ctx context.Context, cfg *config, logger log.Logger) (*collector.Collector, error) {
	requests := collector.NewRequests()
	client, err := apiclient.New(apiclient.Config{
		Endpoint:    cfg.endpoint,
		PublicKey:   cfg.publicKey,
		PrivateKey:  cfg.privateKey,
		ProjectID:   cfg.projectID,
		PageSize:    cfg.pageSize,
		Timeout:     cfg.timeout,
		Concurrency: cfg.concurrency,
		RateLimit:   cfg.rateLimit,
		MaxPages:    cfg.maxPages,
		Observe:     requests.Observe,
	})
	if err != nil {
		return nil, err
	}
	return collector.New(collector.Config{
		Client:      client,
		Requests:    requests,
		Query:       cfg.query,
		Window:      cfg.window,
		MinInterval: cfg.minInterval,
		Interval:    cfg.interval,
		MaxTimeout:  cfg.maxTimeout,
		MaxSeries:   cfg.maxSeries,
		AgeBuckets:  cfg.ageBuckets,
		Context:     ctx,
		Logger:      logger,
	}), nil
}

// newHandler routes the metrics, the landing page and, with
// --web.enable-pprof, Go's profiles.
func newHandler(cfg *config, coll *collector.Collector, set *probe.Set, logger logger) (http.Handler, error) {
	extra := prometheus.NewRegistry()
	extra.MustRegister(
		versioncollector.NewCollector(exporterName),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	if set != nil {
		extra.MustRegister(set.Collector()) // the reload metrics
	}
	mux := http.NewServeMux()
	if coll != nil {
		mux.Handle(cfg.metricsPath, coll.Handler(extra, cfg.timeoutOffset, cfg.maxTimeout, logger.kit))
	} else { // the file's accounts only: /metrics is the exporter's own
		mux.Handle(cfg.metricsPath, promhttp.HandlerFor(extra, promhttp.HandlerOpts{ErrorLog: logger.std}))
	}
	mux.Handle(probePath, set.ProbeHandler())
	mux.Handle(reloadPath, set.ReloadHandler(cfg.enableLifecycle))
	profiling := "false" // the landing page links /debug/pprof/ unless told not to
	if cfg.enablePprof {
		profiling = "true"
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	landing, err := web.NewLandingPage(web.LandingConfig{
		Name:        exporterName,
		Description: "How much is owed to the AI-model provider, from its ListUnpaidOrders API",
		Version:     version.Info(),
		Links:       []web.LandingLinks{{Address: cfg.metricsPath, Text: "Metrics"}},
		Profiling:   profiling,
	})
	if err != nil {
		return nil, err
	}
	mux.Handle("/", landing)
	return mux, nil
}

// newAccounts loads --config.file, if given: one collector per account.
func newAccounts(ctx context.Context, cfg *config, getenv func(string) string, logger log.Logger) (*probe.Set, error) {
	if cfg.configFile == "" {
		return nil, nil
	}
	return probe.New(probe.Config{
		File: cfg.configFile,
		Defaults: accounts.Defaults{Endpoint: cfg.endpoint, Window: cfg.window, Query: cfg.query, Getenv: getenv,
			Secrets: cfg.secrets},
		Client: apiclient.Config{PageSize: cfg.pageSize, Timeout: cfg.timeout, Concurrency: cfg.concurrency,
			RateLimit: cfg.rateLimit, MaxPages: cfg.maxPages},
		Collector: collector.Config{MinInterval: cfg.minInterval, Interval: cfg.interval, MaxTimeout: cfg.maxTimeout,
			MaxSeries: cfg.maxSeries, AgeBuckets: cfg.ageBuckets, Context: ctx},
		TimeoutOffset: cfg.timeoutOffset,
		Logger:        logger,
	})
}

// reloadOnSIGHUP re-reads --config.file on each SIGHUP that hup receives
// (run registers it before listening); a file that does not load keeps the
// running accounts (Reload logs why).
func reloadOnSIGHUP(ctx context.Context, hup <-chan os.Signal, set *probe.Set, logger log.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if set == nil {
				level.Warn(logger).Log("msg", "SIGHUP ignored: no --config.file to reload")
			} else {
				_ = set.Reload()
			}
		}
	}
}

// listen opens every --web.listen-address before anything is logged, so
// that an address that cannot be listened on is the only line at start.
// It returns nil for systemd socket activation and vsock addresses, which
// exporter-toolkit opens itself.
func listen(flags *web.FlagConfig) ([]net.Listener, error) {
	if flags == nil || (flags.WebSystemdSocket != nil && *flags.WebSystemdSocket) {
		return nil, nil
	}
	addrs := *flags.WebListenAddresses
	for _, a := range addrs {
		if strings.HasPrefix(a, "vsock://") {
			return nil, nil
		}
	}
	var listeners []net.Listener
	for _, a := range addrs {
		l, err := net.Listen("tcp", a)
		if err != nil {
			for _, l := range listeners {
				l.Close()
			}
			return nil, listenError(a, err)
		}
		listeners = append(listeners, l)
	}
	return listeners, nil
}

func listenError(addr string, err error) error {
	if _, _, serr := net.SplitHostPort(addr); serr != nil {
		return fmt.Errorf("--web.listen-address is not host:port, such as :9846 or 127.0.0.1:9846 %s", notShown)
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		err = op.Err
	}
	var se *os.SyscallError
	if errors.As(err, &se) {
		err = se.Err
	}
	return fmt.Errorf("--web.listen-address %s: %v", addr, err)
}

// serve answers until SIGTERM or interrupt, then shuts down gracefully.
func serve(ctx context.Context, srv *http.Server, flags *web.FlagConfig, listeners []net.Listener, logger logger) int {
	served := make(chan error, 1)
	go func() {
		if listeners == nil {
			served <- web.ListenAndServe(srv, flags, logger.slog)
			return
		}
		served <- web.ServeMultiple(listeners, srv, flags, logger.slog)
	}()
	select {
	case err := <-served:
		level.Error(logger.kit).Log("msg", "cannot serve", "err", err)
		return 1
	case <-ctx.Done():
		// Sweeps in flight end with ctx: the scrapes waiting on them get
		// debt_up 0 at once, and Shutdown waits for those answers.
		level.Info(logger.kit).Log("msg", "shutting down")
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			level.Error(logger.kit).Log("msg", "shutdown", "err", err)
			return 1
		}
		return 0
	}
}
