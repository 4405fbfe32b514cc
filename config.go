package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/url"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/model"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/debt-exporter/debt_exporter/apiclient"
	"github.com/debt-exporter/debt_exporter/collector"
)

// privateKeyEnv holds the private key when no key file is given. There is
// deliberately no flag for the key itself: it would show in ps.
const privateKeyEnv = "DEBT_EXPORTER_PRIVATE_KEY"

const (
	// maxKeyFileBytes: a private key is a line of text. A larger file is
	// the wrong file, and is not read.
	maxKeyFileBytes = 4 << 10
	// maxWebConfigBytes bounds the web configuration, which may hold
	// certificates inline.
	maxWebConfigBytes = 1 << 20
	// maxDemoOrders keeps the demo's dataset in memory comfortably.
	maxDemoOrders = 1_000_000
)

// notShown ends errors about a value that may be a key put in the wrong
// place: such values are never echoed.
const notShown = "(the value is not shown: it may be a key)"

// flagValues are the raw command-line and environment values.
type flagValues struct {
	endpoint, publicKey, privateKeyFile, projectID string
	timeout                                        time.Duration
	pageSize, concurrency, maxPages                int
	window                                         string
	minInterval, timeoutOffset, maxTimeout         time.Duration
	interval                                       time.Duration
	rateLimit                                      float64
	resourceIDs, models, regions, skus, products   []string
	pricingUnits, orderTypes                       []string
	metricsPath                                    string
	maxSeries                                      int
	ageBuckets                                     string
	demo                                           bool
	demoOrders                                     int
	enablePprof                                    bool
	configFile                                     string
	enableLifecycle                                bool
	logLevel, logFormat                            string
	web                                            *web.FlagConfig
	// source names where an environment-bound value came from: its flag,
	// or its variable. Missing: the flag's.
	source map[string]string
}

// webFlags are exporter-toolkit's flags; the zero value is what a
// configuration test needs (no listener, no web config).
func (f *flagValues) webConfigFile() string {
	if f.web == nil || f.web.WebConfigFile == nil {
		return ""
	}
	return *f.web.WebConfigFile
}

func (f *flagValues) listenAddresses() []string {
	if f.web == nil || f.web.WebListenAddresses == nil {
		return nil
	}
	return *f.web.WebListenAddresses
}

// from names the origin of an environment-bound value, for errors.
func (f *flagValues) from(flag string) string {
	if s, ok := f.source[flag]; ok {
		return s
	}
	return flag
}

// cli is the command line: kingpin, plus the environment variables it
// would read, read through getenv instead so that run() is testable in
// process.
type cli struct {
	app    *kingpin.Application
	f      flagValues
	envs   []*envFlag
	expect map[string]string // flag name: what a value must look like
}

type envFlag struct {
	flag, env string
	p         *string
	set       bool
}

