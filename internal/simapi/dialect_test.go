package simapi

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/debt-exporter/debt_exporter/apiclient"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSortOrders(t *testing.T) {
	for _, c := range []struct {
		name string
		sort int
		less func(pt, ct int64, pno, no string) bool // nil: no order by time
	}{
		{"desc", SortDesc, func(pt, ct int64, pno, no string) bool { return pt > ct || (pt == ct && pno < no) }},
		{"asc", SortAsc, func(pt, ct int64, pno, no string) bool { return pt < ct || (pt == ct && pno < no) }},
		{"unsorted", Unsorted, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := New(Config{Seed: 12, Orders: 1500, Now: testNow, Sort: c.sort, InvalidAmountEvery: 70})
			t.Cleanup(srv.Close)
			q := srv.Query()
			srv.Post(100) // posted orders take their place in the order too
			srv.Pay(100)
			orders := sweep(t, srv, q, 100)
			require.Len(t, orders, 1500)
			requireSameTruth(t, srv.Truth(q), sum(t, orders))
			up, down := 0, 0
			for i := 1; i < len(orders); i++ {
				pt, ct := createTime(t, orders[i-1]), createTime(t, orders[i])
				if c.less != nil {
					require.True(t, c.less(pt, ct, orders[i-1]["OrderNo"].(string), orders[i]["OrderNo"].(string)), "at %d", i)
				}
				if pt < ct {
					up++
				} else if pt > ct {
					down++
				}
			}
			if c.less == nil {
				assert.Greater(t, up, 500, "not ascending")
				assert.Greater(t, down, 500, "not descending")
			}
			assert.Equal(t, orderNos(orders), orderNos(sweep(t, srv, q, 37)), "stable across page sizes")

			// A window is sorted the same way.
			mid := createTime(t, orders[700])
			w := window(mid-86400, mid+86400)
			got := orderNos(sweep(t, srv, w, 10))
			var want []string
			for _, o := range orders {
				if ct := createTime(t, o); ct >= mid-86400 && ct <= mid+86400 {
					want = append(want, o["OrderNo"].(string))
				}
			}
			assert.Equal(t, want, got)
		})
	}
}

func TestEndTimeSemantics(t *testing.T) {
	for _, exclusive := range []bool{false, true} {
		srv := New(Config{Seed: 9, Orders: 300, Now: testNow, EndTimeExclusive: exclusive})
		t.Cleanup(srv.Close)
		ct := srv.data.gen(150).createTime
		no := srv.data.orderNo(150)
		for _, c := range []struct {
			q    apiclient.Query
			want bool
		}{
			{window(ct, ct+1), true},
			{window(ct-1, ct), !exclusive},
			{window(ct+1, ct+2), false},
			{window(ct-1, ct+1), true},
		} {
			orders := sweep(t, srv, c.q, 10)
			assert.Equal(t, c.want, slices.Contains(orderNos(orders), no), "exclusive=%v %v", exclusive, c.q)
			_, inTruth := srv.UnpaidOrderNos(c.q)[no]
			assert.Equal(t, c.want, inTruth)
			requireSameTruth(t, srv.Truth(c.q), sum(t, orders))
		}
		// Adjacent windows [a,b) [b,c) cover each order once when exclusive.
		var total int
		for a := testNow.Unix() - 31*86400; a < testNow.Unix()+86400; a += 86400 {
			total += len(sweep(t, srv, window(a, a+86400), 100))
		}
		if exclusive {
			assert.Equal(t, 300, total)
		} else {
			assert.GreaterOrEqual(t, total, 300)
		}
	}
}

