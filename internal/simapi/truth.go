package simapi

import (
	dto "github.com/prometheus/client_model/go"

	"github.com/debt-exporter/debt_exporter/apiclient"
	"github.com/debt-exporter/debt_exporter/money"
)

// Key is one business series: the labels the exporter exposes. Empty fields
// are real values (an order without a Region has Region "").
type Key struct {
	Region, ModelID, ProductCode, Currency string
}

// KeyOf is the Key of an exposed business series, from its labels (the
// exporter's label names: region, model, product_code, currency).
func KeyOf(labels []*dto.LabelPair) Key {
	var k Key
	for _, l := range labels {
		switch l.GetName() {
		case "region":
			k.Region = l.GetValue()
		case "model":
			k.ModelID = l.GetValue()
		case "product_code":
			k.ProductCode = l.GetValue()
		case "currency":
			k.Currency = l.GetValue()
		}
	}
	return k
}

// Series is what the exporter must report for one Key.
type Series struct {
	Amount money.Decimal // exact sum of OrderTotalPrice
	Orders int           // number of orders summed
	Oldest int64         // earliest CreateTime, Unix seconds
}

// Truth is the exact answer to a query.
type Truth struct {
	Series  map[Key]Series
	Invalid int // matched orders whose OrderTotalPrice is not a plain decimal: not in Series
	// InvalidCreateTime: matched orders whose CreateTime is not an integer
	// (Config.InvalidCreateTimeEvery): not in Series, nor in Invalid.
	InvalidCreateTime int
	Matched           int // all matched orders, valid or not: what a full sweep returns
}

// Total returns the exact sum over the series of one currency.
func (t Truth) Total(currency string) money.Decimal {
	var sum money.Decimal
	for k, s := range t.Series {
		if k.Currency == currency {
			sum = sum.Add(s.Amount)
		}
	}
	return sum
}

// Truth computes the expected result of q over the current set (base
// orders minus paid plus posted), without going through HTTP: what a full
// sweep of q at this moment must report. The window follows the server's
// EndTime semantics (Config.EndTimeExclusive) in the whole seconds a client
// sends. Amounts are parsed from their text with money.Parse, exactly as a
// client must. Truth ignores the faults: it describes the real data.
func (s *Server) Truth(q apiclient.Query) Truth {
	qq := s.queryOf(q)
	t := Truth{Series: map[Key]Series{}}
	var buf []byte
	s.scan(&qq, func(o order) {
		t.Matched++
		if o.badTime >= 0 {
			t.InvalidCreateTime++
			return
		}
		buf = appendAmountText(buf[:0], &o)
		amount, err := money.Parse(buf)
		if err != nil {
			t.Invalid++
			return
		}
		k := Key{o.region.code.s, o.model.id.s, o.product.code.s, o.cur.code.s}
		ser, ok := t.Series[k]
		if !ok || o.createTime < ser.Oldest {
			ser.Oldest = o.createTime
		}
		ser.Amount = ser.Amount.Add(amount)
		ser.Orders++
		t.Series[k] = ser
	})
	return t
}
