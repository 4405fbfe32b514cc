package apiclient

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"strings"
)

// This file is the schema of a ListUnpaidOrders response: which keys each
// object has, read with the scanner (jsonscan.go) into a page of Orders
// (order.go). Every other key is skipped, its value checked for syntax.

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

// field is a key the decoder reads. Its value only has to be distinct:
// which keys an object has is its keyTable.
type field uint8

const (
	fieldOther field = iota // any key not in the object's table
	fieldRetCode
	fieldMessage
	fieldAction
	fieldTotalCount
	fieldOrders
	fieldData
	fieldOrderNo
	fieldRegion
	fieldModelID
	fieldProductCode
	fieldCurrency
	fieldOrderTotalPrice
	fieldCreateTime
)

// The keys of each object of a response.
var (
	topLevelKeys = newKeyTable([]tableKey{
		{name: "RetCode", field: fieldRetCode},
		{name: "Message", field: fieldMessage},
		{name: "Action", field: fieldAction},
		{name: "TotalCount", field: fieldTotalCount},
		{name: "Orders", field: fieldOrders},
		{name: "Data", field: fieldData},
	})
	dataKeys = newKeyTable([]tableKey{
		{name: "TotalCount", field: fieldTotalCount},
		{name: "Orders", field: fieldOrders},
	})
	orderKeys = newKeyTable([]tableKey{
		{name: "OrderNo", field: fieldOrderNo},
		{name: "Region", field: fieldRegion},
		{name: "ModelID", field: fieldModelID},
		{name: "ProductCode", field: fieldProductCode},
		{name: "Currency", field: fieldCurrency},
		{name: "OrderTotalPrice", field: fieldOrderTotalPrice},
		{name: "CreateTime", field: fieldCreateTime},
	})
)

// keyTable maps an object's keys to fields the way encoding/json matches
// struct fields: exactly, or failing that by Unicode case folding.
type keyTable struct {
	keys []tableKey
	// byLength[n] are the keys of n bytes: an ASCII key of another length
	// is none of them, exactly or folded.
	byLength [maxKeyLength + 1][]tableKey
	// exact holds the keys of 16 bytes or fewer by a hash of their words
	// and length, and folded by the same hash of their words made lower
	// case (lower): a key is looked up in one slot of each, without a
	// branch on its length or on which key it is. multiplier makes the
	// hash; newKeyTable picks one under which no two keys share a slot.
	exact, folded [keySlots]keySlot
	multiplier    uint64
}

const keySlots = 64 // a power of two

type keySlot struct {
	head, tail uint64
	n          int // 0 for an empty slot: no key is empty
	field      field
}

// slot returns the slot of the words of a key of n bytes.
func (t *keyTable) slot(head, tail uint64, n int) uint64 {
	return ((head ^ tail<<1 ^ uint64(n)) * t.multiplier) >> (64 - 6) // 6: log2(keySlots)
}

// maxKeyLength bounds the names of a keyTable.
const maxKeyLength = 32

type tableKey struct {
	name  string
	field field
	// head and tail are name's first and last eight bytes as words
	// (zero-padded when shorter; tail zero for eight bytes or fewer).
	head, tail uint64
}

func newKeyTable(keys []tableKey) *keyTable {
	t := &keyTable{keys: keys}
	for i := range keys {
		name := keys[i].name
		if len(name) == 0 || len(name) > maxKeyLength || !isASCII([]byte(name)) || keys[i].field == fieldOther {
			panic("apiclient: a key table's names must be ASCII, of 1 to 32 bytes, and name a field: " + name)
		}
		for _, k := range keys[:i] {
			if bytes.EqualFold([]byte(k.name), []byte(name)) || k.field == keys[i].field {
				// Which one encoding/json picks would then matter.
				panic("apiclient: two keys of a table fold to each other or share a field: " + name)
			}
		}
		keys[i].head, keys[i].tail = keyWords([]byte(name))
		t.byLength[len(name)] = append(t.byLength[len(name)], keys[i])
	}
	// Multipliers from a fixed sequence (odd, as a hash multiplier must
	// be) until one gives every key its own slot, exact and folded.
	for m := uint64(0x9e3779b97f4a7c15); ; m += 0x5851f42d4c957f2e {
		if t.multiplier = m | 1; t.fillSlots() {
			return t
		}
	}
}

