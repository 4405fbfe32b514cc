package simapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/debt-exporter/debt_exporter/apiclient"
	"github.com/debt-exporter/debt_exporter/money"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var orderFields = []string{
	"Region", "OrderNo", "SourceOrderNo", "CompanyID", "OrganizationID", "OrganizationName", "UserEmail",
	"ChargeType", "ChargeTypeDisplay", "Channel", "Currency", "CurrencyDisplay", "ResourceID", "ResourceType",
	"ResourceTypeDisplay", "ModelID", "ModelName", "OrderType", "OrderTypeDisplay", "PricingSKU", "Quantity",
	"QuantityDisplay", "PricingUnit", "PricingUnitDisplay", "ListPrice", "DiscountPrice", "OrderTotalPrice",
	"OriginalPrice", "Status", "StatusDisplay", "CreateTime", "StartTime", "EndTime", "PaidTime",
	"RevocationTime", "RegionDisplay", "ProductCode", "ProductCodeDisplay",
}

func TestInvalidAmountsAreInvalid(t *testing.T) {
	for _, a := range invalidAmounts {
		_, err := money.ParseString(a.s)
		assert.Error(t, err, "%q", a.s)
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", `a"b\c`, "tab\tnl\n\x01", "深度 🚀 <&>", "\u2028", "bad\xffutf8"} {
		for _, ascii := range []bool{false, true} {
			b := appendJSONString(nil, s, ascii)
			var got string
			require.NoError(t, json.Unmarshal(b, &got), "%s", b)
			want, _ := json.Marshal(s) // encoding/json also turns bad UTF-8 into U+FFFD
			var wantS string
			require.NoError(t, json.Unmarshal(want, &wantS))
			assert.Equal(t, wantS, got)
			if ascii {
				for _, c := range b {
					assert.Less(t, c, byte(0x80), "%s", b)
				}
			}
		}
	}
}

func TestPagination(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
	}{
		{"plain", Config{}},
		{"data wrapped", Config{DataWrapped: true}},
		{"numbers as strings", Config{NumbersAsStrings: true}},
		{"total count", Config{SendTotalCount: true}},
		{"memo", Config{MemoResponses: true}},
		{"varied", Config{Varied: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg
			cfg.Seed, cfg.Orders, cfg.Now, cfg.InvalidAmountEvery = 7, 1234, testNow, 37
			srv := New(cfg)
			t.Cleanup(srv.Close)
			q := srv.Query()

			orders := sweep(t, srv, q, 100)
			require.Len(t, orders, 1234)
			assert.EqualValues(t, 13, srv.Requests(), "12 full pages and a short one")
			r := call(t, srv, srv.SignedForm(q, 13, 100))
			assert.Len(t, r.orders(), 34)
			if cfg.SendTotalCount {
				require.NotNil(t, r.TotalCount)
				assert.Equal(t, "1234", r.TotalCount.String())
			} else {
				assert.Nil(t, r.TotalCount)
			}
			assert.Empty(t, call(t, srv, srv.SignedForm(q, 14, 100)).orders(), "past the end")
			assert.Empty(t, call(t, srv, srv.SignedForm(q, 99, 100)).orders(), "far past the end")

			seen := map[string]bool{}
			for i, o := range orders {
				require.Len(t, o, 38)
				for _, f := range orderFields {
					require.Contains(t, o, f)
				}
				no := o["OrderNo"].(string)
				require.False(t, seen[no], "duplicate %s", no)
				seen[no] = true
				if i > 0 {
					prev := orders[i-1]
					pt, ct := createTime(t, prev), createTime(t, o)
					require.True(t, pt > ct || (pt == ct && prev["OrderNo"].(string) < no), "sort order at %d", i)
				}
				if cfg.NumbersAsStrings {
					assert.IsType(t, "", o["Quantity"])
				} else {
					assert.IsType(t, json.Number(""), o["Quantity"])
				}
				if !cfg.Varied {
					assert.IsType(t, "", o["CreateTime"])
				}
			}

			want := srv.Truth(q)
			assert.Equal(t, 1234/37, want.Invalid)
			requireSameTruth(t, want, sum(t, orders))

			// Deterministic: the same query at another page size gives the
			// same orders, and a new server with the same Config the same bytes.
			assert.Equal(t, orders, sweep(t, srv, q, 10))
			srv2 := New(cfg)
			t.Cleanup(srv2.Close)
			_, a := post(t, srv, srv.SignedForm(q, 5, 100))
			_, b := post(t, srv2, srv2.SignedForm(q, 5, 100))
			assert.Equal(t, a, b)
		})
	}
}

func TestDatasetShape(t *testing.T) {
	srv := New(Config{Seed: 11, Orders: 5000, Now: testNow, Span: 7 * 24 * time.Hour})
	t.Cleanup(srv.Close)
	q := srv.Query()
	tr := srv.Truth(q)
	assert.Equal(t, 5000, tr.Matched)
	regions, models, products, currencies := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	for k := range tr.Series {
		regions[k.Region], models[k.ModelID], products[k.ProductCode], currencies[k.Currency] = true, true, true, true
	}
	assert.Len(t, regions, 6, "five regions and the empty one")
	assert.True(t, regions[""] && models[""])
	assert.Len(t, models, 7)
	assert.Equal(t, map[string]bool{"modelverse": true, "sandbox": true}, products)
	assert.Equal(t, map[string]bool{"CNY": true, "USD": true}, currencies)
	assert.Greater(t, len(tr.Series), 40)
	for k, s := range tr.Series {
		assert.GreaterOrEqual(t, s.Oldest, testNow.Add(-7*24*time.Hour).Unix(), "%+v", k)
	}

	_, body := post(t, srv, srv.SignedForm(q, 1, 100))
	assert.Contains(t, string(body), `\"Quoted\"`)
	assert.Contains(t, string(body), `\u6df1\u5ea6`, "CJK sent as escapes")
	assert.Contains(t, string(body), `\ud83d\ude80`, "emoji as a surrogate pair")
	assert.Contains(t, string(body), `华北二`, "raw UTF-8 elsewhere")
	r := decode(t, body)
	names := map[string]bool{}
	for _, o := range r.orders() {
		names[o["OrganizationName"].(string)] = true
		assert.Regexp(t, `^-?\d+(\.\d{1,8})?$`, o["OrderTotalPrice"])
		assert.EqualValues(t, "0", o["PaidTime"].(json.Number).String())
	}
	assert.True(t, names[`Acme "Quoted" AI Labs`])
	assert.True(t, names["Back\\slash <R&D> 🚀 Ltd."])
}

func TestFilters(t *testing.T) {
	srv := New(Config{Seed: 5, Orders: 3000, Now: testNow, InvalidAmountEvery: 50})
	t.Cleanup(srv.Close)
	all := srv.Query()
	mid := testNow.Add(-10 * 24 * time.Hour)
	with := func(f func(q *apiclient.Query)) apiclient.Query { q := all; f(&q); return q }
	cases := []struct {
		name  string
		q     apiclient.Query
		check func(o map[string]any) bool
	}{
		{"resource ids", with(func(q *apiclient.Query) { q.ResourceIDs = []string{"uk-3fa9c21e", "uk-c47b0f62"} }),
			func(o map[string]any) bool {
				return o["ResourceID"] == "uk-3fa9c21e" || o["ResourceID"] == "uk-c47b0f62"
			}},
		{"model ids", with(func(q *apiclient.Query) { q.ModelIDs = []string{"deepseek-r1", "glm-4"} }),
			func(o map[string]any) bool { return o["ModelID"] == "deepseek-r1" || o["ModelID"] == "glm-4" }},
		{"pricing units", with(func(q *apiclient.Query) { q.PricingUnits = []int{UnitImage, UnitSecond} }),
			func(o map[string]any) bool {
				return o["PricingUnitDisplay"] == "Image" || o["PricingUnitDisplay"] == "Second"
			}},
		{"order types", with(func(q *apiclient.Query) { q.OrderTypes = []int{OrderTypeAdjustment} }),
			func(o map[string]any) bool { return o["OrderType"].(json.Number) == "2" }},
		{"regions", with(func(q *apiclient.Query) { q.Regions = []string{"hk", "us-ca"} }),
			func(o map[string]any) bool { return o["Region"] == "hk" || o["Region"] == "us-ca" }},
		{"pricing skus", with(func(q *apiclient.Query) { q.PricingSKUs = []string{"sandbox-2c4g", "qwen-max-output"} }),
			func(o map[string]any) bool {
				return o["PricingSKU"] == "sandbox-2c4g" || o["PricingSKU"] == "qwen-max-output"
			}},
		{"product codes", with(func(q *apiclient.Query) { q.ProductCodes = []string{ProductSandbox} }),
			func(o map[string]any) bool { return o["ProductCode"] == "sandbox" && o["ModelID"] == "" }},
		{"window", with(func(q *apiclient.Query) { q.Start = mid.Add(-5 * 24 * time.Hour); q.End = mid }),
			func(o map[string]any) bool {
				ct, _ := strconv.ParseInt(o["CreateTime"].(string), 10, 64)
				return ct >= mid.Unix()-5*86400 && ct <= mid.Unix()
			}},
		{"combined", with(func(q *apiclient.Query) {
			q.Start = mid
			q.Regions = []string{"cn-wlcb"}
			q.ProductCodes = []string{ProductModelVerse, ProductSandbox}
			q.PricingUnits = []int{UnitKTokens}
		}), func(o map[string]any) bool { return o["Region"] == "cn-wlcb" && o["PricingUnit"].(json.Number) == "1" }},
		{"nothing matches", with(func(q *apiclient.Query) { q.Regions = []string{"eu-fr"} }), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			orders := sweep(t, srv, c.q, 100)
			want := srv.Truth(c.q)
			if c.check == nil {
				assert.Empty(t, orders)
			} else {
				assert.Greater(t, want.Matched, 10, "the case should select something")
				assert.Less(t, want.Matched, 3000, "the case should filter something")
			}
			for _, o := range orders {
				require.True(t, c.check(o), "%v", o)
			}
			requireSameTruth(t, want, sum(t, orders))
		})
	}
}