func newCLI(stdout, stderr io.Writer) *cli {
	app := kingpin.New(exporterName, "Prometheus exporter for the unpaid orders (debt) owed to an AI-model provider.")
	app.UsageWriter(stdout)
	app.ErrorWriter(stderr)
	app.HelpFlag.Short('h')
	app.Version(versionPrint())
	c := &cli{app: app, expect: map[string]string{}}
	f := &c.f
	f.web = kingpinflag.AddFlags(app, ":9846")

	env := func(name, help, envName string, p *string) *kingpin.FlagClause {
		e := &envFlag{flag: "--" + name, env: envName, p: p}
		c.envs = append(c.envs, e)
		// kingpin would read the variable with os.Getenv: the help says
		// it as kingpin would, and parse reads it with getenv.
		return app.Flag(name, help+" ($"+envName+")").IsSetByUser(&e.set)
	}
	dur := func(name, help, def string, p *time.Duration) {
		app.Flag(name, help).Default(def).DurationVar(p)
		c.expect[name] = "not a duration such as 10s, 1m30s or 2h"
	}
	integer := func(name, help, def string, p *int) {
		app.Flag(name, help).Default(def).IntVar(p)
		c.expect[name] = "not an integer"
	}

	app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").StringVar(&f.metricsPath)
	app.Flag("config.file", "YAML file of accounts, each answered on /probe?account=NAME (optional; see README, Several accounts).").StringVar(&f.configFile)
	app.Flag("web.enable-lifecycle", "Allow POST /-/reload, which re-reads --config.file (SIGHUP always does).").BoolVar(&f.enableLifecycle)
	app.Flag("web.enable-pprof", "Serve Go profiling at /debug/pprof/ (and link it from the landing page). Off by default: profiles reveal internals and cost CPU.").BoolVar(&f.enablePprof)
	env("api.endpoint", "Base URL of the API.", "DEBT_EXPORTER_API_ENDPOINT", &f.endpoint).Default("https://api.dezai.com/").StringVar(&f.endpoint)
	env("api.public-key", "API public key (required).", "DEBT_EXPORTER_PUBLIC_KEY", &f.publicKey).StringVar(&f.publicKey)
	app.Flag("api.private-key-file", "File holding the API private key; or set "+privateKeyEnv+". The key is never accepted as a flag value.").StringVar(&f.privateKeyFile)
	env("api.project-id", "Optional ProjectId sent with every request.", "DEBT_EXPORTER_PROJECT_ID", &f.projectID).StringVar(&f.projectID)
	dur("api.timeout", "Timeout of one HTTP request to the API.", "10s", &f.timeout)
	integer("api.page-size", "Orders per page, 10 to 100.", "100", &f.pageSize)
	integer("api.concurrency", "Most API requests in flight during a sweep, 1 to 64; fewer while the API throttles.", "4", &f.concurrency)
	app.Flag("api.rate-limit", "Most API requests per second, for a provider with a published quota (0 = none; the exporter also slows down on its own when throttled).").Default("0").Float64Var(&f.rateLimit)
	c.expect["api.rate-limit"] = "not a number of requests per second"
	integer("api.max-pages", "A sweep that needs more requests than this fails rather than report a truncated total.", "50000", &f.maxPages)
	app.Flag("window", "Rolling window of order creation times to sum, in Prometheus duration syntax (30d, 12h).").Default("30d").StringVar(&f.window)
	app.Flag("filter.resource-id", "Only these API key IDs (ResourceIds.N). Repeatable.").StringsVar(&f.resourceIDs)
	app.Flag("filter.model", "Only these model IDs (ModelIds.N). Repeatable.").StringsVar(&f.models)
	app.Flag("filter.pricing-unit", "Only these pricing units, integers (PricingUnits.N). Repeatable.").StringsVar(&f.pricingUnits)
	app.Flag("filter.order-type", "Only these order types, integers (OrderTypes.N). Repeatable.").StringsVar(&f.orderTypes)
	app.Flag("filter.region", "Only these regions (Regions.N). Repeatable.").StringsVar(&f.regions)
	app.Flag("filter.pricing-sku", "Only these billing SKUs (PricingSkus.N). Repeatable.").StringsVar(&f.skus)
	app.Flag("filter.product-code", "Only these product codes, modelverse or sandbox (ProductCodes.N). Repeatable.").StringsVar(&f.products)
	dur("sweep.min-interval", "Serve the last complete sweep to scrapes sooner than this after it began (0 = sweep on every scrape).", "0s", &f.minInterval)
	dur("sweep.timeout-offset", "Subtracted from Prometheus' scrape timeout to leave time to answer.", "500ms", &f.timeoutOffset)
	dur("sweep.max-timeout", "Longest a sweep may run: its limit when the scraper sends no timeout, and for every background sweep.", "2m", &f.maxTimeout)
	dur("sweep.interval", "0: sweep on each scrape. Above 0: sweep every interval in the background, and answer scrapes at once from the last complete sweep (for accounts too large for one scrape).", "0s", &f.interval)
	integer("metrics.max-series", "Most business series per metric; past it the smallest of each region, product and currency are summed into model=\"(other)\", and if need be whole regions and products into region and product_code \"(other)\" per currency, so totals stay exact (0 = no cap).", "2000", &f.maxSeries)
	app.Flag("metrics.age-buckets", "Ascending bounds of the debt age buckets, Prometheus durations.").Default("1d,7d,30d").StringVar(&f.ageBuckets)
	app.Flag("demo", "Run against a built-in simulated API with synthetic orders; no credentials, no network.").BoolVar(&f.demo)
	integer("demo.orders", "Number of synthetic orders in demo mode, 1 to 1000000.", "20000", &f.demoOrders)
	app.Flag("log.level", "Only log messages with the given severity or above: debug, info, warn, error.").Default("info").StringVar(&f.logLevel)
	app.Flag("log.format", "Output format of log messages: logfmt or json.").Default("logfmt").StringVar(&f.logFormat)
	return c
}

