package collector

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/debt-exporter/debt_exporter/apiclient"
)

// Requests counts API requests by outcome. It is made first and handed to
// both sides: its Observe to apiclient.Config, itself to Config.Requests,
// so data flows one way (client → counter ← collector).
type Requests struct {
	n map[string]*atomic.Uint64
}

// NewRequests returns a counter with every outcome at zero.
func NewRequests() *Requests {
	r := &Requests{n: make(map[string]*atomic.Uint64, len(apiclient.Outcomes))}
	for _, o := range apiclient.Outcomes {
		r.n[o] = new(atomic.Uint64)
	}
	return r
}

// Observe counts one request; pass it as apiclient.Config.Observe.
func (r *Requests) Observe(outcome string) {
	if n, ok := r.n[outcome]; ok {
		n.Add(1)
	}
}

func (r *Requests) collect(ch chan<- prometheus.Metric) {
	for _, o := range apiclient.Outcomes {
		ch <- prometheus.MustNewConstMetric(requestsDesc, prometheus.CounterValue, float64(r.n[o].Load()), o)
	}
}