// fillSlots fills exact and folded under t.multiplier, and reports whether
// no two keys share a slot. Keys longer than 16 bytes have none.
func (t *keyTable) fillSlots() bool {
	t.exact, t.folded = [keySlots]keySlot{}, [keySlots]keySlot{}
	for _, k := range t.keys {
		n := len(k.name)
		if n > 16 {
			continue
		}
		e := &t.exact[t.slot(k.head, k.tail, n)]
		lh, lt := k.head|lower, k.tail|lower
		f := &t.folded[t.slot(lh, lt, n)]
		if e.n != 0 || (f.n != 0 && (f.head != lh || f.tail != lt || f.n != n)) {
			return false // two keys that fold to the same words may share one
		}
		*e = keySlot{head: k.head, tail: k.tail, n: n, field: k.field}
		*f = keySlot{head: lh, tail: lt, n: n, field: k.field}
	}
	return true
}

// keyWords returns a key's first and last eight bytes as words, as in
// tableKey.
func keyWords(key []byte) (head, tail uint64) {
	n := len(key)
	switch {
	case n >= 8:
		head = binary.LittleEndian.Uint64(key)
		if n > 8 {
			tail = binary.LittleEndian.Uint64(key[n-8:])
		}
	case cap(key) >= 8: // a key inside a body: read on, and mask
		head = binary.LittleEndian.Uint64(key[:8]) & (1<<(8*n) - 1)
	default:
		for i := n - 1; i >= 0; i-- {
			head = head<<8 | uint64(key[i])
		}
	}
	return head, tail
}

// lower is OR-ed into words of ASCII to compare them ignoring case: it
// makes letters lower case, and some other bytes equal to each other, so
// equal words are only candidates.
const lower = lsbs * 0x20

// lookup returns key's field, or fieldOther. No two names of a table fold
// to each other, so an exact match and a folded one cannot disagree.
func (t *keyTable) lookup(key []byte, ascii bool) field {
	if !ascii {
		// Folding can change a length ("K", the Kelvin sign, folds to "k").
		for i := range t.keys {
			if bytes.EqualFold(key, []byte(t.keys[i].name)) {
				return t.keys[i].field
			}
		}
		return fieldOther
	}
	if len(key) > maxKeyLength {
		return fieldOther
	}
	keys := t.byLength[len(key)]
	if len(keys) == 0 {
		return fieldOther
	}
	head, tail := keyWords(key)
	return match(keys, key, head, tail)
}

// plainKey returns the field of a key with no escapes, as lookup does. A
// key of 16 bytes or fewer, as most are, is checked for ASCII in the words
// it is compared by.
//
// Its one slot of exact gives the key's field if the key is a name of the
// table. Else, if its folded slot holds its words made lower case, the key
// may fold to a name, and match decides; that is rare, and the only branch
// that depends on the key, so keys in any order cost no mispredictions.
func (t *keyTable) plainKey(key []byte) field {
	n := len(key)
	if n > 16 {
		return t.lookup(key, isASCII(key))
	}
	head, tail := keyWords(key)
	if (head|tail)&msbs != 0 {
		return t.lookup(key, false)
	}
	e := &t.exact[t.slot(head, tail, n)&(keySlots-1)]
	f := fieldOther
	if (e.head^head)|(e.tail^tail)|uint64(e.n^n) == 0 {
		f = e.field
	}
	lh, lt := head|lower, tail|lower
	g := &t.folded[t.slot(lh, lt, n)&(keySlots-1)]
	if (g.head^lh)|(g.tail^lt)|uint64(g.n^n)|uint64(f) == 0 { // fieldOther is 0
		return match(t.byLength[n], key, head, tail)
	}
	return f
}

