package simapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFaultHTTP(t *testing.T) {
	srv := New(Config{Seed: 1, Orders: 20, Now: testNow})
	t.Cleanup(srv.Close)
	form := srv.SignedForm(srv.Query(), 1, 100)
	for _, status := range []int{502, 503, 504, 500, 429} {
		srv.FailHTTP(status, 2)
		for range 2 {
			got, body := post(t, srv, form)
			assert.Equal(t, status, got)
			assert.Contains(t, string(body), "injected")
		}
		got, _ := post(t, srv, form)
		assert.Equal(t, http.StatusOK, got, "only the next two")
	}
	srv.FailHTTP(503, -1)
	for range 5 {
		got, _ := post(t, srv, form)
		assert.Equal(t, 503, got)
	}
	assert.Equal(t, 503, srv.LastRequest().Status)
	srv.ClearFaults()
	got, _ := post(t, srv, form)
	assert.Equal(t, http.StatusOK, got)
}

func TestFaultRetCode(t *testing.T) {
	srv := New(Config{Seed: 1, Orders: 20, Now: testNow, NumbersAsStrings: true})
	t.Cleanup(srv.Close)
	form := srv.SignedForm(srv.Query(), 1, 100)
	for _, code := range []int{153, 150, 110, 171, 172, 230, 2001} {
		srv.FailRetCode(code, 1)
		r := call(t, srv, form)
		assert.Equal(t, code, r.code(t))
		assert.Equal(t, code, srv.LastRequest().RetCode)
		assert.Empty(t, r.orders())
		assert.Equal(t, 0, call(t, srv, form).code(t))
	}
	srv.FailRetCode(153, 1)
	_, body := post(t, srv, form)
	assert.Contains(t, string(body), `"RetCode":"153"`, "NumbersAsStrings applies to RetCode")

	srv.FailRetCode(150, -1)
	for range 3 {
		assert.Equal(t, 150, call(t, srv, form).code(t))
	}
	srv.FailRetCode(150, 0)
	assert.Equal(t, 0, call(t, srv, form).code(t))
}

func TestFaultLatency(t *testing.T) {
	srv := New(Config{Seed: 1, Orders: 20, Now: testNow})
	t.Cleanup(srv.Close)
	form := srv.SignedForm(srv.Query(), 1, 100)
	srv.SetLatency(200 * time.Millisecond)
	start := time.Now()
	assert.Equal(t, 0, call(t, srv, form).code(t))
	assert.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)

	// A client that gives up is not kept waiting, and the server notices.
	// (Bounds far from the latency, not tight ones: the machine is shared.)
	srv.SetLatency(10 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	start = time.Now()
	_, err := http.DefaultClient.Do(req)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 5*time.Second)

	srv.SetLatency(0)
	start = time.Now()
	call(t, srv, form)
	assert.Less(t, time.Since(start), 5*time.Second, "no latency once cleared")
}

// TestHold: a held request is counted and waits, answered only once
// released, and a later one is not held; ClearFaults leaves a hold on.
func TestHold(t *testing.T) {
	srv := New(Config{Seed: 1, Orders: 20, Now: testNow})
	t.Cleanup(srv.Close)
	form := srv.SignedForm(srv.Query(), 1, 100)
	release := srv.Hold()
	srv.ClearFaults()
	answered := make(chan int, 1)
	go func() { answered <- call(t, srv, form).code(t) }()
	require.Eventually(t, func() bool { return srv.Requests() == 1 }, 10*time.Second, time.Millisecond)
	select {
	case code := <-answered:
		t.Fatalf("answered (RetCode %d) while held", code)
	case <-time.After(50 * time.Millisecond):
	}
	release()
	assert.Equal(t, 0, <-answered)
	release() // twice: no panic
	assert.Equal(t, 0, call(t, srv, form).code(t), "not held once released")
}

func TestFaultTruncate(t *testing.T) {
	srv := New(Config{Seed: 1, Orders: 250, Now: testNow, MemoResponses: true})
	t.Cleanup(srv.Close)
	q := srv.Query()
	srv.TruncatePage(2, 1)
	_, full1 := post(t, srv, srv.SignedForm(q, 1, 100))
	assert.True(t, json.Valid(full1))
	status, cut := post(t, srv, srv.SignedForm(q, 2, 100))
	assert.Equal(t, http.StatusOK, status)
	assert.False(t, json.Valid(cut), "page 2 is cut")
	_, full2 := post(t, srv, srv.SignedForm(q, 2, 100))
	assert.True(t, json.Valid(full2), "only once")
	assert.Equal(t, full2[:len(cut)], cut, "cut in the middle of the real page")
	assert.Len(t, cut, len(full2)/2)

	srv.TruncatePage(3, -1)
	for range 3 {
		_, b := post(t, srv, srv.SignedForm(q, 3, 100))
		assert.False(t, json.Valid(b))
	}
}

