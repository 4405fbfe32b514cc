package simapi

import "time"

// Faults are set at any time, from any goroutine, while the server serves.
// Counts n follow one rule: n > 0 affects the next n matching requests,
// n < 0 every one until cleared, n == 0 clears that fault.
type faults struct {
	httpStatus, httpLeft int
	retCode, retLeft     int
	latency              time.Duration
	truncPage, truncLeft int
	endless              bool
	shiftAfterPage       int
	shiftBy              int
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

// ShiftAfterPage arms a one-shot shift: once page has been answered
// successfully (for any query), m new orders are inserted at the front of
// the data, so later pages repeat orders already served, as when orders
// arrive during a sweep. Truth includes the new orders from then on.
func (s *Server) ShiftAfterPage(page, m int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f.shiftAfterPage, s.f.shiftBy = page, m
}

// Shift inserts m new orders at the front now. New orders have
// CreateTime = Config.Now, and the newest comes first.
func (s *Server) Shift(m int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shifted += int64(max(m, 0))
}

// Shifted returns how many orders shifts have added.
func (s *Server) Shifted() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shifted
}

// ClearFaults removes every fault, including an armed shift. Orders already
// shifted in stay.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f = faults{}
}

// Reset clears the faults, removes shifted orders and empties the request
// log and counter: the server is as New made it.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f = faults{}
	s.shifted = 0
	s.log = s.log[:0]
	s.logNext = 0
	s.requests.Store(0)
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

func (s *Server) takeRetCodeFault() (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f.retLeft == 0 {
		return 0, false
	}
	s.f.retLeft = decrement(s.f.retLeft)
	return s.f.retCode, true
}
