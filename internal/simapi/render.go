package simapi

import "strconv"

// renderer writes orders as JSON with appends only: no reflection, no
// per-field allocation, so a benchmark sweep measures the client.
type renderer struct {
	d                *dataset
	numbersAsStrings bool
}

func (r *renderer) int(b []byte, v int64) []byte {
	if r.numbersAsStrings {
		b = append(b, '"')
		b = strconv.AppendInt(b, v, 10)
		return append(b, '"')
	}
	return strconv.AppendInt(b, v, 10)
}

// order appends one order object, plain or varied as the order says.
func (r *renderer) order(b []byte, o *order, st *style) []byte {
	if o.vary.on {
		// By value: the field writers are func values, which would make
		// every plain order escape too.
		return r.varied(b, *o, st)
	}
	b = append(b, `{"Region":`...)
	b = append(b, o.region.code.j...)
	b = append(b, `,"OrderNo":`...)
	b = append(b, '"')
	b = r.d.appendOrderNo(b, o.noTag, o.noNum)
	b = append(b, '"')
	b = append(b, `,"SourceOrderNo":`...)
	b = appendSource(b, o)
	b = append(b, `,"CompanyID":`...)
	b = r.int(b, o.key.org.companyID)
	b = append(b, `,"OrganizationID":`...)
	b = r.int(b, o.key.org.orgID)
	b = append(b, `,"OrganizationName":`...)
	b = append(b, o.key.org.name.j...)
	b = append(b, `,"UserEmail":`...)
	b = append(b, o.key.org.email.j...)
	b = append(b, `,"ChargeType":`...)
	b = r.int(b, 2)
	b = append(b, `,"ChargeTypeDisplay":`...)
	b = append(b, chargeTypeDisplay.j...)
	b = append(b, `,"Channel":`...)
	b = r.int(b, o.channel)
	b = append(b, `,"Currency":`...)
	b = append(b, o.cur.code.j...)
	b = append(b, `,"CurrencyDisplay":`...)
	b = append(b, o.cur.display.j...)
	b = append(b, `,"ResourceID":`...)
	b = append(b, o.key.id.j...)
	b = append(b, `,"ResourceType":`...)
	b = r.int(b, int64(o.product.resType))
	b = append(b, `,"ResourceTypeDisplay":`...)
	b = append(b, o.product.resTypeDisplay.j...)
	b = append(b, `,"ModelID":`...)
	b = append(b, o.model.id.j...)
	b = append(b, `,"ModelName":`...)
	b = append(b, o.model.name.j...)
	b = append(b, `,"OrderType":`...)
	b = r.int(b, int64(o.orderType))
	b = append(b, `,"OrderTypeDisplay":`...)
	b = append(b, orderTypeDisplay[o.orderType].j...)
	b = append(b, `,"PricingSKU":`...)
	b = append(b, o.sku.name.j...)
	b = append(b, `,"Quantity":`...)
	b = r.int(b, o.quantity)
	b = append(b, `,"QuantityDisplay":`...)
	b = appendQuantityDisplay(b, o)
	b = append(b, `,"PricingUnit":`...)
	b = r.int(b, int64(o.model.unit))
	b = append(b, `,"PricingUnitDisplay":`...)
	b = append(b, unitDisplayJSON[o.model.unit].j...)
	b = append(b, `,"ListPrice":`...)
	b = appendPrice(b, o.list8)
	b = append(b, `,"DiscountPrice":`...)
	b = appendPrice(b, o.disc8)
	b = append(b, `,"OrderTotalPrice":`...)
	b = appendTotal(b, o)
	b = append(b, `,"OriginalPrice":`...)
	b = appendPrice(b, o.quantity*o.list8)
	b = append(b, `,"Status":`...)
	b = r.int(b, 1)
	b = append(b, `,"StatusDisplay":`...)
	b = append(b, statusDisplay.j...)
	// CreateTime is a string in the reference, whatever NumbersAsStrings says.
	b = append(b, `,"CreateTime":`...)
	if o.badTime >= 0 {
		b = append(b, invalidCreateTimes[o.badTime]...)
	} else {
		b = append(b, '"')
		b = strconv.AppendInt(b, o.createTime, 10)
		b = append(b, '"')
	}
	b = append(b, `,"StartTime":`...)
	b = r.int(b, usageStart(o))
	b = append(b, `,"EndTime":`...)
	b = r.int(b, o.createTime)
	b = append(b, `,"PaidTime":`...)
	b = r.int(b, 0)
	b = append(b, `,"RevocationTime":`...)
	b = append(b, `"0"`...)
	b = append(b, `,"RegionDisplay":`...)
	b = append(b, o.region.display.j...)
	b = append(b, `,"ProductCode":`...)
	b = append(b, o.product.code.j...)
	b = append(b, `,"ProductCodeDisplay":`...)
	b = append(b, o.product.display.j...)
	return append(b, '}')
}