// match returns the field of the key among keys, all of key's length, that
// key (ASCII, with its words head and tail) is or folds to, or fieldOther.
func match(keys []tableKey, key []byte, head, tail uint64) field {
	for i := range keys {
		k := &keys[i]
		if head == k.head && tail == k.tail && len(key) <= 16 {
			return k.field // the words are the whole key
		}
		if head|lower == k.head|lower && tail|lower == k.tail|lower && asciiEqualFold(key, k.name) {
			return k.field
		}
	}
	return fieldOther
}

// asciiEqualFold compares two ASCII strings of the same length, ignoring
// case.
func asciiEqualFold(a []byte, b string) bool {
	for i := range a {
		x, y := a[i], b[i]
		if x != y && (x|0x20 != y|0x20 || x|0x20 < 'a' || x|0x20 > 'z') {
			return false
		}
	}
	return true
}

func isASCII(b []byte) bool {
	var high uint64
	if n := len(b); n >= 8 {
		// Eight bytes at a time, the last eight overlapping: no byte loop.
		for k := 0; k+8 < n; k += 8 {
			high |= binary.LittleEndian.Uint64(b[k:])
		}
		high |= binary.LittleEndian.Uint64(b[n-8:])
		return high&msbs == 0
	}
	for _, c := range b {
		high |= uint64(c)
	}
	return high&msbs == 0
}

// maxLabels bounds the interned label values against a hostile variety,
// and maxInternedLabel their length: a longer value (the collector cuts it
// to 128 bytes anyway) is read anew each time, never kept.
const (
	maxLabels        = 10000
	maxInternedLabel = 512
)

// decoder reads response bodies. It keeps interned label values and the
// order slice from page to page, and gathers a page's order numbers into
// one string, so a steady sweep allocates once per page.
type decoder struct {
	scanner
	// answered, when set, is called once, as the Orders array is reached
	// in an answer whose RetCode 0 came before it: the request then leaves
	// the pacer's window (see attempt), known not to be a throttle.
	answered func()
	// labels maps a label value as sent (escapes and all) to its text:
	// regions, models, product codes and currencies are few.
	labels map[string]string
	recent [recentSlots]recentLabel
	short  [shortSlots]shortLabel
	// orderNos holds the page's order numbers back to back; orderNoAt[i]
	// is where order i's lies in it.
	orderNos  []byte
	orderNoAt []orderNoRange
	keyText   []byte // an escaped key's text
	// valueText holds the unescaped texts of the top-level values, then
	// of the current order's (OrderTotalPrice, CreateTime) until it is done.
	valueText []byte
	// maxOrders, if not 0, is the most orders an answer may hold (the
	// PageSize asked for): a body of "{}," would otherwise cost some
	// 150 bytes of Order for each 3 bytes it sends.
	maxOrders int
	// secret, if set, is redacted from every label value's text: a server
	// that echoes the private key into a Region must not put it in a metric.
	secret string
	// shapes are the order shapes learnt (shape.go); learns and
	// shapeMisses count this page's attempts to learn one and its orders
	// that a shape failed, shapeHits the orders read by one. noShapes
	// turns them off, for tests that compare both paths.
	shapes      []*shape
	shapeIndex  [shapeIndexSlots]shapeIndexEntry
	shapeClock  uint64 // counts shapes' uses, for shape.used
	learns      int
	shapeMisses int
	shapeHits   int
	noShapes    bool
	// shapeScratch holds the members of the shape being learnt.
	shapeScratch []shapeMember
	kept         [maxKept]keptValue // crossMembers' record
}

type orderNoRange struct {
	start, end int
	set        bool
}

func newDecoder() *decoder { return &decoder{labels: make(map[string]string)} }

