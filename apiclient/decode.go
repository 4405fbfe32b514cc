package apiclient

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"unicode/utf8"

	"github.com/debt-exporter/debt_exporter/money"
)

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

// page is one decoded response.
type page struct {
	retCode    int64
	retCodeSet bool
	message    string
	action     string
	totalCount int64 // -1 when the response has none
	orders     []Order
	ordersSeen bool // an order list was read: a second one is ambiguous
}

const maxDepth = 64

var errSyntax = errors.New("malformed JSON")

// decoder reads one response body. It keeps interned label strings and the
// order slice between pages, and gathers a page's order numbers into one
// string, so a steady sweep allocates once per page.
type decoder struct {
	b      []byte
	i      int
	intern map[string]string
	nos    []byte   // the page's order numbers, back to back
	spans  []noSpan // per order of the current list: its OrderNo in nos
}

type noSpan struct {
	start, end int
	set        bool
}

func newDecoder() *decoder { return &decoder{intern: make(map[string]string)} }

// decodePage parses body into p, reusing p.orders' backing array.
func (d *decoder) decodePage(body []byte, p *page) error {
	d.b, d.i = body, 0
	d.nos, d.spans = d.nos[:0], d.spans[:0]
	*p = page{totalCount: -1, orders: p.orders[:0]}
	d.ws()
	if err := d.object(func(key []byte) error {
		switch field(key, fRetCode, fData) {
		case fRetCode:
			n, ok, err := d.intValue()
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("RetCode is not an integer")
			}
			p.retCode, p.retCodeSet = n, true
		case fMessage:
			return d.str(&p.message, false)
		case fAction:
			return d.str(&p.action, false)
		case fTotalCount:
			return d.totalCount(p)
		case fOrders:
			return d.orders(p)
		case fData:
			if d.peek() == 'n' {
				return d.literal("null")
			}
			return d.object(func(key []byte) error {
				switch field(key, fTotalCount, fOrders) {
				case fOrders:
					return d.orders(p)
				case fTotalCount:
					return d.totalCount(p)
				}
				return d.skip(1)
			})
		default:
			return d.skip(0)
		}
		return nil
	}); err != nil {
		return err
	}
	d.ws()
	if d.i != len(d.b) {
		return d.errorf("data after the top-level value")
	}
	if !p.retCodeSet {
		// A proxy's or a login page's JSON is not an empty success.
		return fmt.Errorf("%w: no RetCode in the response", errSyntax)
	}
	if len(d.nos) > 0 {
		// One allocation for the page; each OrderNo is a slice of it.
		all := string(d.nos)
		for i, sp := range d.spans {
			if sp.set {
				p.orders[i].OrderNo = all[sp.start:sp.end]
			}
		}
	}
	return nil
}

func (d *decoder) totalCount(p *page) error {
	n, ok, err := d.intValue()
	if err != nil {
		return err
	}
	if ok {
		p.totalCount = n
	}
	return nil
}

// orders reads the order list, top-level Orders or Data.Orders: a null
// list is no list, and a second list is refused rather than one picked.
func (d *decoder) orders(p *page) error {
	if d.peek() == 'n' {
		return d.literal("null")
	}
	if d.peek() != '[' {
		return d.errorf("Orders is not an array")
	}
	if p.ordersSeen {
		return d.errorf("a second order list (Orders and Data.Orders, or a repeated key)")
	}
	p.ordersSeen = true
	d.i++
	d.ws()
	if d.peek() == ']' {
		d.i++
		return nil
	}
	for {
		d.ws()
		p.orders = append(p.orders, Order{})
		d.spans = append(d.spans, noSpan{})
		o := &p.orders[len(p.orders)-1]
		if err := d.order(o, &d.spans[len(d.spans)-1]); err != nil {
			return err
		}
		d.ws()
		switch d.next() {
		case ',':
		case ']':
			return nil
		default:
			return d.errorf("expected , or ] in Orders")
		}
	}
}