func TestFaultPageCap(t *testing.T) {
	srv := New(Config{Seed: 1, Orders: 120, Now: testNow, SendTotalCount: true})
	t.Cleanup(srv.Close)
	q := srv.Query()
	whole := call(t, srv, srv.SignedForm(q, 1, 100)).orders()
	require.Len(t, whole, 100)
	srv.SetPageCap(30)
	var capped []map[string]any
	for page := 1; page <= 5; page++ {
		r := call(t, srv, srv.SignedForm(q, page, 100))
		require.Equal(t, 0, r.code(t))
		assert.Equal(t, "120", r.TotalCount.String(), "the whole query, page %d", page)
		want := 30
		if page == 5 {
			want = 0
		}
		require.Len(t, r.orders(), want, "page %d", page)
		capped = append(capped, r.orders()...)
	}
	assert.Equal(t, whole, capped[:100], "pages of 30 from position (p-1)*30")
	assert.Len(t, call(t, srv, srv.SignedForm(q, 1, 20)).orders(), 20, "below the cap, PageSize as asked")
	srv.SetPageCap(0)
	assert.Len(t, call(t, srv, srv.SignedForm(q, 1, 100)).orders(), 100)
}

func TestFaultEndless(t *testing.T) {
	srv := New(Config{Seed: 1, Orders: 45, Now: testNow, SendTotalCount: true})
	t.Cleanup(srv.Close)
	q := srv.Query()
	q.Regions = []string{"cn-wlcb"}
	srv.SetEndless(true)
	seen := map[string]bool{}
	for _, page := range []int{1, 2, 3, 50, 1000} {
		r := call(t, srv, srv.SignedForm(q, page, 100))
		require.Equal(t, 0, r.code(t))
		assert.Nil(t, r.TotalCount, "no count to stop at")
		require.Len(t, r.orders(), 100, "page %d", page)
		for _, o := range r.orders() {
			no := o["OrderNo"].(string)
			assert.False(t, seen[no], "fresh OrderNo %s", no)
			seen[no] = true
			assert.Equal(t, "cn-wlcb", o["Region"], "filters still apply")
		}
	}
	srv.SetEndless(false)
	assert.Less(t, len(call(t, srv, srv.SignedForm(q, 1, 100)).orders()), 45)
}

func TestFaultShift(t *testing.T) {
	srv := New(Config{Seed: 4, Orders: 350, Now: testNow, InvalidAmountEvery: 40})
	t.Cleanup(srv.Close)
	q := srv.Query()
	before := srv.Truth(q)
	srv.ShiftAfterPage(2, 30)

	orders := sweep(t, srv, q, 100)
	assert.EqualValues(t, 30, srv.Shifted())
	// 200 served before the shift, then pages 3 and 4 of a list of 380 start
	// 30 orders earlier: those 30 come twice.
	require.Len(t, orders, 380-200+200)
	byNo := map[string]map[string]any{}
	dups := 0
	for _, o := range orders {
		no := o["OrderNo"].(string)
		if _, ok := byNo[no]; ok {
			dups++
		}
		byNo[no] = o
	}
	assert.Equal(t, 30, dups)

	after := srv.Truth(q)
	assert.Equal(t, before.Matched+30, after.Matched)
	// The 30 new orders were not served (they went in front of page 1 after
	// it was read); a fresh sweep sees them all.
	var deduped []map[string]any
	for _, o := range byNo {
		deduped = append(deduped, o)
	}
	requireSameTruth(t, before, sum(t, deduped))
	requireSameTruth(t, after, sum(t, sweep(t, srv, q, 100)))

	first := call(t, srv, srv.SignedForm(q, 1, 100)).orders()
	var shifted int
	for _, o := range first[:40] {
		if strings.HasPrefix(o["OrderNo"].(string), srv.data.prefix+"2") {
			shifted++
			assert.Equal(t, "1769904000", o["CreateTime"], "new orders are created at Now")
		}
	}
	assert.Equal(t, 30, shifted, "new orders come first")
}

func TestRequestLogRing(t *testing.T) {
	srv := New(Config{Seed: 1, Orders: 10, Now: testNow})
	t.Cleanup(srv.Close)
	q := srv.Query()
	for page := 1; page <= LoggedRequests+10; page++ {
		post(t, srv, srv.SignedForm(q, page, 10))
	}
	assert.EqualValues(t, LoggedRequests+10, srv.Requests())
	last := srv.LastRequests(1000)
	require.Len(t, last, LoggedRequests)
	assert.Equal(t, "11", last[0].Params.Get("Page"))
	assert.Equal(t, "266", last[len(last)-1].Params.Get("Page"))
	for _, r := range last {
		assert.NotContains(t, r.RawQuery, "Signature")
	}
}

// Faults set while requests are in flight: run with -race.
func TestFaultsConcurrent(t *testing.T) {
	srv := New(Config{Seed: 1, Orders: 500, Now: testNow, MemoResponses: true})
	t.Cleanup(srv.Close)
	q := srv.Query()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 25 {
				status, _ := post(t, srv, srv.SignedForm(q, 1+(w+i)%6, 100))
				assert.Contains(t, []int{http.StatusOK, http.StatusServiceUnavailable}, status)
			}
		})
	}
	wg.Go(func() {
		for i := range 50 {
			srv.FailHTTP(503, 1)
			srv.FailRetCode(153, 1)
			srv.TruncatePage(i%6+1, 1)
			srv.SetEndless(i%2 == 0)
			srv.ShiftAfterPage(i%6+1, 1)
			srv.SetLatency(time.Duration(i%3) * time.Millisecond)
			_ = srv.Truth(q)
			_ = srv.LastRequests(5)
		}
		srv.ClearFaults()
	})
	wg.Wait()
	assert.EqualValues(t, 100, srv.Requests())
}
