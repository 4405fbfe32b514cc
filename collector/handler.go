package collector

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/debt-exporter/debt_exporter/apiclient"
)

// scrapeTimeoutHeader is how Prometheus tells a target its scrape_timeout.
const scrapeTimeoutHeader = "X-Prometheus-Scrape-Timeout-Seconds"

// SweepTimeout is the time a sweep may take for a scrape: Prometheus'
// scrape timeout less offset (time to render and send the answer), capped
// by limit. Without the header (curl, a browser) it is limit.
func SweepTimeout(r *http.Request, offset, limit time.Duration) time.Duration {
	v := r.Header.Get(scrapeTimeoutHeader)
	if v == "" {
		return limit
	}
	seconds, err := strconv.ParseFloat(v, 64)
	if err != nil || seconds <= 0 {
		return limit
	}
	t := time.Duration(seconds*float64(time.Second)) - offset
	if t <= 0 { // a tiny scrape timeout: give the sweep what there is
		t = time.Duration(seconds * float64(time.Second) / 2)
	}
	return min(t, limit)
}

// Handler serves the metrics of extra (Go, process, build info) and of a
// sweep bounded by the scrape's own timeout.
func (c *Collector) Handler(extra prometheus.Gatherer, offset, limit time.Duration, logger log.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), SweepTimeout(r, offset, limit))
		defer cancel()
		reg := prometheus.NewRegistry()
		reg.MustRegister(c.ForScrape(ctx))
		promhttp.HandlerFor(prometheus.Gatherers{extra, reg}, promhttp.HandlerOpts{
			ErrorLog:      &promLogger{logger: logger, remote: r.RemoteAddr},
			ErrorHandling: promhttp.ContinueOnError,
		}).ServeHTTP(w, r)
	})
}

// promLogger logs promhttp's errors of one scrape: one line, with the
// first error as text (go-kit cannot render promhttp's []any), however
// many metric families failed to reach a scraper that hung up.
type promLogger struct {
	logger log.Logger
	remote string
	once   sync.Once
}

// maxPromError bounds the error of a failed gathering: it lists every
// metric that failed, each in full.
const maxPromError = 1024

func (l *promLogger) Println(v ...any) {
	l.once.Do(func() {
		err := strings.TrimSpace(fmt.Sprintln(v...))
		if first, _ := v[0].(string); strings.HasPrefix(first, "error gathering metrics") {
			// Not the scraper: metrics were inconsistent, and left out of
			// an answer served all the same.
			level.Error(l.logger).Log("msg", "metrics left out of the answer", "remote", l.remote,
				"err", apiclient.CutText(strings.ReplaceAll(err, "\n", " "), maxPromError), "hint", "a bug of the exporter: please report it")
			return
		}
		level.Warn(l.logger).Log("msg", "could not send the metrics to the scraper", "remote", l.remote,
			"err", err, "hint", "the scraper hung up, or its scrape_timeout is shorter than a sweep")
	})
}
