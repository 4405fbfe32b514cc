package bench

import (
	"bytes"
	"context"
	"flag"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/require"

	"github.com/debt-exporter/debt_exporter/apiclient"
	"github.com/debt-exporter/debt_exporter/internal/simapi"
	"github.com/debt-exporter/debt_exporter/money"
)

var benchOrders = flag.Int("orders", 1_000_000, "orders served to the benchmarks (go test -bench . ./bench/ -args -orders 100000)")

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// target serves a dataset in this process behind a Recorder; the caller
// closes it.
func target(tb testing.TB, orders, sort int, prerender bool) (*Target, *API) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	api := StartAPI(ServerConfig(orders, testNow, sort), ln, prerender)
	return NewTarget(api.Sim, api.URL), api
}

// learnt is the benchmark's protocol up to the replay list, on a small
// sorted dataset: a target whose API closes with the test, a sweeper at
// concurrency 4, its first and steady sweeps and the steady sweep's
// requests.
type learnt struct {
	tg            *Target
	api           *API
	s             *Sweeper
	first, steady apiclient.Stats
	reqs          []Request
}

func learn(t *testing.T) learnt {
	t.Helper()
	tg, api := target(t, testOrders(), simapi.SortDesc, true)
	t.Cleanup(api.Close)
	s, err := NewSweeper(tg, 4)
	require.NoError(t, err)
	first, steady, reqs, err := Learn(context.Background(), s, api.Rec)
	require.NoError(t, err)
	return learnt{tg: tg, api: api, s: s, first: first, steady: steady, reqs: reqs}
}

func testOrders() int {
	if testing.Short() {
		return 2_000
	}
	return 20_000
}

// TestReplayIsTheSteadySweep runs the benchmark's protocol on a small
// dataset: the recorded steady sweep, its raw replay and the next sweep
// make the same requests and get the same bytes, and every contender
// agrees with Truth.
func TestReplayIsTheSteadySweep(t *testing.T) {
	l := learn(t)
	tg, api, s, reqs := l.tg, l.api, l.s, l.reqs
	ctx := context.Background()
	t.Logf("%d orders, %d pages: first sweep %d requests, steady %d", tg.Truth.Matched, tg.MinRequests(), l.first.Requests, l.steady.Requests)

	require.NoError(t, api.Rec.Start())
	n, err := NewRaw(tg, 4).Run(ctx, reqs)
	require.NoError(t, err)
	replayed, _ := api.Rec.Stop()
	require.NoError(t, SameRequests(reqs, replayed), "the replay")
	require.Equal(t, Bytes(reqs), n, "bytes of the replay")

	require.NoError(t, api.Rec.Start())
	_, err = s.Run(ctx)
	require.NoError(t, err)
	again, _ := api.Rec.Stop()
	require.NoError(t, SameRequests(reqs, again), "the next sweep")

	s1, err := NewSweeper(tg, 1)
	require.NoError(t, err)
	_, err = s1.Run(ctx)
	require.NoError(t, err, "sweep at concurrency 1")
	require.NoError(t, NewNaive(tg).Run(ctx))
}

// TestEverySortAgreesWithTruth sweeps each sort order twice (first and
// steady) and checks the totals; the request counts are logged.
func TestEverySortAgreesWithTruth(t *testing.T) {
	for _, so := range Sorts {
		t.Run(so.Name, func(t *testing.T) {
			tg, api := target(t, testOrders(), so.Sort, false)
			defer api.Close()
			s, err := NewSweeper(tg, 4)
			require.NoError(t, err)
			first, steady, _, err := Learn(context.Background(), s, api.Rec)
			require.NoError(t, err)
			t.Logf("%s: %d pages; first sweep %d requests (%.2fx), steady %d (%.2fx)", so.Name, tg.MinRequests(),
				first.Requests, float64(first.Requests)/float64(tg.MinRequests()),
				steady.Requests, float64(steady.Requests)/float64(tg.MinRequests()))
		})
	}
}

// TestChecksCanFail makes sure each totals check fails on a wrong answer.
func TestChecksCanFail(t *testing.T) {
	tg, api := target(t, 1_000, simapi.SortDesc, false)
	defer api.Close()
	ctx := context.Background()
	s, err := NewSweeper(tg, 2)
	require.NoError(t, err)
	_, err = s.Run(ctx)
	require.NoError(t, err)

	var exposition bytes.Buffer
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(s.Collector()))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		_, err := expfmt.MetricFamilyToText(&exposition, mf)
		require.NoError(t, err)
	}
	_, err = CheckExposition(tg.Truth, bytes.NewReader(exposition.Bytes()))
	require.NoError(t, err, "the collector's own exposition")

	good := tg.Truth
	var key simapi.Key
	for k := range good.Series {
		key = k
		break
	}
	cent, err := money.ParseString("0.01")
	require.NoError(t, err)
	wrongs := map[string]func(*simapi.Truth){
		"amount":  func(w *simapi.Truth) { v := w.Series[key]; v.Amount = v.Amount.Add(cent); w.Series[key] = v },
		"orders":  func(w *simapi.Truth) { v := w.Series[key]; v.Orders++; w.Series[key] = v },
		"oldest":  func(w *simapi.Truth) { v := w.Series[key]; v.Oldest--; w.Series[key] = v },
		"series":  func(w *simapi.Truth) { delete(w.Series, key) },
		"invalid": func(w *simapi.Truth) { w.Invalid++ },
	}
	for name, wrong := range wrongs {
		t.Run(name, func(t *testing.T) {
			bad := good
			bad.Series = make(map[simapi.Key]simapi.Series, len(good.Series))
			for k, v := range good.Series {
				bad.Series[k] = v
			}
			wrong(&bad)
			tg.Truth = bad
			defer func() { tg.Truth = good }()
			_, err := s.Run(ctx)
			require.Error(t, err, "sweep")
			require.Error(t, NewNaive(tg).Run(ctx), "naive")
			if name != "amount" { // a cent on a large sum may not change its float64
				_, err = CheckExposition(bad, bytes.NewReader(exposition.Bytes()))
				require.Error(t, err, "exposition")
			}
		})
	}
}

