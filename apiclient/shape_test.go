package apiclient

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// decodeBoth decodes body with shapes and member by member, each with a
// decoder of its own that has read warm first (so shapes are learnt), and
// requires the same outcome: the same error text, or the same page.
func decodeBoth(t *testing.T, warm, body []byte) (hits int) {
	t.Helper()
	shapes, plain := newDecoder(), newDecoder()
	plain.noShapes = true
	var ps, pp page
	if warm != nil {
		require.NoError(t, shapes.decodePage(warm, &ps))
		require.NoError(t, plain.decodePage(warm, &pp))
	}
	before := shapes.shapeHits
	errS, errP := shapes.decodePage(body, &ps), plain.decodePage(body, &pp)
	if errP != nil {
		require.Error(t, errS, "member by member refused %q (%v), shapes accepted it", body, errP)
		require.Equal(t, errP.Error(), errS.Error(), "body %q", body)
		return shapes.shapeHits - before
	}
	require.NoError(t, errS, "body %q", body)
	require.Equal(t, pp, ps, "body %q", body)
	return shapes.shapeHits - before
}

// shapedOrder writes one order in the style given, with values drawn from
// r: the same shape for every r when the style is the same.
func shapedOrder(r *rand.Rand, style int) string {
	colon, comma := ":", ","
	switch style {
	case 1:
		colon, comma = ": ", ", "
	case 2:
		colon, comma = ": ", ",\n\t\t"
	}
	str := func() string { // JSON strings
		return []string{`"a"`, `""`, `"q\"uote"`, `"华北"`, `"\u00e9x"`, `"back\\slash"`, `"\u007f\ud83d\ude80"`}[r.IntN(7)]
	}
	label := func(vs ...string) string { return strconv.Quote(vs[r.IntN(len(vs))]) }
	esc := func(s string) string { // some labels written as \u escapes
		if r.IntN(3) == 0 {
			var b strings.Builder
			for _, c := range s {
				fmt.Fprintf(&b, `\u%04x`, c)
			}
			return `"` + b.String() + `"`
		}
		return strconv.Quote(s)
	}
	amount := []string{`"1.5"`, `"0.00000001"`, `12`, `"-3"`, `"x"`, `null`, `"99999999.99999999"`}[r.IntN(7)]
	created := []string{`"1767225600"`, `1767225601`, `"-5"`, `null`, `"+1"`, `1.5`}[r.IntN(6)]
	members := []string{
		`"Region"` + colon + label("cn-wlcb", "hk", "us-ca"),
		`"OrderNo"` + colon + strconv.Quote("UO-"+strconv.Itoa(r.IntN(1000))),
		`"CompanyID"` + colon + strconv.Itoa(r.IntN(100000)-10),
		`"OrganizationName"` + colon + str(),
		`"ModelID"` + colon + esc([]string{"deepseek-r1", "qwen", "模型"}[r.IntN(3)]),
		`"Quantity"` + colon + []string{"0", "15", "-2", "1.25", "3e2", "true", "false", "null"}[r.IntN(8)],
		`"Currency"` + colon + label("CNY", "USD"),
		`"OrderTotalPrice"` + colon + amount,
		`"ProductCode"` + colon + label("modelverse", "sandbox"),
		`"CreateTime"` + colon + created,
		`"StatusDisplay"` + colon + str(),
	}
	return "{" + strings.Join(members, comma) + "}"
}

func shapedPage(orders []string) []byte {
	return []byte(`{"RetCode":0,"Orders":[` + strings.Join(orders, ",") + `]}`)
}