// order decodes one order; null is an order with no fields. Its OrderNo
// goes to no, and into o once the page is done.
func (d *decoder) order(o *Order, no *noSpan) error {
	var amount, created scalarField
	if d.peek() == 'n' {
		if err := d.literal("null"); err != nil {
			return err
		}
	} else if err := d.object(func(key []byte) error {
		var err error
		switch field(key, fOrderNo, fCreateTime) {
		case fOrderNo:
			err = d.orderNo(no)
		case fRegion:
			err = d.str(&o.Region, true)
		case fModelID:
			err = d.str(&o.ModelID, true)
		case fProductCode:
			err = d.str(&o.ProductCode, true)
		case fCurrency:
			err = d.str(&o.Currency, true)
		case fOrderTotalPrice:
			err = d.readScalar(&amount)
		case fCreateTime:
			err = d.readScalar(&created)
		default:
			err = d.skip(1)
		}
		return err
	}); err != nil {
		return err
	}

	// CreateTime first: even an order with an invalid amount must be placed
	// in its time slice.
	if ts, ok := parseInt(created.val); created.set && ok {
		o.CreateTime, o.timeSet = ts, true
	} else {
		o.Invalid, o.RawInvalid = InvalidCreateTime, created.forLog()
		return nil
	}
	var err error
	if amount.set {
		o.Amount, err = money.Parse(amount.val)
	}
	if !amount.set || err != nil {
		o.Amount = money.Decimal{}
		o.Invalid, o.RawInvalid = InvalidAmount, amount.forLog()
	}
	return nil
}

// scalarField is a money or time field: a string's content or a number's
// literal text.
type scalarField struct {
	val           []byte
	isString, set bool
}

// readScalar reads a field's value; null leaves it as it was, as
// encoding/json does for a repeated key.
func (d *decoder) readScalar(f *scalarField) error {
	val, isString, set, err := d.scalar()
	if set {
		*f = scalarField{val: val, isString: isString, set: true}
	}
	return err
}

// forLog renders the value for a log line, cut short: a hostile server
// must not be able to fill the log through one field.
func (f scalarField) forLog() string {
	const limit = 64
	val, cut := f.val, ""
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
	if len(b) == 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(string(b), 10, 64) // no allocation: the compiler elides the conversion
	if err != nil || b[0] == '+' {
		return 0, false
	}
	return n, true
}

// Fields the decoder reads; every other key is skipped.
const (
	fOther = iota
	fRetCode
	fMessage
	fAction
	fTotalCount
	fOrders
	fData
	fOrderNo
	fRegion
	fModelID
	fProductCode
	fCurrency
	fOrderTotalPrice
	fCreateTime
)

var fieldNames = [...]string{
	fRetCode: "RetCode", fMessage: "Message", fAction: "Action", fTotalCount: "TotalCount",
	fOrders: "Orders", fData: "Data", fOrderNo: "OrderNo", fRegion: "Region", fModelID: "ModelID",
	fProductCode: "ProductCode", fCurrency: "Currency", fOrderTotalPrice: "OrderTotalPrice",
	fCreateTime: "CreateTime",
}