func appendSource(b []byte, o *order) []byte {
	b = append(b, '"', 'S', 'O')
	for s := 60; s >= 0; s -= 4 {
		b = append(b, hexDigits[o.src>>uint(s)&0xf])
	}
	return append(b, '"')
}

func appendQuantityDisplay(b []byte, o *order) []byte {
	b = append(b, '"')
	b = strconv.AppendInt(b, o.quantity, 10)
	b = append(b, ' ')
	b = append(b, unitDisplayJSON[o.model.unit].s...)
	return append(b, '"')
}

func appendTotal(b []byte, o *order) []byte {
	if o.invalid >= 0 {
		return append(b, invalidAmounts[o.invalid].j...)
	}
	b = append(b, '"')
	b = appendFixed8(b, o.total8, o.totalScale)
	return append(b, '"')
}

// usageStart is the order's StartTime, clamped for absurd CreateTimes.
func usageStart(o *order) int64 {
	if o.createTime < -1<<62 {
		return o.createTime
	}
	return o.createTime - o.usage
}

// style is the whitespace of one response. The plain dataset is compact.
type style struct {
	comma, colon, open, close, arrOpen, arrClose, orderSep string
}

var styles = [...]style{
	{",", ":", "{", "}", "[", "]", ","},
	{", ", ": ", "{ ", " }", "[ ", " ]", ", "},
	{",\n\t\t", ": ", "{\n\t\t", "\n\t}", "[\r\n\t", "\r\n]", ",\r\n\t"},
}

var compact = &styles[0]

// Varied orders: fields in one of several key orders, text raw or escaped,
// some fields empty, CreateTime a string or a number.

type field struct {
	key string // JSON-encoded, quotes included
	fn  func(r *renderer, b []byte, o *order) []byte
}

// text writes a text field as the order's variety says; emptiable fields
// carry their bit in the empty mask.
func appendText(b []byte, o *order, t *jsonText, bit int) []byte {
	if bit >= 0 && o.vary.empty&(1<<uint(bit)) != 0 {
		return append(b, `""`...)
	}
	if o.vary.escape {
		return append(b, t.a...)
	}
	return append(b, t.r...)
}

func text(t *jsonText, bit int) func(r *renderer, b []byte, o *order) []byte {
	return func(_ *renderer, b []byte, o *order) []byte { return appendText(b, o, t, bit) }
}

func textOf(get func(o *order) *jsonText, bit int) func(r *renderer, b []byte, o *order) []byte {
	return func(_ *renderer, b []byte, o *order) []byte { return appendText(b, o, get(o), bit) }
}

func intOf(get func(o *order) int64) func(r *renderer, b []byte, o *order) []byte {
	return func(r *renderer, b []byte, o *order) []byte { return r.int(b, get(o)) }
}

