package simapi

import (
	"testing"
)

var benchSrv = func() func() *Server {
	var s *Server
	return func() *Server {
		if s == nil {
			s = NewHandler(Config{Seed: 1, Orders: 1_000_000, Now: testNow, InvalidAmountEvery: 1000})
		}
		return s
	}
}()

// BenchmarkRenderPage measures one uncached page of 100 orders.
func BenchmarkRenderPage(b *testing.B) {
	s := benchSrv()
	q := s.queryOf(s.Query())
	b.ReportAllocs()
	buf := new([]byte)
	for i := 0; b.Loop(); i++ {
		body, _ := s.pageBody(&request{q: q, page: 1 + i%10000, pageSize: 100}, buf)
		*buf = body
		b.SetBytes(int64(len(body)))
	}
}

// BenchmarkTruth measures Truth over a million orders.
func BenchmarkTruth(b *testing.B) {
	s := benchSrv()
	q := s.Query()
	for b.Loop() {
		s.Truth(q)
	}
}