// field names a key the way encoding/json matches struct fields: exactly,
// or failing that by Unicode case folding. The exact switch is the hot path.
func field(key []byte, from, to int) int {
	var f int
	switch string(key) {
	case "RetCode":
		f = fRetCode
	case "Message":
		f = fMessage
	case "Action":
		f = fAction
	case "TotalCount":
		f = fTotalCount
	case "Orders":
		f = fOrders
	case "Data":
		f = fData
	case "OrderNo":
		f = fOrderNo
	case "Region":
		f = fRegion
	case "ModelID":
		f = fModelID
	case "ProductCode":
		f = fProductCode
	case "Currency":
		f = fCurrency
	case "OrderTotalPrice":
		f = fOrderTotalPrice
	case "CreateTime":
		f = fCreateTime
	case "SourceOrderNo", "CompanyID", "OrganizationID", "OrganizationName", "UserEmail", "ChargeType",
		"ChargeTypeDisplay", "Channel", "CurrencyDisplay", "ResourceID", "ResourceType", "ResourceTypeDisplay",
		"ModelName", "OrderType", "OrderTypeDisplay", "PricingSKU", "Quantity", "QuantityDisplay", "PricingUnit",
		"PricingUnitDisplay", "ListPrice", "DiscountPrice", "OriginalPrice", "Status", "StatusDisplay",
		"StartTime", "EndTime", "PaidTime", "RevocationTime", "RegionDisplay", "ProductCodeDisplay":
		// The reference's other order fields: none folds to a field we
		// read, so they skip the folding loop below.
		return fOther
	}
	if f != fOther {
		// No two names fold to each other, so an exact name out of range
		// is no field of this object.
		if f >= from && f <= to {
			return f
		}
		return fOther
	}
	ascii := isASCII(key)
	for f := from; f <= to; f++ {
		// Folding keeps ASCII lengths, so most keys are ruled out by length.
		if (!ascii || len(key) == len(fieldNames[f])) && bytes.EqualFold(key, []byte(fieldNames[f])) {
			return f
		}
	}
	return fOther
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// scalar returns a string's content (unescaped) or a number's literal text;
// null counts as absent. Anything else is a syntax error.
func (d *decoder) scalar() (val []byte, isString, set bool, err error) {
	switch c := d.peek(); {
	case c == '"':
		raw, esc, err := d.rawString()
		if err != nil {
			return nil, false, false, err
		}
		if esc || !utf8.Valid(raw) {
			s, err := unescape(raw)
			return []byte(s), true, true, err
		}
		return raw[1 : len(raw)-1], true, true, nil
	case c == 'n':
		return nil, false, false, d.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		n, err := d.number()
		return n, false, true, err
	}
	return nil, false, false, d.errorf("expected a string or a number")
}

// intValue reads an integer sent as a JSON number or as a string holding
// one. ok is false for null or a value that is not an integer.
func (d *decoder) intValue() (n int64, ok bool, err error) {
	v, _, set, err := d.scalar()
	if err != nil || !set {
		return 0, false, err
	}
	n, ok = parseInt(v)
	return n, ok, nil
}

// str reads a string into dst; null leaves dst as it was, as encoding/json
// does. Label values are interned: regions, models, product codes and
// currencies are few, so a steady sweep does not allocate for them.
func (d *decoder) str(dst *string, intern bool) error {
	if d.peek() == 'n' {
		return d.literal("null")
	}
	if d.peek() != '"' {
		return d.errorf("expected a string")
	}
	raw, esc, err := d.rawString()
	if err != nil {
		return err
	}
	body := raw[1 : len(raw)-1]
	if esc || !utf8.Valid(body) {
		// encoding/json's rules, including U+FFFD for invalid UTF-8,
		// which label values must not carry.
		*dst, err = unescape(raw)
		return err
	}
	if !intern {
		*dst = string(body)
		return nil
	}
	if s, ok := d.intern[string(body)]; ok {
		*dst = s
		return nil
	}
	*dst = string(body)
	if len(d.intern) < 10000 { // bound the table against a hostile variety
		d.intern[*dst] = *dst
	}
	return nil
}

// orderNo reads an OrderNo into d.nos; null leaves the previous one.
func (d *decoder) orderNo(no *noSpan) error {
	if d.peek() == 'n' {
		return d.literal("null")
	}
	if d.peek() != '"' {
		return d.errorf("expected a string")
	}
	raw, esc, err := d.rawString()
	if err != nil {
		return err
	}
	start := len(d.nos)
	if body := raw[1 : len(raw)-1]; esc || !utf8.Valid(body) {
		s, err := unescape(raw)
		if err != nil {
			return err
		}
		d.nos = append(d.nos, s...)
	} else {
		d.nos = append(d.nos, body...)
	}
	*no = noSpan{start: start, end: len(d.nos), set: true}
	return nil
}

// unescape handles the rare string with escapes exactly as encoding/json.
func unescape(quoted []byte) (string, error) {
	var s string
	if err := json.Unmarshal(quoted, &s); err != nil {
		return "", errSyntax
	}
	return s, nil
}

// object walks an object, calling field for each key with the decoder
// positioned at the value; field must consume the value.
func (d *decoder) object(field func(key []byte) error) error {
	d.ws()
	if d.next() != '{' {
		return d.errorf("expected an object")
	}
	d.ws()
	if d.peek() == '}' {
		d.i++
		return nil
	}
	for {
		d.ws()
		if d.peek() != '"' {
			return d.errorf("expected a key")
		}
		raw, esc, err := d.rawString()
		if err != nil {
			return err
		}
		key := raw[1 : len(raw)-1]
		if esc {
			s, err := unescape(raw)
			if err != nil {
				return err
			}
			key = []byte(s)
		}
		// Compact JSON puts the colon and the comma right after a token:
		// test for them before looking for whitespace.
		if d.i < len(d.b) && d.b[d.i] == ':' {
			d.i++
		} else if d.ws(); d.next() != ':' {
			return d.errorf("expected :")
		}
		d.ws()
		if err := field(key); err != nil {
			return err
		}
		if d.i < len(d.b) && d.b[d.i] == ',' {
			d.i++
			continue
		}
		d.ws()
		switch d.next() {
		case ',':
		case '}':
			return nil
		default:
			return d.errorf("expected , or }")
		}
	}
}

// skip passes over any value, checking its syntax.
func (d *decoder) skip(depth int) error {
	if depth > maxDepth {
		return d.errorf("nested too deeply")
	}
	d.ws()
	switch c := d.peek(); {
	case c == '"':
		_, _, err := d.rawString()
		return err
	case c == '{':
		return d.object(func([]byte) error { return d.skip(depth + 1) })
	case c == '[':
		d.i++
		d.ws()
		if d.peek() == ']' {
			d.i++
			return nil
		}
		for {
			if err := d.skip(depth + 1); err != nil {
				return err
			}
			d.ws()
			switch d.next() {
			case ',':
			case ']':
				return nil
			default:
				return d.errorf("expected , or ]")
			}
		}
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		_, err := d.number()
		return err
	}
	return d.errorf("unexpected character")
}

// rawString returns a string token with its quotes, and whether it holds
// escapes. Escapes are checked for form; control characters are refused.
//
// Runs of plain bytes are crossed eight at a time: (v-lsbs) &^ v & msbs
// flags the bytes of v that are zero, with false positives only above a
// true one, so the lowest flag of the three tests (quote, backslash, below
// 0x20) is exact. Skipped fields are most of a body, and most are strings.
func (d *decoder) rawString() (raw []byte, escaped bool, err error) {
	start, b := d.i, d.b
	i := d.i + 1 // opening quote
	for {
		for ; i+8 <= len(b); i += 8 {
			x := binary.LittleEndian.Uint64(b[i:])
			q, e := x^(lsbs*'"'), x^(lsbs*'\\')
			if m := ((q - lsbs) &^ q) | ((e - lsbs) &^ e) | ((x - lsbs*0x20) &^ x); m&msbs != 0 {
				i += bits.TrailingZeros64(m&msbs) / 8
				goto special
			}
		}
		for ; i < len(b); i++ {
			if c := b[i]; c == '"' || c == '\\' || c < 0x20 {
				goto special
			}
		}
		break
	special:
		switch c := b[i]; {
		case c == '"':
			d.i = i + 1
			return b[start:d.i], escaped, nil
		case c != '\\':
			d.i = i
			return nil, false, d.errorf("control character in string")
		}
		escaped = true
		if i+1 >= len(b) {
			break
		}
		switch b[i+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i += 2
		case 'u':
			if i+6 > len(b) {
				d.i = i
				return nil, false, d.errorf("short \\u escape")
			}
			for _, h := range b[i+2 : i+6] {
				if !isHex(h) {
					d.i = i
					return nil, false, d.errorf("bad \\u escape")
				}
			}
			i += 6
		default:
			d.i = i
			return nil, false, d.errorf("bad escape")
		}
	}
	d.i = len(b)
	return nil, false, d.errorf("unterminated string")
}

const (
	lsbs = 0x0101010101010101
	msbs = 0x8080808080808080
)

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// number returns a JSON number's literal text, checked against the grammar.
func (d *decoder) number() ([]byte, error) {
	start := d.i
	if d.peek() == '-' {
		d.i++
	}
	switch {
	case d.peek() == '0':
		d.i++
	case d.peek() >= '1' && d.peek() <= '9':
		d.digits()
	default:
		return nil, d.errorf("bad number")
	}
	if d.peek() == '.' {
		d.i++
		if d.digits() == 0 {
			return nil, d.errorf("bad number")
		}
	}
	if c := d.peek(); c == 'e' || c == 'E' {
		d.i++
		if c := d.peek(); c == '+' || c == '-' {
			d.i++
		}
		if d.digits() == 0 {
			return nil, d.errorf("bad number")
		}
	}
	return d.b[start:d.i], nil
}

func (d *decoder) digits() int {
	n := 0
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
		n++
	}
	return n
}

func (d *decoder) literal(word string) error {
	if !bytes.HasPrefix(d.b[d.i:], []byte(word)) {
		return d.errorf("bad literal")
	}
	d.i += len(word)
	return nil
}

func (d *decoder) ws() {
	if d.i < len(d.b) && d.b[d.i] > ' ' { // compact JSON: the usual case
		return
	}
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) peek() byte {
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

func (d *decoder) next() byte {
	c := d.peek()
	d.i++
	return c
}

func (d *decoder) errorf(format string, args ...any) error {
	return fmt.Errorf("%w at byte %d: %s", errSyntax, min(d.i, len(d.b)), fmt.Sprintf(format, args...))
}
