package simapi

import (
	"fmt"
	"math"
	"sync"
	"time"
)

// Faults are set at any time, from any goroutine, while the server serves.
// Counts n follow one rule: n > 0 affects the next n matching requests,
// n < 0 every one until cleared, n == 0 clears that fault.
type faults struct {
	httpStatus, httpLeft int
	retCode, retLeft     int
	latency              time.Duration
	truncPage, truncLeft int
	endless              bool

	redirectStatus, redirectLeft int
	redirectLocation             string

	pageCap int // SetPageCap: at most this many orders a page; 0 none

	repeatLeft int
	repeatBody []byte // the answer being repeated; nil until the first

	outOfRangeLeft int
	outOfRangeNext int64 // how many out-of-range orders served: picks the next value
	atEndLeft      int
	duplicateLeft  int

	churnPay, churnPost            int
	burstLeft, burstPay, burstPost int
	shiftAfterPage, shiftBy        int
	rate                           bucket
	rate429                        bool
	randomP                        float64
	randomSeed                     uint64
	randomNext                     uint64
	throttleLeft                   int
	throttleAfter                  time.Duration
}

func decrement(n int) int {
	if n > 0 {
		return n - 1
	}
	return n // negative: forever
}

// FailHTTP answers the next n requests (any path, any parameters) with HTTP
// status and a plain-text body, as a proxy or load balancer in front of the
// API would (502, 503, 504, 429, 500, ...).
func (s *Server) FailHTTP(status, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f.httpStatus, s.f.httpLeft = status, n
}

// FailRetCode answers the next n well-formed requests (HTTP 200, path /)
// with RetCode code before any validation: 153 throttled, 150 unavailable,
// 171, 172, 230, ...
func (s *Server) FailRetCode(code, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f.retCode, s.f.retLeft = code, n
}

// Hold makes every request that arrives wait, counted by Requests, until
// release is called (or the client gives up, or the server closes): a
// test then knows a sweep is in flight and cannot end until it says so.
// ClearFaults leaves a hold alone; release is safe to call twice.
func (s *Server) Hold() (release func()) {
	ch := make(chan struct{})
	s.mu.Lock()
	s.hold = ch
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			if s.hold == ch {
				s.hold = nil
			}
			s.mu.Unlock()
			close(ch)
		})
	}
}

// SetLatency delays every request by d before it is answered (0 removes
// it). The wait ends early if the client gives up or the server closes.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f.latency = d
}

// TruncatePage cuts the body of the next n successful answers for page
// (of any query) in the middle: HTTP 200, a correct Content-Length, invalid
// JSON.
func (s *Server) TruncatePage(page, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f.truncPage, s.f.truncLeft = page, n
}

// SetEndless makes every page full, forever: page p holds the query's
// orders cycled from position (p-1)*PageSize, each with a fresh OrderNo
// (prefix + "E" + position); TotalCount is not sent. Truth is unaffected.
func (s *Server) SetEndless(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f.endless = on
}

// SetPageCap makes every page hold at most n orders whatever PageSize asks
// (0: no cap), with pages of n orders (page p from position (p-1)*n), as
// a gateway that caps PageSize without saying so would: every page but
// the last is shorter than PageSize, and a client that takes a short page
// for the last loses the rest. TotalCount, when sent, still counts the
// whole query. Truth is unaffected.
func (s *Server) SetPageCap(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f.pageCap = n
}

// SetRedirect answers the next n requests (any path, before anything else
// but latency) with HTTP status (a 3xx: 301, 302, 303, 307, 308) and the
// header Location: location, as a misconfigured endpoint or a moved API
// would. It panics on a status outside 300..399 unless n is 0.
func (s *Server) SetRedirect(status int, location string, n int) {
	if n != 0 && (status < 300 || status > 399) {
		panic(fmt.Sprintf("simapi: SetRedirect: %d is not a redirect", status))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f.redirectStatus, s.f.redirectLocation, s.f.redirectLeft = status, location, n
}

// SetRepeatPage makes the next times data answers all the same body: the
// first of them is answered as Page=1 of its query, whatever its Page, and
// the following ones get that body again whatever their Page or window, as
// a caching proxy gone wrong would. Then answers are normal again.
func (s *Server) SetRepeatPage(times int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f.repeatLeft, s.f.repeatBody = times, nil
}

// OutOfRangeTimes are the CreateTimes SetOutOfRange uses, in turn; 0 and 1
// stand for StartTime-1 and EndTime+1 of the request answered.
var OutOfRangeTimes = []int64{0, 1, math.MinInt64, 253402300800 /* year 10000 */, -1, math.MaxInt64}

// SetOutOfRange makes each of the next n data answers include one order
// whose CreateTime is outside [StartTime, EndTime]: StartTime-1, EndTime+1,
// -9223372036854775808, year 10000, -1 and 9223372036854775807 in turn. The
// order (OrderNo prefix + "X" + number) is not in the data: it replaces the
// last order of a full page and is appended to a shorter one.
func (s *Server) SetOutOfRange(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f.outOfRangeLeft = n
}

// SetAtEndTime makes each of the next n data answers include one order
// whose CreateTime is the request's EndTime, as SetOutOfRange does: an
// exclusive API misbehaving, or an inclusive one's order at the boundary,
// whichever it is asked as.
func (s *Server) SetAtEndTime(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f.atEndLeft = n
}

// SetDuplicate makes each of the next n data answers that hold at least one
// order send one OrderNo twice: the first order comes again in place of the
// last of a full page, or after the last of a shorter one.
func (s *Server) SetDuplicate(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f.duplicateLeft = n
}

// ShiftAfterPage arms a one-shot shift: once page has been answered
// successfully (for any query), m new orders with CreateTime = Config.Now
// are posted, in front of the data in the descending sort order, so later
// pages repeat orders already served. Truth includes them from then on.
//
// Deprecated: a thin wrapper over PostAt kept for the offset-paging tests;
// use SetChurnBurst, Post or PostAt.
func (s *Server) ShiftAfterPage(page, m int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f.shiftAfterPage, s.f.shiftBy = page, m
}

// Shifted returns how many orders have been posted.
//
// Deprecated: use Posted.
func (s *Server) Shifted() int64 { return s.Posted() }

// ClearFaults removes every fault and every setting made by a Fail*, Set*
// or ShiftAfterPage method: churn, rate limit and random throttle included.
// Orders already paid or posted stay so.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f = faults{}
}

