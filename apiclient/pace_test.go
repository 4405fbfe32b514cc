package apiclient

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pacerAt returns a pacer on a clock the test moves, that has learned a
// rate, and a helper that records a busy second of sends, all admitted,
// at perSecond, ending at the clock.
func pacerAt(rate float64) (*pacer, *time.Time, func(perSecond int)) {
	clock := time.Unix(1_000_000, 0)
	p := newPacer(4, 0)
	p.now = func() time.Time { return clock }
	p.rate = rate
	p.lastCut = clock.Add(-time.Hour)
	busySecond := func(perSecond int) {
		for i := perSecond - 1; i >= 0; i-- {
			t := clock.Add(-time.Duration(i) * time.Second / time.Duration(perSecond))
			p.sent, p.admitted = append(p.sent, t), append(p.admitted, t)
		}
		// Busy all through it, the last answer just in.
		if clock.Sub(p.busyFrom) < time.Second {
			p.busyFrom = clock.Add(-time.Second)
		}
		p.idleFrom = clock
	}
	return p, &clock, busySecond
}

// send records one request sent at the clock, as acquire does.
func send(p *pacer, clock time.Time) ticket {
	p.arrive(clock)
	p.inflight++
	p.seq++
	p.sent = append(p.sent, clock)
	return ticket{seq: p.seq, sent: clock}
}

// TestPacerKeepsItsRateWhileIdle: between sweeps the client sends nothing,
// which says nothing of the API's limit. The first success of the next
// sweep used to drop the learned rate (it was above twice what was
// admitted "lately", that is nothing) and the sweep began with a burst
// into the limit.
func TestPacerKeepsItsRateWhileIdle(t *testing.T) {
	p, clock, busySecond := pacerAt(100)
	busySecond(100)
	*clock = clock.Add(30 * time.Second) // the next sweep
	p.release(send(p, *clock), answerAdmitted, 0)
	assert.InDelta(t, 100*1.008, p.rate, 1e-9, "gentle growth, the limit kept")
}

// TestPacerAfterRetryAfter: when every worker sat out a Retry-After, the
// second without a throttle was not a second of successes: no fast growth
// and no drop. Throttles with a Retry-After make the rate grow slowly, and
// more slowly still once the rate was set from what the API admitted.
func TestPacerAfterRetryAfter(t *testing.T) {
	p, clock, busySecond := pacerAt(100)
	busySecond(100)
	p.release(send(p, *clock), answerThrottled, time.Second) // a throttle with Retry-After: 1
	assert.True(t, p.costly)
	assert.True(t, p.nearLimit, "set from a busy second's admissions")
	rate := p.rate
	*clock = clock.Add(1100 * time.Millisecond) // the Retry-After sat out
	p.release(send(p, *clock), answerAdmitted, 0)
	assert.InDelta(t, rate*(1+nearLimitGrowth/rate), p.rate, 1e-9)
	// Even after a busy second without a throttle: slow.
	*clock = clock.Add(time.Second)
	busySecond(100)
	rate = p.rate
	p.release(send(p, *clock), answerAdmitted, 0)
	assert.InDelta(t, rate*(1+nearLimitGrowth/rate), p.rate, 1e-9)
	// A cut from a thin second (one success after the Retry-After) is by
	// a quarter, and the rate probes faster: it may be far under.
	*clock = clock.Add(1100 * time.Millisecond)
	p.release(send(p, *clock), answerThrottled, time.Second)
	assert.False(t, p.nearLimit)
	rate = p.rate
	p.release(send(p, *clock), answerAdmitted, 0)
	assert.InDelta(t, rate*(1+costlyGrowth/rate), p.rate, 1e-9)
	// Throttles without one probe as before.
	p.release(send(p, *clock), answerThrottled, 0)
	assert.False(t, p.costly)
	rate = p.rate
	p.release(send(p, *clock), answerAdmitted, 0)
	assert.InDelta(t, rate*1.008, p.rate, 1e-9)
}

// TestPacerCostlyThrottleGoesToTheAdmittedRate: a throttle with a
// Retry-After sets the rate a tenth under what the API admitted in a busy
// second; one without cuts it by a quarter.
func TestPacerCostlyThrottleGoesToTheAdmittedRate(t *testing.T) {
	for _, tt := range []struct {
		retryAfter time.Duration
		want       float64
	}{
		{time.Second, 0.9 * 100 / 0.99}, // 100 sends over 0.99 s
		{0, 200 * 0.75},
	} {
		p, clock, busySecond := pacerAt(200)
		busySecond(100)
		p.release(send(p, *clock), answerThrottled, tt.retryAfter)
		assert.InDelta(t, tt.want, p.rate, 1e-6, "Retry-After %v", tt.retryAfter)
	}
}