// decodePage parses body into p, reusing p.orders' backing array.
func (d *decoder) decodePage(body []byte, p *page) error {
	d.scanner.reset(body)
	d.orderNos, d.orderNoAt, d.valueText = d.orderNos[:0], d.orderNoAt[:0], d.valueText[:0]
	d.learns, d.shapeMisses = 0, 0
	*p = page{totalCount: -1, orders: p.orders[:0]}
	if err := d.topLevel(p); err != nil {
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
	if len(d.orderNos) > 0 {
		// One allocation for the page; each OrderNo is a slice of it.
		all := string(d.orderNos)
		for i, r := range d.orderNoAt {
			if r.set {
				p.orders[i].OrderNo = all[r.start:r.end]
			}
		}
	}
	return nil
}

// memberField reads the next member of an object as scanner.member does and
// returns the field its key names in table. A short ASCII key, as most
// are, is looked up by the words read while finding its end.
func (d *decoder) memberField(first bool, table *keyTable) (f field, ok bool, err error) {
	if n := d.keySep(); n != 0 && !first {
		d.i += n
	} else if ok, err = d.toKey(first); !ok {
		return fieldOther, false, err
	}
	if end := d.nextStop(d.i + 1); end < len(d.b) && d.b[end] == '"' {
		raw := d.b[d.i+1 : end]
		d.i = end + 1
		f = table.plainKey(raw)
	} else {
		key, err := d.stringToken()
		if err != nil {
			return fieldOther, false, err
		}
		f = d.keyField(table, key)
	}
	if n := d.valueSep(); n != 0 {
		d.i += n
	} else if err = d.toValue(); err != nil {
		return fieldOther, false, err
	}
	return f, true, nil
}

// commonMembers is memberField for the commonest members, those of
// compact, spaced or indented JSON with a key free of escapes. It crosses
// the members whose key is not in table and whose value is a string free
// of escapes or an integer, as memberField and skipValue would, and stops
// at the first member whose key is in table, at its value: ok true, and f
// the key's field. At any other member, and at the object's end, it stops
// at the member's start for memberField: ok false. first says whether the
// member it stopped at is the object's first. It works on locals, with no
// call but the key's lookup, and stores once: most members of an order
// are crossed here.
func (d *decoder) commonMembers(isFirst bool, table *keyTable) (f field, ok, first bool) {
	b, i, stops := d.b, d.i, d.stops
	start := i
members:
	for first = isFirst; ; first = false {
		start = i
		if !first {
			if i >= len(b) || b[i] != ',' {
				break
			}
			i++
		}
		if i < len(b) && b[i] <= ' ' {
			i = skipWS(b, i)
		}
		if i >= len(b) || b[i] != '"' {
			break
		}
		// The key's end is the next stop, within 64 bytes.
		x := stopWindow(stops, i+1)
		end := i + 1 + bits.TrailingZeros64(x) // 64 past i+1 if x is 0
		if x == 0 || end+2 >= len(b) || b[end] != '"' {
			break
		}
		key := b[i+1 : end]
		if i = end + 1; b[i] != ':' {
			break
		}
		if i++; b[i] <= ' ' {
			if i = skipWS(b, i); i >= len(b) {
				break
			}
		}
		if f = table.plainKey(key); f != fieldOther {
			d.i = i
			return f, true, first
		}
		switch c := b[i]; {
		case c == '"':
			x = stopWindow(stops, i+1)
			if end = i + 1 + bits.TrailingZeros64(x); x == 0 || end >= len(b) || b[end] != '"' {
				break members
			}
			i = end + 1
		case c-'1' <= 8:
			if end = digitsEnd(b, i+1); end >= len(b) || b[end] == '.' || b[end]|0x20 == 'e' {
				break members
			}
			i = end
		default:
			break members
		}
	}
	d.i = start
	return fieldOther, false, first
}

// keyField looks a member's key up in its object's table.
func (d *decoder) keyField(table *keyTable, key stringToken) field {
	if !key.escaped {
		return table.plainKey(key.raw)
	}
	d.keyText = d.keyText[:0]
	text := key.text(&d.keyText)
	return table.lookup(text, isASCII(text))
}

// topLevel reads the response object.
func (d *decoder) topLevel(p *page) error {
	if err := d.enterObject(); err != nil {
		return err
	}
	for first := true; ; first = false {
		f, ok, err := d.memberField(first, topLevelKeys)
		if !ok {
			return err
		}
		switch f {
		case fieldRetCode:
			if p.retCodeSet {
				// Refused rather than one picked, like a second order
				// list; and a RetCode 0 before the orders has already let
				// the request leave the pacer's window (see attempt).
				return d.errorf("a second RetCode")
			}
			n, ok, err := d.intValue()
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("RetCode is not an integer")
			}
			p.retCode, p.retCodeSet = n, true
		case fieldMessage:
			err = d.stringValue(&p.message, false)
		case fieldAction:
			err = d.stringValue(&p.action, true)
		case fieldTotalCount:
			err = d.totalCount(p)
		case fieldOrders:
			err = d.orders(p)
		case fieldData:
			err = d.data(p)
		default:
			err = d.skipValue(0)
		}
		if err != nil {
			return err
		}
	}
}