// parse reads args, then the environment for the flags not given. Its
// errors are one line that names the flag and never holds a value from
// the command line (which could be a key put in the wrong place).
func (c *cli) parse(args []string, getenv func(string) string) error {
	if _, err := c.app.Parse(args); err != nil {
		return c.parseError(args, err)
	}
	c.f.source = map[string]string{}
	for _, e := range c.envs {
		if v := getenv(e.env); !e.set && v != "" {
			*e.p = v
			c.f.source[e.flag] = e.env
		}
	}
	switch c.f.logLevel {
	case "debug", "info", "warn", "error":
	default:
		return errors.New("--log.level takes debug, info, warn or error")
	}
	if c.f.logFormat != "logfmt" && c.f.logFormat != "json" {
		return errors.New("--log.format takes logfmt or json")
	}
	return nil
}

// flagShaped matches what can be shown of an unknown flag: a name like
// ours, not a key typed after "--".
var flagShaped = regexp.MustCompile(`^[a-z][a-z0-9]*([.-][a-z0-9]+)*$`)

// parseError rewrites kingpin's errors. Those about a flag's name name it
// and nothing else, and are kept; those about a value ("strconv.ParseInt:
// parsing ...", "time: invalid duration ...") do not say which flag, and
// quote the value: they are replaced by the flag and what it takes.
func (c *cli) parseError(args []string, err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "unknown long flag '--"); ok && !flagShaped.MatchString(strings.TrimSuffix(name, "'")) {
		return errors.New("unknown long flag " + notShown)
	}
	for _, p := range []string{"unknown long flag", "unknown short flag", "expected argument for flag", "required flag"} {
		if strings.HasPrefix(msg, p) {
			return err
		}
	}
	if strings.HasSuffix(msg, "cannot be repeated") {
		return fmt.Errorf("--%s cannot be repeated", strings.Trim(strings.TrimSuffix(strings.TrimPrefix(msg, "flag "), " cannot be repeated"), "'"))
	}
	if strings.HasPrefix(msg, "unexpected") {
		return errors.New("unexpected argument: settings are --flags " + notShown)
	}
	if ctx, _ := c.app.ParseContext(args); ctx != nil {
		for _, el := range ctx.Elements {
			fc, ok := el.Clause.(*kingpin.FlagClause)
			if !ok || el.Value == nil {
				continue
			}
			m := fc.Model()
			if m.Value.Set(*el.Value) == nil {
				continue
			}
			what := c.expect[m.Name]
			switch {
			case m.IsBoolFlag():
				what = "not true or false"
			case what == "":
				what = "invalid value"
			}
			return fmt.Errorf("--%s: %s %s", m.Name, what, notShown)
		}
	}
	return errors.New("cannot parse the command line " + notShown)
}

// config is what the exporter runs with, checked. Fields are named apart
// from flagValues' where their types differ (a window string becomes a
// duration), so that no field shadows another.
type config struct {
	endpoint, publicKey, privateKey, projectID string
	metricsPath                                string
	timeout                                    time.Duration
	pageSize, concurrency, maxPages            int
	rateLimit                                  float64
	window                                     time.Duration
	minInterval, timeoutOffset, maxTimeout     time.Duration
	interval                                   time.Duration
	query                                      apiclient.Query // the filters
	maxSeries                                  int
	ageBuckets                                 collector.AgeBuckets
	demo                                       bool
	demoOrders                                 int
	enablePprof                                bool
	configFile                                 string
	enableLifecycle                            bool
	// flagAccount: the account of the --api.* flags is served on /metrics.
	// Always without --config.file; with it, only when its keys are set.
	flagAccount bool
	warnings    []string // logged at start
	// secrets are the private key and the values that may be it, for
	// redact: errors found after loadConfig (the accounts file's) are
	// cleaned with them too.
	secrets []string
}