// TestPacerRecoversAfterABusySecondWithoutThrottles: random throttles cut
// the rate far below what the API admits; once they stop, a busy second
// of successes grows it fast, and far above what is admitted it is
// dropped. (It held before the busy rule too: it guards that the rule,
// which keeps idle seconds out, lets busy ones in.)
func TestPacerRecoversAfterABusySecondWithoutThrottles(t *testing.T) {
	p, clock, busySecond := pacerAt(20)
	p.lastCut = clock.Add(-2 * time.Second)
	busySecond(100)
	p.lastSuccess = clock.Add(-10 * time.Millisecond)
	p.release(send(p, *clock), answerAdmitted, 0)
	assert.InDelta(t, 20*math.Exp2(0.1), p.rate, 1e-9, "fast growth: doubling every 100ms")
	p.rate = 250
	p.release(send(p, *clock), answerAdmitted, 0)
	assert.Zero(t, p.rate, "above twice the admitted rate: no longer a limit")
}

// TestPacerRecoversAtALowRate: at a rate of a request a second, workers
// wait on the rate all the time; that is busy, and the rate grows fast
// once throttles stop. (A check of a send in every quarter second never
// held below four a second.)
func TestPacerRecoversAtALowRate(t *testing.T) {
	p, clock, _ := pacerAt(1)
	p.lastCut = clock.Add(-2 * time.Second)
	p.busyFrom = clock.Add(-2 * time.Second)
	p.waiting = 3 // the other workers, waiting on the rate
	p.lastSuccess = clock.Add(-time.Second)
	p.release(send(p, *clock), answerAdmitted, 0)
	assert.InDelta(t, 2, p.rate, 1e-9, "a second since the last answer: at most a doubling")
}

// TestPacerCostlyCutAfterAThinSecond: after every worker sat out a
// Retry-After, one success and another throttle say little of the limit:
// the rate is cut by a quarter, not to a tenth.
func TestPacerCostlyCutAfterAThinSecond(t *testing.T) {
	p, clock, busySecond := pacerAt(100)
	busySecond(100)
	p.release(send(p, *clock), answerThrottled, time.Second)
	rate := p.rate
	*clock = clock.Add(950 * time.Millisecond)
	p.release(send(p, *clock), answerAdmitted, 0)
	*clock = clock.Add(60 * time.Millisecond)
	grown := p.rate
	p.release(send(p, *clock), answerThrottled, time.Second)
	assert.InDelta(t, 0.75*grown, p.rate, 1e-9)
	assert.Greater(t, p.rate, 0.7*rate)
}

// TestPacerCostlyFollowsTheRoundCut: a throttle of a round already cut
// does not change how the rate grows; the throttle that cut it does.
func TestPacerCostlyFollowsTheRoundCut(t *testing.T) {
	p, clock, busySecond := pacerAt(100)
	busySecond(100)
	a, b := send(p, *clock), send(p, *clock)
	p.release(a, answerThrottled, 0)           // cuts the round
	p.release(b, answerThrottled, time.Second) // the same round
	assert.False(t, p.costly)
	c := send(p, *clock)
	p.release(c, answerThrottled, time.Second) // a new round
	assert.True(t, p.costly)
}

// TestPacerCutMeasuresThisSweep: a sweep that starts right after another
// (which ran under no limit, at 2,000 a second) and is throttled at once
// cuts to what this sweep was admitted, not to what the last one was. It
// used to take the trailing second whole: the rate stayed near 2,000, and
// every worker sat out a Retry-After at once.
func TestPacerCutMeasuresThisSweep(t *testing.T) {
	p, clock, busySecond := pacerAt(0)
	busySecond(2000)
	*clock = clock.Add(time.Millisecond)
	p.begin()
	for range 10 { // a gateway's burst of 10, admitted within 3 ms
		*clock = clock.Add(300 * time.Microsecond)
		p.release(send(p, *clock), answerAdmitted, 0)
	}
	p.release(send(p, *clock), answerThrottled, time.Second)
	assert.InDelta(t, 0.9*10/0.1, p.rate, 1e-6, "10 admitted, over at least 100ms")
	assert.False(t, p.nearLimit, "less than a second of this sweep says little")
	// A throttle within the sweep's first second cuts by a quarter, even
	// with many admitted.
	*clock = clock.Add(500 * time.Millisecond)
	busySecond(80)
	rate := p.rate
	p.release(send(p, *clock), answerThrottled, time.Second)
	assert.InDelta(t, 0.75*rate, p.rate, 1e-6)
	// A second into it, the cut measures it.
	*clock = clock.Add(time.Second)
	busySecond(100)
	p.release(send(p, *clock), answerThrottled, time.Second)
	assert.InDelta(t, 0.9*100/0.99, p.rate, 1e-6)
	assert.True(t, p.nearLimit)
}

