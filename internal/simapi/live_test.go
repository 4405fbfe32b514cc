package simapi

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/debt-exporter/debt_exporter/apiclient"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// page fetches one page and requires RetCode 0.
func page(t *testing.T, srv *Server, q apiclient.Query, p, size int) []map[string]any {
	t.Helper()
	r := call(t, srv, srv.SignedForm(q, p, size))
	require.Equal(t, 0, r.code(t), r.Message)
	return r.orders()
}

func orderNos(orders []map[string]any) []string {
	out := make([]string, len(orders))
	for i, o := range orders {
		out[i] = o["OrderNo"].(string)
	}
	return out
}

// current is the current set for q in the descending sort order, from
// UnpaidOrderNos: what an offset page of the API must be cut from.
func current(srv *Server, q apiclient.Query) []string {
	m := srv.UnpaidOrderNos(q)
	out := make([]string, 0, len(m))
	for no := range m {
		out = append(out, no)
	}
	slices.SortFunc(out, func(a, b string) int {
		if m[a] != m[b] {
			return cmpInt(m[b], m[a])
		}
		return strings.Compare(a, b)
	})
	return out
}

// A payment behind the reader's offset shifts the next page forward: as
// many orders are skipped as were paid among those already served.
func TestPayShiftsPagination(t *testing.T) {
	srv := New(Config{Seed: 3, Orders: 1000, Now: testNow})
	t.Cleanup(srv.Close)
	q := srv.Query()
	old := current(srv, q)
	require.Len(t, old, 1000)
	served := append(orderNos(page(t, srv, q, 1, 100)), orderNos(page(t, srv, q, 2, 100))...)
	require.Equal(t, old[:200], served, "pages are cut from the current set")

	paid := srv.Pay(60)
	require.Len(t, paid, 60)
	assert.EqualValues(t, 60, srv.Paid())
	behind := 0
	for _, no := range paid {
		if slices.Contains(served, no) {
			behind++
		}
		assert.True(t, srv.Known(no), "a paid order is still known")
	}
	require.Positive(t, behind, "seed 3 pays some of the first 200")
	now := current(srv, q)
	require.Len(t, now, 940)
	p3 := orderNos(page(t, srv, q, 3, 100))
	assert.Equal(t, now[200:300], p3)
	// Unpaid orders of the old list that the reader never saw: exactly
	// `behind` of them, right before page 3's first.
	skipped := 0
	for _, no := range old[200:slices.Index(old, p3[0])] {
		if !slices.Contains(paid, no) {
			skipped++
		}
	}
	assert.Equal(t, behind, skipped)
	for _, no := range paid {
		assert.NotContains(t, p3, no)
	}
	assert.Equal(t, 940, srv.Truth(q).Matched)
	requireSameTruth(t, srv.Truth(q), sum(t, sweep(t, srv, q, 100)))
}

// With churn on, every page is cut from the set as it is when the request
// arrives, and the set changes after each answer; Truth follows.
func TestChurnDuringSweep(t *testing.T) {
	for _, sort := range []int{SortDesc, SortAsc} {
		srv := New(Config{Seed: 5, Orders: 2000, Now: testNow, InvalidAmountEvery: 61, Sort: sort})
		t.Cleanup(srv.Close)
		q := srv.Query()
		srv.SetChurn(3, 2)
		var seen []string
		for p := 1; ; p++ {
			before := current(srv, q)
			if sort == SortAsc {
				slices.Reverse(before) // not exact on ties: compare as sets below
			}
			got := orderNos(page(t, srv, q, p, 100))
			lo, hi := min((p-1)*100, len(before)), min(p*100, len(before))
			if sort == SortDesc {
				require.Equal(t, before[lo:hi], got, "page %d", p)
			} else {
				require.Len(t, got, hi-lo, "page %d", p)
			}
			seen = append(seen, got...)
			if len(got) < 100 {
				break
			}
		}
		pages := int64(len(seen)/100 + 1)
		assert.EqualValues(t, 3*pages, srv.Paid())
		assert.EqualValues(t, 2*pages, srv.Posted())
		srv.SetChurn(0, 0)
		want := srv.Truth(q)
		assert.Equal(t, 2000-int(srv.Paid())+int(srv.Posted()), want.Matched)
		requireSameTruth(t, want, sum(t, sweep(t, srv, q, 100)))
		assert.Len(t, srv.UnpaidOrderNos(q), want.Matched)
	}
}

