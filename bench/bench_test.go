package bench

import (
	"context"
	"flag"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/debt-exporter/debt_exporter/internal/simapi"
	"github.com/stretchr/testify/require"
)

var benchOrders = flag.Int("orders", 1_000_000, "orders served to the benchmarks (go test -bench . ./bench/ -args -orders 100000)")

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// target starts a prerendered in-process server; the caller closes it.
func target(tb testing.TB, orders int) (*Target, *simapi.Server) {
	tb.Helper()
	srv := simapi.New(ServerConfig(orders, testNow))
	srv.Prerender(srv.Query(), PageSize)
	return NewTarget(srv, srv.URL), srv
}

// TestContendersAgreeWithTruth runs every contender once on a small dataset:
// what the benchmarks time must be right.
func TestContendersAgreeWithTruth(t *testing.T) {
	orders := 20_000
	if testing.Short() {
		orders = 2_000
	}
	tg, srv := target(t, orders)
	defer srv.Close()
	ctx := context.Background()

	for _, conc := range []int{1, 4} {
		s, err := NewSweeper(tg, conc)
		require.NoError(t, err)
		require.NoError(t, s.Run(ctx), "sweep at concurrency %d", conc)
	}
	n, err := NewRaw(tg, 4).Run(ctx)
	require.NoError(t, err)
	require.Greater(t, n, int64(orders)*500, "raw fetch read too little")
	require.NoError(t, NewNaive(tg).Run(ctx))
}

// TestSweepDetectsWrongTotals makes sure the check can fail.
func TestSweepDetectsWrongTotals(t *testing.T) {
	tg, srv := target(t, 1_000)
	defer srv.Close()
	s, err := NewSweeper(tg, 2)
	require.NoError(t, err)
	for k, v := range tg.Truth.Series {
		v.Orders++
		tg.Truth.Series[k] = v
		break
	}
	require.Error(t, s.Run(context.Background()))
}

var (
	benchOnce   sync.Once
	benchTarget *Target
)

// sharedTarget is one server for all benchmarks: prerendering a million
// orders takes seconds and about 1.1 GB. It lives in this process, so its
// page cache inflates the heap the GC paces against; benchtable runs the
// server in a separate process for the published figures.
func sharedTarget(b *testing.B) *Target {
	benchOnce.Do(func() { benchTarget, _ = target(b, *benchOrders) })
	return benchTarget
}

func report(b *testing.B, tg *Target) {
	n := float64(b.N) * float64(tg.Truth.Matched)
	b.ReportMetric(n/b.Elapsed().Seconds(), "orders/s")
}

func BenchmarkSweep(b *testing.B) {
	tg := sharedTarget(b)
	for _, conc := range []int{1, 2, 4, 8} {
		b.Run("conc="+itoa(conc), func(b *testing.B) {
			s, err := NewSweeper(tg, conc)
			require.NoError(b, err)
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Run(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			report(b, tg)
		})
	}
}

func BenchmarkRawFetch(b *testing.B) {
	tg := sharedTarget(b)
	for _, conc := range []int{1, 4} {
		b.Run("conc="+itoa(conc), func(b *testing.B) {
			r := NewRaw(tg, conc)
			b.ReportAllocs()
			for b.Loop() {
				n, err := r.Run(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(n)
			}
			report(b, tg)
		})
	}
}

func BenchmarkNaive(b *testing.B) {
	tg := sharedTarget(b)
	n := NewNaive(tg)
	b.ReportAllocs()
	for b.Loop() {
		if err := n.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	report(b, tg)
}

func itoa(n int) string { return strconv.Itoa(n) }