// Both ends of the window are inclusive, in Truth and on the wire.
func TestWindowBoundaries(t *testing.T) {
	srv := New(Config{Seed: 9, Orders: 200, Now: testNow})
	t.Cleanup(srv.Close)
	ct := srv.data.gen(100).createTime
	no := srv.data.orderNo(100)
	for _, c := range []struct {
		q    apiclient.Query
		want bool
	}{
		{window(ct, ct+1), true},
		{window(ct-1, ct), true},
		{window(ct+1, ct+2), false},
		{window(ct-2, ct-1), false},
	} {
		orders := sweep(t, srv, c.q, 10)
		found := false
		for _, o := range orders {
			found = found || o["OrderNo"] == no
		}
		assert.Equal(t, c.want, found, "%+v", c.q)
		requireSameTruth(t, srv.Truth(c.q), sum(t, orders))
	}
}

// A million orders: Truth is fast and pages are cheap and consistent.
func TestMillion(t *testing.T) {
	if testing.Short() {
		t.Skip("large dataset")
	}
	srv := New(Config{Seed: 42, Orders: 1_000_000, Now: testNow, InvalidAmountEvery: 1000})
	t.Cleanup(srv.Close)
	q := srv.Query()
	start := time.Now()
	tr := srv.Truth(q)
	t.Logf("Truth of a million orders in %v", time.Since(start)) // a figure, not a bound: the machine is shared
	assert.Equal(t, 1_000_000, tr.Matched)
	assert.Equal(t, 1000, tr.Invalid)

	r := call(t, srv, srv.SignedForm(q, 10_000, 100))
	assert.Len(t, r.orders(), 100)
	assert.Empty(t, call(t, srv, srv.SignedForm(q, 10_001, 100)).orders())

	// The first and last pages agree with Truth of their own windows.
	first := call(t, srv, srv.SignedForm(q, 1, 100)).orders()
	newest, _ := strconv.ParseInt(first[0]["CreateTime"].(string), 10, 64)
	assert.LessOrEqual(t, newest, testNow.Unix())
	assert.Greater(t, newest, testNow.Unix()-60)

	filtered := q
	filtered.Regions = []string{"us-ca"}
	filtered.ModelIDs = []string{"glm-4"}
	start = time.Now()
	ft := srv.Truth(filtered)
	t.Logf("filtered Truth in %v", time.Since(start))
	requireSameTruth(t, ft, sum(t, sweep(t, srv, filtered, 100)))
}

