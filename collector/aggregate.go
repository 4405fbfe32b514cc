package collector

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/debt-exporter/debt_exporter/apiclient"
	"github.com/debt-exporter/debt_exporter/money"
)

// OtherModel is the model label of the series that cardinality folding
// makes: the smallest series of a (region, product_code, currency) summed
// into one, so that totals stay exact.
const OtherModel = "(other)"

// MaxLabelLength bounds a label value; a longer one is cut and given a
// hash of the whole, so that distinct values stay distinct.
const MaxLabelLength = 128

// seriesKey is one label set of the business metrics.
type seriesKey struct {
	region, model, productCode, currency string
}

// groupKey is a series key without the model: the key of the age series.
type groupKey struct {
	region, productCode, currency string
}

// Sum is one business series of a sweep, exact.
type Sum struct {
	Region, Model, ProductCode, Currency string
	Amount                               money.Decimal
	Orders                               int
	Oldest                               int64 // earliest CreateTime, Unix seconds
}

// series is a Sum being added to: money.Sum adds in place, without
// allocating once past int64 (amounts of 1e8 at 8 decimals get there
// after about a thousand orders).
type series struct {
	region, model, productCode, currency string
	amount                               money.Sum
	orders                               int
	oldest                               int64
	ages                                 []ageSum
}

// AgeSum is one series of debt by age: a (region, product_code, currency)
// and an age bucket.
type AgeSum struct {
	Region, ProductCode, Currency, Age string
	Amount                             money.Decimal
	Orders                             int
}

type ageSum struct {
	amount money.Sum
	orders int
}

// invalidSample keeps one example per reason for the once-per-sweep log line.
type invalidSample struct {
	count          int
	orderNo, value string
}

// AgeBuckets are the bounds of the age buckets, ascending, and their
// labels: bounds 1d,7d,30d give 0-1d, 1d-7d, 7d-30d, 30d+.
type AgeBuckets struct {
	Bounds []time.Duration
	Labels []string // len(Bounds)+1
}

// NewAgeBuckets names the buckets of bounds by their spelling in the flag.
func NewAgeBuckets(bounds []time.Duration, spelled []string) AgeBuckets {
	b := AgeBuckets{Bounds: bounds}
	prev := "0"
	for _, s := range spelled {
		b.Labels = append(b.Labels, prev+"-"+s)
		prev = s
	}
	b.Labels = append(b.Labels, prev+"+")
	return b
}

// Unfillable names the buckets that begin past window: an order's age is
// at most the window's length, so they stay empty (a bucket that begins
// at the window's length holds only orders of its very first second).
func (b AgeBuckets) Unfillable(window time.Duration) []string {
	var never []string
	for i, bound := range b.Bounds {
		if bound > window {
			never = append(never, b.Labels[i+1])
		}
	}
	return never
}

// aggregator folds one worker's share of a sweep into exact sums.
type aggregator struct {
	sums map[seriesKey]*series
	// recent caches series in front of sums, in slots picked by where
	// their labels are in memory: the decoder interns label values, so a
	// worker's orders of one series carry the very same four strings, and
	// comparing four pointers costs less than hashing the labels for the
	// map. Any other order takes the map, which decides by content.
	recent  [recentSeries]*series
	invalid map[string]*invalidSample
	ages    AgeBuckets
	now     int64 // the sweep's time, for ages
}

// recentSeries slots in pairs, 8 KiB a worker.
const (
	recentSeriesBits = 10
	recentSeries     = 1 << recentSeriesBits
)

// seriesSlot picks an order's pair of slots of aggregator.recent from
// where its labels are: the even slot of the pair.
func seriesSlot(o *apiclient.Order) int {
	h := at(o.Region) ^ at(o.ModelID)*3 ^ at(o.ProductCode)*5 ^ at(o.Currency)*7
	return int((h*0x9e3779b97f4a7c15)>>(64-recentSeriesBits)) &^ 1
}

// at is where s is in memory; 0 for the empty string, which has no place.
func at(s string) uint64 {
	if s == "" {
		return 0
	}
	return uint64(uintptr(unsafe.Pointer(unsafe.StringData(s))))
}

// same reports whether a and b are one string in memory: a slot's test,
// not equality (a copy of a label is not the same, and takes the map).
func same(a, b string) bool {
	return len(a) == len(b) && (len(a) == 0 || unsafe.StringData(a) == unsafe.StringData(b))
}

func newAggregator(ages AgeBuckets, now time.Time) *aggregator {
	return &aggregator{sums: make(map[seriesKey]*series), invalid: make(map[string]*invalidSample), ages: ages, now: now.Unix()}
}

// add is the apiclient.Client.Sweep callback of one worker.
func (a *aggregator) add(orders []apiclient.Order) {
	for i := range orders {
		o := &orders[i]
		if o.Invalid != "" {
			a.setAside(o.Invalid, o.OrderNo, o.RawInvalid, 1)
			continue
		}
		v := a.series(o)
		v.amount.Add(o.Amount)
		v.orders++
		v.oldest = min(v.oldest, o.CreateTime)
		b := a.bucket(o.CreateTime)
		v.ages[b].amount.Add(o.Amount)
		v.ages[b].orders++
	}
}

