package collector

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/go-kit/log/level"

	"github.com/debt-exporter/debt_exporter/apiclient"
)

// result is the outcome of one sweep.
type result struct {
	err      error
	totals   totals
	stats    apiclient.Stats
	started  time.Time
	ended    time.Time
	duration time.Duration
}

// call is a sweep in flight, shared by every scrape that arrives while it
// runs. It runs until the latest deadline of the scrapes that joined it
// (each capped by MaxTimeout from its start), so that no scrape fails by
// a deadline that is not its own.
type call struct {
	done    chan struct{}
	res     *result
	started time.Time // by Config.Now, for durations
	began   time.Time // by the wall clock, for deadlines

	mu       sync.Mutex
	deadline time.Time
	timer    *time.Timer
	// canceled is set when the deadline cancels the sweep. The sweep may
	// take a while to wind down; a scrape that came after must not join
	// it, or it would fail by a deadline that is not its own.
	canceled bool
}

// join pushes the call's deadline to d if d is later, and reports false
// if the call was already canceled: the caller then starts a sweep of its
// own.
func (cl *call) join(d time.Time) bool {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.canceled {
		return false
	}
	if d.After(cl.deadline) {
		cl.deadline = d
		cl.timer.Reset(time.Until(d))
	}
	return true
}

// expire is the timer's function: it cancels the sweep, unless a scrape
// joined and pushed the deadline while the timer was firing.
func (cl *call) expire(cancel context.CancelCauseFunc) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if left := time.Until(cl.deadline); left > 0 {
		cl.timer.Reset(left) // join re-armed it already; this costs nothing
		return
	}
	cl.canceled = true
	cancel(fmt.Errorf("%w: the sweep needs more time than the scrape allows", context.DeadlineExceeded))
}

