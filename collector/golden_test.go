package collector

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/debt-exporter/debt_exporter/apiclient"
	"github.com/debt-exporter/debt_exporter/money"
)

var update = flag.Bool("update", false, "rewrite testdata/*.prom from the collector's output")

// literalAPI answers ListUnpaidOrders from literal orders: each order's
// bytes exactly as written in a testdata file, served for whatever time
// slice is asked (StartTime <= CreateTime <= EndTime), in file order, paged
// by Page and PageSize. It checks nothing else: the strict server is simapi.
type literalAPI struct {
	orders []literalOrder
	mu     sync.Mutex
	asked  int
}

type literalOrder struct {
	raw        json.RawMessage
	createTime int64 // unparsable: served for every slice
	timeOK     bool
}

func newLiteralAPI(t *testing.T, files ...string) *literalAPI {
	t.Helper()
	api := &literalAPI{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		var page struct {
			Orders []json.RawMessage
			Data   struct{ Orders []json.RawMessage }
		}
		require.NoError(t, json.Unmarshal(b, &page), f)
		for _, raw := range append(page.Orders, page.Data.Orders...) {
			api.add(t, raw)
		}
	}
	return api
}

func (a *literalAPI) add(t testing.TB, raw json.RawMessage) {
	var o struct{ CreateTime json.RawMessage }
	require.NoError(t, json.Unmarshal(raw, &o))
	ct, err := strconv.ParseInt(strings.Trim(string(o.CreateTime), `"`), 10, 64)
	a.orders = append(a.orders, literalOrder{raw: raw, createTime: ct, timeOK: err == nil})
}

func (a *literalAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.asked++
	a.mu.Unlock()
	_ = r.ParseForm()
	num := func(k string) int64 { n, _ := strconv.ParseInt(r.PostForm.Get(k), 10, 64); return n }
	start, end, page, size := num("StartTime"), num("EndTime"), num("Page"), num("PageSize")
	var match []json.RawMessage
	for _, o := range a.orders {
		if !o.timeOK || (o.createTime >= start && o.createTime <= end) {
			match = append(match, o.raw)
		}
	}
	from := min(int64(len(match)), (page-1)*size)
	to := min(int64(len(match)), from+size)
	body := bytes.NewBufferString(`{"Action":"ListUnpaidOrdersResponse","RetCode":0,"Orders":[`)
	for i, o := range match[from:to] {
		if i > 0 {
			body.WriteByte(',')
		}
		body.Write(o)
	}
	body.WriteString("]}")
	_, _ = w.Write(body.Bytes())
}

func literalCollector(t *testing.T, api http.Handler, mod func(*Config)) (*Collector, *logBuffer) {
	t.Helper()
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	client, err := apiclient.New(apiclient.Config{Endpoint: srv.URL, PublicKey: "pub", PrivateKey: privateKey})
	require.NoError(t, err)
	logs := &logBuffer{}
	cfg := Config{Client: client, Window: window, Now: func() time.Time { return now }, MaxTimeout: 10 * time.Second,
		AgeBuckets: NewAgeBuckets([]time.Duration{24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour}, []string{"1d", "7d", "30d"}),
		Logger:     log.NewLogfmtLogger(logs)}
	if mod != nil {
		mod(&cfg)
	}
	return New(cfg), logs
}

// goldenMetrics are the series whose values depend only on the orders.
var goldenMetrics = []string{"debt_unpaid_amount", "debt_unpaid_orders", "debt_unpaid_oldest_order_timestamp_seconds",
	"debt_unpaid_amount_by_age", "debt_unpaid_orders_by_age", "debt_invalid_orders", "debt_up", "debt_window_seconds",
	"debt_series_folded"}

