package simapi

import (
	"math"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// The dataset is never materialised: order v is a pure function of
// (Seed, v) and its CreateTime, so a million orders cost no memory and any
// page can be rendered on demand. Base orders are ids 0..Orders-1, with
// CreateTimes a pure function of the id; posted orders are ids Orders,
// Orders+1, ... whose CreateTimes the live state records (live.go).
//
// Base CreateTimes are non-increasing in the id, and OrderNos increase with
// the id (base "1" + id, posted "2" + k), so id order is the descending sort
// order (CreateTime descending, then OrderNo ascending) and a time window of
// base orders is a contiguous id range.

// Pricing units, as sent in PricingUnit and accepted in PricingUnits.N.
const (
	UnitKTokens = 1
	UnitImage   = 2
	UnitSecond  = 3
)

// Order types, as sent in OrderType and accepted in OrderTypes.N.
const (
	OrderTypeUsage      = 1
	OrderTypeAdjustment = 2
)

// Product codes.
const (
	ProductModelVerse = "modelverse"
	ProductSandbox    = "sandbox"
)

// jsonText holds a string and its JSON encoding, computed once, so that
// rendering a page is mostly copying bytes.
type jsonText struct {
	s string
	j string // the plain dataset's encoding: r or a
	r string // raw UTF-8 (only what JSON requires is escaped)
	a string // ASCII only: every non-ASCII rune and <, >, & as \u escapes
}

func jt(s string) jsonText {
	r, a := string(appendJSONString(nil, s, false)), string(appendJSONString(nil, s, true))
	return jsonText{s, r, r, a}
}

// jtASCII encodes every non-ASCII rune as a \u escape (surrogate pairs
// included), so that clients whose decoders skip or copy fields meet escapes.
func jtASCII(s string) jsonText { t := jt(s); t.j = t.a; return t }

type region struct {
	code, display jsonText
	weight        int
}

// Weights sum to 100. The empty region exists because the exporter must
// expose it as an empty label value.
var regions = []region{
	{jt("cn-wlcb"), jt("华北二（乌兰察布）"), 35},
	{jt("cn-sh2"), jt("华东一（上海）"), 25},
	{jt("hk"), jt("中国香港"), 15},
	{jt("us-ca"), jt("美国（洛杉矶）"), 13},
	{jt("cn-bj2"), jt("华北一（北京）"), 9},
	{jt(""), jt(""), 3},
}

type sku struct {
	name           jsonText
	cny8, usd8     int64 // unit list price in 1e-8 of the currency
	minQty, spread int64
}

type model struct {
	id, name jsonText
	unit     int
	skus     []sku
	weight   int
}

// Prices are per pricing unit; they are multiples of 100 so that every
// discount below stays exact at 8 decimals.
var modelverseModels = []model{
	{jt("deepseek-r1"), jt("DeepSeek-R1"), UnitKTokens, []sku{
		{jt("deepseek-r1-input"), 400_000, 55_000, 1, 4000},
		{jt("deepseek-r1-output"), 1_600_000, 219_000, 1, 2000}}, 28},
	{jt("deepseek-v3"), jt("DeepSeek-V3"), UnitKTokens, []sku{
		{jt("deepseek-v3-input"), 200_000, 27_000, 1, 6000},
		{jt("deepseek-v3-output"), 800_000, 110_000, 1, 3000}}, 22},
	{jt("qwen-max"), jt("通义千问-Max"), UnitKTokens, []sku{
		{jt("qwen-max-input"), 240_000, 33_000, 1, 3000},
		{jt("qwen-max-output"), 960_000, 132_000, 1, 1500}}, 16},
	{jt("glm-4"), jt("GLM-4"), UnitKTokens, []sku{
		{jt("glm-4-tokens"), 10_000_000, 1_370_000, 1, 500}}, 12},
	{jt("kimi-k2"), jt(`Kimi-K2 "Instruct" – 月之暗面`), UnitKTokens, []sku{
		{jt("kimi-k2-input"), 400_000, 55_000, 1, 4000},
		{jt("kimi-k2-output"), 1_600_000, 219_000, 1, 2000}}, 10},
	{jt("wanx2.1-t2i-turbo"), jt("万相2.1 文生图 Turbo"), UnitImage, []sku{
		{jt("wanx2.1-t2i-turbo-image"), 14_000_000, 1_920_000, 1, 40}}, 9},
	// Usage the provider could not attribute to a model.
	{jt(""), jt(""), UnitKTokens, []sku{
		{jt("misc-tokens"), 100_000, 14_000, 1, 1000}}, 3},
}

// bigModelIndex is the varied model whose orders are all 5e7 to 1e8.
const bigModelIndex = 7

// variedModels is modelverseModels plus the label values a varied dataset
// needs: a ModelID in CJK (sent raw in some orders, escaped in others) and
// one with a quote and a backslash. Same skus; weights sum to 100.
var variedModels = func() []model {
	m := make([]model, 0, len(modelverseModels)+2)
	for _, x := range modelverseModels {
		x.weight = x.weight * 80 / 100
		m = append(m, x)
	}
	m = append(m,
		model{jt("通义千问-max"), jt("通义千问-Max 🚀 <beta> & \"more\""), UnitKTokens, modelverseModels[2].skus, 12},
		model{jt(`acme/"q\\uoted"\model`), jt(`Acme \ "Model" <R&D>`), UnitKTokens, modelverseModels[3].skus, 0})
	sum := 0
	for _, x := range m {
		sum += x.weight
	}
	m[len(m)-1].weight = 100 - sum
	return m
}()

var sandboxModel = model{jt(""), jt(""), UnitSecond, []sku{
	{jt("sandbox-2c4g"), 12_000, 1_700, 60, 86400},
	{jt("sandbox-4c8g"), 24_000, 3_400, 60, 43200}}, 0}

// Indexed by unit and order type: arrays, because a map lookup per field
// shows in the render profile.
var unitDisplayJSON = [...]jsonText{
	UnitKTokens: jt("K Tokens"), UnitImage: jt("Image"), UnitSecond: jt("Second"),
}

type product struct {
	code, display  jsonText
	resType        int
	resTypeDisplay jsonText
}

var (
	productModelVerse = product{jt(ProductModelVerse), jt("ModelVerse 模型服务"), 1, jt("API Key")}
	productSandbox    = product{jt(ProductSandbox), jt("Sandbox 沙箱"), 2, jt("沙箱实例")}
)

type org struct {
	companyID, orgID int64
	name, email      jsonText
}

// The organisation names carry a quote, a backslash, HTML characters, CJK
// and an emoji, all sent as JSON escapes.
var orgs = []org{
	{50012345, 63001, jtASCII(`Acme "Quoted" AI Labs`), jt("billing@acme.example")},
	{50023456, 63002, jtASCII("深度未来科技（上海）有限公司"), jt("ops@shenduweilai.example")},
	{50034567, 63003, jtASCII("Back\\slash <R&D> 🚀 Ltd."), jt("finance+ai@backslash.example")},
}

type apiKey struct {
	id  jsonText
	org *org
}

var apiKeys = []apiKey{
	{jt("uk-3fa9c21e"), &orgs[0]},
	{jt("uk-0b7d44aa"), &orgs[0]},
	{jt("uk-9c1e5f07"), &orgs[1]},
	{jt("uk-5e2a8d13"), &orgs[1]},
	{jt("uk-c47b0f62"), &orgs[2]},
	{jt("uk-71d3e9b8"), &orgs[1]},
}

type currency struct{ code, display jsonText }

var (
	cny = currency{jt("CNY"), jt("人民币")}
	usd = currency{jt("USD"), jt("美元")}
)

var orderTypeDisplay = [...]jsonText{
	OrderTypeUsage:      jt("按量计费"),
	OrderTypeAdjustment: jt("调账补扣"),
}

var (
	chargeTypeDisplay = jt("按量付费")
	statusDisplay     = jt("待支付")
)

// invalidCreateTimes are CreateTime values that are not integers, as JSON
// (a client must read none of them as a time). The order is still served
// by its real CreateTime: it is in the answers of the slices that hold it.
var invalidCreateTimes = []string{`"n/a"`, `""`, `null`, `"1767225600.5"`, `"-"`, `1.7e9`}

// invalidAmounts are OrderTotalPrice values that are not plain decimals:
// every one of them must be refused by money.Parse.
var invalidAmounts = []jsonText{
	jt("12,50"), jt("1e3"), jt(""), jt("N/A"), jt("-"), jt(" 7.5"),
	jt("NaN"), jt("1.2.3"), jt("１２"), jt("0x1F"),
}

// order is one generated order. Strings point into the static tables.
type order struct {
	v          int64
	createTime int64
	usage      int64
	region     *region
	product    *product
	model      *model
	sku        *sku
	key        *apiKey
	cur        *currency
	orderType  int
	channel    int64
	quantity   int64
	list8      int64
	disc8      int64
	total8     int64
	totalScale int
	invalid    int // index into invalidAmounts, or -1
	badTime    int // index into invalidCreateTimes, or -1
	src        uint64
	noTag      byte  // OrderNo: prefix + noTag + 10 digits of noNum
	noNum      int64 //
	vary       variety
}

// variety is how a varied order is written; the zero value is the plain
// dataset's way.
type variety struct {
	on       bool
	escape   bool   // text fields as \u escapes instead of raw UTF-8
	ctNumber bool   // CreateTime as a JSON number instead of a string
	perm     uint8  // index into fieldOrders
	empty    uint32 // bit i set: emptiable field i is sent as ""
}

type dataset struct {
	seed         uint64
	n            int64
	now          int64
	span         uint64 // seconds
	invalidEvery int64
	badTimeEvery int64 // Config.InvalidCreateTimeEvery
	dailyPeaks   bool  // Config.DailyPeaks
	varied       bool
	prefix       string // OrderNo prefix, derived from the seed
}

func newDataset(seed int64, n int, now int64, spanSeconds int64, invalidEvery int, varied bool) *dataset {
	d := &dataset{
		seed: uint64(seed), n: int64(n), now: now, span: uint64(spanSeconds),
		invalidEvery: int64(invalidEvery), varied: varied,
	}
	tag := strconv.FormatUint(mix(d.seed)%(36*36*36*36), 36)
	for len(tag) < 4 {
		tag = "0" + tag
	}
	d.prefix = "UO" + tag
	return d
}

func mix(z uint64) uint64 {
	z += 0x9E3779B97F4A7C15
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

type rng struct{ s uint64 }

func (r *rng) next() uint64 { r.s += 0x9E3779B97F4A7C15; return mix(r.s) }

func (d *dataset) rngFor(v int64) rng { return rng{mix(d.seed ^ mix(uint64(v)))} }

// createTime of base order i: spread over (Now-Span, Now], non-increasing in
// i, with per-order jitter. The first draw of the order's generator is
// reserved for it so that the binary search does not generate whole orders.
func (d *dataset) createTime(i int64) int64 {
	r := d.rngFor(i)
	a := uint64(i)*1024 + r.next()%1024
	hi, lo := bits.Mul64(a, d.span)
	q, _ := bits.Div64(hi, lo, uint64(d.n)*1024) // a < n*1024, so q < span: no overflow
	if d.dailyPeaks {
		q = peaked(q, d.span)
	}
	return d.now - int64(q)
}

// peaked moves an offset into the window, spread evenly over [0, span),
// so that the orders' density in time follows a daily cycle,
// 1 + 0.8 cos(2πt/day): 9 times denser at the peak than at the trough,
// and smooth. The count below t is F(t) = t + 0.8 day/2π sin(2πt/day);
// q, scaled by F(span)/span so that the window is filled whatever its
// length, is solved for t by Newton's method (F' >= 0.2). Increasing in
// q, so CreateTimes stay non-increasing in the id.
func peaked(q, span uint64) uint64 {
	const day, a = 86400.0, 0.8
	const w = 2 * math.Pi / day
	f := func(t float64) float64 { return t + a/w*math.Sin(w*t) }
	target := float64(q) * f(float64(span)) / float64(span)
	t := target
	for range 50 {
		step := (f(t) - target) / (1 + a*math.Cos(w*t))
		t -= step
		if math.Abs(step) < 0.01 {
			break
		}
	}
	return min(uint64(max(t, 0)), span-1)
}

func pick[T any](items []T, weight func(*T) int, roll uint64) *T {
	x := int(roll % 100)
	for i := range items {
		x -= weight(&items[i])
		if x < 0 {
			return &items[i]
		}
	}
	return &items[len(items)-1]
}

// gen returns base order i.
func (d *dataset) gen(i int64) order { return d.genAt(i, d.createTime(i)) }

// genAt returns order v (base or posted) with CreateTime ct.
func (d *dataset) genAt(v, ct int64) order {
	r := d.rngFor(v)
	r.next() // createTime's draw
	o := order{v: v, createTime: ct, invalid: -1, badTime: -1, noTag: '1', noNum: v}
	if v >= d.n {
		o.noTag, o.noNum = '2', v-d.n
	}
	o.region = pick(regions, func(r *region) int { return r.weight }, r.next())
	models := modelverseModels
	if d.varied {
		models = variedModels
	}
	if r.next()%100 < 15 {
		o.product, o.model = &productSandbox, &sandboxModel
	} else {
		o.product = &productModelVerse
		o.model = pick(models, func(m *model) int { return m.weight }, r.next())
	}
	o.sku = &o.model.skus[r.next()%uint64(len(o.model.skus))]
	o.key = &apiKeys[r.next()%uint64(len(apiKeys))]
	o.cur = &cny
	switch o.region.code.s {
	case "us-ca":
		o.cur = &usd
	case "hk":
		if r.next()%2 == 0 {
			o.cur = &usd
		}
	}
	o.orderType = OrderTypeUsage
	if r.next()%100 < 8 {
		o.orderType = OrderTypeAdjustment
	}
	o.channel = int64(r.next() % 2)
	o.quantity = o.sku.minQty + int64(r.next()%uint64(o.sku.spread))
	o.list8 = o.sku.cny8
	if o.cur == &usd {
		o.list8 = o.sku.usd8
	}
	discounts := [...]int64{100, 100, 90, 85, 70}
	o.disc8 = o.list8 * discounts[r.next()%uint64(len(discounts))] / 100
	o.total8 = o.quantity * o.disc8
	if r.next()%500 == 0 {
		o.total8 = 0 // fully discounted usage still shows up as an order
	}
	ms := minScale(o.total8)
	switch r.next() % 4 {
	case 0, 1:
		o.totalScale = max(ms, 2)
	case 2:
		o.totalScale = ms
	default:
		o.totalScale = 8
	}
	o.usage = 3600
	if o.model.unit == UnitSecond {
		o.usage = o.quantity
	}
	o.src = r.next()
	if d.invalidEvery > 0 && (v+1)%d.invalidEvery == 0 {
		o.invalid = int(r.next() % uint64(len(invalidAmounts)))
	}
	if d.badTimeEvery > 0 && (v+1+d.badTimeEvery/2)%d.badTimeEvery == 0 {
		o.badTime = int(mix(uint64(v)^d.seed) % uint64(len(invalidCreateTimes)))
	}
	if d.varied {
		d.vary(&o)
	}
	return o
}

// vary draws how a varied order is written, from a generator of its own so
// that the plain dataset's draws stay as they are.
func (d *dataset) vary(o *order) {
	r := rng{mix(d.seed ^ mix(uint64(o.v)) ^ 0x7661726965640000)}
	o.vary.on = true
	o.vary.escape = r.next()%2 == 0
	o.vary.ctNumber = r.next()%2 == 0
	if p := r.next() % 8; p >= 4 {
		o.vary.perm = uint8(p - 3) // half the orders in the reference's key order
	}
	if r.next()%8 == 0 {
		o.vary.empty = uint32(r.next()) | 1
	}
	switch x := r.next() % 100; {
	case o.model == &variedModels[bigModelIndex]:
		// A whale: 5e7 to 1e8 with 8 decimals, so that a series of about
		// 1,250 of them passes int64 in units of 1e-8.
		o.total8 = int64(5e15+r.next()%5e15) | 1
	case x < 5:
		o.total8 -= o.total8 % 1e8 // whole units: 0 decimals possible
	}
	ms := minScale(o.total8)
	o.totalScale = ms + int(r.next()%uint64(9-ms))
}

// minScale is the number of decimals needed to write v×1e-8 exactly.
func minScale(v8 int64) int {
	f := v8 % 1e8
	if f < 0 {
		f = -f
	}
	if f == 0 {
		return 0
	}
	// At most 7 trailing zeros: strip 4, 2, 1 (a loop showed in profiles).
	s := 8
	if f%10000 == 0 {
		f /= 10000
		s -= 4
	}
	if f%100 == 0 {
		f /= 100
		s -= 2
	}
	if f%10 == 0 {
		s--
	}
	return s
}

// appendFixed8 writes v×1e-8 with exactly scale decimals (scale >= minScale).
func appendFixed8(b []byte, v8 int64, scale int) []byte {
	if v8 < 0 {
		b = append(b, '-')
		v8 = -v8
	}
	b = strconv.AppendInt(b, v8/1e8, 10)
	if scale == 0 {
		return b
	}
	var frac [8]byte
	f := v8 % 1e8
	for i := 7; i >= 0; i-- {
		frac[i] = byte('0' + f%10)
		f /= 10
	}
	b = append(b, '.')
	return append(b, frac[:scale]...)
}

func appendPrice(b []byte, v8 int64) []byte {
	b = append(b, '"')
	b = appendFixed8(b, v8, max(minScale(v8), 2))
	return append(b, '"')
}

// appendAmountText writes the order's OrderTotalPrice text, unquoted.
func appendAmountText(b []byte, o *order) []byte {
	if o.invalid >= 0 {
		return append(b, invalidAmounts[o.invalid].s...)
	}
	return appendFixed8(b, o.total8, o.totalScale)
}

// appendOrderNo writes an OrderNo: the prefix, a tag and ten digits. Tags:
// '1' base order (the id), '2' posted order (its rank among postings), so
// that OrderNos increase with the id; 'E' endless, 'X' out of range: orders
// that are not in the data.
func (d *dataset) appendOrderNo(b []byte, tag byte, n int64) []byte {
	b = append(b, d.prefix...)
	b = append(b, tag)
	var digits [10]byte
	for i := 9; i >= 0; i-- {
		digits[i] = byte('0' + n%10)
		n /= 10
	}
	return append(b, digits[:]...)
}

// orderNo returns the OrderNo of order v (base orders 0..Orders-1, posted
// orders from Orders on).
func (d *dataset) orderNo(v int64) string {
	if v >= d.n {
		return string(d.appendOrderNo(nil, '2', v-d.n))
	}
	return string(d.appendOrderNo(nil, '1', v))
}

// idOf parses an OrderNo of the data back to its id (not checked against the
// number of posted orders).
func (d *dataset) idOf(no string) (int64, bool) {
	if len(no) != len(d.prefix)+11 || no[:len(d.prefix)] != d.prefix {
		return 0, false
	}
	var n int64
	for _, c := range []byte(no[len(d.prefix)+1:]) {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	switch no[len(d.prefix)] {
	case '1':
		return n, n < d.n
	case '2':
		return d.n + n, true
	}
	return 0, false
}

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as a JSON string. asciiOnly escapes every
// non-ASCII rune and <, >, & as \u sequences, as encoding/json does for HTML.
func appendJSONString(b []byte, s string, asciiOnly bool) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || (asciiOnly && (c == '<' || c == '>' || c == '&')):
				b = appendU(b, rune(c))
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case asciiOnly && r >= 0x10000:
			r1, r2 := utf16.EncodeRune(r)
			b = appendU(appendU(b, r1), r2)
		case asciiOnly || r == '\u2028' || r == '\u2029':
			b = appendU(b, r)
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

func appendU(b []byte, r rune) []byte {
	return append(b, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}