// loadConfig validates flags, the web configuration, and reads the private
// key from its file or the environment. Errors are one line, name the flag
// or file, and never hold the key: the key is looked for first, so that
// whatever value an error quotes can be checked against it.
func loadConfig(f flagValues, getenv func(string) string) (*config, error) {
	var secrets []string
	c, err := checkConfig(f, getenv, &secrets)
	if err != nil {
		return nil, redact(err, secrets)
	}
	c.secrets = secrets
	return c, nil
}

func checkConfig(f flagValues, getenv func(string) string, secrets *[]string) (*config, error) {
	c := &config{
		endpoint: f.endpoint, publicKey: f.publicKey, projectID: f.projectID, metricsPath: f.metricsPath,
		timeout: f.timeout, pageSize: f.pageSize, concurrency: f.concurrency, maxPages: f.maxPages, rateLimit: f.rateLimit,
		minInterval: f.minInterval, timeoutOffset: f.timeoutOffset, maxTimeout: f.maxTimeout, interval: f.interval,
		maxSeries: f.maxSeries, demo: f.demo, demoOrders: f.demoOrders, enablePprof: f.enablePprof,
		configFile: f.configFile, enableLifecycle: f.enableLifecycle, flagAccount: true,
		query: apiclient.Query{ResourceIDs: f.resourceIDs, ModelIDs: f.models, Regions: f.regions, PricingSKUs: f.skus, ProductCodes: f.products},
	}
	if v := getenv(privateKeyEnv); v != "" {
		*secrets = append(*secrets, v, strings.TrimSpace(v))
	}
	if f.configFile != "" && !f.demo && f.publicKey == "" && f.privateKeyFile == "" && getenv(privateKeyEnv) == "" {
		c.flagAccount = false // the accounts of the file only
	}
	if !f.demo && c.flagAccount { // demo mode brings its own API and credentials
		key, err := privateKey(f.privateKeyFile, getenv(privateKeyEnv), secrets)
		if err != nil {
			return nil, err
		}
		c.privateKey = key
		if err := keyNotElsewhere(f, key); err != nil {
			return nil, err
		}
		if err := checkPublicKey(f.publicKey, f.from("--api.public-key")); err != nil {
			return nil, err
		}
		if err := checkEndpoint(f.endpoint, f.from("--api.endpoint")); err != nil {
			return nil, err
		}
	} else if f.demoOrders < 1 || f.demoOrders > maxDemoOrders {
		return nil, fmt.Errorf("--demo.orders %d is outside 1 to %d", f.demoOrders, maxDemoOrders)
	}

	w, err := model.ParseDuration(f.window)
	if err != nil || time.Duration(w) < time.Second {
		// The API takes whole seconds: a shorter window would often be empty.
		return nil, errors.New("--window is not a duration of at least a second, such as 30d or 12h")
	}
	c.window = time.Duration(w)
	if f.pageSize < 10 || f.pageSize > 100 {
		return nil, fmt.Errorf("--api.page-size %d is outside 10 to 100", f.pageSize)
	}
	if f.timeout <= 0 {
		return nil, errors.New("--api.timeout must be positive")
	}
	if f.concurrency < 1 || f.concurrency > 64 {
		return nil, fmt.Errorf("--api.concurrency %d is outside 1 to 64", f.concurrency)
	}
	if f.maxPages < 1 {
		return nil, errors.New("--api.max-pages must be at least 1")
	}
	if f.maxTimeout <= 0 || f.timeoutOffset < 0 || f.minInterval < 0 {
		return nil, errors.New("--sweep.max-timeout must be positive, --sweep.timeout-offset and --sweep.min-interval not negative")
	}
	if f.interval < 0 || (f.interval > 0 && f.interval < time.Second) {
		return nil, fmt.Errorf("--sweep.interval %v must be 0 (sweep on each scrape) or at least 1s", f.interval)
	}
	if f.rateLimit < 0 || math.IsNaN(f.rateLimit) || math.IsInf(f.rateLimit, 0) {
		return nil, fmt.Errorf("--api.rate-limit %v must be a number of requests per second, not negative (0: no limit)", f.rateLimit)
	}
	if f.maxSeries < 0 {
		return nil, fmt.Errorf("--metrics.max-series %d must not be negative (0: no cap)", f.maxSeries)
	}
	if c.ageBuckets, c.warnings, err = ageBuckets(f.ageBuckets, c.window); err != nil {
		return nil, err
	}
	if err := checkTelemetryPath(f.metricsPath, f.enablePprof); err != nil {
		return nil, err
	}
	for _, filter := range []struct {
		flag   string
		values []string
	}{
		{"--filter.resource-id", f.resourceIDs}, {"--filter.model", f.models}, {"--filter.pricing-unit", f.pricingUnits},
		{"--filter.order-type", f.orderTypes}, {"--filter.region", f.regions}, {"--filter.pricing-sku", f.skus},
		{"--filter.product-code", f.products},
	} {
		for _, v := range filter.values {
			if strings.TrimSpace(v) == "" {
				// The API would read an empty list item as no filter at all.
				return nil, fmt.Errorf("%s has an empty value, which would mean no filter: leave the flag out to take every order", filter.flag)
			}
		}
	}
	if c.query.PricingUnits, err = ints("--filter.pricing-unit", f.pricingUnits); err != nil {
		return nil, err
	}
	if c.query.OrderTypes, err = ints("--filter.order-type", f.orderTypes); err != nil {
		return nil, err
	}
	for _, p := range f.products {
		if p != "modelverse" && p != "sandbox" {
			return nil, errors.New("--filter.product-code takes modelverse or sandbox")
		}
	}
	if err := checkWebConfig(f.webConfigFile()); err != nil {
		return nil, err
	}
	if err := checkAccountsFile(f.configFile); err != nil {
		return nil, err
	}
	return c, nil
}

