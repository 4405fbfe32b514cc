package apiclient

import (
	"strconv"
	"unicode/utf8"

	"github.com/debt-exporter/debt_exporter/money"
)

// This file holds the domain rules: what an order is, and when it is
// invalid. Reading it from JSON is response.go's job.

// Invalid reasons, as exposed in debt_invalid_orders{reason}.
const (
	InvalidAmount     = "amount"      // OrderTotalPrice is not a plain decimal
	InvalidCreateTime = "create_time" // CreateTime missing or not an integer
	// InvalidOutOfWindow: CreateTime outside the slice or window asked for
	// (the API misbehaving, or an absurd value); counted by the sweep.
	InvalidOutOfWindow = "out_of_window"
)

// Order is what a sweep needs of one UnpaidOrderItem. The other 31 fields
// are skipped by the decoder without being materialised.
type Order struct {
	OrderNo     string
	Region      string
	ModelID     string
	ProductCode string
	Currency    string
	// Amount is OrderTotalPrice, exact. Zero when Invalid is set.
	Amount money.Decimal
	// CreateTime in Unix seconds.
	CreateTime int64
	// Invalid is "" for a usable order, else InvalidAmount or
	// InvalidCreateTime; RawInvalid holds the offending value for the log.
	Invalid    string
	RawInvalid string
	timeSet    bool // CreateTime was read
}

// scalarField is a money or time field as sent: a string's text or a
// number's literal text. A string without escapes is its bytes as sent,
// not checked for UTF-8: a value that is not one either way parses or
// fails alike, and forLog renders it as encoding/json would have read it.
type scalarField struct {
	val           []byte
	isString, set bool
}

// setAmountAndTime applies the rules to an order's OrderTotalPrice and
// CreateTime. CreateTime first: even an order with an invalid amount must
// be placed in its time slice, and one without a usable CreateTime is
// InvalidCreateTime whatever its amount.
func (o *Order) setAmountAndTime(amount, createTime scalarField) {
	ts, ok := parseInt(createTime.val)
	if !createTime.set || !ok {
		o.Invalid, o.RawInvalid = InvalidCreateTime, createTime.forLog()
		return
	}
	o.CreateTime, o.timeSet = ts, true
	var err error
	if amount.set {
		o.Amount, err = money.Parse(amount.val)
	}
	if !amount.set || err != nil {
		o.Amount = money.Decimal{}
		o.Invalid, o.RawInvalid = InvalidAmount, amount.forLog()
	}
}

// forLog renders the value for a log line, cut short: a hostile server
// must not be able to fill the log through one field.
func (f scalarField) forLog() string {
	const limit = 64
	val, cut := f.val, ""
	if f.isString && !utf8.Valid(val) {
		// Bytes as sent, which hold no backslash: each invalid byte
		// becomes U+FFFD, as encoding/json reads it.
		val = stringToken{raw: val}.appendText(nil)
	}
	if len(val) > limit {
		val, cut = val[:limit], "…"
	}
	switch {
	case !f.set:
		return "<missing>"
	case f.isString:
		return strconv.Quote(string(val)) + cut
	}
	return string(val) + cut
}

// parseInt reads a plain base-10 integer with an optional minus sign.
func parseInt(b []byte) (int64, bool) {
	if n := len(b); n > 0 && n <= 18 {
		// 18 digits cannot overflow: the common case, without strconv.
		i, neg := 0, b[0] == '-'
		if neg {
			if i = 1; n == 1 {
				return 0, false
			}
		}
		var v int64
		for ; i < n; i++ {
			c := b[i] - '0'
			if c > 9 {
				return 0, false
			}
			v = v*10 + int64(c)
		}
		if neg {
			v = -v
		}
		return v, true
	}
	if len(b) == 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(string(b), 10, 64) // no allocation: the compiler elides the conversion
	if err != nil || b[0] == '+' {
		return 0, false
	}
	return n, true
}