func TestPostAndKnown(t *testing.T) {
	srv := New(Config{Seed: 8, Orders: 500, Now: testNow, Span: 10 * 24 * time.Hour})
	t.Cleanup(srv.Close)
	q := srv.Query()
	posted := srv.Post(300)
	require.Len(t, posted, 300)
	assert.EqualValues(t, 300, srv.Posted())
	m := srv.UnpaidOrderNos(q)
	require.Len(t, m, 800)
	lo, hi := testNow.Add(-10*24*time.Hour).Unix(), testNow.Unix()
	var older int
	for _, no := range posted {
		ct, ok := m[no]
		require.True(t, ok, "%s is unpaid", no)
		assert.True(t, ct > lo && ct <= hi, "inside the span: %d", ct)
		if ct < hi-5*86400 {
			older++
		}
		assert.True(t, srv.Known(no))
	}
	assert.InDelta(t, 150, older, 45, "uniform over the span")
	assert.False(t, srv.Known("nope"))
	assert.False(t, srv.Known(srv.data.prefix+"20000000300"), "not posted yet")
	assert.False(t, srv.Known(srv.data.prefix+"10000000500"), "past the base orders")
	assert.True(t, srv.Known(srv.data.prefix+"10000000499"))
	assert.False(t, srv.Known(strings.Replace(posted[0], srv.data.prefix, "UOzzzz", 1)))

	at := srv.PostAt(2, testNow.Add(-time.Hour))
	for _, no := range at {
		assert.Equal(t, testNow.Add(-time.Hour).Unix(), srv.UnpaidOrderNos(q)[no])
	}
	assert.Greater(t, at[0], posted[299], "OrderNos increase with postings")
	requireSameTruth(t, srv.Truth(q), sum(t, sweep(t, srv, q, 100)))
}

func TestPayEverything(t *testing.T) {
	srv := New(Config{Seed: 2, Orders: 20, Now: testNow})
	t.Cleanup(srv.Close)
	q := srv.Query()
	srv.Post(5)
	paid := srv.Pay(30)
	assert.Len(t, paid, 25, "no more than are unpaid")
	slices.Sort(paid)
	assert.Len(t, slices.Compact(slices.Clone(paid)), 25, "each once")
	assert.Empty(t, srv.Pay(1))
	assert.Zero(t, srv.Truth(q).Matched)
	assert.Empty(t, page(t, srv, q, 1, 10))
}

func TestChurnBurst(t *testing.T) {
	srv := New(Config{Seed: 4, Orders: 300, Now: testNow})
	t.Cleanup(srv.Close)
	q := srv.Query()
	srv.SetChurnBurst(3, 10, 20)
	for i := range 3 {
		assert.Zero(t, srv.Paid()+srv.Posted(), "before the %d-th answer", i+1)
		page(t, srv, q, 1, 10)
	}
	assert.EqualValues(t, 10, srv.Paid())
	assert.EqualValues(t, 20, srv.Posted())
	page(t, srv, q, 1, 10)
	assert.EqualValues(t, 10, srv.Paid(), "once")
	srv.FailRetCode(150, 1)
	srv.SetChurnBurst(1, 1, 0)
	call(t, srv, srv.SignedForm(q, 1, 10))
	assert.EqualValues(t, 10, srv.Paid(), "an error is not an answer with data")
	page(t, srv, q, 1, 10)
	assert.EqualValues(t, 11, srv.Paid())
	assert.Equal(t, 300-11+20, srv.Truth(q).Matched)
}

// Payments and postings are a function of the seed and the calls.
func TestLiveDeterministic(t *testing.T) {
	run := func(seed int64) ([]string, []string, []byte) {
		srv := New(Config{Seed: seed, Orders: 800, Now: testNow, Varied: true})
		defer srv.Close()
		paid := srv.Pay(40)
		posted := srv.Post(40)
		srv.SetChurn(2, 2)
		q := srv.Query()
		for p := 1; p <= 3; p++ {
			page(t, srv, q, p, 100)
		}
		_, body := post(t, srv, srv.SignedForm(q, 4, 100))
		return append(paid, srv.Pay(5)...), posted, body
	}
	p1, o1, b1 := run(9)
	p2, o2, b2 := run(9)
	assert.Equal(t, p1, p2)
	assert.Equal(t, o1, o2)
	assert.Equal(t, b1, b2)
	p3, _, _ := run(10)
	assert.NotEqual(t, p1[:10], p3[:10])
}

// A live account of 20,000 orders under heavy churn stays quick to serve.
func TestChurnAtScale(t *testing.T) {
	srv := New(Config{Seed: 6, Orders: 20_000, Now: testNow, Varied: true})
	t.Cleanup(srv.Close)
	q := srv.Query()
	srv.Pay(2000)
	srv.Post(2000)
	srv.SetChurn(5, 5)
	start := time.Now()
	n := 0
	for p := 1; ; p++ {
		got := page(t, srv, q, p, 100)
		n += len(got)
		if len(got) < 100 {
			break
		}
	}
	assert.Less(t, time.Since(start), 20*time.Second, "generous: CI machines are shared")
	assert.Greater(t, n, 19_000)
	srv.SetChurn(0, 0)
	requireSameTruth(t, srv.Truth(q), sum(t, sweep(t, srv, q, 100)))
}
