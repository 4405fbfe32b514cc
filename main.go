// Command debt_exporter exposes, for Prometheus, how much a company owes its
// AI-model provider: unpaid orders from the ListUnpaidOrders API, summed per
// region, model, product code and currency.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"
	slgk "github.com/tjhop/slog-gokit"

	"github.com/debt-exporter/debt_exporter/apiclient"
	"github.com/debt-exporter/debt_exporter/collector"
	"github.com/debt-exporter/debt_exporter/internal/simapi"
)

const exporterName = "debt_exporter"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// run is the whole program; it returns the exit code.
func run(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	app := kingpin.New(exporterName, "Prometheus exporter for the unpaid orders (debt) owed to an AI-model provider.")
	exitCode := -1
	app.Terminate(func(code int) { exitCode = code })
	app.UsageWriter(stdout)
	app.ErrorWriter(stderr)
	app.HelpFlag.Short('h')
	app.Version(version.Print(exporterName))

	var f flagValues
	webFlags := kingpinflag.AddFlags(app, ":9846")
	app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").StringVar(&f.metricsPath)
	app.Flag("api.endpoint", "Base URL of the API.").Envar("DEBT_EXPORTER_API_ENDPOINT").Default("https://api.dezai.com/").StringVar(&f.endpoint)
	app.Flag("api.public-key", "API public key (required).").Envar("DEBT_EXPORTER_PUBLIC_KEY").StringVar(&f.publicKey)
	app.Flag("api.private-key-file", "File holding the API private key; or set "+privateKeyEnv+". The key is never accepted as a flag value.").StringVar(&f.privateKeyFile)
	app.Flag("api.project-id", "Optional ProjectId sent with every request.").Envar("DEBT_EXPORTER_PROJECT_ID").StringVar(&f.projectID)
	app.Flag("api.timeout", "Timeout of one HTTP request to the API.").Default("10s").DurationVar(&f.timeout)
	app.Flag("api.page-size", "Orders per page, 10 to 100.").Default("100").IntVar(&f.pageSize)
	app.Flag("api.concurrency", "Most API requests in flight during a sweep, 1 to 64; fewer while the API throttles.").Default("4").IntVar(&f.concurrency)
	app.Flag("api.rate-limit", "Most API requests per second, for a provider with a published quota (0 = none; the exporter also slows down on its own when throttled).").Default("0").Float64Var(&f.rateLimit)
	app.Flag("api.max-pages", "A sweep that needs more requests than this fails rather than report a truncated total.").Default("50000").IntVar(&f.maxPages)
	app.Flag("window", "Rolling window of order creation times to sum, in Prometheus duration syntax (30d, 12h).").Default("30d").StringVar(&f.window)
	app.Flag("filter.resource-id", "Only these API key IDs (ResourceIds.N). Repeatable.").StringsVar(&f.resourceIDs)
	app.Flag("filter.model", "Only these model IDs (ModelIds.N). Repeatable.").StringsVar(&f.models)
	app.Flag("filter.pricing-unit", "Only these pricing units, integers (PricingUnits.N). Repeatable.").StringsVar(&f.pricingUnits)
	app.Flag("filter.order-type", "Only these order types, integers (OrderTypes.N). Repeatable.").StringsVar(&f.orderTypes)
	app.Flag("filter.region", "Only these regions (Regions.N). Repeatable.").StringsVar(&f.regions)
	app.Flag("filter.pricing-sku", "Only these billing SKUs (PricingSkus.N). Repeatable.").StringsVar(&f.skus)
	app.Flag("filter.product-code", "Only these product codes, modelverse or sandbox (ProductCodes.N). Repeatable.").StringsVar(&f.products)
	app.Flag("sweep.min-interval", "Serve the last complete sweep to scrapes sooner than this after it began (0 = sweep on every scrape).").Default("0s").DurationVar(&f.minInterval)
	app.Flag("sweep.timeout-offset", "Subtracted from Prometheus' scrape timeout to leave time to answer.").Default("500ms").DurationVar(&f.timeoutOffset)
	app.Flag("sweep.max-timeout", "Longest a sweep may run: its limit when the scraper sends no timeout, and for every background sweep.").Default("2m").DurationVar(&f.maxTimeout)
	app.Flag("sweep.interval", "0: sweep on each scrape. Above 0: sweep every interval in the background, and answer scrapes at once from the last complete sweep (for accounts too large for one scrape).").Default("0s").DurationVar(&f.interval)
	app.Flag("metrics.max-series", "Most business series per metric; past it the smallest of each region, product and currency are summed into model=\"(other)\", so totals stay exact (0 = no cap).").Default("2000").IntVar(&f.maxSeries)
	app.Flag("metrics.age-buckets", "Ascending bounds of the debt age buckets, Prometheus durations.").Default("1d,7d,30d").StringVar(&f.ageBuckets)
	app.Flag("demo", "Run against a built-in simulated API with synthetic orders; no credentials, no network.").BoolVar(&f.demo)
	app.Flag("demo.orders", "Number of synthetic orders in demo mode.").Default("20000").IntVar(&f.demoOrders)
	logLevel := app.Flag("log.level", "Only log messages with the given severity or above: debug, info, warn, error.").Default("info").String()
	logFormat := app.Flag("log.format", "Output format of log messages: logfmt or json.").Default("logfmt").String()

	_, err := app.Parse(args)
	if exitCode >= 0 { // --help or --version
		return exitCode
	}
	if err == nil {
		err = checkLogFlags(*logLevel, *logFormat)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: error: %v\n", exporterName, err)
		return 2
	}
	logger, slogger := newLogger(stderr, *logLevel, *logFormat)

	cfg, err := loadConfig(f, getenv)
	if err == nil {
		err = web.Validate(*webFlags.WebConfigFile)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: error: %v\n", exporterName, err)
		return 1
	}
	level.Info(logger).Log("msg", "starting "+exporterName, "version", version.Info(), "build_context", version.BuildContext())
	for _, w := range cfg.warnings {
		level.Warn(logger).Log("msg", w)
	}

	if cfg.demo {
		api := simapi.New(simapi.Config{Seed: 1, Orders: cfg.demoOrders, InvalidAmountEvery: 1000, Varied: true})
		defer api.Close()
		cfg.endpoint, cfg.publicKey, cfg.privateKey, cfg.projectID = api.URL, simapi.DemoPublicKey, simapi.DemoPrivateKey, ""
		level.Warn(logger).Log("msg", "DEMO MODE: every figure is synthetic, served by a simulated API on loopback; do not alert on it",
			"orders", cfg.demoOrders, "api", api.URL)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	coll, err := newCollector(ctx, cfg, logger)
	if err != nil {
		fmt.Fprintf(stderr, "%s: error: %v\n", exporterName, err)
		return 1
	}
	extra := prometheus.NewRegistry()
	extra.MustRegister(
		versioncollector.NewCollector(exporterName),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)

	mux := http.NewServeMux()
	mux.Handle(cfg.metricsPath, coll.Handler(extra, cfg.timeoutOffset, cfg.maxTimeout, logger))
	go coll.Run(ctx) // background sweeps, with --sweep.interval
	landing, err := web.NewLandingPage(web.LandingConfig{
		Name:        exporterName,
		Description: "How much is owed to the AI-model provider, from its ListUnpaidOrders API",
		Version:     version.Info(),
		Links:       []web.LandingLinks{{Address: cfg.metricsPath, Text: "Metrics"}},
	})
	if err != nil {
		fmt.Fprintf(stderr, "%s: error: %v\n", exporterName, err)
		return 1
	}
	mux.Handle("/", landing)

	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- web.ListenAndServe(srv, webFlags, slogger) }()
	select {
	case err := <-served:
		level.Error(logger).Log("msg", "cannot serve", "err", err)
		return 1
	case <-ctx.Done():
		// Sweeps in flight end with ctx: the scrapes waiting on them get
		// debt_up 0 at once, and Shutdown waits for those answers.
		level.Info(logger).Log("msg", "shutting down")
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			level.Error(logger).Log("msg", "shutdown", "err", err)
			return 1
		}
		return 0
	}
}

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

func checkLogFlags(lvl, format string) error {
	switch lvl {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("--log.level %q is not one of debug, info, warn, error", lvl)
	}
	if format != "logfmt" && format != "json" {
		return fmt.Errorf("--log.format %q is not logfmt or json", format)
	}
	return nil
}

// newLogger builds the go-kit logger and an slog view of the same stream for
// exporter-toolkit, so there is one format and one level.
func newLogger(w io.Writer, lvl, format string) (log.Logger, *slog.Logger) {
	sw := log.NewSyncWriter(w)
	var l log.Logger = log.NewLogfmtLogger(sw)
	if format == "json" {
		l = log.NewJSONLogger(sw)
	}
	l = level.NewFilter(l, level.Allow(level.ParseDefault(lvl, level.InfoValue())))
	slogLevel := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}[lvl]
	// The slog records carry their own time and caller.
	bridged := slog.New(slgk.NewGoKitHandler(l, slogLevel))
	return log.With(l, "ts", log.DefaultTimestampUTC, "caller", log.DefaultCaller), bridged
}
