package collector

import (
	"sort"

	"github.com/debt-exporter/debt_exporter/apiclient"
	"github.com/debt-exporter/debt_exporter/money"
)

// dedupePages is how many pages of order numbers a sweep remembers: the
// page being read and the ones before it. Orders that arrive while a sweep
// runs push older ones onto later pages, where they are served again; they
// reappear within a page or two unless more than (dedupePages-1) × page
// size orders arrive during one sweep. A bounded window keeps memory
// independent of the number of orders.
const dedupePages = 16

// seriesKey is one label set of the business metrics.
type seriesKey struct {
	region, model, productCode, currency string
}

type seriesValue struct {
	amount money.Decimal
	orders int
	oldest int64
}

type series struct {
	seriesKey
	seriesValue
}

// invalidSample keeps one example per reason for the once-per-sweep log line.
type invalidSample struct {
	count          int
	orderNo, value string
}

// aggregator folds a sweep's orders into series as the pages stream by.
type aggregator struct {
	sums    map[seriesKey]*seriesValue
	invalid map[string]*invalidSample
	// recent order numbers: a set and, per page, what to forget later.
	seen       map[string]struct{}
	pages      [dedupePages][]string
	pageIndex  int
	duplicates int
}

func newAggregator() *aggregator {
	a := &aggregator{
		sums:    make(map[seriesKey]*seriesValue),
		invalid: make(map[string]*invalidSample),
		seen:    make(map[string]struct{}),
	}
	for _, reason := range []string{apiclient.InvalidAmount, apiclient.InvalidCreateTime} {
		a.invalid[reason] = &invalidSample{}
	}
	return a
}

// addPage is the apiclient.Sweep callback.
func (a *aggregator) addPage(orders []apiclient.Order) error {
	slot := &a.pages[a.pageIndex%dedupePages]
	for _, no := range *slot {
		delete(a.seen, no)
	}
	*slot = (*slot)[:0]
	a.pageIndex++

	for i := range orders {
		o := &orders[i]
		if o.OrderNo != "" {
			if _, dup := a.seen[o.OrderNo]; dup {
				a.duplicates++
				continue
			}
			a.seen[o.OrderNo] = struct{}{}
			*slot = append(*slot, o.OrderNo)
		}
		if o.Invalid != "" {
			s := a.invalid[o.Invalid]
			if s.count == 0 {
				s.orderNo, s.value = o.OrderNo, o.RawInvalid
			}
			s.count++
			continue
		}
		k := seriesKey{o.Region, o.ModelID, o.ProductCode, o.Currency}
		v, ok := a.sums[k]
		if !ok {
			v = &seriesValue{oldest: o.CreateTime}
			a.sums[k] = v
		}
		v.amount = v.amount.Add(o.Amount)
		v.orders++
		v.oldest = min(v.oldest, o.CreateTime)
	}
	return nil
}

// series returns the totals in a stable order.
func (a *aggregator) series() []series {
	out := make([]series, 0, len(a.sums))
	for k, v := range a.sums {
		out = append(out, series{k, *v})
	}
	sort.Slice(out, func(i, j int) bool {
		x, y := out[i].seriesKey, out[j].seriesKey
		if x.currency != y.currency {
			return x.currency < y.currency
		}
		if x.region != y.region {
			return x.region < y.region
		}
		if x.model != y.model {
			return x.model < y.model
		}
		return x.productCode < y.productCode
	})
	return out
}

// Sum is one business series of a finished sweep, exact.
type Sum struct {
	Region, Model, ProductCode, Currency string
	Amount                               money.Decimal
	Orders                               int
	Oldest                               int64 // earliest CreateTime, Unix seconds
}

// Aggregator is the collector's own per-sweep aggregation (dedupe, invalid
// orders, exact sums), exported so that tools such as the benchmark harness
// can check exact decimals rather than the floats a scrape exposes.
type Aggregator struct{ a *aggregator }

// NewAggregator returns an empty Aggregator for one sweep.
func NewAggregator() *Aggregator { return &Aggregator{newAggregator()} }

// AddPage is the apiclient.Client.Sweep callback.
func (a *Aggregator) AddPage(orders []apiclient.Order) error { return a.a.addPage(orders) }

// Sums returns the series in the order a scrape exposes them.
func (a *Aggregator) Sums() []Sum {
	ss := a.a.series()
	out := make([]Sum, len(ss))
	for i, s := range ss {
		out[i] = Sum{s.region, s.model, s.productCode, s.currency, s.amount, s.orders, s.oldest}
	}
	return out
}

// Invalid returns how many orders were left out, by reason.
func (a *Aggregator) Invalid() map[string]int {
	out := make(map[string]int, len(a.a.invalid))
	for reason, s := range a.a.invalid {
		out[reason] = s.count
	}
	return out
}

// Duplicates returns how many repeated order numbers were skipped.
func (a *Aggregator) Duplicates() int { return a.a.duplicates }