func (s *Server) takeHTTPFault() (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f.httpLeft == 0 {
		return 0, false
	}
	s.f.httpLeft = decrement(s.f.httpLeft)
	return s.f.httpStatus, true
}

func (s *Server) takeRedirect() (int, string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f.redirectLeft == 0 {
		return 0, "", false
	}
	s.f.redirectLeft = decrement(s.f.redirectLeft)
	return s.f.redirectStatus, s.f.redirectLocation, true
}

func (s *Server) takeRetCodeFault() (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f.retLeft == 0 {
		return 0, false
	}
	s.f.retLeft = decrement(s.f.retLeft)
	return s.f.retCode, true
}

// ---- throttling ----

// bucket is a token bucket on the real clock: rate tokens a second, at
// most burst, one per admitted request.
type bucket struct {
	rate, burst, tokens float64
	last                time.Time
}

// take admits a request at now, or says how long until a token.
func (b *bucket) take(now time.Time) (bool, time.Duration) {
	if b.rate <= 0 {
		return true, 0
	}
	b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
}

// SetRateLimit admits at most perSecond requests a second on average, in
// bursts of up to burst (a token bucket on the real clock, full at the
// start). A well-formed, correctly signed request over the limit is
// answered RetCode 153 with HTTP 200, as the provider does (or HTTP 429,
// see SetRateLimit429), and takes no token. perSecond <= 0 removes it.
func (s *Server) SetRateLimit(perSecond float64, burst int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	burst = max(burst, 1)
	s.f.rate = bucket{rate: perSecond, burst: float64(burst), tokens: float64(burst), last: time.Now()}
}

// SetRateLimit429 makes the rate limit answer HTTP 429 Too Many Requests
// with a Retry-After header (whole seconds until a token, at least 1)
// instead of RetCode 153.
func (s *Server) SetRateLimit429(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f.rate429 = on
}

// SetRandomThrottle answers RetCode 153 to a fraction p of well-formed,
// correctly signed requests, chosen by a generator seeded with seed (the
// k-th request after the call is throttled or not whatever the time): the
// gateway's own load, not a limit of the caller's. p <= 0 removes it.
func (s *Server) SetRandomThrottle(p float64, seed int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f.randomP, s.f.randomSeed, s.f.randomNext = p, uint64(seed), 0
}

// SetThrottleNext answers HTTP 429 with Retry-After: retryAfter (whole
// seconds, at least 1) to the next n well-formed, correctly signed
// requests, whatever the rate: a gateway that turns a burst away at once.
func (s *Server) SetThrottleNext(n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f.throttleLeft, s.f.throttleAfter = n, retryAfter
}

// throttle decides whether a valid request is throttled: status 429 with a
// Retry-After, or 153, or 0 to admit it.
func (s *Server) throttle() (status int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f.throttleLeft != 0 {
		s.f.throttleLeft = decrement(s.f.throttleLeft)
		return 429, s.f.throttleAfter
	}
	if s.f.randomP > 0 {
		k := s.f.randomNext
		s.f.randomNext++
		if float64(mix(s.f.randomSeed^mix(k))>>11)/(1<<53) < s.f.randomP {
			return 153, 0
		}
	}
	if ok, wait := s.f.rate.take(time.Now()); !ok {
		if s.f.rate429 {
			return 429, wait
		}
		return 153, 0
	}
	return 0, 0
}

// Throttled returns how many requests throttling (rate limit or random)
// has refused; Admitted how many were answered with data (RetCode 0).
func (s *Server) Throttled() int64 { return s.throttled.Load() }

// Admitted returns how many requests were answered with data (RetCode 0).
func (s *Server) Admitted() int64 { return s.admitted.Load() }
