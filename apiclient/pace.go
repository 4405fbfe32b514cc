package apiclient

import (
	"context"
	"math"
	"sync"
	"time"
)

// pacer decides when the next request may go: it keeps a window of
// requests in flight (AIMD: cut by a quarter on a throttle, at least two,
// grown by 1/window per success) and, once the API has throttled, a rate
// in requests per second learned from what the API admitted. It lives on
// the Client, so a sweep starts from what the last one learned; it
// recovers on success, so random throttles (the gateway's own load, not a
// limit) cannot walk it down to a request or two per second and keep it
// there. A throttle with a Retry-After stalls its request (fetch honours
// it), so after one the rate probes upward slowly.
type pacer struct {
	maxWindow float64 // --api.concurrency
	ceiling   float64 // --api.rate-limit, requests per second; 0 = none
	now       func() time.Time

	mu       sync.Mutex
	cond     *sync.Cond
	window   float64 // requests allowed in flight
	inflight int
	// rate is the learned rate, requests per second; 0 = not limited yet.
	rate     float64
	nextSend time.Time // earliest send time under the rate
	// cutSeq is the send sequence number at the last cut: a throttle of a
	// request sent before it belongs to the round already cut for.
	seq, cutSeq uint64
	admitted    []time.Time // send times of recent successes, for the first cut
	sent        []time.Time // send times of recent requests
	lastCut     time.Time
	// costly is whether the last round cut was for a throttle that told
	// its request to wait (a Retry-After): each throttle then stalls a
	// request for a second or more, so the rate probes upward slowly until
	// a round is cut for a throttle without one.
	costly bool
	// nearLimit is whether the rate was last set from what the API
	// admitted over a busy second, after a throttle with a Retry-After.
	nearLimit bool
	// waiting counts the requests waiting in acquire. The pacer is idle
	// when none waits and none is in flight; busyFrom is when it last
	// came out of an idle spell longer than idleGap, idleFrom when it last
	// went idle.
	waiting            int
	busyFrom, idleFrom time.Time
	sweepFrom          time.Time // see begin
	lastSuccess        time.Time
	// failed is when the recent failed requests (answerFailed) ended: a
	// second with failures in it is not a quiet second of what the API
	// admits, nor one with many a measure of it.
	failed []time.Time
}

