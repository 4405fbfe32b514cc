package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/debt-exporter/debt_exporter/apiclient"
	"github.com/debt-exporter/debt_exporter/collector"
)

// privateKeyEnv holds the private key when no key file is given. There is
// deliberately no flag for the key itself: it would show in ps.
const privateKeyEnv = "DEBT_EXPORTER_PRIVATE_KEY"

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
	warnings                                   []string // logged at start
}

// loadConfig validates flags and reads the private key from its file or the
// environment. Errors are one line and never quote the key.
func loadConfig(f flagValues, getenv func(string) string) (*config, error) {
	c := &config{
		endpoint: f.endpoint, publicKey: f.publicKey, projectID: f.projectID, metricsPath: f.metricsPath,
		timeout: f.timeout, pageSize: f.pageSize, concurrency: f.concurrency, maxPages: f.maxPages, rateLimit: f.rateLimit,
		minInterval: f.minInterval, timeoutOffset: f.timeoutOffset, maxTimeout: f.maxTimeout, interval: f.interval,
		maxSeries: f.maxSeries, demo: f.demo, demoOrders: f.demoOrders,
		query: apiclient.Query{ResourceIDs: f.resourceIDs, ModelIDs: f.models, Regions: f.regions, PricingSKUs: f.skus, ProductCodes: f.products},
	}
	w, err := model.ParseDuration(f.window)
	if err != nil || time.Duration(w) < time.Second {
		// The API takes whole seconds: a shorter window would often be empty.
		return nil, fmt.Errorf("--window %q is not a duration of at least a second, such as 30d or 12h", f.window)
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
	if f.rateLimit < 0 {
		return nil, fmt.Errorf("--api.rate-limit %v must not be negative (0: no limit)", f.rateLimit)
	}
	if f.maxSeries < 0 {
		return nil, fmt.Errorf("--metrics.max-series %d must not be negative (0: no cap)", f.maxSeries)
	}
	if c.ageBuckets, c.warnings, err = ageBuckets(f.ageBuckets, c.window); err != nil {
		return nil, err
	}
	if !strings.HasPrefix(f.metricsPath, "/") || f.metricsPath == "/" {
		return nil, fmt.Errorf("--web.telemetry-path %q must start with / and not be /", f.metricsPath)
	}
	if c.query.PricingUnits, err = ints("--filter.pricing-unit", f.pricingUnits); err != nil {
		return nil, err
	}
	if c.query.OrderTypes, err = ints("--filter.order-type", f.orderTypes); err != nil {
		return nil, err
	}
	for _, p := range f.products {
		if p != "modelverse" && p != "sandbox" {
			return nil, fmt.Errorf("--filter.product-code %q is not modelverse or sandbox", p)
		}
	}
	if f.demo {
		if f.demoOrders < 1 {
			return nil, errors.New("--demo.orders must be at least 1")
		}
		return c, nil // demo mode brings its own API and credentials
	}

	if f.publicKey == "" {
		return nil, errors.New("no public key: set --api.public-key or DEBT_EXPORTER_PUBLIC_KEY (or try --demo)")
	}
	envKey := getenv(privateKeyEnv)
	switch {
	case f.privateKeyFile != "" && envKey != "":
		return nil, fmt.Errorf("both --api.private-key-file and %s are set: keep one", privateKeyEnv)
	case f.privateKeyFile != "":
		b, err := os.ReadFile(f.privateKeyFile)
		if err != nil {
			return nil, fmt.Errorf("cannot read --api.private-key-file: %w", err)
		}
		c.privateKey = strings.TrimSpace(string(b))
		if c.privateKey == "" {
			return nil, fmt.Errorf("--api.private-key-file %s is empty", f.privateKeyFile)
		}
	case envKey != "":
		c.privateKey = strings.TrimSpace(envKey)
	default:
		return nil, fmt.Errorf("no private key: set --api.private-key-file or %s", privateKeyEnv)
	}
	return c, nil
}

// ageBuckets reads --metrics.age-buckets: ascending durations. Buckets
// that begin at or past the window can never fill: a warning says which.
func ageBuckets(spec string, window time.Duration) (collector.AgeBuckets, []string, error) {
	var bounds []time.Duration
	var spelled []string
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		d, err := model.ParseDuration(part)
		if err != nil || d <= 0 {
			return collector.AgeBuckets{}, nil, fmt.Errorf("--metrics.age-buckets %q: %q is not a positive duration such as 1d", spec, part)
		}
		if len(bounds) > 0 && time.Duration(d) <= bounds[len(bounds)-1] {
			return collector.AgeBuckets{}, nil, fmt.Errorf("--metrics.age-buckets %q must be ascending", spec)
		}
		bounds, spelled = append(bounds, time.Duration(d)), append(spelled, part)
	}
	b := collector.NewAgeBuckets(bounds, spelled)
	var never []string
	for i, bound := range bounds {
		if bound >= window {
			never = append(never, b.Labels[i+1])
		}
	}
	var warnings []string
	if len(never) > 0 {
		warnings = append(warnings, fmt.Sprintf("--metrics.age-buckets: buckets %s begin at or past --window %s and can never fill",
			strings.Join(never, ", "), model.Duration(window)))
	}
	return b, warnings, nil
}

func ints(flag string, values []string) ([]int, error) {
	out := make([]int, 0, len(values))
	for _, v := range values {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, fmt.Errorf("%s %q is not an integer", flag, v)
		}
		out = append(out, n)
	}
	return out, nil
}