func TestPrerender(t *testing.T) {
	srv := New(Config{Seed: 8, Orders: 2500, Now: testNow})
	t.Cleanup(srv.Close)
	q := srv.Query()
	_, before := post(t, srv, srv.SignedForm(q, 3, 100))
	assert.Equal(t, 26, srv.Prerender(q, 100))
	srv.memoMu.RLock()
	assert.Len(t, srv.memo, 26)
	srv.memoMu.RUnlock()
	_, after := post(t, srv, srv.SignedForm(q, 3, 100))
	assert.True(t, bytes.Equal(before, after))
	requireSameTruth(t, srv.Truth(q), sum(t, sweep(t, srv, q, 100)))
	srv.PostAt(1, testNow)
	srv.memoMu.RLock()
	assert.Zero(t, len(srv.memo), "a change drops the memo")
	srv.memoMu.RUnlock()
	_, changed := post(t, srv, srv.SignedForm(q, 3, 100))
	assert.False(t, bytes.Equal(before, changed), "a change to the set is not hidden by the memo")
}

func TestMinScale(t *testing.T) {
	for _, c := range []struct {
		v8   int64
		want int
	}{{0, 0}, {1e8, 0}, {5e8, 0}, {1, 8}, {10, 7}, {1e7, 1}, {12_340_000, 4}, {-150_000_000, 1}, {100, 6}, {1_000, 5}, {123_456_780, 7}} {
		assert.Equal(t, c.want, minScale(c.v8), "%d", c.v8)
		d, err := money.Parse(appendFixed8(nil, c.v8, c.want))
		require.NoError(t, err)
		assert.Equal(t, strconv.FormatFloat(float64(c.v8)/1e8, 'f', -1, 64), strconv.FormatFloat(d.Float64(), 'f', -1, 64))
	}
}