// privateKey reads the key from its file or its variable. A file is read
// only if it is a regular file of at most maxKeyFileBytes, opened without
// blocking (a FIFO or a device would hang the start or never end).
func privateKey(path, envKey string, secrets *[]string) (string, error) {
	switch {
	case path != "" && envKey != "":
		return "", fmt.Errorf("both --api.private-key-file and %s are set: keep one", privateKeyEnv)
	case path != "":
		b, err := readSmallFile(path, maxKeyFileBytes)
		if errors.Is(err, fs.ErrNotExist) {
			*secrets = append(*secrets, path) // perhaps the key itself
			return "", fmt.Errorf("--api.private-key-file: no such file %s", notShown)
		}
		if err != nil {
			return "", fmt.Errorf("--api.private-key-file %s: %w", path, err)
		}
		key := strings.TrimSpace(string(b))
		*secrets = append(*secrets, key)
		switch {
		case key == "":
			return "", fmt.Errorf("--api.private-key-file %s is empty", path)
		case strings.ContainsAny(key, " \t\r\n"):
			return "", fmt.Errorf("--api.private-key-file %s holds more than one word: a private key is one", path)
		}
		return key, nil
	case envKey != "":
		key := strings.TrimSpace(envKey)
		switch {
		case key == "":
			return "", fmt.Errorf("%s is blank", privateKeyEnv)
		case strings.ContainsAny(key, " \t\r\n"):
			return "", fmt.Errorf("%s holds more than one word: a private key is one", privateKeyEnv)
		}
		return key, nil
	}
	return "", fmt.Errorf("no private key: set --api.private-key-file or %s", privateKeyEnv)
}

// readSmallFile reads a regular file of at most max bytes. It checks the
// file before opening it, opens it with O_NONBLOCK in case it was swapped
// for a FIFO meanwhile, checks again what it opened, and reads no more than
// max+1 bytes whatever the size said.
func readSmallFile(path string, max int64) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, plainPathError(err)
	}
	if err := smallRegular(st, max); err != nil {
		return nil, err
	}
	file, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, plainPathError(err)
	}
	defer file.Close()
	if st, err = file.Stat(); err != nil {
		return nil, plainPathError(err)
	}
	if err := smallRegular(st, max); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(file, max+1))
	if err != nil {
		return nil, plainPathError(err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("larger than %d bytes", max)
	}
	return b, nil
}