// data reads the Data object; null is no object.
func (d *decoder) data(p *page) error {
	if d.peek() == 'n' {
		return d.literal("null")
	}
	if err := d.enterObject(); err != nil {
		return err
	}
	for first := true; ; first = false {
		f, ok, err := d.memberField(first, dataKeys)
		if !ok {
			return err
		}
		switch f {
		case fieldOrders:
			err = d.orders(p)
		case fieldTotalCount:
			err = d.totalCount(p)
		default:
			err = d.skipValue(1)
		}
		if err != nil {
			return err
		}
	}
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
	if f := d.answered; f != nil && p.retCodeSet && p.retCode == 0 {
		d.answered = nil
		f()
	}
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
	d.enterArray()
	for first := true; ; first = false {
		ok, err := d.element(first, " in Orders")
		if !ok {
			return err
		}
		if d.maxOrders > 0 && len(p.orders) == d.maxOrders {
			return fmt.Errorf("more orders in one answer than the %d asked for (PageSize)", d.maxOrders)
		}
		p.orders = append(p.orders, Order{})
		d.orderNoAt = append(d.orderNoAt, orderNoRange{})
		o, no := &p.orders[len(p.orders)-1], &d.orderNoAt[len(d.orderNoAt)-1]
		if d.orderByShape(o, no) {
			continue
		}
		start := d.i
		if err := d.order(o, no); err != nil {
			return err
		}
		d.learnShape(start, d.i)
	}
}

// order reads one order; null is an order with no fields. Its OrderNo
// goes to d.orderNos at *no, and into o once the page is done.
func (d *decoder) order(o *Order, no *orderNoRange) error {
	var st shapeState
	d.valueText = d.valueText[:0]
	if d.peek() == 'n' {
		if err := d.literal("null"); err != nil {
			return err
		}
		o.setAmountAndTime(st.amount, st.createTime)
		return nil
	}
	if err := d.enterObject(); err != nil {
		return err
	}
	for first := true; ; first = false {
		f, ok, atFirst := d.commonMembers(first, orderKeys)
		if !ok {
			var err error
			if f, ok, err = d.memberField(atFirst, orderKeys); err != nil {
				return err
			}
			if !ok {
				break
			}
		}
		if err := d.orderField(f, o, no, &st); err != nil {
			return err
		}
	}
	o.setAmountAndTime(st.amount, st.createTime)
	return nil
}

// orderField reads the value of an order's member whose key names f.
func (d *decoder) orderField(f field, o *Order, no *orderNoRange, st *shapeState) error {
	switch f {
	case fieldOrderNo:
		return d.orderNo(no)
	case fieldRegion:
		return d.stringValue(&o.Region, true)
	case fieldModelID:
		return d.stringValue(&o.ModelID, true)
	case fieldProductCode:
		return d.stringValue(&o.ProductCode, true)
	case fieldCurrency:
		return d.stringValue(&o.Currency, true)
	case fieldOrderTotalPrice:
		return d.scalarField(&st.amount)
	case fieldCreateTime:
		return d.scalarField(&st.createTime)
	}
	return d.skipValue(1)
}