// series returns the series of o's labels, made if new.
func (a *aggregator) series(o *apiclient.Order) *series {
	slot := seriesSlot(o)
	for _, v := range a.recent[slot : slot+2] {
		if v != nil && same(v.region, o.Region) && same(v.model, o.ModelID) &&
			same(v.productCode, o.ProductCode) && same(v.currency, o.Currency) {
			return v
		}
	}
	k := seriesKey{o.Region, o.ModelID, o.ProductCode, o.Currency}
	v, ok := a.sums[k]
	if !ok {
		v = &series{region: o.Region, model: o.ModelID, productCode: o.ProductCode, currency: o.Currency,
			oldest: o.CreateTime, ages: make([]ageSum, len(a.ages.Labels))}
		a.sums[k] = v
	}
	// Two ways: the one found last comes first, the other is kept.
	a.recent[slot+1], a.recent[slot] = a.recent[slot], v
	return v
}

func (a *aggregator) bucket(created int64) int {
	age := time.Duration(a.now-created) * time.Second
	for i, bound := range a.ages.Bounds {
		if age < bound {
			return i
		}
	}
	return len(a.ages.Bounds)
}

// setAside counts n orders left out for reason; the first gives the
// example. value comes bounded from apiclient; orderNo is cut here, since
// it reaches the log line as the server sent it.
func (a *aggregator) setAside(reason, orderNo, value string, n int) {
	s := a.invalid[reason]
	if s == nil {
		s = &invalidSample{}
		a.invalid[reason] = s
	}
	if s.count == 0 {
		s.orderNo, s.value = apiclient.CutText(orderNo, maxLoggedOrderNo), value
	}
	s.count += n
}

// maxLoggedOrderNo bounds an OrderNo in a log line, as apiclient bounds it
// in its errors.
const maxLoggedOrderNo = 64

// merge adds o into a.
func (a *aggregator) merge(o *aggregator) {
	for k, s := range o.sums {
		v, ok := a.sums[k]
		if !ok {
			a.sums[k] = s
			continue
		}
		v.add(s)
	}
	for reason, s := range o.invalid {
		// Not through setAside: the example is cut already.
		if mine := a.invalid[reason]; mine != nil && mine.count > 0 {
			mine.count += s.count
		} else {
			a.invalid[reason] = s
		}
	}
}

func (v *series) add(s *series) {
	v.amount.Merge(&s.amount)
	v.orders += s.orders
	v.oldest = min(v.oldest, s.oldest)
	for i := range v.ages {
		v.ages[i].amount.Merge(&s.ages[i].amount)
		v.ages[i].orders += s.ages[i].orders
	}
}

// totals is what a sweep reports, ready to expose.
type totals struct {
	sums    []Sum
	byAge   []AgeSum
	invalid map[string]int
	samples map[string]invalidSample
	folded  int // series folded into OtherModel
	// foldedGroups: even one series per (region, product_code, currency)
	// was over the cap, and the smallest of those were folded by currency.
	foldedGroups bool
}

// finish makes label values safe, caps the series at maxSeries (0: no cap)
// by folding the smallest, and sorts them.
func (a *aggregator) finish(maxSeries int) totals {
	clean := make(map[seriesKey]*series, len(a.sums))
	for _, s := range a.sums {
		k := seriesKey{labelValue(s.region), labelValue(s.model), labelValue(s.productCode), labelValue(s.currency)}
		s.region, s.model, s.productCode, s.currency = k.region, k.model, k.productCode, k.currency
		if v, ok := clean[k]; ok {
			v.add(s) // two raw values that clean to one label set
		} else {
			clean[k] = s
		}
	}
	sums := make([]*series, 0, len(clean))
	for _, s := range clean {
		sums = append(sums, s)
	}
	t := totals{invalid: map[string]int{}, samples: map[string]invalidSample{}}
	if maxSeries > 0 && len(sums) > maxSeries {
		sums = fold(sums, maxSeries)
		if len(sums) > maxSeries {
			sums, t.foldedGroups = foldGroups(sums, maxSeries), true
		}
		// Folded: no longer exposed under its own labels (a model named
		// OtherModel still is, with what was folded into it).
		shown := make(map[seriesKey]bool, len(sums))
		for _, s := range sums {
			shown[s.key()] = true
		}
		for k := range clean {
			if !shown[k] {
				t.folded++
			}
		}
	}
	t.sums = make([]Sum, 0, len(sums))
	groups := map[groupKey][]ageSum{}
	for _, s := range sums {
		t.sums = append(t.sums, Sum{Region: s.region, Model: s.model, ProductCode: s.productCode, Currency: s.currency,
			Amount: s.amount.Decimal(), Orders: s.orders, Oldest: s.oldest})
		g := groupKey{s.region, s.productCode, s.currency}
		ages, ok := groups[g]
		if !ok {
			ages = make([]ageSum, len(s.ages))
			groups[g] = ages
		}
		for i := range s.ages {
			ages[i].amount.Merge(&s.ages[i].amount)
			ages[i].orders += s.ages[i].orders
		}
	}
	slices.SortFunc(t.sums, func(x, y Sum) int {
		return cmp.Or(cmp.Compare(x.Currency, y.Currency), cmp.Compare(x.Region, y.Region),
			cmp.Compare(x.Model, y.Model), cmp.Compare(x.ProductCode, y.ProductCode))
	})
	for g, ages := range groups {
		for i := range ages {
			if ages[i].orders > 0 { // empty buckets are not exposed
				t.byAge = append(t.byAge, AgeSum{Region: g.region, ProductCode: g.productCode, Currency: g.currency,
					Age: a.ages.Labels[i], Amount: ages[i].amount.Decimal(), Orders: ages[i].orders})
			}
		}
	}
	slices.SortFunc(t.byAge, func(x, y AgeSum) int {
		return cmp.Or(cmp.Compare(x.Currency, y.Currency), cmp.Compare(x.Region, y.Region),
			cmp.Compare(x.ProductCode, y.ProductCode), cmp.Compare(x.Age, y.Age))
	})
	for reason, s := range a.invalid {
		t.invalid[reason] = s.count
		t.samples[reason] = *s
	}
	return t
}