// TestPacerRecoversAfterARetryAfterBurst: a sweep whose first requests
// were all turned away with a Retry-After has admitted nothing, so its
// first cut comes from what it sent (36/s from four sends), not from any
// limit. That rate grows slowly, as after every throttle with a
// Retry-After, but once five busy seconds have passed without a throttle
// it doubles again, and soon no longer binds: it used to hold the client
// below the API for dozens of sweeps.
func TestPacerRecoversAfterARetryAfterBurst(t *testing.T) {
	p, clock, _ := pacerAt(0)
	p.nearLimit = true // left from an earlier limit
	p.begin()
	for range 4 {
		send(p, *clock)
	}
	for i := range 4 {
		p.release(ticket{seq: uint64(i + 1), sent: *clock}, answerThrottled, time.Second)
	}
	assert.InDelta(t, 0.9*4/0.1, p.rate, 1e-6, "four sends over at least 100ms")
	assert.True(t, p.costly)
	assert.False(t, p.nearLimit, "a first cut is not near a measured limit")
	// Busy at the rate, every request admitted.
	p.busyFrom = *clock
	step := func(d time.Duration) {
		for end := clock.Add(d); clock.Before(end); {
			*clock = clock.Add(time.Duration(float64(time.Second) / p.rate))
			p.sent = append(p.sent, *clock)
			p.inflight++
			p.release(ticket{seq: p.seq + 1, sent: *clock}, answerAdmitted, 0)
			p.seq++
			if p.rate == 0 {
				return
			}
		}
	}
	step(4 * time.Second)
	assert.Greater(t, p.rate, 36.0)
	assert.Less(t, p.rate, 36*1.5*1.5*1.5*1.5, "slow growth, about 30%/s, for the first seconds")
	step(2 * time.Second)
	assert.Zero(t, p.rate, "five quiet busy seconds on, the rate no longer binds")
}

// TestAdmittedTimesOutOfOrder: send times are recorded as answers come
// back, and a slow answer's request was sent before faster ones. The
// trailing second counted them all; it stopped at the slow one's send time
// (a second and a half back) and missed those sent before it answered.
func TestAdmittedTimesOutOfOrder(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	var times []time.Time
	for _, back := range []time.Duration{900, 600, 1500, 300, 100} { // ms, in order of answer
		times = appendRecent(times, now.Add(-back*time.Millisecond))
	}
	n, _ := recentRate(times, now, time.Time{})
	assert.Equal(t, 4, n, "sends in the trailing second")
	for i := 1; i < len(times); i++ {
		assert.False(t, times[i].Before(times[i-1]), "sorted")
	}
}

// TestLeaveFreesThePlaceBeforeFinish: a request whose answer is read gives
// up its place in flight before it is decoded (leave), so that another
// goes to the API meanwhile; finish then counts its outcome.
func TestLeaveFreesThePlaceBeforeFinish(t *testing.T) {
	p := newPacer(1, 0)
	first, err := p.acquire(context.Background())
	assert.NoError(t, err)
	// While it is in flight, a second waits (whatever the machine's speed,
	// it cannot get through).
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	_, err = p.acquire(ctx)
	cancel()
	assert.Error(t, err)
	p.leave(first)
	second, err := p.acquire(context.Background())
	assert.NoError(t, err, "the first's answer is read: its place is free")
	p.finish(first, answerAdmitted, 0)
	p.release(second, answerAdmitted, 0)
	assert.Zero(t, p.inflight)
	assert.Equal(t, 2, len(p.admitted), "both counted as admitted")
}

