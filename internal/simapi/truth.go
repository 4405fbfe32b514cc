package simapi

import (
	"github.com/debt-exporter/debt_exporter/money"
)

// Key is one business series: the labels the exporter exposes. Empty fields
// are real values (an order without a Region has Region "").
type Key struct {
	Region, ModelID, ProductCode, Currency string
}

// Series is what the exporter must report for one Key.
type Series struct {
	Amount money.Decimal // exact sum of OrderTotalPrice
	Orders int           // number of orders summed
	Oldest int64         // earliest CreateTime, Unix seconds
}

// Truth is the exact answer to a TruthQuery.
type Truth struct {
	Series  map[Key]Series
	Invalid int // matched orders whose OrderTotalPrice is not a plain decimal: not in Series
	Matched int // all matched orders, valid or not: what a full sweep returns
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

// Truth computes the expected result of q by scanning the dataset as it is
// now (base orders plus any shifted in), without going through HTTP.
// Amounts are parsed from their text with money.Parse, exactly as a client
// must. Truth ignores the endless fault: it describes the real data.
func (s *Server) Truth(q TruthQuery) Truth {
	t := Truth{Series: map[Key]Series{}}
	total := s.data.n + s.Shifted()
	var buf []byte
	for v := int64(0); v < total; v++ {
		if v < s.data.n && s.data.createTime(v) < q.StartTime {
			// Base CreateTimes only decrease: the rest of them is outside
			// the window; go on with the shifted orders.
			v = s.data.n - 1
			continue
		}
		o := s.data.gen(v)
		if !q.matches(&o) {
			continue
		}
		t.Matched++
		buf = appendAmountText(buf[:0], &o)
		amount, err := money.Parse(buf)
		if err != nil {
			t.Invalid++
			continue
		}
		k := Key{o.region.code.s, o.model.id.s, o.product.code.s, o.cur.code.s}
		ser, ok := t.Series[k]
		if !ok || o.createTime < ser.Oldest {
			ser.Oldest = o.createTime
		}
		ser.Amount = ser.Amount.Add(amount)
		ser.Orders++
		t.Series[k] = ser
	}
	return t
}