// TestShapesReadWhatMemberByMemberReads mutates pages of orders that share
// shapes, a byte at a time, and requires the shapes to give exactly what
// the member by member path gives (itself fuzzed against encoding/json):
// the same orders, or the same error.
func TestShapesReadWhatMemberByMemberReads(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	hits, refused := 0, 0
	for trial := range 3000 {
		style := trial % 3
		var orders []string
		for range 6 {
			orders = append(orders, shapedOrder(r, style))
		}
		body := shapedPage(orders)
		if trial%4 != 0 {
			// One edit in the fourth order or after: the shapes are learnt
			// from the first ones by then.
			at := len(shapedPage(orders[:3])) + r.IntN(len(body)-len(shapedPage(orders[:3])))
			edits := []string{"", ",", ":", `"`, `\`, " ", "{", "}", "[", "0", "x", "\x01", "é"}
			e := edits[r.IntN(len(edits))]
			switch r.IntN(3) {
			case 0: // replace
				body = append(append(body[:at:at], e...), body[at+1:]...)
			case 1: // insert
				body = append(append(body[:at:at], e...), body[at:]...)
			default: // delete
				body = append(body[:at:at], body[at+1:]...)
			}
		}
		h := decodeBoth(t, nil, body)
		hits += h
		var p page
		if newDecoder().decodePage(body, &p) != nil {
			refused++
		}
	}
	t.Logf("%d orders read by a shape, %d pages refused", hits, refused)
	// Not vacuous: most orders after the first of their shape were read by
	// one, and a good share of the edited pages were refused.
	require.Greater(t, hits, 3000*3, "orders read by a shape")
	require.Greater(t, refused, 500, "pages refused")
}

// TestShapesLearntFromOnePageServeTheNext: a decoder keeps its shapes from
// page to page, and a page of orders in a learnt shape is read by them.
func TestShapesLearntFromOnePageServeTheNext(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var warm, next []string
	for range 5 {
		warm = append(warm, shapedOrder(r, 1))
		next = append(next, shapedOrder(r, 1))
	}
	require.Equal(t, 5, decodeBoth(t, shapedPage(warm), shapedPage(next)))
}

// TestShapesAreBounded: orders of ever new shapes (each with a key of its
// own) are still read exactly, while the decoder keeps at most maxShapes
// shapes and tries to learn at most maxLearnsPerPage a page.
func TestShapesAreBounded(t *testing.T) {
	d := newDecoder()
	var p page
	for pg := range 20 {
		var orders []string
		for k := range 30 {
			orders = append(orders, fmt.Sprintf(`{"K%d_%d":1,"OrderNo":"n%d","OrderTotalPrice":"%d","CreateTime":"%d"}`, pg, k, k, k, k))
		}
		learns := len(d.shapes)
		require.NoError(t, d.decodePage(shapedPage(orders), &p))
		require.Len(t, p.orders, 30)
		for k, o := range p.orders {
			require.Equal(t, fmt.Sprintf("n%d", k), o.OrderNo)
			require.Equal(t, int64(k), o.CreateTime)
			require.Equal(t, strconv.Itoa(k), o.Amount.String())
		}
		require.LessOrEqual(t, len(d.shapes), maxShapes)
		require.LessOrEqual(t, d.learns, maxLearnsPerPage)
		if pg == 0 {
			require.Equal(t, maxLearnsPerPage, len(d.shapes)-learns)
		}
	}
	require.Len(t, d.shapes, maxShapes)
	require.Zero(t, d.shapeHits, "no order had a learnt shape")
	requireIndexOfKeptShapes(t, d)
}

// requireIndexOfKeptShapes: the index of shapes names only shapes the
// decoder keeps, so that it keeps no more than maxShapes.
func requireIndexOfKeptShapes(t *testing.T, d *decoder) {
	t.Helper()
	for _, e := range d.shapeIndex {
		if e.sh != nil {
			require.True(t, slices.Contains(d.shapes, e.sh), "the index names a shape given up")
		}
	}
}

// TestShapeIndexForgetsShapesGivenUp: shapes that the index names, then
// pushed out of the table by as many new ones, leave the index too.
func TestShapeIndexForgetsShapesGivenUp(t *testing.T) {
	d := newDecoder()
	var p page
	order := func(key string) string {
		return `{"` + key + `":1,"OrderTotalPrice":"1","CreateTime":"1"}`
	}
	for _, prefix := range []string{"old", "new"} {
		for k := range maxShapes {
			o := order(fmt.Sprintf("%s%02d", prefix, k))
			require.NoError(t, d.decodePage(shapedPage([]string{o, o}), &p)) // learnt, then read by it
		}
		named := 0
		for _, e := range d.shapeIndex {
			if e.sh != nil {
				named++
			}
		}
		require.Positive(t, named, prefix)
		requireIndexOfKeptShapes(t, d)
	}
}

// TestShapeIndexIsAHint: orders of shapes that begin with the same bytes
// (the index's key), alternating, and of shapes that begin otherwise,
// mixed, are all read by their shapes, and right: an index entry that
// names the wrong shape costs a try, never an order.
func TestShapeIndexIsAHint(t *testing.T) {
	d := newDecoder()
	var p page
	shapes := []string{
		`{"Region":"r","A":1,"OrderNo":"n%d","OrderTotalPrice":"%d","CreateTime":"1"}`,
		`{"Region":"r","B":"b","OrderNo":"n%d","OrderTotalPrice":"%d","CreateTime":"1"}`,
		`{"OrderNo":"n%d","Region":"r","OrderTotalPrice":"%d","CreateTime":"1"}`,
		`{ "Region": "r", "OrderNo": "n%d", "OrderTotalPrice": "%d", "CreateTime": "1" }`,
		// The index's key of the first two, another first literal.
		`{"Region" :"r","A":1,"OrderNo":"n%d","OrderTotalPrice":"%d","CreateTime":"1"}`,
	}
	var first []string
	for _, f := range shapes {
		first = append(first, fmt.Sprintf(f, 0, 0))
	}
	for range 2 { // maxLearnsPerPage a page
		require.NoError(t, d.decodePage(shapedPage(first), &p))
	}
	require.Len(t, d.shapes, len(shapes))
	r := rand.New(rand.NewPCG(5, 6))
	before := d.shapeHits
	for pg := range 5 {
		var orders []string
		for k := range 100 {
			f := shapes[[]int{0, 1, 4}[k%3]] // the three that share the index's key, in turn
			if pg >= 2 {
				f = shapes[r.IntN(len(shapes))]
			}
			orders = append(orders, fmt.Sprintf(f, pg*100+k, k))
		}
		require.NoError(t, d.decodePage(shapedPage(orders), &p))
		for k, o := range p.orders {
			require.Equal(t, fmt.Sprint("n", pg*100+k), o.OrderNo)
			require.Equal(t, strconv.Itoa(k), o.Amount.String())
			require.Equal(t, "r", o.Region)
		}
	}
	require.Equal(t, 500, d.shapeHits-before, "every order by its shape")
	requireIndexOfKeptShapes(t, d)
}

// TestShapeEvictsTheLeastRecentlyUsed: with the table full, a new shape
// takes the place of the one used longest ago, and comes first.
func TestShapeEvictsTheLeastRecentlyUsed(t *testing.T) {
	d := newDecoder()
	var p page
	order := func(key string) string {
		return `{"` + key + `":1,"OrderTotalPrice":"1","CreateTime":"1"}`
	}
	for k := range maxShapes {
		require.NoError(t, d.decodePage(shapedPage([]string{order(fmt.Sprint("k", k))}), &p))
	}
	require.Len(t, d.shapes, maxShapes)
	// k0 is the least recently used, until an order reads by it.
	require.Equal(t, `{"k0":`, string(d.shapes[maxShapes-1].members[0].lit))
	require.NoError(t, d.decodePage(shapedPage([]string{order("k0")}), &p))
	require.Equal(t, 1, d.shapeHits)
	require.Equal(t, `{"k0":`, string(d.shapes[0].members[0].lit))
	require.NoError(t, d.decodePage(shapedPage([]string{order("new")}), &p))
	require.Len(t, d.shapes, maxShapes)
	require.Equal(t, `{"new":`, string(d.shapes[0].members[0].lit))
	for _, sh := range d.shapes {
		require.NotEqual(t, `{"k1":`, string(sh.members[0].lit), "k1, used longest ago, is gone")
	}
	requireIndexOfKeptShapes(t, d)
}

// TestACommonShapeBehindOthersIsUsed: orders that all begin alike, two of
// another shape first: the common shape, learnt third, reads the orders
// after it (it once stayed untried behind the two, for good).
func TestACommonShapeBehindOthersIsUsed(t *testing.T) {
	d := newDecoder()
	var p page
	common := func(k int) string {
		return fmt.Sprintf(`{"Region":"r","OrderNo":"n%d","OrderTotalPrice":"%d","CreateTime":"1"}`, k, k)
	}
	orders := []string{`{"Region":"r","Odd1":1,"OrderTotalPrice":"1","CreateTime":"1"}`,
		`{"Region":"r","Odd2":1,"OrderTotalPrice":"1","CreateTime":"1"}`}
	for k := range 100 {
		orders = append(orders, common(k))
	}
	require.NoError(t, d.decodePage(shapedPage(orders), &p))
	before := d.shapeHits
	for pg := range 5 {
		orders = orders[:0]
		for k := range 100 {
			orders = append(orders, common(pg*100+k))
		}
		require.NoError(t, d.decodePage(shapedPage(orders), &p))
		require.Equal(t, fmt.Sprint("n", pg*100+99), p.orders[99].OrderNo)
	}
	require.Equal(t, 500, d.shapeHits-before)
}

// TestShapeMissesAreBounded: orders that begin like a learnt shape and then
// differ (here a member left out) are read member by member, and after
// maxShapeMisses of them a page stops trying shapes.
func TestShapeMissesAreBounded(t *testing.T) {
	d := newDecoder()
	var p page
	full := `{"Region":"r","A":1,"B":2,"OrderTotalPrice":"1","CreateTime":"1"}`
	require.NoError(t, d.decodePage(shapedPage([]string{full}), &p))
	var orders []string
	for k := range 40 {
		// Each leaves out another member, so none matches a shape learnt.
		orders = append(orders, fmt.Sprintf(`{"Region":"r","C%d":1,"OrderTotalPrice":"1","CreateTime":"1"}`, k))
	}
	require.NoError(t, d.decodePage(shapedPage(orders), &p))
	require.Len(t, p.orders, 40)
	require.Equal(t, maxShapeMisses, d.shapeMisses)
}

// TestShapeWithNestedValueFallsBack: an order with a learnt shape's bytes
// around a value that is an object is read member by member, and right.
func TestShapeWithNestedValueFallsBack(t *testing.T) {
	warm := shapedPage([]string{`{"X":1,"Region":"a","OrderTotalPrice":"1","CreateTime":"1"}`})
	for _, o := range []string{
		`{"X":{"Region":"b"},"Region":"a","OrderTotalPrice":"1","CreateTime":"1"}`,
		`{"X":[1,{"a":"\u00e9"}],"Region":"a","OrderTotalPrice":"2","CreateTime":"1"}`,
		`{"X":1,"Region":null,"OrderTotalPrice":{"v":1},"CreateTime":"1"}`,
		`{"X":1,"Region":"a","OrderTotalPrice":"1","CreateTime":"1","Region":"z"}`,
		`{"X":1,"Region":"a","OrderTotalPrice":"1","CreateTime":"1"}`,
	} {
		decodeBoth(t, warm, shapedPage([]string{o}))
	}
}

// FuzzShapesAgainstMemberByMember: an arbitrary order after orders whose
// shape is learnt, and twice in a row (learnt from itself), gives what the
// member by member path gives.
func FuzzShapesAgainstMemberByMember(f *testing.F) {
	r := rand.New(rand.NewPCG(5, 6))
	for style := range 3 {
		f.Add([]byte(shapedOrder(r, style)))
	}
	f.Add([]byte(fullOrder))
	f.Add([]byte(`{"Region":"a","OrderTotalPrice":"1","CreateTime":"1"}`))
	f.Fuzz(func(t *testing.T, order []byte) {
		base := `{"Region":"a","OrderNo":"n","OrderTotalPrice":"1","CreateTime":"1"}`
		decodeBoth(t, nil, shapedPage([]string{base, base, string(order)}))
		decodeBoth(t, nil, shapedPage([]string{string(order), string(order), string(order)}))
	})
}

// FuzzParseInt checks the fast integer path against strconv.
func FuzzParseInt(f *testing.F) {
	for _, s := range []string{"0", "-0", "-", "+1", "007", "123456789012345678", "1234567890123456789",
		"-9223372036854775808", "9223372036854775808", "1_0", " 1", "1e3", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseInt([]byte(s))
		want, err := strconv.ParseInt(s, 10, 64)
		wantOK := err == nil && !strings.HasPrefix(s, "+")
		require.Equal(t, wantOK, ok, "%q", s)
		if ok {
			require.Equal(t, want, got, "%q", s)
		}
	})
}

// TestRecentLabelsKeepTheirValues: labels that share a slot of the cache
// in front of the label map (same length, same first, middle and last
// bytes) each keep their own text, escaped or not.
func TestRecentLabelsKeepTheirValues(t *testing.T) {
	require.Equal(t, recentSlot([]byte("a1X2b")), recentSlot([]byte("a3X4b")))
	values := []string{`"a1X2b"`, `"a3X4b"`, `"a\u0033X4b"`, `"a1X2b"`, `""`, `"a3X4b"`}
	want := []string{"a1X2b", "a3X4b", "a3X4b", "a1X2b", "", "a3X4b"}
	var orders []string
	for _, v := range values {
		orders = append(orders, `{"Region":`+v+`,"ModelID":`+v+`,"OrderTotalPrice":"1","CreateTime":"1"}`)
	}
	d := newDecoder()
	for range 3 { // the same page again: then from the cache
		var p page
		require.NoError(t, d.decodePage(shapedPage(orders), &p))
		for k, o := range p.orders {
			require.Equal(t, want[k], o.Region, "order %d", k)
			require.Equal(t, want[k], o.ModelID, "order %d", k)
		}
	}
}

// TestShortLabelsByTheirWords: keptFields' cache of short values (two
// words and a length) reads every value right: lengths 0 to 17, values
// that differ only in length or in their last byte, values in one slot
// and its neighbour that alternate, more values than slots, and values so
// near the body's end that 16 bytes are not there. A value read twice is
// one string.
func TestShortLabelsByTheirWords(t *testing.T) {
	var values []string
	for n := range 18 {
		values = append(values, strings.Repeat("v", n), strings.Repeat("v", max(n-1, 0))+"w")
	}
	// Values that fall in one slot, or in a slot and its neighbour.
	bySlot := map[int][]string{}
	for k := 0; len(values) < 400; k++ {
		v := fmt.Sprintf("m%d", k)
		lo := binary.LittleEndian.Uint64(append([]byte(v), make([]byte, 8)...)) & shortMasks[len(v)][0]
		s := shortSlot(lo, 0, len(v)) &^ 1
		if bySlot[s] = append(bySlot[s], v); len(bySlot[s]) == 3 {
			values = append(values, bySlot[s]...)
		}
		if k%3 == 0 {
			values = append(values, v)
		}
	}
	// Longer values with one first word, in all slots: some pairs share
	// a slot or neighbours and differ only in their second word.
	for k := range 300 {
		values = append(values, fmt.Sprintf("abcdefgh%d", k))
	}
	d := newDecoder()
	seen := map[string]*byte{}
	for round := range 3 {
		for k, v := range values {
			// The value last in the body, then after it only `"`: no 16
			// bytes from its start, for every fourth.
			b := []byte(`{"x":"` + v + `"` + strings.Repeat(" ", 16*(k%4)))
			start := len(`{"x":"`)
			d.b = b
			var o Order
			d.keptFields([]keptValue{{start: start, end: start + len(v), field: fieldModelID}}, &o, nil, nil)
			got := o.ModelID
			require.Equal(t, v, got, "round %d, value %d", round, k)
			if p, ok := seen[v]; ok && len(v) > 0 && k%4 != 0 {
				require.Same(t, p, unsafe.StringData(got), "%q again", v)
			}
			if len(v) > 0 && k%4 != 0 {
				seen[v] = unsafe.StringData(got)
			}
		}
	}
}

// TestLongLabelsAreNotKept: a label value past maxInternedLabel is read
// right, every time, and the decoder keeps none of them.
func TestLongLabelsAreNotKept(t *testing.T) {
	d := newDecoder()
	for k := range 3 {
		long := strings.Repeat(string(rune('a'+k)), maxInternedLabel+1)
		var p page
		body := shapedPage([]string{`{"Region":"` + long + `","ModelID":"m","OrderTotalPrice":"1","CreateTime":"1"}`,
			`{"Region":"` + long + `","ModelID":"m","OrderTotalPrice":"1","CreateTime":"1"}`})
		require.NoError(t, d.decodePage(body, &p))
		require.Equal(t, long, p.orders[0].Region)
		require.Equal(t, long, p.orders[1].Region)
	}
	require.Len(t, d.labels, 1, "only the model is kept")
	for _, e := range d.recent {
		require.LessOrEqual(t, len(e.raw), maxInternedLabel)
	}
}

// TestCrossVariantsAgree runs every form of crossMembers this machine has
// (AVX2 and Go on amd64) through orders of pages of shaped orders edited
// with escapes good and bad, control bytes, long strings and numbers of
// every form, the caller's part done by the scanner, and requires the same
// outcome from each: the same kept values at the same bytes, and the same
// end (the order crossed, a literal that differs, or a value refused).
// Where each stops in between may differ: AVX2 crosses escaped strings.
func TestCrossVariantsAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	edits := []string{"", `"`, `\`, `\u00e9`, `\u12`, `\uzzzz`, `\uD83D`, `\q`, `\/`, `\\`, `\"`, "\x01", "\x1f",
		strings.Repeat("y", 70), strings.Repeat(`\u00e9`, 12), "9", "0", "-", ".", "e", "E", "é", " ", ","}
	seen := map[string]int{}
	for trial := range 3000 {
		var orders []string
		for range 6 {
			orders = append(orders, shapedOrder(r, trial%3))
		}
		body := shapedPage(orders)
		d := newDecoder()
		var p page
		require.NoError(t, d.decodePage(body, &p))
		for range 1 + r.IntN(3) {
			at := 1 + r.IntN(len(body)-1)
			e := edits[r.IntN(len(edits))]
			if r.IntN(2) == 0 {
				body = append(append(body[:at:at], e...), body[at+1:]...)
			} else {
				body = append(append(body[:at:at], e...), body[at:]...)
			}
		}
		d.scanner.reset(body)
		for start := range body {
			if body[start] != '{' || start == 0 {
				continue
			}
			for _, sh := range d.shapes {
				want := agreedTrace(t, d, sh, start, fmt.Sprintf("from byte %d of %q", start, body))
				seen[strings.Fields(want[len(want)-1])[0]]++
			}
		}
	}
	t.Logf("outcomes: %v", seen)
	for _, end := range []string{"crossed", "mismatch", "refused"} {
		require.Positive(t, seen[end], "no order ended %s", end)
	}
}

// agreedTrace is crossTrace of every form of crossMembers this machine
// runs, which must all give the same.
func agreedTrace(t *testing.T, d *decoder, sh *shape, start int, what string) []string {
	t.Helper()
	var want []string
	wantName := ""
	for name, cross := range crossVariants {
		got := crossTrace(d, cross, sh, start)
		if want == nil {
			want, wantName = got, name
			continue
		}
		require.Equal(t, want, got, "%s against %s: %s", name, wantName, what)
	}
	return want
}

// crossTrace reads the order at start by sh with cross, doing the
// caller's part with the scanner: each kept value's member and byte, then
// how the order ended.
func crossTrace(d *decoder, cross func([]byte, []uint64, []shapeMember, int, int, *[maxKept]keptValue) (int, int, int, crossed),
	sh *shape, start int) (trace []string) {
	b := d.b
	var kept [maxKept]keptValue
	for k, i := 0, start; ; {
		var at crossed
		var n int
		i, k, n, at = cross(b, d.stops, sh.members, k, i, &kept)
		for _, v := range kept[:n] {
			if v.number {
				// A plain integer, of an amount or a time: as the caller
				// would have read it, below.
				digits := string(b[v.start:v.end])
				if v.field < fieldOrderTotalPrice || v.field != sh.members[v.member].field || digits == "" ||
					strings.Trim(digits, "0123456789") != "" || (len(digits) > 1 && digits[0] == '0') {
					return append(trace, fmt.Sprintf("bad record %v", v))
				}
				trace = append(trace, fmt.Sprintf("kept %d %d", v.member, v.start))
				continue
			}
			if sh.members[v.member].field == fieldOther || v.field != sh.members[v.member].field ||
				b[v.start-1] != '"' || b[v.end] != '"' {
				return append(trace, fmt.Sprintf("bad record %v", v))
			}
			trace = append(trace, fmt.Sprintf("kept %d %d %q", v.member, v.start-1, b[v.start:v.end]))
		}
		switch at {
		case crossedAll:
			return append(trace, fmt.Sprintf("crossed %d", i))
		case crossedMismatch:
			return append(trace, fmt.Sprintf("mismatch %d %d", k, i))
		case crossedLongLiteral:
			if !literalAt(b, i, sh.members[k].lit) || len(b)-i == len(sh.members[k].lit) {
				return append(trace, fmt.Sprintf("mismatch %d %d", k, i))
			}
			i += len(sh.members[k].lit)
		}
		d.i = i
		if d.skipValue(1) != nil {
			return append(trace, fmt.Sprintf("refused %d %d", k, i))
		}
		if sh.members[k].field != fieldOther {
			if b[i] == '"' && !bytes.ContainsAny(b[i+1:d.i-1], "\\") {
				// A string without escapes, that a form did not record.
				trace = append(trace, fmt.Sprintf("kept %d %d %q", k, i, b[i+1:d.i-1]))
			} else {
				trace = append(trace, fmt.Sprintf("kept %d %d", k, i))
			}
		}
		i, k = d.i, k+1
	}
}

// TestCrossMembersRecordsAtMostMaxKept: an order with more kept strings in
// a row than crossMembers records (a key sent many times) fills the record
// and no more, in every form, and still reads as member by member does
// (the last value wins).
func TestCrossMembersRecordsAtMostMaxKept(t *testing.T) {
	var members []string
	for k := range 3 * maxKept {
		members = append(members, fmt.Sprintf(`"Region":"r%d"`, k))
	}
	order := `{` + strings.Join(members, ",") + `,"OrderNo":"1","OrderTotalPrice":"1","CreateTime":"1"}`
	body := shapedPage([]string{order, order, order})
	require.Positive(t, decodeBoth(t, nil, body))

	d := newDecoder()
	var p page
	require.NoError(t, d.decodePage(body, &p))
	require.Equal(t, fmt.Sprintf("r%d", 3*maxKept-1), p.orders[2].Region)
	start := len(shapedPage([]string{order})) - len(order) - 2
	require.Equal(t, byte('{'), body[start])
	for name, cross := range crossVariants {
		var rec struct {
			kept  [maxKept]keptValue
			guard [4]keptValue
		}
		i, k, n, at := cross(body, d.stops, d.shapes[0].members, 0, start, &rec.kept)
		require.Equal(t, crossedValue, at, name)
		require.Equal(t, maxKept, n, name)
		require.Equal(t, maxKept, k, name)
		require.Equal(t, byte('"'), body[i], name)
		require.Zero(t, rec.guard, name)
		for j, v := range rec.kept {
			require.Equal(t, fmt.Sprintf("r%d", j), string(body[v.start:v.end]), name)
		}
	}
}

// TestAVX2CrossesEscapedStrings: the AVX2 form crosses skipped strings
// with escapes of every kind itself, in runs or not, so that an order of
// them takes one call (the speed it is there for).
func TestAVX2CrossesEscapedStrings(t *testing.T) {
	cross, ok := crossVariants["avx2"]
	if !ok {
		t.Skip("no AVX2 here")
	}
	order := `{"Region":"hk","OrganizationName":"\u00e9\u00E8\ud83d\ude80x\\y\/\"\b\f\n\r\t","Quantity":12345678901,` +
		`"StatusDisplay":"\u534e\u5317","OrderNo":"1","OrderTotalPrice":"1","CreateTime":"1"}`
	body := shapedPage([]string{order, order, order})
	d := newDecoder()
	var p page
	require.NoError(t, d.decodePage(body, &p))
	start := len(shapedPage([]string{order})) - len(order) - 2
	var kept [maxKept]keptValue
	i, k, n, at := cross(body, d.stops, d.shapes[0].members, 0, start, &kept)
	require.Equal(t, crossedAll, at)
	require.Equal(t, len(d.shapes[0].members), k)
	require.Equal(t, 4, n)
	require.Equal(t, start+len(order)-1, i) // at the closing brace
}

// TestCrossMembersCrossZeros: a skipped 0 (ChargeType, PaidTime: common)
// is a plain integer to every form, crossed without a return to the
// caller, while 0 followed by a digit, a fraction or an exponent is left
// to it, which decides (01 is refused, 0.5 and 0e1 read).
func TestCrossMembersCrossZeros(t *testing.T) {
	tail := `,"OrderNo":"1","OrderTotalPrice":"1","CreateTime":"1"}`
	plain := `{"Region":"hk","Channel":0,"PaidTime":0 ,"Status":1` + tail
	body := shapedPage([]string{plain, plain, plain})
	d := newDecoder()
	var p page
	require.NoError(t, d.decodePage(body, &p))
	start := len(shapedPage([]string{plain})) - len(plain) - 2
	for name, cross := range crossVariants {
		var kept [maxKept]keptValue
		i, k, _, at := cross(body, d.stops, d.shapes[0].members, 0, start, &kept)
		require.Equal(t, crossedAll, at, name)
		require.Equal(t, len(d.shapes[0].members), k, name)
		require.Equal(t, start+len(plain)-1, i, name)
	}
	for _, v := range []string{"01", "0.5", "0e1", "0E1", "-0"} {
		order := strings.Replace(plain, `"PaidTime":0 `, `"PaidTime":`+v+" ", 1)
		b := append(shapedPage([]string{plain, plain, plain})[:start:start], order...)
		b = append(b, "]}"...)
		d.scanner.reset(b)
		for name, cross := range crossVariants {
			var kept [maxKept]keptValue
			i, k, _, at := cross(b, d.stops, d.shapes[0].members, 0, start, &kept)
			require.Equal(t, crossedValue, at, "%s: %s", name, v)
			require.Equal(t, 2, k, "%s: %s", name, v) // at PaidTime
			require.Equal(t, byte(v[0]), b[i], "%s: %s", name, v)
		}
	}
}

// TestCrossVariantsAgreeOnShortIntegers: an integer of one digit, or a
// zero, is crossed without the digit scan when a comma follows (the AVX2
// form); with each byte that may follow it, skipped or kept (an amount
// sent as a number), every form reads it as member by member does.
func TestCrossVariantsAgreeOnShortIntegers(t *testing.T) {
	plain := `{"Region":"hk","Channel":1,"OrderNo":"1","OrderTotalPrice":"1","Status":1,"CreateTime":"1"}`
	values := []string{"0", "1", "7", "9", "00", "01", "10", "0.5", "5.5", "5e1", "0E1", "-1", "5x", "0x", `5"`}
	follows := []string{",", " ,", "}", " }", "\n,"}
	for _, v := range values {
		for _, f := range follows {
			for _, field := range []string{`"Channel":1,`, `"OrderTotalPrice":"1",`, `"Status":1,`} {
				key, _, _ := strings.Cut(field, ":")
				order := strings.Replace(plain, field, key+":"+v+f, 1)
				if strings.HasPrefix(f, " }") || f == "}" {
					// The value ends the order: what was after it goes.
					order = plain[:strings.Index(plain, field)] + key + ":" + v + f
				}
				body := shapedPage([]string{plain, plain, order, plain})
				decodeBoth(t, nil, body)
				d := newDecoder()
				var p page
				require.NoError(t, d.decodePage(shapedPage([]string{plain, plain}), &p))
				d.scanner.reset(body)
				start := len(shapedPage([]string{plain, plain})) - 1 // the third order's brace
				require.Equal(t, byte('{'), body[start], "%q", body)
				require.Len(t, d.shapes, 1)
				agreedTrace(t, d, d.shapes[0], start, fmt.Sprintf("%q", order))
			}
		}
	}
}

// TestCrossVariantsAgreeOnEscapeRuns: runs of 1 to 12 \u escapes, each
// byte of the run replaced in turn by a byte at the edge of what an escape
// takes, are crossed or left to the caller alike by every form: the AVX2
// form checks five escapes at once.
func TestCrossVariantsAgreeOnEscapeRuns(t *testing.T) {
	hexes := []string{"00e9", "D83D", "de80", "534E", "a0fF", "9999"}
	bad := []byte{'g', 'G', '/', ':', '@', '`', 'F', 'f', '0', '9', 'x', '"', '\\', 'u', 'U', 0x01, 0xc3}
	for n := 1; n <= 12; n++ {
		var run strings.Builder
		for k := range n {
			run.WriteString(`\u` + hexes[k%len(hexes)])
		}
		for j := -1; j < run.Len(); j++ {
			for _, c := range bad {
				text := []byte(run.String())
				if j >= 0 {
					text[j] = c
				}
				order := `{"Region":"hk","OrganizationName":"` + string(text) + `x","Quantity":1,"OrderNo":"1","OrderTotalPrice":"1","CreateTime":"1"}`
				plain := `{"Region":"hk","OrganizationName":"` + run.String() + `x","Quantity":1,"OrderNo":"1","OrderTotalPrice":"1","CreateTime":"1"}`
				body := shapedPage([]string{plain, plain, order, plain})
				d := newDecoder()
				var p page
				_ = d.decodePage(shapedPage([]string{plain, plain}), &p)
				d.scanner.reset(body)
				start := len(shapedPage([]string{plain, plain})) - 2 + 1
				require.Equal(t, byte('{'), body[start])
				want := agreedTrace(t, d, d.shapes[0], start, fmt.Sprintf("run of %d, byte %d = %q: %s", n, j, c, order))
				if j < 0 {
					require.Contains(t, want[len(want)-1], "crossed", "the run itself is valid")
				}
			}
		}
	}
}

// TestCrossVariantsAgreeOnStringLengths: skipped strings of 0 to 140
// bytes, plain or ending in an escape, and kept ones as long, plain, at
// every alignment to the index's bytes: the AVX2 loop finds a string's end in the 57 bytes after
// its quote with one load of the index, and further (to 64) with two, and
// leaves longer ones to Go. Every form agrees and reads the order through.
func TestCrossVariantsAgreeOnStringLengths(t *testing.T) {
	for pad := range 8 {
		for n := 0; n <= 140; n++ {
			for _, tail := range []string{"", `\u00e9`, `\n`} {
				text := strings.Repeat("y", n) + tail
				order := `{"Region":"` + strings.Repeat("h", 1+pad) + `","OrganizationName":"` + text +
					`","Quantity":1,"OrderNo":"` + strings.Repeat("7", n) + `","UserEmail":"` + text +
					`","OrderTotalPrice":"1","CreateTime":"1"}`
				learnt := shapedPage([]string{order, order})
				d := newDecoder()
				var p page
				require.NoError(t, d.decodePage(learnt, &p))
				body := shapedPage([]string{order, order, order})
				d.scanner.reset(body)
				start := len(learnt) - 2 + 1
				require.Equal(t, byte('{'), body[start])
				what := fmt.Sprintf("pad %d, %d bytes and %q", pad, n, tail)
				want := agreedTrace(t, d, d.shapes[0], start, what)
				require.Contains(t, want[len(want)-1], "crossed", what)
			}
		}
	}
}

// TestLabelRenderingsShareOneString: a label value sent as raw UTF-8 and
// as \u escapes, in either order, is one string (the collector's cache of
// series goes by where labels are); a text with a backslash is never
// taken for a raw form ("a\\b" is a, backslash, b; "a\b" is a, backspace).
func TestLabelRenderingsShareOneString(t *testing.T) {
	region := func(t *testing.T, d *decoder, v string) string {
		// Three orders of one shape: the first is read member by member,
		// the others by the shape (keptFields, or orderField for escapes).
		var p page
		order := `{"Region":` + v + `,"OrderTotalPrice":"1","CreateTime":"1"}`
		require.NoError(t, d.decodePage(shapedPage([]string{order, order, order}), &p))
		for _, o := range p.orders[1:] {
			require.Same(t, unsafe.StringData(p.orders[0].Region), unsafe.StringData(o.Region), v)
		}
		return p.orders[2].Region
	}
	for _, tt := range []struct{ first, second, text string }{
		{`"café"`, `"caf\u00e9"`, "café"},
		{`"caf\u00e9"`, `"café"`, "café"},
		{`"caf\u00E9"`, `"caf\u00e9"`, "café"},
		{`"a\/b"`, `"a/b"`, "a/b"},
		{`"\ud83d"`, "\"\ufffd\"", "\ufffd"}, // a lone surrogate is U+FFFD, as sent raw
		{`"x\ud83d\ude80"`, `"x🚀"`, "x🚀"},    // a pair
	} {
		d := newDecoder()
		a, b := region(t, d, tt.first), region(t, d, tt.second)
		require.Equal(t, tt.text, a)
		require.Equal(t, tt.text, b)
		require.Same(t, unsafe.StringData(a), unsafe.StringData(b), "%s then %s", tt.first, tt.second)
	}
	// A backslash, a quote, a control byte, invalid UTF-8: each read right
	// every time, whatever else was sent.
	for _, tt := range []struct{ sent, text string }{
		{`"\u005c"`, `\`}, {`"\\"`, `\`}, {`"\u0022"`, `"`}, {`"\""`, `"`}, {`"a\u0001"`, "a\x01"},
		{"\"\xff\"", "\ufffd"}, {`"\ufffd"`, "\ufffd"},
	} {
		d := newDecoder()
		for range 2 {
			require.Equal(t, tt.text, region(t, d, tt.sent), tt.sent)
		}
	}
	for _, vs := range [][]string{{`"a\\b"`, `"a\b"`}, {`"a\b"`, `"a\\b"`}} {
		d := newDecoder()
		for range 2 {
			got := map[string]string{vs[0]: region(t, d, vs[0]), vs[1]: region(t, d, vs[1])}
			require.Equal(t, `a\b`, got[`"a\\b"`])
			require.Equal(t, "a\x08", got[`"a\b"`])
		}
	}
}

// TestInternedLabelsStayBounded: labels sent escaped take two entries of
// the interned values (as sent, and as their text); past maxLabels none is
// kept, and every value is still read right.
func TestInternedLabelsStayBounded(t *testing.T) {
	d := newDecoder()
	var p page
	// One plain label first: then the two entries of an escaped one come
	// when one place is left.
	require.NoError(t, d.decodePage(shapedPage([]string{`{"Region":"x","OrderTotalPrice":"1","CreateTime":"1"}`}), &p))
	n := 0
	for len(d.labels) < maxLabels || n < maxLabels+500 {
		var orders []string
		var want []string
		for range 100 {
			n++
			orders = append(orders, fmt.Sprintf(`{"Region":"\u00e9%d","OrderTotalPrice":"1","CreateTime":"1"}`, n))
			want = append(want, fmt.Sprintf("é%d", n))
		}
		require.NoError(t, d.decodePage(shapedPage(orders), &p))
		for k, o := range p.orders {
			require.Equal(t, want[k], o.Region)
		}
		require.LessOrEqual(t, len(d.labels), maxLabels)
	}
}

// TestShapesWithLongLiterals: an API that indents deeply writes literals
// longer than the 32 bytes the member loop compares at once; its orders
// are still read by shape, every form of crossMembers handing the long
// literals to its caller, and right.
func TestShapesWithLongLiterals(t *testing.T) {
	indent := "\n" + strings.Repeat(" ", 40)
	order := func(k int) string {
		return "{" + indent + `"Region": "r",` + indent + `"Quantity": 12,` + indent + `"OrganizationName": "\u534e` +
			`x",` + indent + fmt.Sprintf(`"OrderNo": "n%d",`, k) + indent + fmt.Sprintf(`"OrderTotalPrice": "%d",`, k) +
			indent + `"CreateTime": 7` + "\n}"
	}
	d := newDecoder()
	var p page
	require.NoError(t, d.decodePage(shapedPage([]string{order(0)}), &p))
	require.Len(t, d.shapes, 1)
	long := 0
	for _, m := range d.shapes[0].members {
		if len(m.lit) > 32 {
			long++
		}
	}
	require.Equal(t, len(d.shapes[0].members), long, "every literal is long")
	var orders []string
	for k := range 50 {
		orders = append(orders, order(k))
	}
	before := d.shapeHits
	require.NoError(t, d.decodePage(shapedPage(orders), &p))
	require.Equal(t, 50, d.shapeHits-before)
	for k, o := range p.orders {
		require.Equal(t, fmt.Sprint("n", k), o.OrderNo)
		require.Equal(t, strconv.Itoa(k), o.Amount.String())
		require.Equal(t, int64(7), o.CreateTime)
	}
	body := shapedPage(orders)
	d.scanner.reset(body)
	for start := range body {
		if body[start] != '{' || start == 0 {
			continue
		}
		want := agreedTrace(t, d, d.shapes[0], start, "")
		require.Contains(t, want[len(want)-1], "crossed")
	}
	// A byte of a long literal changed is seen by every form.
	one := []byte(shapedPage([]string{order(1), order(2)}))
	start := len(shapedPage([]string{order(1)})) - 2 + 1
	require.Equal(t, byte('{'), one[start])
	for at := start + 1; at < start+len(order(2))-2; at++ {
		body := slices.Clone(one)
		if body[at] == ' ' {
			body[at] = '\t'
		} else {
			body[at] ^= 0x20
		}
		d.scanner.reset(body)
		agreedTrace(t, d, d.shapes[0], start, fmt.Sprintf("byte %d changed", at-start))
	}
}

// TestCrossMembersWithoutASentinel: members not followed by the sentinel
// learnShape adds (no room past them, or another member there) are
// crossed by the Go form, alike.
func TestCrossMembersWithoutASentinel(t *testing.T) {
	order := `{"Region":"hk","Channel":0,"OrganizationName":"\u534ex","Quantity":12,"OrderNo":"1","OrderTotalPrice":"1","CreateTime":17}`
	body := shapedPage([]string{order, order, order})
	d := newDecoder()
	var p page
	require.NoError(t, d.decodePage(body, &p))
	start := len(shapedPage([]string{order})) - len(order) - 2
	ms := d.shapes[0].members
	require.True(t, hasSentinel(ms))
	var kept [maxKept]keptValue
	i, k, n, at := crossMembersGeneric(body, d.stops, ms, 0, start, &kept)
	for _, other := range [][]shapeMember{slices.Clip(ms), append(slices.Clip(ms), ms[0])[:len(ms)]} {
		require.False(t, hasSentinel(other))
		var kept2 [maxKept]keptValue
		i2, k2, n2, at2 := crossMembers(body, d.stops, other, 0, start, &kept2)
		require.Equal(t, []any{i, k, n, at, kept}, []any{i2, k2, n2, at2, kept2})
	}
}

// TestShapeReadThroughTheIndexStays: a shape that reads orders on every
// page through the index is not the one given up when new shapes come,
// though it is never tried from the list again.
func TestShapeReadThroughTheIndexStays(t *testing.T) {
	a := `{"Region":"r","OrderNo":"a","OrderTotalPrice":"1","CreateTime":"1"}`
	d := newDecoder()
	var p page
	require.NoError(t, d.decodePage(shapedPage([]string{a, a}), &p))
	for pg := range 8 {
		orders := []string{a, a}
		for k := range 4 {
			orders = append(orders, fmt.Sprintf(`{"New%d_%d":1,"OrderTotalPrice":"1","CreateTime":"1"}`, pg, k))
		}
		before := d.shapeHits
		require.NoError(t, d.decodePage(shapedPage(orders), &p))
		require.Equal(t, 2, d.shapeHits-before, "page %d: both orders of the shape in use by it", pg)
	}
}

// TestKeptIntegersReadAsMemberByMember: an amount or a time sent as a
// number, of every awkward kind (bytes next to the digits, below and above
// them, a colon, bytes past 0x7f, long runs), reads by shape exactly as
// member by member reads it, or is refused alike.
func TestKeptIntegersReadAsMemberByMember(t *testing.T) {
	values := []string{"0", "00", "01", "-0", "-1", "1.5", "1e3", "1E3", "0e1", ":", "1:", "1:2345678", "12345678:",
		"1\xb02345678", "1\x802", "9/", "1/0", "123456789/", "12345678", "123456789", "1234567890123456",
		"12345678901234567", "1234567890123456789012345678901234567890", "1234567890123456.5", "12345678e2", "1x"}
	for _, amount := range values {
		for _, created := range []string{"1767225600", `"1767225600"`} {
			for _, v := range [][2]string{{amount, created}, {created, amount}} {
				order := `{"Region":"r","OrderTotalPrice":` + v[0] + `,"CreateTime":` + v[1] + `,"Status":1}`
				plain := `{"Region":"r","OrderTotalPrice":"1","CreateTime":2,"Status":1}`
				warm := shapedPage([]string{plain, plain})
				decodeBoth(t, warm, shapedPage([]string{plain, order, plain}))
				decodeBoth(t, warm, []byte(string(shapedPage([]string{plain, order}))[:len(shapedPage([]string{plain}))+len(order)-1]))
			}
		}
	}
}