// release gives up a throttled request's place with its cut: with four in
// flight and the window cut to three, a waiting request is not admitted
// until another place frees, and then after the cut.
func TestReleaseCutsBeforeItFreesThePlace(t *testing.T) {
	p := newPacer(4, 0)
	var held []ticket
	for range 4 {
		tk, err := p.acquire(context.Background())
		assert.NoError(t, err)
		held = append(held, tk)
	}
	got := make(chan ticket, 1)
	go func() {
		tk, _ := p.acquire(context.Background())
		got <- tk
	}()
	// The fifth waits in acquire before the release, or the check below
	// would test nothing.
	require.Eventually(t, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.waiting == 1
	}, 10*time.Second, time.Millisecond)
	p.release(held[0], answerThrottled, 0) // throttled: the window goes to 3, 3 in flight
	select {
	case tk := <-got:
		t.Fatalf("request %d admitted on a throttled request's place, window %.2f", tk.seq, p.window)
	case <-time.After(50 * time.Millisecond):
	}
	p.release(held[1], answerAdmitted, 0)
	tk := <-got
	assert.Greater(t, tk.seq, p.cutSeq, "admitted after the cut, so its own throttle would count")
}

// attempt leaves the pacer's window before the orders are decoded only for
// an answer whose RetCode 0 comes before them: a throttle, short or long,
// or an error keeps its place for release.
func TestOnlyADataAnswerLeavesBeforeItsDecode(t *testing.T) {
	page := `{"RetCode":0,"TotalCount":100,"Orders":[` + strings.Repeat(fullOrder+",", 99) + fullOrder + `]}`
	answers := map[string]struct {
		status int
		body   string
		leaves bool
	}{
		"throttle": {200, `{"Action":"ListUnpaidOrdersResponse","RetCode":153,"Message":"slow down"}`, false},
		"long throttle": {200, `{"Action":"ListUnpaidOrdersResponse","RetCode":153,"Message":"` +
			strings.Repeat("slow down ", 2000) + `","Orders":[]}`, false},
		"throttle, orders first": {200, `{"Orders":[` + fullOrder + `],"RetCode":153}`, false},
		// Refused (a second RetCode): it may leave early, but it is no
		// throttle, and its release neither cuts nor grows.
		"RetCode 0, then 153": {200, `{"RetCode":0,"Orders":[],"RetCode":153}`, true},
		"api error":           {200, `{"RetCode":160,"Message":"no"}`, false},
		"http 429":            {429, `{}`, false},
		"empty page":          {200, `{"RetCode":0,"TotalCount":0,"Orders":[]}`, true},
		"page under Data":     {200, `{"RetCode":"0","Data":{"Orders":[` + fullOrder + `]}}`, true},
		"page, RetCode last":  {200, `{"Orders":[` + fullOrder + `],"RetCode":0}`, false},
		"page of 100":         {200, page, true},
		"broken page":         {200, page[:len(page)-10], true},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		a := answers[r.Form.Get("case")]
		w.WriteHeader(a.status)
		_, _ = w.Write([]byte(a.body))
	}))
	defer srv.Close()
	c, err := New(Config{Endpoint: srv.URL, PublicKey: "pub", PrivateKey: "priv", PageSize: 100, Concurrency: 4})
	require.NoError(t, err)
	buf := c.bufs.Get().(*pageBuf)
	for name, a := range answers {
		left := 0
		_, err := c.attempt(context.Background(), "case="+url.QueryEscape(name), "sig", name, buf, func() { left++ })
		assert.Equal(t, a.leaves, left == 1, "%s: left before the decode; error %v", name, err)
		assert.LessOrEqual(t, left, 1, name)
		if strings.Contains(name, "throttle") {
			assert.True(t, isThrottle(err), "%s: %v", name, err)
		}
		if name == "RetCode 0, then 153" {
			assert.False(t, isThrottle(err), "%s: %v", name, err)
			assert.ErrorContains(t, err, "a second RetCode")
		}
		if name == "page of 100" || name == "empty page" {
			assert.NoError(t, err)
		}
	}
}