// fields are the 38 fields of an order, in the reference's order.
var fields = []field{
	{`"Region"`, textOf(func(o *order) *jsonText { return &o.region.code }, -1)},
	{`"OrderNo"`, func(r *renderer, b []byte, o *order) []byte {
		b = append(b, '"')
		b = r.d.appendOrderNo(b, o.noTag, o.noNum)
		return append(b, '"')
	}},
	{`"SourceOrderNo"`, func(_ *renderer, b []byte, o *order) []byte {
		if o.vary.empty&(1<<0) != 0 {
			return append(b, `""`...)
		}
		return appendSource(b, o)
	}},
	{`"CompanyID"`, intOf(func(o *order) int64 { return o.key.org.companyID })},
	{`"OrganizationID"`, intOf(func(o *order) int64 { return o.key.org.orgID })},
	{`"OrganizationName"`, textOf(func(o *order) *jsonText { return &o.key.org.name }, 1)},
	{`"UserEmail"`, textOf(func(o *order) *jsonText { return &o.key.org.email }, 2)},
	{`"ChargeType"`, intOf(func(*order) int64 { return 2 })},
	{`"ChargeTypeDisplay"`, text(&chargeTypeDisplay, 3)},
	{`"Channel"`, intOf(func(o *order) int64 { return o.channel })},
	{`"Currency"`, textOf(func(o *order) *jsonText { return &o.cur.code }, -1)},
	{`"CurrencyDisplay"`, textOf(func(o *order) *jsonText { return &o.cur.display }, 4)},
	{`"ResourceID"`, textOf(func(o *order) *jsonText { return &o.key.id }, -1)},
	{`"ResourceType"`, intOf(func(o *order) int64 { return int64(o.product.resType) })},
	{`"ResourceTypeDisplay"`, textOf(func(o *order) *jsonText { return &o.product.resTypeDisplay }, 5)},
	{`"ModelID"`, textOf(func(o *order) *jsonText { return &o.model.id }, -1)},
	{`"ModelName"`, textOf(func(o *order) *jsonText { return &o.model.name }, 6)},
	{`"OrderType"`, intOf(func(o *order) int64 { return int64(o.orderType) })},
	{`"OrderTypeDisplay"`, textOf(func(o *order) *jsonText { return &orderTypeDisplay[o.orderType] }, 7)},
	{`"PricingSKU"`, textOf(func(o *order) *jsonText { return &o.sku.name }, -1)},
	{`"Quantity"`, intOf(func(o *order) int64 { return o.quantity })},
	{`"QuantityDisplay"`, func(_ *renderer, b []byte, o *order) []byte {
		if o.vary.empty&(1<<8) != 0 {
			return append(b, `""`...)
		}
		return appendQuantityDisplay(b, o)
	}},
	{`"PricingUnit"`, intOf(func(o *order) int64 { return int64(o.model.unit) })},
	{`"PricingUnitDisplay"`, textOf(func(o *order) *jsonText { return &unitDisplayJSON[o.model.unit] }, 9)},
	{`"ListPrice"`, func(_ *renderer, b []byte, o *order) []byte { return appendPrice(b, o.list8) }},
	{`"DiscountPrice"`, func(_ *renderer, b []byte, o *order) []byte { return appendPrice(b, o.disc8) }},
	{`"OrderTotalPrice"`, func(_ *renderer, b []byte, o *order) []byte { return appendTotal(b, o) }},
	{`"OriginalPrice"`, func(_ *renderer, b []byte, o *order) []byte { return appendPrice(b, o.quantity*o.list8) }},
	{`"Status"`, intOf(func(*order) int64 { return 1 })},
	{`"StatusDisplay"`, text(&statusDisplay, 10)},
	{`"CreateTime"`, func(_ *renderer, b []byte, o *order) []byte {
		if o.badTime >= 0 {
			return append(b, invalidCreateTimes[o.badTime]...)
		}
		if o.vary.ctNumber {
			return strconv.AppendInt(b, o.createTime, 10)
		}
		b = append(b, '"')
		b = strconv.AppendInt(b, o.createTime, 10)
		return append(b, '"')
	}},
	{`"StartTime"`, intOf(usageStart)},
	{`"EndTime"`, intOf(func(o *order) int64 { return o.createTime })},
	{`"PaidTime"`, intOf(func(*order) int64 { return 0 })},
	{`"RevocationTime"`, func(_ *renderer, b []byte, o *order) []byte {
		if o.vary.empty&(1<<11) != 0 {
			return append(b, `""`...)
		}
		return append(b, `"0"`...)
	}},
	{`"RegionDisplay"`, textOf(func(o *order) *jsonText { return &o.region.display }, 12)},
	{`"ProductCode"`, textOf(func(o *order) *jsonText { return &o.product.code }, -1)},
	{`"ProductCodeDisplay"`, textOf(func(o *order) *jsonText { return &o.product.display }, 13)},
}

// fieldOrders are the key orders of varied orders: the reference's, reversed,
// alphabetical, and two fixed shuffles.
var fieldOrders = func() [][]int {
	n := len(fields)
	ref, rev, alpha, sh1, sh2 := make([]int, n), make([]int, n), make([]int, n), make([]int, n), make([]int, n)
	for i := range n {
		ref[i], rev[i], alpha[i], sh1[i], sh2[i] = i, n-1-i, i, i, i
	}
	for i := 1; i < n; i++ {
		for j := i; j > 0 && fields[alpha[j]].key < fields[alpha[j-1]].key; j-- {
			alpha[j], alpha[j-1] = alpha[j-1], alpha[j]
		}
	}
	for k, p := range [][]int{sh1, sh2} {
		g := rng{uint64(k) + 0xfeed}
		for i := n - 1; i > 0; i-- {
			j := int(g.next() % uint64(i+1))
			p[i], p[j] = p[j], p[i]
		}
	}
	return [][]int{ref, rev, alpha, sh1, sh2}
}()

func (r *renderer) varied(b []byte, v order, st *style) []byte {
	o := &v
	b = append(b, st.open...)
	for k, i := range fieldOrders[o.vary.perm] {
		if k > 0 {
			b = append(b, st.comma...)
		}
		b = append(b, fields[i].key...)
		b = append(b, st.colon...)
		b = fields[i].fn(r, b, o)
	}
	return append(b, st.close...)
}