func smallRegular(st fs.FileInfo, max int64) error {
	switch m := st.Mode(); {
	case m.IsDir():
		return errors.New("is a directory, not a file")
	case m&fs.ModeNamedPipe != 0:
		return errors.New("is a named pipe (FIFO), not a regular file")
	case m&(fs.ModeDevice|fs.ModeCharDevice) != 0:
		return errors.New("is a device, not a regular file")
	case m&fs.ModeSocket != 0:
		return errors.New("is a socket, not a regular file")
	case !m.IsRegular():
		return errors.New("is not a regular file")
	case st.Size() > max:
		return fmt.Errorf("is %d bytes, larger than %d: not the file meant", st.Size(), max)
	}
	return nil
}

// plainPathError drops the path from an *fs.PathError: the caller names
// the file (or, when it may be a key, does not).
func plainPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%w", pe.Err)
	}
	return err
}

// keyNotElsewhere refuses a private key found in another setting, where it
// would be sent to the API in clear or shown in ps.
func keyNotElsewhere(f flagValues, key string) error {
	if len(key) < 8 { // too short to look for without false alarms
		return nil
	}
	check := func(name string, values ...string) error {
		for _, v := range values {
			if strings.Contains(v, key) {
				return fmt.Errorf("%s holds the private key: it belongs in --api.private-key-file or %s only, and may now be seen by others (in ps, in shell history): replace it", name, privateKeyEnv)
			}
		}
		return nil
	}
	for _, err := range []error{
		check(f.from("--api.public-key"), f.publicKey), check(f.from("--api.endpoint"), f.endpoint),
		check(f.from("--api.project-id"), f.projectID), check("--web.config.file", f.webConfigFile()),
		check("--config.file", f.configFile),
		check("--web.listen-address", f.listenAddresses()...), check("--web.telemetry-path", f.metricsPath),
		check("--window", f.window), check("--metrics.age-buckets", f.ageBuckets),
		check("--filter.resource-id", f.resourceIDs...), check("--filter.model", f.models...),
		check("--filter.pricing-unit", f.pricingUnits...), check("--filter.order-type", f.orderTypes...),
		check("--filter.region", f.regions...), check("--filter.pricing-sku", f.skus...),
		check("--filter.product-code", f.products...),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

func checkPublicKey(key, from string) error {
	switch {
	case key == "":
		return errors.New("no public key: set --api.public-key or DEBT_EXPORTER_PUBLIC_KEY (or try --demo)")
	case strings.TrimSpace(key) == "":
		return fmt.Errorf("%s is blank", from)
	case strings.TrimSpace(key) != key:
		return fmt.Errorf("%s has leading or trailing white space", from)
	}
	return nil
}

// checkEndpoint applies apiclient.New's rules at start, before anything is
// logged. A value that is not even URL-shaped is not shown.
func checkEndpoint(endpoint, from string) error {
	u, err := url.Parse(endpoint)
	if err != nil || !strings.Contains(endpoint, "://") {
		return fmt.Errorf("%s is not an http or https URL %s", from, notShown)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("%s %q is not an http or https URL with a host", from, u.Redacted())
	}
	if u.RawQuery != "" {
		return fmt.Errorf("%s must not carry a query string", from)
	}
	if u.User != nil {
		return fmt.Errorf("%s must not carry a user or password: requests are signed", from)
	}
	if !validPort(u.Port()) {
		return fmt.Errorf("%s port %q is not one of 1-65535", from, cutPort(u.Port()))
	}
	return nil
}

// validPort reports whether a URL's port, if it has one, is 1-65535: a URL
// parses with any digits there, and every request would then fail (and be
// retried) until a scrape's deadline.
func validPort(p string) bool {
	if p == "" {
		return true
	}
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}

// cutPort bounds a port for an error line.
func cutPort(p string) string {
	if len(p) > 8 {
		return p[:8] + "..."
	}
	return p
}

// checkWebConfig validates the exporter-toolkit web configuration at start
// and names the file in every error, on one line.
func checkWebConfig(path string) error {
	if path == "" {
		return nil
	}
	if _, err := readSmallFile(path, maxWebConfigBytes); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("--web.config.file: no such file %s", notShown)
		}
		return fmt.Errorf("--web.config.file %s: %w", path, err)
	}
	err := web.Validate(path)
	if err == nil {
		return nil
	}
	msg := err.Error()
	if strings.Contains(msg, "bcrypt") {
		msg = "basic_auth_users: a password is not a bcrypt hash (store the hash, as htpasswd -nBC 10 user prints it): " + msg
	}
	return fmt.Errorf("--web.config.file %s: %s", path, oneLine(msg))
}

