package collector

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/debt-exporter/debt_exporter/apiclient"
	"github.com/debt-exporter/debt_exporter/money"
)

// TestAggregatorSeriesCache: with far more label sets than the cache in
// front of the series map has slots, and label values that are equal but
// not the same strings, every order lands in its own series: the sums,
// counts and oldest times are those of a plain map.
func TestAggregatorSeriesCache(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	a := newAggregator(AgeBuckets{Labels: []string{"all"}}, time.Unix(2e9, 0))
	type want struct {
		amount money.Decimal
		orders int
		oldest int64
	}
	wants := map[seriesKey]*want{}
	slots := map[int]bool{}
	for range 20000 {
		// Fresh strings each time: equal values, other pointers.
		o := apiclient.Order{
			Region:      fmt.Sprint("r", r.IntN(5)),
			ModelID:     fmt.Sprint("m", r.IntN(600)),
			ProductCode: fmt.Sprint("p", r.IntN(2)),
			Currency:    []string{"CNY", "USD"}[r.IntN(2)],
			CreateTime:  int64(1e9 + r.IntN(1e6)),
		}
		o.Amount, _ = money.ParseString(fmt.Sprintf("%d.%02d", r.IntN(1000), r.IntN(100)))
		slots[seriesSlot(&o)] = true
		a.add([]apiclient.Order{o})
		k := seriesKey{o.Region, o.ModelID, o.ProductCode, o.Currency}
		w := wants[k]
		if w == nil {
			w = &want{oldest: o.CreateTime}
			wants[k] = w
		}
		w.amount, w.orders, w.oldest = w.amount.Add(o.Amount), w.orders+1, min(w.oldest, o.CreateTime)
	}
	require.Greater(t, len(wants), 4*recentSeries, "label sets share slots")
	require.Greater(t, len(slots), recentSeries/4, "the pairs of slots are spread")
	require.Len(t, a.sums, len(wants))
	for k, w := range wants {
		v := a.sums[k]
		require.NotNil(t, v, "%v", k)
		sum := v.amount.Decimal()
		require.Zero(t, w.amount.Cmp(sum), "%v: %s, want %s", k, sum, w.amount)
		require.Equal(t, w.orders, v.orders, "%v", k)
		require.Equal(t, w.oldest, v.oldest, "%v", k)
	}
}

// TestAggregatorSeriesCacheWithInternedLabels: label values that are the
// same strings (as the decoder interns them), in more label sets than the
// cache has pairs of slots, so that sets share pairs and push each other
// out: every order still lands in its own series, as with a plain map.
func TestAggregatorSeriesCacheWithInternedLabels(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	pool := func(prefix string, n int) []string {
		var p []string
		for i := range n {
			p = append(p, fmt.Sprint(prefix, i))
		}
		return p
	}
	regions, models, products := pool("r", 4), pool("m", 400), pool("p", 3)
	models[0] = "" // no model: the empty string has no place in memory
	currencies := []string{"CNY", "USD"}
	a := newAggregator(AgeBuckets{Labels: []string{"all"}}, time.Unix(2e9, 0))
	wants := map[seriesKey]*series{}
	for range 60000 {
		o := apiclient.Order{
			Region:      regions[r.IntN(len(regions))],
			ModelID:     models[r.IntN(len(models))],
			ProductCode: products[r.IntN(len(products))],
			Currency:    currencies[r.IntN(2)],
			CreateTime:  int64(1e9 + r.IntN(1e6)),
		}
		if r.IntN(10) == 0 {
			o.ModelID = strings.Clone(o.ModelID) // now and then a copy
		}
		o.Amount, _ = money.ParseString(fmt.Sprintf("%d.%02d", r.IntN(1000), r.IntN(100)))
		a.add([]apiclient.Order{o})
		k := seriesKey{o.Region, o.ModelID, o.ProductCode, o.Currency}
		w := wants[k]
		if w == nil {
			w = &series{oldest: o.CreateTime}
			wants[k] = w
		}
		w.amount.Add(o.Amount)
		w.orders++
		w.oldest = min(w.oldest, o.CreateTime)
	}
	require.Greater(t, len(wants), recentSeries, "label sets share pairs of slots")
	require.Len(t, a.sums, len(wants))
	for k, w := range wants {
		v := a.sums[k]
		require.NotNil(t, v, "%v", k)
		require.Zero(t, w.amount.Decimal().Cmp(v.amount.Decimal()), "%v", k)
		require.Equal(t, w.orders, v.orders, "%v", k)
		require.Equal(t, w.oldest, v.oldest, "%v", k)
	}
	// An order just added comes from the cache: its series is in its pair.
	o := apiclient.Order{Region: regions[1], ModelID: models[7], ProductCode: products[2], Currency: "USD"}
	v := a.series(&o)
	slot := seriesSlot(&o)
	// Either way of the pair (which, depends on where the strings are).
	require.True(t, a.recent[slot] == v || a.recent[slot+1] == v, "the series is in its pair of slots")
	require.Same(t, v, a.series(&o))
}

// TestAggregatorSeriesCacheTellsPrefixesApart: two labels that begin at
// the same byte of one allocation ("ab" and "abc") are different values,
// and their orders go to different series, through the cache or not.
func TestAggregatorSeriesCacheTellsPrefixesApart(t *testing.T) {
	whole := strings.Clone("abcdef")
	a := newAggregator(AgeBuckets{Labels: []string{"all"}}, time.Unix(2e9, 0))
	one, _ := money.ParseString("1")
	for i := range 10 {
		region := whole[:2+i%2] // ab, abc, ab, ...
		a.add([]apiclient.Order{{Region: region, ModelID: whole[:0], ProductCode: "p", Currency: "CNY", Amount: one, CreateTime: 1e9}})
	}
	require.Len(t, a.sums, 2)
	for _, r := range []string{"ab", "abc"} {
		v := a.sums[seriesKey{r, "", "p", "CNY"}]
		require.NotNil(t, v, r)
		require.Equal(t, 5, v.orders, r)
	}
}