// The same, through fetch: a request waiting for the place of a throttled
// one (a long answer, as a gateway's message may be) is admitted only after
// the throttle's cut. The first answer is sent once the other request
// waits, and Observe (after the decode, before release) gives it time to
// take a place freed too early. By review.
func TestAThrottledAnswerKeepsItsPlaceUntilItsCut(t *testing.T) {
	long := `{"Action":"ListUnpaidOrdersResponse","RetCode":153,"Message":"` + strings.Repeat("slow down ", 900) + `"}`
	var c *Client
	var n atomic.Int32
	waiting := func() bool {
		c.pace.mu.Lock()
		defer c.pace.mu.Unlock()
		return c.pace.waiting > 0
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			for !waiting() {
				time.Sleep(time.Millisecond)
			}
			_, _ = w.Write([]byte(long))
			return
		}
		_, _ = w.Write([]byte(`{"RetCode":0,"TotalCount":0,"Orders":[]}`))
	}))
	defer srv.Close()
	var observed atomic.Int32
	observe := func(string) {
		if observed.Add(1) != 1 {
			return
		}
		for deadline := time.Now().Add(300 * time.Millisecond); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			c.pace.mu.Lock()
			s := c.pace.seq
			c.pace.mu.Unlock()
			if s >= 2 {
				return
			}
		}
	}
	var err error
	c, err = New(Config{Endpoint: srv.URL, PublicKey: "pub", PrivateKey: "priv", PageSize: 100, Concurrency: 1, Observe: observe})
	require.NoError(t, err)

	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		var once sync.Once
		buf := c.bufs.Get().(*pageBuf)
		done <- c.fetch(context.Background(), map[string]string{}, 0, 10, 1, buf, func() { once.Do(func() { close(started) }) }, func() {})
	}()
	<-started
	tk, err := c.pace.acquire(context.Background()) // waits: a window of one, one in flight
	require.NoError(t, err)
	c.pace.mu.Lock()
	cut := c.pace.cutSeq
	c.pace.mu.Unlock()
	c.pace.release(tk, answerAdmitted, 0)
	require.NoError(t, <-done)
	require.NotZero(t, cut, "the throttle had not cut when the waiting request was admitted")
	require.Greater(t, tk.seq, cut, "request %d admitted on a throttled request's place before its cut", tk.seq)
}

// A failed request (network error, timeout, HTTP or API error) frees its
// place and says nothing of the API's limit: the window does not grow and
// the rate's measure of what the API admitted is unchanged (found by
// review: failures grew the window and counted as admitted).
func TestAFailedRequestNeitherGrowsNorCounts(t *testing.T) {
	p, clock, _ := pacerAt(50)
	p.window = 2
	for range 20 {
		*clock = clock.Add(10 * time.Millisecond)
		p.release(send(p, *clock), answerFailed, 0)
	}
	assert.Equal(t, 2.0, p.window)
	assert.Empty(t, p.admitted)
	assert.Equal(t, 50.0, p.rate)
	assert.Zero(t, p.inflight)
	p.release(send(p, *clock), answerAdmitted, 0)
	assert.Greater(t, p.window, 2.0, "a success grows it")
	assert.Len(t, p.admitted, 1)
}

// A spell of failures at the learnt rate (the API answering 502s, say)
// keeps the pacer busy but admits nothing: the first success after it is
// no busy second without throttles, and must not take the learnt limit for
// gone (found by review: the fast growth, then the rate dropped to none,
// measured against the one success of that second).
func TestAFailureSpellKeepsTheLearntRate(t *testing.T) {
	p, clock, busySecond := pacerAt(100)
	busySecond(100)
	for range 150 { // 1.5 s of failures at the learnt rate
		*clock = clock.Add(10 * time.Millisecond)
		p.release(send(p, *clock), answerFailed, 0)
	}
	assert.Equal(t, 100.0, p.rate, "unchanged through the failures")
	*clock = clock.Add(10 * time.Millisecond)
	p.release(send(p, *clock), answerAdmitted, 0) // the API recovers
	assert.InDelta(t, 100.0, p.rate, 2, "the learnt limit kept")
	// A busy second of successes after it: fast growth again, until the
	// rate no longer binds (0) above twice what the API admits.
	for range 120 {
		*clock = clock.Add(10 * time.Millisecond)
		p.release(send(p, *clock), answerAdmitted, 0)
	}
	assert.True(t, p.rate == 0 || p.rate > 120, "grows fast after a clean busy second: rate %.1f", p.rate)
}

// A steady trickle of failures (1 in 50 at the limit) holds fast growth
// back, but the rate still stops binding above twice what is sent, so the
// next throttle measures the limit again instead of cutting a rate grown
// far past it by a quarter (found by review).
func TestAFailureTrickleDoesNotInflateTheRate(t *testing.T) {
	p, clock, busySecond := pacerAt(100)
	busySecond(100)
	for k := range 1000 { // 10 s at 100/s, from a failure on
		*clock = clock.Add(10 * time.Millisecond)
		a := answerAdmitted
		if k%50 == 0 {
			a = answerFailed
		}
		p.release(send(p, *clock), a, 0)
		require.LessOrEqual(t, p.rate, 215.0, "rate %.0f/s at %d, the API admitting 100/s", p.rate, k)
	}
	*clock = clock.Add(10 * time.Millisecond)
	p.release(send(p, *clock), answerThrottled, 0)
	assert.True(t, p.rate >= 50 && p.rate <= 100, "after a throttle: under what the API admits, rate %.1f", p.rate)
}