func TestRateLimit(t *testing.T) {
	srv := New(Config{Seed: 1, Orders: 10, Now: testNow})
	t.Cleanup(srv.Close)
	form := srv.SignedForm(srv.Query(), 1, 10)
	const rate, burst = 40.0, 5
	srv.SetRateLimit(rate, burst)
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for range 4 {
		wg.Go(func() {
			for time.Since(start) < 1500*time.Millisecond {
				r := call(t, srv, form)
				mu.Lock()
				codes[r.code(t)]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	admitted, throttled := srv.Admitted(), srv.Throttled()
	assert.EqualValues(t, codes[0], admitted)
	assert.EqualValues(t, codes[153], throttled)
	assert.Len(t, codes, 2, "%v", codes)
	assert.LessOrEqual(t, float64(admitted), burst+rate*elapsed+1, "a bucket never admits more")
	assert.GreaterOrEqual(t, float64(admitted), rate*elapsed*0.5, "generous: the loop may be slow")
	assert.Greater(t, throttled, admitted, "the clients ask far more than the limit")

	// HTTP 429 with Retry-After instead of RetCode 153.
	srv.SetRateLimit(0.5, 1)
	srv.SetRateLimit429(true)
	status, _ := post(t, srv, form)
	assert.Equal(t, http.StatusOK, status)
	resp := postHead(t, srv, form)
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	ra, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	require.NoError(t, err)
	assert.True(t, ra >= 1 && ra <= 2, "Retry-After %d", ra)

	srv.SetRateLimit(0, 0)
	assert.Equal(t, 0, call(t, srv, form).code(t))

	// The next n requests, whatever the rate.
	srv.SetThrottleNext(2, 3*time.Second)
	for range 2 {
		resp := postHead(t, srv, form)
		assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
		assert.Equal(t, "3", resp.Header.Get("Retry-After"))
	}
	assert.Equal(t, 0, call(t, srv, form).code(t))
}

func TestRandomThrottle(t *testing.T) {
	run := func(seed int64) []int {
		srv := New(Config{Seed: 1, Orders: 10, Now: testNow})
		defer srv.Close()
		form := srv.SignedForm(srv.Query(), 1, 10)
		srv.SetRandomThrottle(0.2, seed)
		var throttled []int
		for i := range 600 {
			if call(t, srv, form).code(t) == 153 {
				throttled = append(throttled, i)
			}
		}
		assert.EqualValues(t, len(throttled), srv.Throttled())
		assert.EqualValues(t, 600-len(throttled), srv.Admitted())
		return throttled
	}
	a := run(7)
	assert.InDelta(t, 120, len(a), 40, "about 20%% of 600")
	assert.Equal(t, a, run(7), "the same requests, whatever the time")
	assert.NotEqual(t, a, run(8))
}

func TestRedirect(t *testing.T) {
	srv := New(Config{Seed: 1, Orders: 10, Now: testNow})
	t.Cleanup(srv.Close)
	form := srv.SignedForm(srv.Query(), 1, 10)
	hc := srv.Client() // does not follow
	for _, status := range []int{301, 302, 303, 307, 308} {
		srv.SetRedirect(status, "https://elsewhere.example/api/?from=simapi", 1)
		resp, err := hc.PostForm(srv.URL, form)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, status, resp.StatusCode)
		assert.Equal(t, "https://elsewhere.example/api/?from=simapi", resp.Header.Get("Location"))
		assert.Equal(t, status, srv.LastRequest().Status)
		assert.Equal(t, 0, call(t, srv, form).code(t), "only once")
	}
	// A client that follows a 307 to another server re-sends the body.
	other := New(Config{Seed: 1, Orders: 10, Now: testNow})
	t.Cleanup(other.Close)
	srv.SetRedirect(307, other.URL+"/", -1)
	r := call(t, srv, form)
	assert.Equal(t, 0, r.code(t))
	assert.Len(t, r.orders(), 10)
	assert.Equal(t, http.MethodPost, other.LastRequest().Method)
	srv.ClearFaults()
	assert.Panics(t, func() { srv.SetRedirect(200, "/", 1) })
}

func TestTLS(t *testing.T) {
	srv := NewTLS(Config{Seed: 1, Orders: 10, Now: testNow})
	t.Cleanup(srv.Close)
	require.True(t, strings.HasPrefix(srv.URL, "https://127.0.0.1:"), srv.URL)
	require.NotNil(t, srv.Certificate())
	assert.Equal(t, "127.0.0.1", srv.Certificate().IPAddresses[0].String())
	form := srv.SignedForm(srv.Query(), 1, 10)

	_, err := http.DefaultClient.PostForm(srv.URL, form)
	var unknown x509.UnknownAuthorityError
	require.ErrorAs(t, err, &unknown, "not trusted without the pool")

	for _, hc := range []*http.Client{srv.Client(), {Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: srv.CertPool()}}}} {
		resp, err := hc.PostForm(srv.URL, form)
		require.NoError(t, err)
		var r apiResp
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&r))
		resp.Body.Close()
		assert.Equal(t, "0", r.RetCode.String())
		assert.Len(t, r.Orders, 10)
	}
	other := NewTLS(Config{})
	t.Cleanup(other.Close)
	_, err = (&http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: other.CertPool()}}}).PostForm(srv.URL, form)
	assert.Error(t, err, "another server's pool does not do")

	plain := New(Config{})
	t.Cleanup(plain.Close)
	assert.Nil(t, plain.CertPool())
	assert.Nil(t, plain.Certificate())
}