func newPacer(concurrency int, ceiling float64) *pacer {
	p := &pacer{maxWindow: float64(concurrency), ceiling: ceiling, window: float64(concurrency), now: time.Now}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// ticket is one request's place in the pacer.
type ticket struct {
	seq  uint64
	sent time.Time
}

// acquire waits until a request may be sent, or ctx ends.
func (p *pacer) acquire(ctx context.Context) (ticket, error) {
	stop := context.AfterFunc(ctx, func() {
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.arrive(p.now())
	p.waiting++
	defer func() { p.waiting-- }()
	for {
		if err := ctx.Err(); err != nil {
			return ticket{}, context.Cause(ctx)
		}
		if float64(p.inflight) < math.Floor(p.window) || p.inflight == 0 {
			now := p.now()
			at := now
			if p.effectiveRate() > 0 {
				at = p.nextSend
			}
			if !at.After(now) {
				if r := p.effectiveRate(); r > 0 {
					// Sends are spaced 1/r apart; a sender that was idle
					// does not bank more than one interval of credit.
					p.nextSend = maxTime(p.nextSend, now.Add(-time.Duration(float64(time.Second)/r))).Add(time.Duration(float64(time.Second) / r))
				}
				p.inflight++
				p.seq++
				p.sent = appendRecent(p.sent, now)
				return ticket{seq: p.seq, sent: now}, nil
			}
			p.waitUntil(ctx, at)
			continue
		}
		p.cond.Wait()
	}
}

// waitUntil sleeps with the lock released until t, a release, or ctx's end.
func (p *pacer) waitUntil(ctx context.Context, t time.Time) {
	timer := time.AfterFunc(time.Until(t), func() {
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	p.cond.Wait()
	timer.Stop()
}

func (p *pacer) effectiveRate() float64 {
	switch {
	case p.rate > 0 && p.ceiling > 0:
		return min(p.rate, p.ceiling)
	case p.rate > 0:
		return p.rate
	}
	return p.ceiling
}

// release returns a request's place with what the API said of it, and
// the Retry-After of a throttle (0 for none), in one step: no request is
// admitted on the place of a throttled one before its throttle has cut the
// window. A Retry-After is honoured by the request that got it (see
// fetch), not here: the pacer has already slowed the others down.
func (p *pacer) release(t ticket, a answer, retryAfter time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.leaveLocked()
	p.finishLocked(t, a, retryAfter)
}

// answer is what a request came to, for the pacer.
type answer int

const (
	answerAdmitted  answer = iota // data: the API took the request
	answerThrottled               // RetCode 153 or HTTP 429
	// answerFailed is anything else (a network error, a timeout, an HTTP
	// or API error, a broken answer): it says nothing of the API's limit,
	// so it neither grows the window nor counts as admitted.
	answerFailed
)

// leave frees the place in flight of a request whose answer is known to
// carry data (RetCode 0, read before its orders), before its orders are
// decoded: decoding is the client's work, not the API's, and a place held
// through it left the API idle while the workers decoded. finish then
// takes what the answer came to. Any other answer's place (a throttle's
// above all) is given up by release, with its cut.
func (p *pacer) leave(ticket) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.leaveLocked()
	p.cond.Broadcast()
}

func (p *pacer) leaveLocked() {
	p.inflight--
	if p.inflight == 0 && p.waiting == 0 {
		p.idleFrom = p.now()
	}
}

// finish is release's second half, after leave.
func (p *pacer) finish(t ticket, a answer, retryAfter time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finishLocked(t, a, retryAfter)
}

func (p *pacer) finishLocked(t ticket, a answer, retryAfter time.Duration) {
	now := p.now()
	if a == answerFailed {
		p.failed = appendRecent(p.failed, now)
		p.cond.Broadcast()
		return
	}
	if a == answerAdmitted {
		p.window = min(p.maxWindow, p.window+1/p.window)
		p.admitted = appendRecent(p.admitted, t.sent)
		defer func() { p.lastSuccess = now }()
		// While a tenth or more of the last second's requests failed, that
		// second says nothing of the API's limit, whether its failures
		// came fast (5xx at the rate) or slow (timeouts, the workers in
		// flight sending little): the rate grows only gently, never past
		// twice what was sent, and does not stop binding; so the cuts of
		// random throttles meanwhile cannot ratchet it down, nor a spell
		// of timeouts lose it. A trickle of failures (one bad backend)
		// leaves the rest of the second to measure.
		if p.rate > 0 && !p.fewFailures(now) {
			_, sent := recentRate(p.sent, now, time.Time{})
			p.rate = max(p.rate, min(p.rate*p.gentleGrowth(), 2*sent+10))
		} else if p.rate > 0 {
			// Gentle growth near the limit (a few % of requests throttled
			// against a token bucket); fast growth after a second busy
			// without a throttle, so that random throttles (the gateway's
			// own load) cannot keep the rate down once they stop. Slow
			// growth, about costlyGrowth a second, when a throttle costs a
			// Retry-After: each is a request stalled for a second; then
			// only costlyQuiet busy seconds without a throttle say the
			// limit may be gone (a burst of them may have set the rate
			// from nothing the API admitted); the quiet spell starts
			// after a failed request too.
			// Above twice what was sent in a busy second, the rate no
			// longer binds: the window or the answers' latency do. Only a
			// busy spell says so: between sweeps, or while every worker
			// sits out a Retry-After, the client sends nothing and the
			// limit it learned still holds.
			busy := p.busy(now)
			quiet := time.Second
			if p.costly {
				quiet = costlyQuiet
			}
			if busy && now.Sub(maxTime(maxTime(p.lastCut, p.busyFrom), p.lastFailed())) > quiet {
				// Doubling every fastDoubling, whatever the rate: at a
				// few requests a second, growth by the answer took
				// seconds to undo a collapse.
				p.rate *= math.Exp2(float64(min(now.Sub(p.lastSuccess), maxGrowthStep)) / float64(fastDoubling))
			} else {
				p.rate *= p.gentleGrowth()
			}
			if _, sent := recentRate(p.sent, now, time.Time{}); busy && p.rate > 2*sent+10 {
				p.rate = 0
			}
		}
		p.cond.Broadcast()
		return
	}
	if t.seq <= p.cutSeq {
		p.cond.Broadcast()
		return // this round was cut already
	}
	p.cutSeq = p.seq
	p.lastCut = now
	p.costly = retryAfter > 0
	// The window shrinks by a quarter, not to one: against a rate limit
	// the rate is what binds, and a window of one would make the sweep's
	// pace hang on each request's latency.
	p.window = max(min(2, p.maxWindow), p.window*0.75)
	if p.rate == 0 {
		// The first throttle: a little under what the API admitted (or,
		// when it admitted nothing lately, under what was sent).
		_, measured := p.measured(p.admitted, now)
		if measured == 0 {
			_, measured = p.measured(p.sent, now)
		}
		p.rate = max(0.5, 0.9*measured)
		p.nearLimit = false
	} else if admitted, rate := p.measured(p.admitted, now); p.costly && admitted >= minMeasured && !now.Add(-time.Second).Before(p.sweepFrom) {
		// A throttle stalls a request: the rate goes under what the API
		// admitted in the last second, the limit (where throttles of a
		// burst may have cut the rate below it, or where the rate came
		// from another load), not a quarter under the rate. A tenth under,
		// as that second may hold a gateway's burst besides its rate; and
		// from there it grows slowly (nearLimitGrowth), as each throttle
		// stalls a request, and one near a sweep's end the sweep. A second
		// of a few successes (after a Retry-After sat out), or less than a
		// second of this sweep, says too little: then a quarter under.
		p.rate = max(0.5, 0.9*rate)
		p.nearLimit = true
	} else {
		p.rate = max(0.5, p.rate*0.75)
		p.nearLimit = false
	}
	// Send the next request no sooner than one interval from now.
	p.nextSend = maxTime(p.nextSend, now.Add(time.Duration(float64(time.Second)/p.rate)))
	p.cond.Broadcast()
}

// fastDoubling is how long the rate takes to double once a busy second
// passed without a throttle (costlyQuiet seconds after one with a
// Retry-After); maxGrowthStep bounds the growth one answer brings, however
// long since the last: at most a doubling.
const (
	fastDoubling  = 100 * time.Millisecond
	maxGrowthStep = 100 * time.Millisecond
	costlyQuiet   = 5 * time.Second
)

// costlyGrowth is how fast the rate grows, a share a second, after a
// throttle that came with a Retry-After.
const costlyGrowth = 0.3

// nearLimitGrowth is how fast it grows once a throttle with a Retry-After
// has set it from what the API admitted: close under the limit, about 3.5
// seconds back to it.
const nearLimitGrowth = 0.03

// minMeasured is how many successes in the last second make what the API
// admitted in it a measure of its limit, after a throttle with a
// Retry-After.
const minMeasured = 5

// idleGap is how long the pacer must be idle for it to count: a worker
// decoding an answer before it asks again is not idle.
const idleGap = 250 * time.Millisecond

// arrive notes a request that asks to be sent at now: if the pacer was
// idle for longer than idleGap, a busy spell starts.
func (p *pacer) arrive(now time.Time) {
	if p.inflight == 0 && p.waiting == 0 && now.Sub(p.idleFrom) > idleGap {
		p.busyFrom = now
	}
}

// busy reports whether requests were in flight or waiting to be sent all
// through the last second (gaps under idleGap aside): only then does what
// the API admitted in it say what the API allows, rather than what an idle
// client happened to send (between sweeps, or while every worker sat out a
// Retry-After).
func (p *pacer) busy(now time.Time) bool {
	idle := p.inflight == 0 && p.waiting == 0 && now.Sub(p.idleFrom) > idleGap
	return !idle && now.Sub(p.busyFrom) >= time.Second
}

// begin notes that a sweep starts: a cut measures what the API admitted
// in this sweep only, since a sweep just before may have run under
// another limit, or none. (Two sweeps at once on one Client measure from
// the later's start; the exporter runs one at a time per account.)
func (p *pacer) begin() {
	p.mu.Lock()
	p.sweepFrom = p.now()
	p.mu.Unlock()
}

// measured is recentRate over the trailing second of this sweep.
func (p *pacer) measured(times []time.Time, now time.Time) (n int, rate float64) {
	return recentRate(times, now, p.sweepFrom)
}

// recent returns how many of times lie in the trailing second, and after
// notBefore, and the oldest of them (now for none).
func recent(times []time.Time, now, notBefore time.Time) (n int, oldest time.Time) {
	from := maxTime(now.Add(-time.Second), notBefore.Add(-time.Nanosecond))
	oldest = now
	for i := len(times) - 1; i >= 0 && times[i].After(from); i-- {
		n++
		oldest = times[i]
	}
	return n, oldest
}

// recentRate counts the events of the trailing second after notBefore,
// and their rate per second (over the time since the oldest of them when
// that is shorter, at least 100ms); 0 for none.
func recentRate(times []time.Time, now, notBefore time.Time) (n int, rate float64) {
	n, oldest := recent(times, now, notBefore)
	if n == 0 {
		return 0, 0
	}
	return n, float64(n) / max(now.Sub(oldest), 100*time.Millisecond).Seconds()
}

// appendRecent keeps a bounded history of times, sorted: recent reads
// it from the newest back. Answers come back out of the order their
// requests were sent in, so a send time goes in after the later ones
// already there (a request is passed by a few at most).
func appendRecent(times []time.Time, t time.Time) []time.Time {
	if len(times) >= 4096 {
		times = append(times[:0], times[2048:]...)
	}
	times = append(times, t)
	for i := len(times) - 1; i > 0 && times[i].Before(times[i-1]); i-- {
		times[i], times[i-1] = times[i-1], times[i]
	}
	return times
}

// state reports the window and the learned rate (0 = none), for metrics.
func (p *pacer) state() (window float64, rate float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.window, p.effectiveRate()
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// lastFailed is when a request last failed, or the zero time.
func (p *pacer) lastFailed() time.Time {
	if len(p.failed) == 0 {
		return time.Time{}
	}
	return p.failed[len(p.failed)-1]
}

// gentleGrowth is the factor an answer grows the rate by outside fast
// growth.
func (p *pacer) gentleGrowth() float64 {
	switch {
	case p.costly && p.nearLimit:
		return 1 + nearLimitGrowth/max(p.rate, 1)
	case p.costly:
		return 1 + costlyGrowth/max(p.rate, 1)
	}
	return 1.008
}

// fewFailures reports whether no request failed in the last second, or
// under a tenth of those sent in it.
func (p *pacer) fewFailures(now time.Time) bool {
	if now.Sub(p.lastFailed()) >= time.Second {
		return true
	}
	f, _ := recent(p.failed, now, time.Time{})
	n, _ := recent(p.sent, now, time.Time{})
	return 10*f < n
}