// telemetryPathRE: newHandler gives --web.telemetry-path to http.ServeMux
// as a pattern, which panics on some characters ("/a b", "/m{") and reads
// "{x}" as a wildcard; a request path cannot match "?", "#" or an escape.
// What is left of a URL path's characters is allowed.
var telemetryPathRE = regexp.MustCompile(`^(/[A-Za-z0-9._~!$&'()*+,;=:@-]+)+/?$`)

// checkTelemetryPath refuses what newHandler could not route: a path that
// ServeMux takes badly or that requests, cleaned, never reach, and the
// routes the exporter serves itself (the same pattern twice panics).
func checkTelemetryPath(p string, pprof bool) error {
	if !telemetryPathRE.MatchString(p) || (path.Clean(p) != p && path.Clean(p)+"/" != p) {
		return fmt.Errorf("--web.telemetry-path must be a path such as /metrics, other than /, without . or .. segments, doubled slashes, spaces, braces, %%, ? or # %s", notShown)
	}
	for _, route := range []string{probePath, reloadPath} {
		if p == route {
			return fmt.Errorf("--web.telemetry-path %s is the exporter's own %s route", p, route)
		}
	}
	if pprof && strings.HasPrefix(p, "/debug/pprof") {
		return errors.New("--web.telemetry-path is under /debug/pprof/, which --web.enable-pprof serves")
	}
	return nil
}

// checkAccountsFile catches the one mistake whose error would quote the
// value: a path that names no file may be the key, pasted in the wrong
// place. Whatever else is wrong with the file, Load says, naming it.
func checkAccountsFile(path string) error {
	if path == "" {
		return nil
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("--config.file: no such file %s", notShown)
	}
	return nil
}

// oneLine joins a multi-line message (YAML errors list one problem a line).
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// redact replaces every secret in an error, whatever put it there.
func redact(err error, secrets []string) error {
	msg := err.Error()
	for _, s := range secrets {
		if len(s) >= 4 {
			msg = strings.ReplaceAll(msg, s, "[private key, not shown]")
		}
	}
	if msg == err.Error() {
		return err
	}
	return errors.New(msg)
}

// ageBuckets reads --metrics.age-buckets: ascending durations. Buckets
// that begin past the window can never fill: a warning says which.
func ageBuckets(spec string, window time.Duration) (collector.AgeBuckets, []string, error) {
	var bounds []time.Duration
	var spelled []string
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		d, err := model.ParseDuration(part)
		if err != nil || d <= 0 {
			return collector.AgeBuckets{}, nil, fmt.Errorf("--metrics.age-buckets: bucket %d is not a positive duration such as 1d", len(bounds)+1)
		}
		if len(bounds) > 0 && time.Duration(d) <= bounds[len(bounds)-1] {
			return collector.AgeBuckets{}, nil, fmt.Errorf("--metrics.age-buckets: bucket %d is not above the one before: the bounds must be ascending", len(bounds)+1)
		}
		bounds, spelled = append(bounds, time.Duration(d)), append(spelled, part)
	}
	b := collector.NewAgeBuckets(bounds, spelled)
	var warnings []string
	if never := b.Unfillable(window); len(never) > 0 {
		warnings = append(warnings, fmt.Sprintf("--metrics.age-buckets: buckets %s begin past --window %s and can never fill",
			strings.Join(never, ", "), model.Duration(window)))
	}
	return b, warnings, nil
}

func ints(flag string, values []string) ([]int, error) {
	out := make([]int, 0, len(values))
	for _, v := range values {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, fmt.Errorf("%s takes integers", flag)
		}
		out = append(out, n)
	}
	return out, nil
}
