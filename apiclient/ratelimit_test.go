package apiclient_test

import (
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/debt-exporter/debt_exporter/apiclient"
	"github.com/debt-exporter/debt_exporter/internal/simapi"
)

// sendTimes is a RoundTripper that notes when each request leaves.
type sendTimes struct {
	next http.RoundTripper
	mu   sync.Mutex
	at   []time.Time
}

func (s *sendTimes) RoundTrip(r *http.Request) (*http.Response, error) {
	s.mu.Lock()
	s.at = append(s.at, time.Now())
	s.mu.Unlock()
	return s.next.RoundTrip(r)
}

// TestRateLimitPacesRequests: with --api.rate-limit the client sends at
// most that many requests a second, to an API that never throttles and
// with requests in flight to spare: a published quota is kept without a
// single throttle to learn it from. Both checks are lower bounds on time,
// which a slow machine cannot make fail; without the limit the sweep's 60
// requests leave within a few milliseconds and both fail.
func TestRateLimitPacesRequests(t *testing.T) {
	const rate = 40.0
	srv := simapi.New(simapi.Config{Seed: 2, Orders: 6000, Now: now})
	defer srv.Close()
	sent := &sendTimes{next: http.DefaultTransport}
	c, obs := newClient(t, srv, func(c *apiclient.Config) {
		c.Concurrency = 8
		c.RateLimit = rate
		c.HTTPClient = &http.Client{Transport: sent}
	})
	want := srv.UnpaidOrderNos(window(srv))
	start := time.Now()
	got, stats := collect(t, c, window(srv))
	elapsed := time.Since(start)
	assert.Len(t, got, len(want), "the sweep is whole")
	assert.Zero(t, obs.get(apiclient.OutcomeThrottled))
	n := len(sent.at)
	require.Equal(t, stats.Requests, n)
	require.GreaterOrEqual(t, n, 60, "enough requests to show a rate")

	// Sends are spaced 1/rate apart, with one interval of credit at most.
	minimum := time.Duration(float64(n-2) / rate * float64(time.Second))
	assert.GreaterOrEqual(t, elapsed, minimum, "%d requests at most %v a second", n, rate)

	// No second holds more than the rate (and a little slack for a
	// goroutine that stalled between its turn and its send).
	sort.Slice(sent.at, func(i, j int) bool { return sent.at[i].Before(sent.at[j]) })
	busiest := 0
	for i, j := 0, 0; j < n; j++ {
		for sent.at[j].Sub(sent.at[i]) >= time.Second {
			i++
		}
		busiest = max(busiest, j-i+1)
	}
	assert.LessOrEqual(t, busiest, int(rate*1.25), "requests in the busiest second")

	_, perSecond := c.Pace()
	assert.Equal(t, rate, perSecond, "debt_api_rate_limit_requests_per_second")
}