// TestInvalidCreateTimes checks InvalidCreateTimeEvery: the orders it
// marks are served with a CreateTime that is no integer, still within the
// slices that hold their real time, and Truth counts them apart.
func TestInvalidCreateTimes(t *testing.T) {
	for _, varied := range []bool{false, true} {
		srv := New(Config{Seed: 9, Orders: 1500, Now: testNow, Varied: varied, InvalidAmountEvery: 7, InvalidCreateTimeEvery: 10})
		q := srv.Query()
		bad := 0
		var valid []map[string]any
		for _, o := range sweep(t, srv, q, 100) {
			s := fmt.Sprint(o["CreateTime"])
			if _, err := strconv.ParseInt(s, 10, 64); err != nil {
				bad++
				continue
			}
			valid = append(valid, o)
		}
		want := srv.Truth(q)
		assert.Equal(t, 150, bad, "varied=%v: one order in ten", varied)
		assert.Equal(t, bad, want.InvalidCreateTime, "varied=%v", varied)
		got := sum(t, valid)
		got.Matched += bad
		requireSameTruth(t, want, got)
		srv.Close()
	}
}

// TestDailyPeaks checks the daily cycle: every order still in the window,
// in the sort order, and the hour of the day at the peak holding several
// times the orders of the hour at the trough.
func TestDailyPeaks(t *testing.T) {
	d := newDataset(3, 200000, testNow.Unix(), int64(DefaultSpan/time.Second), 0, false)
	d.dailyPeaks = true
	var perHour [24]int
	prev := d.now + 1
	for i := range d.n {
		ct := d.createTime(i)
		require.LessOrEqual(t, ct, prev, "non-increasing in the id")
		require.Greater(t, ct, d.now-int64(d.span), "in the window")
		prev = ct
		perHour[((d.now-ct)%86400)/3600]++
	}
	lo, hi := perHour[0], perHour[0]
	for _, n := range perHour {
		lo, hi = min(lo, n), max(hi, n)
	}
	assert.Greater(t, float64(hi)/float64(lo), 5.0, "peak hour %d, trough hour %d orders", hi, lo)
}

// TestDailyPeaksFillAnySpan: whatever the window's length, a whole number
// of days or not, the cycle fills it, with no second piling up orders.
func TestDailyPeaksFillAnySpan(t *testing.T) {
	for _, span := range []uint64{3600, 86400, 151200, 3 * 86400 / 2, 100000} {
		perSecond := map[uint64]int{}
		var last uint64
		for q := range span {
			tm := peaked(q, span)
			require.Less(t, tm, span)
			require.GreaterOrEqual(t, tm, last, "increasing in q")
			last = tm
			perSecond[tm]++
		}
		for s, n := range perSecond {
			require.LessOrEqual(t, n, 6, "span %d: %d offsets on second %d", span, n, s)
		}
		assert.Greater(t, last, span-span/50, "span %d: the oldest part is filled", span)
	}
}