func TestRequestsRoundTrip(t *testing.T) {
	rs := []Request{{Start: 10, End: 20, Page: 1, PageSize: PageSize, Status: 200, Bytes: 1234}, {Start: 20, End: 30, Page: 2, PageSize: PageSize, Status: 200, Bytes: 99}}
	var b bytes.Buffer
	require.NoError(t, WriteRequests(&b, rs))
	back, err := ReadRequests(&b)
	require.NoError(t, err)
	require.Equal(t, rs, back)
	require.NoError(t, SameRequests(rs, []Request{rs[1], rs[0]}))
	require.Error(t, SameRequests(rs, rs[:1]))
	other := []Request{rs[0], rs[1]}
	other[1].Bytes++
	require.Error(t, SameRequests(rs, other))

	// A proof (page 2 at a smaller PageSize) is a request like any other
	// to SameRequests, and left out by SamePages.
	proof := Request{Start: 30, End: 40, Page: 2, PageSize: 57, Status: 200, Bytes: 50}
	withProof := append(slices.Clone(rs), proof)
	require.Error(t, SameRequests(rs, withProof))
	pa, pb, err := SamePages(rs, withProof)
	require.NoError(t, err)
	require.Equal(t, []int{0, 1}, []int{pa, pb})
	require.Equal(t, 1, Proofs(withProof))
	_, _, err = SamePages(rs, append(other, proof))
	require.Error(t, err, "a page that differs still shows")
	var b2 bytes.Buffer
	require.NoError(t, WriteRequests(&b2, withProof))
	back, err = ReadRequests(&b2)
	require.NoError(t, err)
	require.Equal(t, withProof, back, "the PageSize round-trips")
	require.Equal(t, int64(7), formInt("Action=x&Page=7&PageSize=100", "Page"))
	require.Equal(t, int64(100), formInt("Action=x&Page=7&PageSize=100", "PageSize"))
	require.Equal(t, int64(-1), formInt("Action=x", "Page"))
}

var (
	benchOnce   sync.Once
	benchTarget *Target
	benchAPI    *API
)

// sharedTarget is one server for all benchmarks: prerendering a million
// orders takes seconds and about 1.1 GB. It lives in this process, so its
// page cache inflates the heap the GC paces against; benchtable runs the
// server in a separate process for the published figures.
func sharedTarget(b *testing.B) (*Target, *API) {
	benchOnce.Do(func() { benchTarget, benchAPI = target(b, *benchOrders, simapi.SortDesc, true) })
	return benchTarget, benchAPI
}

func report(b *testing.B, tg *Target) {
	n := float64(b.N) * float64(tg.Truth.Matched)
	b.ReportMetric(n/b.Elapsed().Seconds(), "orders/s")
}

func BenchmarkSweep(b *testing.B) {
	tg, _ := sharedTarget(b)
	for _, conc := range []int{1, 2, 4, 8} {
		b.Run("conc="+strconv.Itoa(conc), func(b *testing.B) {
			s, err := NewSweeper(tg, conc)
			require.NoError(b, err)
			_, err = s.Run(context.Background()) // the first sweep learns the plan
			require.NoError(b, err)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Run(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			report(b, tg)
		})
	}
}

func BenchmarkRawFetch(b *testing.B) {
	tg, api := sharedTarget(b)
	for _, conc := range []int{1, 4} {
		b.Run("conc="+strconv.Itoa(conc), func(b *testing.B) {
			s, err := NewSweeper(tg, conc)
			require.NoError(b, err)
			_, _, reqs, err := Learn(context.Background(), s, api.Rec)
			require.NoError(b, err)
			r := NewRaw(tg, conc)
			b.ReportAllocs()
			for b.Loop() {
				n, err := r.Run(context.Background(), reqs)
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
	tg, _ := sharedTarget(b)
	n := NewNaive(tg)
	b.ReportAllocs()
	for b.Loop() {
		if err := n.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	report(b, tg)
}

// countingConn counts the reads made on a connection.
type countingConn struct {
	net.Conn
	reads *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	c.reads.Add(1)
	return c.Conn.Read(p)
}

// TestRawReadsBodiesAsTheClientDoes holds the raw baseline to the reads
// apiclient makes: a body read into a buffer with room for it takes a few
// reads, as in the client. Read through io.Discard (8 KiB at a time) a
// 110 kB body takes at least 14, which made the baseline slower than it is.
func TestRawReadsBodiesAsTheClientDoes(t *testing.T) {
	l := learn(t)
	raw := NewRaw(l.tg, 4)
	var reads atomic.Int64
	tr := raw.hc.Transport.(*http.Transport)
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{c, &reads}, nil
	}
	n, err := raw.Run(context.Background(), l.reqs)
	require.NoError(t, err)
	perBody := float64(n) / float64(len(l.reqs))
	perRequest := float64(reads.Load()) / float64(len(l.reqs))
	t.Logf("%d requests, %.0f bytes a body, %.1f reads a request", len(l.reqs), perBody, perRequest)
	require.Greater(t, perBody, float64(64<<10), "bodies too small to tell")
	require.Less(t, perRequest, 8.0, "reads a request")
}