// result returns the sweep this scrape reports. Per-scrape mode: a recent
// complete one when MinInterval allows, else the one in flight unless its
// deadline has canceled it, else a new one; background mode: the latest,
// waiting for the first up to ctx.
func (c *Collector) result(ctx context.Context) *result {
	if c.cfg.Interval > 0 {
		select {
		case <-c.first:
		case <-ctx.Done():
			return &result{err: fmt.Errorf("no sweep has finished yet: %w", context.Cause(ctx))}
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.latest
	}
	c.mu.Lock()
	if ls := c.lastSuccess; ls != nil && c.cfg.MinInterval > 0 && c.cfg.Now().Sub(ls.started) < c.cfg.MinInterval {
		c.mu.Unlock()
		return ls
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(c.cfg.MaxTimeout)
	}
	cl := c.inflight
	if cl == nil || !cl.join(earliest(deadline, cl.began.Add(c.cfg.MaxTimeout))) {
		cl = c.start(deadline)
	} else if c.joined != nil {
		c.joined()
	}
	c.mu.Unlock()

	select {
	case <-cl.done:
		return cl.res
	case <-ctx.Done():
		cl.mu.Lock()
		last := !cl.deadline.After(deadline)
		cl.mu.Unlock()
		if last {
			// No scrape waits longer: the sweep ends with this deadline,
			// and its own error says why.
			<-cl.done
			return cl.res
		}
		// This scrape's own deadline came first; the sweep goes on for the
		// scrapes with later ones.
		err := fmt.Errorf("gave up waiting for the sweep in flight: %w", context.Cause(ctx))
		level.Warn(c.logger).Log("msg", "scrape abandoned", "err", err, "waited", c.cfg.Now().Sub(cl.started))
		return &result{err: err, duration: c.cfg.Now().Sub(cl.started)}
	}
}

// start begins a shared sweep; c.mu is held.
func (c *Collector) start(deadline time.Time) *call {
	now := time.Now()
	cl := &call{done: make(chan struct{}), started: c.cfg.Now(), began: now, deadline: earliest(deadline, now.Add(c.cfg.MaxTimeout))}
	c.inflight = cl
	// The sweep outlives a scraper that hangs up, so that a scrape sharing
	// it still gets its answer; it ends at the call's deadline, or with
	// the exporter (SIGTERM).
	ctx, cancel := context.WithCancelCause(c.cfg.Context)
	cl.mu.Lock() // the timer may fire at once; expire reads cl.timer
	cl.timer = time.AfterFunc(time.Until(cl.deadline), func() { cl.expire(cancel) })
	cl.mu.Unlock()
	go func() {
		defer cancel(nil)
		res := c.sweep(ctx)
		cl.timer.Stop()
		c.mu.Lock()
		// A canceled call may still be winding down when a later one has
		// taken its place, and may even end after it.
		if c.inflight == cl {
			c.inflight = nil
		}
		if res.err == nil && (c.lastSuccess == nil || !res.started.Before(c.lastSuccess.started)) {
			c.lastSuccess = res
		}
		if c.latest == nil || !res.started.Before(c.latest.started) {
			c.latest = res
		}
		c.mu.Unlock()
		cl.res = res
		close(cl.done)
	}()
	return cl
}

// Run sweeps every Interval in the background until ctx ends; with
// Interval 0 it returns at once. Sweeps never overlap: the next starts an
// interval (jittered by ±10%) after the last one began, or at once if it
// ran longer.
func (c *Collector) Run(ctx context.Context) {
	if c.cfg.Interval <= 0 {
		return
	}
	for {
		began := time.Now()
		sctx, cancel := context.WithTimeoutCause(ctx, c.cfg.MaxTimeout,
			fmt.Errorf("%w: the sweep took longer than --sweep.max-timeout", context.DeadlineExceeded))
		res := c.sweep(sctx)
		cancel()
		c.mu.Lock()
		c.latest = res
		if res.err == nil {
			c.lastSuccess = res
		}
		c.mu.Unlock()
		c.firstOnce.Do(func() { close(c.first) })
		jitter := time.Duration((rand.Float64()*0.2 - 0.1) * float64(c.cfg.Interval))
		wait := time.Until(began.Add(c.cfg.Interval + jitter))
		select {
		case <-ctx.Done():
			return
		case <-time.After(max(wait, 0)):
		}
	}
}

func (c *Collector) sweep(ctx context.Context) *result {
	start := c.cfg.Now()
	q := c.cfg.Query
	q.Start, q.End = start.Add(-c.cfg.Window), start
	workers := make([]*aggregator, c.cfg.Client.Workers())
	for i := range workers {
		workers[i] = newAggregator(c.cfg.AgeBuckets, start)
	}
	stats, err := c.cfg.Client.Sweep(ctx, q, func(worker int, orders []apiclient.Order) error {
		workers[worker].add(orders)
		return nil
	})
	end := c.cfg.Now()
	res := &result{err: err, stats: stats, started: start, ended: end, duration: end.Sub(start)}
	if err != nil {
		c.logFailure(err, stats, res.duration)
		return res
	}
	all := workers[0]
	for _, w := range workers[1:] {
		all.merge(w)
	}
	if stats.OutOfRange > 0 {
		all.setAside(apiclient.InvalidOutOfWindow, "", stats.OutOfRangeExample, stats.OutOfRange)
	}
	res.totals = all.finish(c.cfg.MaxSeries)
	c.mu.Lock()
	c.dense += stats.DenseSeconds
	c.mu.Unlock()
	for _, reason := range invalidReasons {
		if s := res.totals.samples[reason]; s.count > 0 {
			level.Warn(c.logger).Log("msg", "orders left out of the sums", "reason", reason, "count", s.count,
				"example_order", s.orderNo, "example_value", s.value)
		}
	}
	switch {
	case res.totals.foldedGroups:
		level.Warn(c.logger).Log("msg", "too many series, even at one per region, product code and currency: the smallest of those were folded into region, model and product_code \""+OtherModel+"\"",
			"folded", res.totals.folded, "max_series", c.cfg.MaxSeries, "hint", "raise --metrics.max-series, or filter the query")
	case res.totals.folded > 0:
		level.Warn(c.logger).Log("msg", "too many series: the smallest were folded into model=\""+OtherModel+"\"",
			"folded", res.totals.folded, "max_series", c.cfg.MaxSeries, "hint", "raise --metrics.max-series, or filter the query")
	}
	if stats.DenseSeconds > 0 {
		level.Info(c.logger).Log("msg", "seconds with a page of orders or more were read by paging; an order of such a second paid during the sweep moves the later ones up a place, so one still unpaid may be missed",
			"seconds", stats.DenseSeconds)
	}
	level.Debug(c.logger).Log("msg", "sweep complete", "requests", stats.Requests, "proofs", stats.Proofs, "slices", stats.Slices, "orders", stats.Orders,
		"series", len(res.totals.sums), "sorted", stats.Sorted, "duration", res.duration)
	return res
}

// invalidReasons are the reasons of debt_invalid_orders, always exposed.
var invalidReasons = []string{apiclient.InvalidAmount, apiclient.InvalidCreateTime, apiclient.InvalidOutOfWindow}

func (c *Collector) logFailure(err error, stats apiclient.Stats, d time.Duration) {
	kv := []any{"msg", "sweep failed", "err", err, "requests", stats.Requests, "duration", d}
	var apiErr *apiclient.APIError
	var statusErr *apiclient.StatusError
	if errors.As(err, &apiErr) {
		kv = append(kv, "retcode", strconv.FormatInt(apiErr.RetCode, 10))
	}
	if errors.As(err, &statusErr) {
		kv = append(kv, "status", statusErr.StatusCode)
	}
	switch {
	case c.cfg.Context.Err() != nil:
		kv = append(kv, "hint", "the exporter is shutting down")
	case errors.Is(err, context.DeadlineExceeded) && stats.Pages == 0:
		kv = append(kv, "hint", "the API gave no answer in time: check that it is reachable and answers within --api.timeout")
	case errors.Is(err, context.DeadlineExceeded) && c.cfg.Interval > 0:
		kv = append(kv, "hint", "the sweep needs more time: raise --sweep.max-timeout")
	case errors.Is(err, context.DeadlineExceeded):
		kv = append(kv, "hint", "the sweep needs more time than the scrape allows: raise scrape_timeout, or sweep in the background with --sweep.interval")
	}
	level.Error(c.logger).Log(kv...)
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// SweepOnce runs one sweep outside any schedule and returns its exact
// series and invalid counts, as a scrape would expose them: for tools such
// as the benchmark, which check totals to the cent.
func (c *Collector) SweepOnce(ctx context.Context) ([]Sum, map[string]int, apiclient.Stats, error) {
	res := c.sweep(ctx)
	return res.totals.sums, res.totals.invalid, res.stats, res.err
}