// scalarField reads a money or time field; null leaves it as it was, as
// encoding/json does for a repeated key. An unescaped text goes to
// d.valueText, which the order keeps until it is done.
func (d *decoder) scalarField(f *scalarField) error {
	val, isString, set, err := d.scalar()
	if set {
		*f = scalarField{val: val, isString: isString, set: true}
	}
	return err
}

// scalar returns a string's text or a number's literal text; null counts
// as absent. Anything else is a syntax error.
func (d *decoder) scalar() (val []byte, isString, set bool, err error) {
	switch c := d.peek(); {
	case c == '"':
		tok, err := d.stringToken()
		if err != nil {
			return nil, false, false, err
		}
		if !tok.escaped {
			return tok.raw, true, true, nil // see scalarField
		}
		return tok.text(&d.valueText), true, true, nil
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

// stringOrNull reads a string value, or null (ok false), or fails.
func (d *decoder) stringOrNull() (tok stringToken, ok bool, err error) {
	switch d.peek() {
	case 'n':
		return stringToken{}, false, d.literal("null")
	case '"':
		tok, err = d.stringToken()
		return tok, err == nil, err
	}
	return stringToken{}, false, d.errorf("expected a string")
}

// stringValue reads a string into dst; null leaves dst as it was, as
// encoding/json does. Invalid UTF-8 becomes U+FFFD, as encoding/json does
// and as label values must. A label is interned by its form as sent, so a
// steady sweep allocates nothing for it, escaped or not.
func (d *decoder) stringValue(dst *string, label bool) error {
	tok, ok, err := d.stringOrNull()
	if !ok {
		return err
	}
	if !label {
		*dst = string(tok.text(&d.valueText))
		return nil
	}
	*dst = d.label(tok)
	return nil
}

// label returns a label value's text, interned.
func (d *decoder) label(tok stringToken) string {
	if len(tok.raw) > maxInternedLabel {
		return redactSecret(string(tok.text(&d.valueText)), d.secret)
	}
	e := &d.recent[recentSlot(tok.raw)]
	if e.set && e.raw == string(tok.raw) {
		return e.text
	}
	if s, ok := d.labels[string(tok.raw)]; ok {
		return s
	}
	text := redactSecret(string(tok.text(&d.valueText)), d.secret)
	if len(d.labels) < maxLabels {
		raw := string(tok.raw)
		if tok.escaped && !strings.Contains(text, `\`) {
			// Sent without escapes, the same value's raw bytes are its
			// text: both renderings get one string, which the collector's
			// cache of series, going by where labels are, needs. (With a
			// backslash in it, the text is not such a raw form.)
			if t, ok := d.labels[text]; ok {
				text = t
			} else if len(d.labels)+1 < maxLabels { // room for raw too
				d.labels[text] = text
			}
		}
		d.labels[raw] = text
		if !e.set {
			// A slot keeps its first value: values that share it go to the
			// map, and a steady sweep allocates nothing for them.
			*e = recentLabel{raw: raw, text: text, set: true}
		}
	}
	return text
}

// keptFields is orderField for each value of kept, a string without
// escapes (raw between its quotes) or an amount's or a time's plain
// integer, as a shape's reader finds it: in one
// loop, since a call for each, with its arguments, cost as much as the
// label look-ups.
func (d *decoder) keptFields(kept []keptValue, o *Order, no *orderNoRange, st *shapeState) {
	b := d.b
	for i := range kept {
		v := &kept[i]
		var dst *string
		switch v.field {
		case fieldOrderNo:
			start := len(d.orderNos)
			d.orderNos = stringToken{raw: b[v.start:v.end]}.appendText(d.orderNos)
			*no = orderNoRange{start: start, end: len(d.orderNos), set: true}
			continue
		case fieldRegion:
			dst = &o.Region
		case fieldModelID:
			dst = &o.ModelID
		case fieldProductCode:
			dst = &o.ProductCode
		case fieldCurrency:
			dst = &o.Currency
		case fieldOrderTotalPrice:
			st.amount = scalarField{val: b[v.start:v.end], isString: !v.number, set: true} // see scalarField
			continue
		case fieldCreateTime:
			st.createTime = scalarField{val: b[v.start:v.end], isString: !v.number, set: true}
			continue
		default:
			continue
		}
		// A label. A value of at most 16 bytes, with 16 bytes of b from its
		// start, is looked up by its bytes as two words and its length, with
		// no call and no hash of its bytes: most label values are short,
		// and label's compare and map cost some 100 instructions for each
		// of the four an order. (Written out here: a call for each cost a
		// third of the look-up.)
		start, n := v.start, v.end-v.start
		if uint(n) <= 16 && start >= 0 && start <= len(b)-16 {
			w := b[start : start+16 : start+16]
			m := &shortMasks[n]
			lo := binary.LittleEndian.Uint64(w[:8]) & m[0]
			hi := binary.LittleEndian.Uint64(w[8:]) & m[1]
			slot := shortSlot(lo, hi, n)
			if e := &d.short[slot]; e.lo == lo && e.hi == hi && int(e.size) == n+1 {
				*dst = e.text
				continue
			}
			*dst = d.shortLabelMiss(b[start:v.end], lo, hi, slot)
			continue
		}
		*dst = d.label(stringToken{raw: b[start:v.end]})
	}
}

// shortLabelMiss is keptFields' look-up of a label for a value not in its
// first slot: in the second, or read by label into one of the two. Two
// slots a value: a few values share a slot at random, and two that
// alternate in a page would push each other out.
func (d *decoder) shortLabelMiss(raw []byte, lo, hi uint64, slot int) string {
	n := len(raw)
	e, f := &d.short[slot], &d.short[slot^1]
	if f.lo == lo && f.hi == hi && int(f.size) == n+1 {
		return f.text
	}
	if e.size != 0 && f.size == 0 {
		e = f
	}
	text := d.label(stringToken{raw: raw})
	*e = shortLabel{lo: lo, hi: hi, size: uint8(n + 1), text: text}
	return text
}

// shortLabel is a slot of keptFields' cache of short labels: a value's
// bytes as two words (zero past its end) and its length plus one (0: an
// empty slot).
type shortLabel struct {
	lo, hi uint64
	size   uint8
	text   string
}

const (
	shortSlotBits = 7
	shortSlots    = 1 << shortSlotBits
)

// shortMasks[n] keeps the first n of 16 bytes, as two words.
var shortMasks = func() (m [17][2]uint64) {
	for n := range m {
		for k := range 2 {
			if bytes := min(max(n-8*k, 0), 8); bytes == 8 {
				m[n][k] = ^uint64(0)
			} else {
				m[n][k] = 1<<(8*bytes) - 1
			}
		}
	}
	return m
}()

// shortSlot picks a short label's first slot from its words and length.
func shortSlot(lo, hi uint64, n int) int {
	h := (lo ^ hi*0x9e3779b97f4a7c15 ^ uint64(n)) * 0xff51afd7ed558ccd
	return int(h >> (64 - shortSlotBits))
}

// recentLabel is a slot of the decoder's cache of label values in front of
// its map: a few values fill most orders, and comparing one slot's bytes
// costs less than hashing them for the map.
type recentLabel struct {
	raw, text string
	set       bool
}

const recentSlots = 64 // a power of two

// recentSlot picks a label's slot from its length and three of its bytes.
func recentSlot(raw []byte) int {
	n := len(raw)
	if n == 0 {
		return 0
	}
	return (n*0x9d ^ int(raw[0])*0x3b ^ int(raw[n-1])*0x11 ^ int(raw[n/2])*0x7) & (recentSlots - 1)
}

// orderNo reads an OrderNo into d.orderNos; null leaves the previous one.
func (d *decoder) orderNo(no *orderNoRange) error {
	tok, ok, err := d.stringOrNull()
	if !ok {
		return err
	}
	start := len(d.orderNos)
	d.orderNos = tok.appendText(d.orderNos)
	*no = orderNoRange{start: start, end: len(d.orderNos), set: true}
	return nil
}