// Nor does a spell of timeouts, the workers in flight sending nothing: the
// first success after it finds little sent in the last second, and must
// not take that for a rate that no longer binds (found by review).
func TestATimeoutSpellKeepsTheLearntRate(t *testing.T) {
	p, clock, busySecond := pacerAt(100)
	busySecond(100)
	p.waiting = 4 // the other workers wait on the window
	var ts []ticket
	for range 4 {
		ts = append(ts, send(p, *clock))
	}
	*clock = clock.Add(5 * time.Second)
	for _, tk := range ts {
		p.release(tk, answerFailed, 0)
	}
	*clock = clock.Add(10 * time.Millisecond)
	p.release(send(p, *clock), answerAdmitted, 0) // the API recovers
	assert.InDelta(t, 100, p.rate, 1, "the learnt limit kept after a spell of timeouts")
}

// A steady trickle of failures (1 in 100 at 200/s, one bad backend) does
// not freeze the rate: with the API's limit raised far above it and no
// throttle, it grows until it no longer binds (found by review: a failure
// every half second held it at 200/s for good).
func TestAFailureTrickleLetsTheRateGrow(t *testing.T) {
	p, clock, busySecond := pacerAt(200)
	p.maxWindow, p.window = 64, 64
	busySecond(200)
	for k := range 6000 { // 30 s at the rate
		*clock = clock.Add(5 * time.Millisecond)
		a := answerAdmitted
		if k%100 == 0 {
			a = answerFailed
		}
		p.release(send(p, *clock), a, 0)
	}
	assert.True(t, p.rate == 0 || p.rate > 400, "30 s of 99%% success, no throttle: rate %.1f", p.rate)
}

// simulate runs the pacer on the fake clock for d: window workers sending
// as the pacer lets them, each answer 20 ms later, what outcome(k) says of
// the k-th request. It returns the rate at the end and the lowest seen.
func simulate(p *pacer, clock *time.Time, d time.Duration, outcome func(k int) answer) (last, low float64) {
	type fl struct {
		tk  ticket
		due time.Time
		a   answer
	}
	var inflight []fl
	k := 0
	low = p.rate
	end := clock.Add(d)
	for clock.Before(end) {
		*clock = clock.Add(time.Millisecond)
		keep := inflight[:0]
		for _, f := range inflight {
			if !f.due.After(*clock) {
				p.release(f.tk, f.a, 0)
				if p.rate > 0 {
					low = min(low, p.rate)
				}
			} else {
				keep = append(keep, f)
			}
		}
		inflight = keep
		for len(inflight) < int(p.window) {
			if r := p.effectiveRate(); r > 0 {
				if p.nextSend.After(*clock) {
					break
				}
				iv := time.Duration(float64(time.Second) / r)
				p.nextSend = maxTime(p.nextSend, clock.Add(-iv)).Add(iv)
			}
			inflight = append(inflight, fl{tk: send(p, *clock), due: clock.Add(20 * time.Millisecond), a: outcome(k)})
			k++
		}
	}
	return p.rate, low
}

// One backend of eight answers 5xx (12.5% of requests fail, fast), or one
// in twenty (5%), and the gateway throttles one request in 200 at random
// (its own load, not a limit the client passes: it sends at most its
// learnt 100/s). Each such throttle cuts the rate by a quarter; random
// throttles must not keep it down (pace.go's doc). While a tenth or more
// failed, the pacer forbade any growth, while the cuts went on: the rate
// ratcheted down to a tenth (found by review). It now grows gently between
// the cuts.
func TestFailuresAndRandomThrottlesDoNotRatchetTheRateDown(t *testing.T) {
	for _, failEvery := range []int{8, 20} {
		p, clock, busySecond := pacerAt(100)
		p.lastCut = *clock
		busySecond(100)
		last, low := simulate(p, clock, 60*time.Second, func(k int) answer {
			switch {
			case k%200 == 199:
				return answerThrottled
			case k%failEvery == 0:
				return answerFailed
			}
			return answerAdmitted
		})
		assert.True(t, last == 0 || last > 50, "60 s with 1 request in %d failed, 0.5%% random throttles: rate %.2f/s at the end (lowest %.2f), learnt 100/s", failEvery, last, low)
	}
}