// TestGoldenExposition: three literal API answers (testdata/orders-*.json:
// escapes, raw UTF-8, strings and numbers for CreateTime, a credit, eight
// decimals, a 43-digit amount, a NUL in a ModelID, invalid fields) give
// exactly testdata/golden.prom. Run with -update to rewrite it, and read
// the diff.
func TestGoldenExposition(t *testing.T) {
	files, err := filepath.Glob("testdata/orders-*.json")
	require.NoError(t, err)
	require.Len(t, files, 3)
	coll, _ := literalCollector(t, newLiteralAPI(t, files...), nil)
	got, err := testutil.CollectAndFormat(coll, expfmt.TypeTextPlain, goldenMetrics...)
	require.NoError(t, err)
	golden := filepath.Join("testdata", "golden.prom")
	if *update {
		require.NoError(t, os.WriteFile(golden, got, 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got), "run go test ./collector -run TestGoldenExposition -update, and read the diff")
	// The golden file itself must be valid exposition, lint clean.
	problems, err := testutil.CollectAndLint(coll, goldenMetrics...)
	require.NoError(t, err)
	assert.Empty(t, problems)
}

// TestGoldenCatchesOneCharacter: the comparison above is exact to the
// last decimal. One character of one input order changed (UO-1002's
// amount, 0.00000001 to 0.00000002) makes the output differ from the
// golden file, and only in the amount series of that order's labels
// (its series, and its age bucket of debt_unpaid_amount_by_age).
func TestGoldenCatchesOneCharacter(t *testing.T) {
	want, err := os.ReadFile(filepath.Join("testdata", "golden.prom"))
	require.NoError(t, err)
	files, err := filepath.Glob("testdata/orders-*.json")
	require.NoError(t, err)
	api := newLiteralAPI(t, files...)
	changed := 0
	for i, o := range api.orders {
		if bytes.Contains(o.raw, []byte(`"UO-1002"`)) {
			raw := bytes.Replace(o.raw, []byte(`"0.00000001"`), []byte(`"0.00000002"`), 1)
			require.NotEqual(t, string(o.raw), string(raw))
			api.orders[i].raw = raw
			changed++
		}
	}
	require.Equal(t, 1, changed)
	coll, _ := literalCollector(t, api, nil)
	got, err := testutil.CollectAndFormat(coll, expfmt.TypeTextPlain, goldenMetrics...)
	require.NoError(t, err)
	wantLines, gotLines := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	require.Len(t, gotLines, len(wantLines), "the same series")
	var differ []string
	for i := range wantLines {
		if wantLines[i] != gotLines[i] {
			differ = append(differ, gotLines[i])
		}
	}
	require.NotEmpty(t, differ, "a change in the eighth decimal of one order went unseen")
	sawSeries := false
	for _, line := range differ {
		assert.True(t, strings.HasPrefix(line, "debt_unpaid_amount"), line)
		assert.Contains(t, line, `region="cn-wlcb"`)
		assert.Contains(t, line, `currency="CNY"`)
		if strings.HasPrefix(line, "debt_unpaid_amount{") {
			assert.Contains(t, line, `model="deepseek-r1"`)
			sawSeries = true
		}
	}
	assert.True(t, sawSeries, "the order's own series changed: %q", differ)
}

// TestCardinalityIsCapped: 5,000 distinct models in one region, product
// and currency, with --metrics.max-series 100: at most 100 series, the
// smallest folded into model="(other)", the totals exact, one warning.
func TestCardinalityIsCapped(t *testing.T) {
	api := &literalAPI{}
	var total money.Decimal
	for i := range 5000 {
		amount := fmt.Sprintf("%d.%02d", i%7+1, i%100)
		d, err := money.ParseString(amount)
		require.NoError(t, err)
		total = total.Add(d)
		n := 1 + i%3 // some models have more orders than others
		for k := range n {
			raw := fmt.Sprintf(`{"OrderNo":"O-%d-%d","Region":"cn-wlcb","ModelID":"model-%05d","ProductCode":"modelverse","Currency":"CNY","OrderTotalPrice":%q,"CreateTime":%d}`,
				i, k, i, amount, now.Unix()-int64(i*100+k))
			api.add(t, json.RawMessage(raw))
			if k > 0 {
				total = total.Add(d)
			}
		}
	}
	coll, logs := literalCollector(t, api, func(c *Config) { c.MaxSeries = 100 })
	sums, _, _, err := coll.SweepOnce(t.Context())
	require.NoError(t, err)
	assert.Len(t, sums, 100)
	var got money.Decimal
	other := 0
	for _, s := range sums {
		got = got.Add(s.Amount)
		if s.Model == OtherModel {
			other++
		}
	}
	assert.Equal(t, 1, other)
	assert.Zero(t, got.Cmp(total), "total %s, want %s", got, total)
	assert.Equal(t, 1, logs.count("too many series"))
	m := gather(t, coll)
	assert.Equal(t, []float64{4901}, m["debt_series_folded"])
}

// TestAModelNamedOtherTakesTheFold: a real model named "(other)" (five
// orders of 10) and two smaller ones, with --metrics.max-series 2. Folding
// small-a must not make a second series labelled model="(other)": the
// registry would drop one, and /metrics serve a wrong total with debt_up 1.
// small-a is added to the real "(other)" instead, small-b is kept, and the
// CNY total stays 53. Below the cap, "(other)" is shown as itself.
func TestAModelNamedOtherTakesTheFold(t *testing.T) {
	api := &literalAPI{}
	add := func(no, model, amount string) {
		api.add(t, json.RawMessage(fmt.Sprintf(`{"OrderNo":%q,"Region":"cn","ModelID":%q,"ProductCode":"modelverse","Currency":"CNY","OrderTotalPrice":%q,"CreateTime":%d}`,
			no, model, amount, now.Unix()-3600)))
	}
	for i := range 5 {
		add(fmt.Sprintf("o%d", i), OtherModel, "10")
	}
	add("a1", "small-a", "1")
	add("b1", "small-b", "2")
	expect := func(amounts, folded string) *strings.Reader {
		return strings.NewReader("# HELP debt_unpaid_amount " + helpUnpaidAmount + "\n# TYPE debt_unpaid_amount gauge\n" + amounts +
			"# HELP debt_series_folded " + helpFolded + "\n# TYPE debt_series_folded gauge\ndebt_series_folded " + folded + "\n")
	}

	coll, logs := literalCollector(t, api, func(c *Config) { c.MaxSeries = 2 })
	require.NoError(t, testutil.CollectAndCompare(coll, expect(`debt_unpaid_amount{currency="CNY",model="(other)",product_code="modelverse",region="cn"} 51
debt_unpaid_amount{currency="CNY",model="small-b",product_code="modelverse",region="cn"} 2
`, "1"), "debt_unpaid_amount", "debt_series_folded"))
	body := scrapeWith(&fixture{coll: coll, logs: logs}, "10")
	assert.Contains(t, body, "\ndebt_up 1\n")
	assert.Contains(t, body, `debt_unpaid_amount{currency="CNY",model="(other)",product_code="modelverse",region="cn"} 51`)
	assert.Contains(t, body, `debt_unpaid_orders{currency="CNY",model="(other)",product_code="modelverse",region="cn"} 6`)
	assert.NotContains(t, logs.String(), "could not send", "the registry took every series")

	coll, _ = literalCollector(t, api, func(c *Config) { c.MaxSeries = 3 })
	require.NoError(t, testutil.CollectAndCompare(coll, expect(`debt_unpaid_amount{currency="CNY",model="(other)",product_code="modelverse",region="cn"} 50
debt_unpaid_amount{currency="CNY",model="small-a",product_code="modelverse",region="cn"} 1
debt_unpaid_amount{currency="CNY",model="small-b",product_code="modelverse",region="cn"} 2
`, "0"), "debt_unpaid_amount", "debt_series_folded"))
}

// TestMaxSeriesIsACapBeyondTheGroups: 6 regions x 2 products x 2
// currencies are 24 groups of 3 models, more groups than --metrics.max-series
// 5. One "(other)" per group would be 24 series; the cap holds: the largest
// groups are kept, the others summed per currency into region, model and
// product_code "(other)", the totals and age buckets exact per currency.
// Only a cap below the currencies is passed: one series per currency.
func TestMaxSeriesIsACapBeyondTheGroups(t *testing.T) {
	api := &literalAPI{}
	type tally struct {
		amount money.Decimal
		orders int
	}
	want := map[string]*tally{"CNY": {}, "USD": {}}
	n := 0
	for r := range 6 {
		for _, product := range []string{"modelverse", "sandbox"} {
			for _, currency := range []string{"CNY", "USD"} {
				for m := range 3 {
					for range 1 + (r+m)%4 { // groups and models of several sizes
						n++
						amount := fmt.Sprintf("%d.%02d", n%9, n%100)
						d, err := money.ParseString(amount)
						require.NoError(t, err)
						want[currency].amount = want[currency].amount.Add(d)
						want[currency].orders++
						api.add(t, json.RawMessage(fmt.Sprintf(`{"OrderNo":"O-%d","Region":"r%d","ModelID":"m%d","ProductCode":%q,"Currency":%q,"OrderTotalPrice":%q,"CreateTime":%d}`,
							n, r, m, product, currency, amount, now.Unix()-int64(n)*3600)))
					}
				}
			}
		}
	}
	check := func(maxSeries, wantSeries int) {
		t.Helper()
		coll, logs := literalCollector(t, api, func(c *Config) { c.MaxSeries = maxSeries })
		res := coll.sweep(t.Context())
		require.NoError(t, res.err)
		assert.Len(t, res.totals.sums, wantSeries)
		assert.Equal(t, 1, logs.count("even at one per region, product code and currency"), logs.String())
		got := map[string]*tally{"CNY": {}, "USD": {}}
		wide := 0
		for _, s := range res.totals.sums {
			got[s.Currency].amount = got[s.Currency].amount.Add(s.Amount)
			got[s.Currency].orders += s.Orders
			if s.Region == OtherModel && s.ProductCode == OtherModel && s.Model == OtherModel {
				wide++
			}
		}
		assert.Equal(t, 2, wide, "one per currency")
		byAge := map[string]*tally{"CNY": {}, "USD": {}}
		groups := map[groupKey]bool{}
		for _, a := range res.totals.byAge {
			byAge[a.Currency].amount = byAge[a.Currency].amount.Add(a.Amount)
			byAge[a.Currency].orders += a.Orders
			groups[groupKey{a.Region, a.ProductCode, a.Currency}] = true
		}
		assert.LessOrEqual(t, len(groups), wantSeries, "the age series follow the folded groups")
		for currency, w := range want {
			assert.Zero(t, got[currency].amount.Cmp(w.amount), "%s: %s, want %s", currency, got[currency].amount, w.amount)
			assert.Equal(t, w.orders, got[currency].orders, currency)
			assert.Zero(t, byAge[currency].amount.Cmp(w.amount), "%s by age: %s, want %s", currency, byAge[currency].amount, w.amount)
			assert.Equal(t, w.orders, byAge[currency].orders, currency)
		}
		m := gather(t, coll) // pedantic: no two series alike
		assert.Equal(t, []float64{72}, m["debt_series_folded"], "every model is folded")
		problems, err := testutil.CollectAndLint(coll)
		require.NoError(t, err)
		assert.Empty(t, problems)
	}
	check(5, 5)
	check(1, 2)
}

// TestLabelValuesAreMadeSafe: a NUL, invalid UTF-8 and bidi controls
// become U+FFFD, a 5 MiB ModelID is cut to 128 bytes, and two long values
// that share their first 128 bytes stay two series.
func TestLabelValuesAreMadeSafe(t *testing.T) {
	long := strings.Repeat("m", 5<<20)
	assert.Equal(t, "a\uFFFDb", labelValue("a\x00b"))
	assert.Equal(t, "a\uFFFDb", labelValue("a\xffb"))
	assert.Equal(t, "cn-\uFFFD2jb\uFFFD", labelValue("cn-\u202e2jb\u202c"), "bidi override and pop")
	assert.Equal(t, "\uFFFDx\uFFFD", labelValue("\u2067x\u2069"), "bidi isolate")
	assert.Equal(t, "שלום-model", labelValue("שלום-model"), "right-to-left letters are kept")
	cut1, cut2 := labelValue(long+"1"), labelValue(long+"2")
	assert.LessOrEqual(t, len(cut1), MaxLabelLength)
	assert.NotEqual(t, cut1, cut2)
	assert.Equal(t, "plain-model", labelValue("plain-model"))
}