// fold keeps the largest series and sums the others of each (region,
// product_code, currency) into one OtherModel series, so that at most
// maxSeries remain and every total stays exact. A real model named
// OtherModel is that group's OtherModel series: what is folded is added to
// it, since two series with the same labels cannot both be exposed.
func fold(sums []*series, maxSeries int) []*series {
	return foldInto(sums, maxSeries, func(s *series) seriesKey {
		return seriesKey{s.region, OtherModel, s.productCode, s.currency}
	})
}

// foldGroups is for when even one series per (region, product_code,
// currency) is over maxSeries: it keeps the largest of those and sums the
// others of each currency into one series whose region, model and
// product_code are OtherModel. Amounts of two currencies are never added,
// so with more currencies than maxSeries, one series per currency remains.
func foldGroups(sums []*series, maxSeries int) []*series {
	return foldInto(sums, maxSeries, func(s *series) seriesKey {
		return seriesKey{OtherModel, OtherModel, OtherModel, s.currency}
	})
}

// foldInto keeps the largest series and sums each of the others into the
// series labelled into(s), creating it, so that at most maxSeries remain
// when the labels into gives allow. A series already labelled into(s) is
// that series. Size is the number of orders, then the amount: comparable
// across currencies, unlike money.
func foldInto(sums []*series, maxSeries int, into func(*series) seriesKey) []*series {
	targets := map[seriesKey]*series{}
	var rest []*series
	for _, s := range sums {
		if k := into(s); k == s.key() {
			targets[k] = s
		} else {
			rest = append(rest, s)
		}
	}
	slices.SortFunc(rest, func(x, y *series) int {
		return cmp.Or(cmp.Compare(y.orders, x.orders), cmp.Compare(y.amount.Float64(), x.amount.Float64()),
			cmp.Compare(x.region, y.region), cmp.Compare(x.model, y.model),
			cmp.Compare(x.productCode, y.productCode), cmp.Compare(x.currency, y.currency))
	})
	// Keep k series so that k plus the series folded into fits.
	keep := min(maxSeries, len(rest))
	needed := map[seriesKey]bool{}
	for k := range targets {
		needed[k] = true
	}
	for _, s := range rest[keep:] {
		needed[into(s)] = true
	}
	for keep > 0 && keep+len(needed) > maxSeries {
		keep--
		needed[into(rest[keep])] = true
	}
	out := slices.Clone(rest[:keep])
	for _, t := range targets {
		out = append(out, t)
	}
	for _, s := range rest[keep:] {
		k := into(s)
		t, ok := targets[k]
		if !ok {
			t = &series{region: k.region, model: k.model, productCode: k.productCode, currency: k.currency,
				oldest: s.oldest, ages: make([]ageSum, len(s.ages))}
			targets[k] = t
			out = append(out, t)
		}
		t.add(s)
	}
	return out
}

func (s *series) key() seriesKey { return seriesKey{s.region, s.model, s.productCode, s.currency} }

// labelValue makes a value from the API safe as a label: valid UTF-8,
// control characters (bidi controls included) replaced, at most
// MaxLabelLength bytes. A cut value ends in a hash of the whole, so
// distinct values stay distinct.
func labelValue(v string) string {
	safe := true
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c == 0x7f || c >= utf8.RuneSelf {
			safe = false
			break
		}
	}
	if safe && len(v) <= MaxLabelLength {
		return v
	}
	out := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || apiclient.IsBidi(r) {
			return '\uFFFD'
		}
		return r
	}, strings.ToValidUTF8(v, "\uFFFD"))
	if len(out) <= MaxLabelLength {
		return out
	}
	h := sha256.Sum256([]byte(v))
	suffix := "…" + hex.EncodeToString(h[:6])
	end := MaxLabelLength - len(suffix)
	for end > 0 && !utf8.RuneStart(out[end]) {
		end--
	}
	return out[:end] + suffix
}
