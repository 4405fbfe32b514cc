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

// Sum is one business series of a sweep, exact.
type Sum struct {
	Region, Model, ProductCode, Currency string
	Amount                               money.Decimal
	Orders                               int
	Oldest                               int64 // earliest CreateTime, Unix seconds
}

// invalidSample keeps one example per reason for the once-per-sweep log line.
type invalidSample struct {
	count          int
	orderNo, value string
}

// Aggregator folds one sweep's orders into exact sums as the pages stream
// by: it drops orders paging serves twice and sets invalid ones aside. It
// is exported so that tools such as the benchmark harness check the very
// code a scrape runs, in exact decimals.
type Aggregator struct {
	sums    map[seriesKey]*Sum
	invalid map[string]*invalidSample
	// recent order numbers: a set and, per page, what to forget later.
	seen       map[string]struct{}
	pages      [dedupePages][]string
	pageIndex  int
	duplicates int
}

// NewAggregator returns an empty Aggregator for one sweep.
func NewAggregator() *Aggregator {
	a := &Aggregator{
		sums:    make(map[seriesKey]*Sum),
		invalid: make(map[string]*invalidSample),
		seen:    make(map[string]struct{}),
	}
	for _, reason := range []string{apiclient.InvalidAmount, apiclient.InvalidCreateTime} {
		a.invalid[reason] = &invalidSample{}
	}
	return a
}

// AddPage is the apiclient.Client.Sweep callback.
func (a *Aggregator) AddPage(orders []apiclient.Order) error {
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
			v = &Sum{Region: o.Region, Model: o.ModelID, ProductCode: o.ProductCode, Currency: o.Currency, Oldest: o.CreateTime}
			a.sums[k] = v
		}
		v.Amount = v.Amount.Add(o.Amount)
		v.Orders++
		v.Oldest = min(v.Oldest, o.CreateTime)
	}
	return nil
}

// Sums returns the series in a stable order: by currency, region, model,
// product code.
func (a *Aggregator) Sums() []Sum {
	out := make([]Sum, 0, len(a.sums))
	for _, v := range a.sums {
		out = append(out, *v)
	}
	sort.Slice(out, func(i, j int) bool {
		x, y := out[i], out[j]
		if x.Currency != y.Currency {
			return x.Currency < y.Currency
		}
		if x.Region != y.Region {
			return x.Region < y.Region
		}
		if x.Model != y.Model {
			return x.Model < y.Model
		}
		return x.ProductCode < y.ProductCode
	})
	return out
}

// Invalid returns how many orders were left out, by reason.
func (a *Aggregator) Invalid() map[string]int {
	out := make(map[string]int, len(a.invalid))
	for reason, s := range a.invalid {
		out[reason] = s.count
	}
	return out
}

// Duplicates returns how many repeated order numbers were skipped.
func (a *Aggregator) Duplicates() int { return a.duplicates }