func TestOutOfRange(t *testing.T) {
	srv := New(Config{Seed: 3, Orders: 2000, Now: testNow, Varied: true})
	t.Cleanup(srv.Close)
	start, end := testNow.Unix()-2*86400, testNow.Unix()-86400
	q := window(start, end)
	n := len(OutOfRangeTimes)
	srv.SetOutOfRange(n)
	seen := map[int64]bool{}
	for i := range n {
		r := call(t, srv, srv.SignedForm(q, 1+i%2, 10))
		require.Equal(t, 0, r.code(t))
		out := 0
		for _, o := range r.orders() {
			if ct := createTime(t, o); ct < start || ct > end {
				out++
				seen[ct] = true
				no := o["OrderNo"].(string)
				assert.False(t, srv.Known(no), no)
				assert.Contains(t, no, srv.data.prefix+"X")
			}
		}
		assert.Equal(t, 1, out, "answer %d", i)
		assert.Len(t, r.orders(), 10, "a full page stays full")
	}
	assert.Equal(t, map[int64]bool{start - 1: true, end + 1: true, math.MinInt64: true, 253402300800: true, -1: true, math.MaxInt64: true}, seen)
	for _, o := range page(t, srv, q, 1, 10) {
		ct := createTime(t, o)
		assert.True(t, ct >= start && ct <= end, "then clean")
	}
	// On an empty answer the order is added.
	srv.SetOutOfRange(1)
	assert.Len(t, page(t, srv, window(1, 2), 1, 10), 1)
}

func TestAtEndTime(t *testing.T) {
	srv := New(Config{Seed: 3, Orders: 2000, Now: testNow, EndTimeExclusive: true})
	t.Cleanup(srv.Close)
	start, end := testNow.Unix()-2*86400, testNow.Unix()-86400
	q := window(start, end)
	srv.SetAtEndTime(2)
	for i := range 2 {
		at := 0
		for _, o := range page(t, srv, q, 1+i, 10) {
			if createTime(t, o) == end {
				at++
				assert.False(t, srv.Known(o["OrderNo"].(string)))
			}
		}
		assert.Equal(t, 1, at, "answer %d", i)
	}
	for _, o := range page(t, srv, q, 1, 10) {
		assert.Less(t, createTime(t, o), end, "then clean: EndTime is exclusive")
	}
}

func TestDuplicate(t *testing.T) {
	srv := New(Config{Seed: 3, Orders: 105, Now: testNow})
	t.Cleanup(srv.Close)
	q := srv.Query()
	srv.SetDuplicate(2)
	full := page(t, srv, q, 1, 100)
	require.Len(t, full, 100)
	nos := orderNos(full)
	assert.Equal(t, nos[0], nos[99], "the first again, in place of the last")
	short := page(t, srv, q, 2, 100)
	require.Len(t, short, 6, "five and the repeat")
	assert.Equal(t, short[0]["OrderNo"], short[5]["OrderNo"])
	assert.Len(t, page(t, srv, q, 2, 100), 5, "then clean")
	srv.SetDuplicate(1)
	assert.Empty(t, page(t, srv, q, 3, 100), "nothing to repeat in an empty answer")
	assert.Len(t, page(t, srv, q, 2, 100), 6, "so the fault waits")
}

func TestRepeatPage(t *testing.T) {
	srv := New(Config{Seed: 3, Orders: 500, Now: testNow})
	t.Cleanup(srv.Close)
	q := srv.Query()
	_, first := post(t, srv, srv.SignedForm(q, 1, 100))
	srv.SetRepeatPage(3)
	other := window(testNow.Unix()-86400, testNow.Unix())
	for _, f := range []struct {
		q apiclient.Query
		p int
	}{{q, 3}, {other, 1}, {q, 5}} {
		_, b := post(t, srv, srv.SignedForm(f.q, f.p, 100))
		assert.True(t, bytes.Equal(first, b), "page 1 of the first query again")
	}
	_, b := post(t, srv, srv.SignedForm(q, 3, 100))
	assert.False(t, bytes.Equal(first, b), "then normal")
	assert.Len(t, decode(t, b).orders(), 100)
}
