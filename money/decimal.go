// Package money holds exact decimal amounts: parsed from the API's decimal
// strings, summed without rounding, and turned into a float only when a
// metric is exposed.
package money

import (
	"errors"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// ErrInvalid is returned for anything that is not a plain decimal number.
var ErrInvalid = errors.New("not a plain decimal number")

// keptZeros is how many decimal places of trailing zeros Parse keeps:
// enough that "1.50" or an 8-decimal "0.10000000" print as written, few
// enough that padding a value with zeros cannot inflate the scale of every
// later sum.
const keptZeros = 18

// Decimal is an exact decimal number: coefficient × 10^-scale. The
// coefficient lives in an int64 while it fits, which keeps parsing and
// summing free of allocations, and moves to a big.Int when it does not.
// The zero value is 0.
type Decimal struct {
	small int64
	big   *big.Int // non-nil when the coefficient does not fit in small
	scale int32
}

// Parse reads a plain decimal of any length: an optional sign, digits, and
// optionally a point followed by digits ("12", "-0.5", "3.14159265").
// Exponents, spaces, thousands separators, "NaN" and "Inf" are refused
// with ErrInvalid.
//
// What bounds the cost of a long value is its significant digits, not its
// length: leading zeros are skipped and trailing zeros past the 18th
// decimal are dropped, so "1." followed by a million zeros is an int64 1
// at scale 18. A value with many significant digits is kept exactly:
// parsing it costs a few big multiplications (measured: 0.3s for a million
// digits, 20s for the 16 million of a 16 MiB body), and Sum keeps it apart
// from the amounts added after it.
func Parse(b []byte) (Decimal, error) {
	if d, ok := parseShort(b); ok {
		return d, nil
	}
	return parseAny(b)
}

// parseShort is Parse for the common case, in one pass: at most 18 digits
// (no overflow, and no trailing zeros to drop), an optional minus and a
// point with digits on both sides. ok is false for anything else, which
// parseAny then decides.
func parseShort(b []byte) (d Decimal, ok bool) {
	n := len(b)
	if n == 0 || n > 20 {
		return Decimal{}, false
	}
	i, neg := 0, b[0] == '-'
	if neg {
		i = 1
	}
	start, point := i, -1
	var coef int64
	for ; i < n; i++ {
		c := b[i]
		if c-'0' <= 9 {
			coef = coef*10 + int64(c-'0')
			continue
		}
		if c != '.' || point >= 0 {
			return Decimal{}, false
		}
		point = i
	}
	digits := n - start
	scale := 0
	if point >= 0 {
		digits--
		scale = n - point - 1
		if point == start || scale == 0 {
			return Decimal{}, false // no digits before or after the point
		}
	}
	if digits == 0 || digits > 18 {
		return Decimal{}, false
	}
	if neg {
		coef = -coef
	}
	return Decimal{small: coef, scale: int32(scale)}, true
}

// parseAny is Parse for any plain decimal.
func parseAny(b []byte) (Decimal, error) {
	i, neg := 0, false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		i++
	}
	start, point := i, -1
	for ; i < len(b); i++ {
		switch c := b[i]; {
		case c >= '0' && c <= '9':
		case c == '.' && point < 0:
			point = i
		default:
			return Decimal{}, ErrInvalid
		}
	}
	end, intEnd := len(b), len(b)
	if point >= 0 {
		intEnd = point
	}
	if intEnd == start || point == end-1 {
		return Decimal{}, ErrInvalid // no integer digits, or a point with none after it
	}
	scale := 0
	if point >= 0 {
		scale = end - point - 1
		for scale > keptZeros && b[end-1] == '0' {
			end--
			scale--
		}
	}
	for start < intEnd && b[start] == '0' {
		start++
	}
	// The coefficient's digits are b[start:end] less the point.
	var coef uint64
	overflow := false
	for _, c := range b[start:end] {
		if c == '.' {
			continue
		}
		d := uint64(c - '0')
		if coef > (1<<64-1-d)/10 {
			overflow = true
			break
		}
		coef = coef*10 + d
	}
	switch {
	case overflow:
	case neg && coef <= 1<<63:
		return Decimal{small: -int64(coef), scale: int32(scale)}, nil
	case !neg && coef <= 1<<63-1:
		return Decimal{small: int64(coef), scale: int32(scale)}, nil
	}
	digits := make([]byte, 0, end-start)
	for _, c := range b[start:end] {
		if c != '.' {
			digits = append(digits, c)
		}
	}
	n := digitsToInt(digits, map[int]*big.Int{})
	if neg {
		n.Neg(n)
	}
	return Decimal{big: n, scale: int32(scale)}, nil
}

// ParseString is Parse for a string.
func ParseString(s string) (Decimal, error) { return Parse([]byte(s)) }

// leafDigits is where digitsToInt stops splitting: below it
// big.Int.SetString, quadratic in the length, is fastest.
const leafDigits = 1024

// digitsToInt converts ASCII digits by splitting them in two, high × 10^len(low)
// + low, so that a long value costs a few big multiplications rather than
// big.Int.SetString's quadratic time (seconds for a million digits). The
// low half is leafDigits × 2^k long, so pows holds few powers of ten.
func digitsToInt(s []byte, pows map[int]*big.Int) *big.Int {
	if len(s) <= leafDigits {
		n, _ := new(big.Int).SetString(string(s), 10) // the caller checked the digits
		return n
	}
	low := leafDigits
	for 2*low < len(s) {
		low *= 2
	}
	hi := digitsToInt(s[:len(s)-low], pows)
	p := pows[low]
	if p == nil {
		p = pow10Big(int32(low))
		pows[low] = p
	}
	hi.Mul(hi, p)
	return hi.Add(hi, digitsToInt(s[len(s)-low:], pows))
}

var pow10 = func() [19]int64 {
	var p [19]int64
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// pow10Small holds 10^0 to 10^38, the powers that fit in 128 bits, so that
// common rescaling needs no big.Int.Exp. They are shared: never modified.
var pow10Small = func() [39]*big.Int {
	var p [39]*big.Int
	p[0] = big.NewInt(1)
	ten := big.NewInt(10)
	for i := 1; i < len(p); i++ {
		p[i] = new(big.Int).Mul(p[i-1], ten)
	}
	return p
}()

// pow10Big returns 10^n as a new big.Int.
func pow10Big(n int32) *big.Int {
	if int(n) < len(pow10Small) {
		return new(big.Int).Set(pow10Small[n])
	}
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
}

// rescaled returns the small coefficient at a larger scale, if it fits.
func rescaled(v int64, by int32) (int64, bool) {
	if by == 0 {
		return v, true
	}
	if by >= int32(len(pow10)) {
		return 0, v == 0
	}
	m := pow10[by]
	r := v * m
	if v != 0 && (r/m != v) {
		return 0, false
	}
	return r, true
}

func (d Decimal) bigCoef() *big.Int {
	if d.big != nil {
		return d.big
	}
	return big.NewInt(d.small)
}

// Add returns d + o, exactly. For a running total, Sum adds in place
// without allocating.
func (d Decimal) Add(o Decimal) Decimal {
	scale := max(d.scale, o.scale)
	if d.big == nil && o.big == nil {
		a, okA := rescaled(d.small, scale-d.scale)
		b, okB := rescaled(o.small, scale-o.scale)
		if okA && okB {
			s := a + b
			if (a >= 0) != (b >= 0) || (s >= 0) == (a >= 0) {
				return Decimal{small: s, scale: scale}
			}
		}
	}
	a := scaleBig(d.bigCoef(), scale-d.scale)
	b := scaleBig(o.bigCoef(), scale-o.scale)
	return newDecimal(new(big.Int).Add(a, b), scale)
}

// newDecimal returns n × 10^-scale, back in an int64 when it fits, so that
// a big sum that cancels down is cheap again.
func newDecimal(n *big.Int, scale int32) Decimal {
	if n.IsInt64() {
		return Decimal{small: n.Int64(), scale: scale}
	}
	return Decimal{big: n, scale: scale}
}

// scaleBig returns n × 10^by, n itself if by is 0.
func scaleBig(n *big.Int, by int32) *big.Int {
	if by == 0 {
		return n
	}
	f := pow10Big(by)
	return f.Mul(f, n)
}

// Sign returns -1, 0 or +1.
func (d Decimal) Sign() int {
	if d.big != nil {
		return d.big.Sign()
	}
	switch {
	case d.small < 0:
		return -1
	case d.small > 0:
		return 1
	}
	return 0
}

// Cmp compares d and o: -1 if d < o, 0 if equal, +1 if d > o.
func (d Decimal) Cmp(o Decimal) int {
	neg := Decimal{small: -o.small, scale: o.scale}
	if o.big != nil || o.small == -1<<63 {
		neg = Decimal{big: new(big.Int).Neg(o.bigCoef()), scale: o.scale}
	}
	return d.Add(neg).Sign()
}

// String renders d in plain decimal notation with its scale ("1.50" stays
// "1.50"), so that parsing it back gives the same value.
func (d Decimal) String() string {
	var digits string
	neg := d.Sign() < 0
	if d.big != nil {
		digits = new(big.Int).Abs(d.big).String()
	} else {
		u := uint64(d.small)
		if neg {
			u = -u
		}
		digits = strconv.FormatUint(u, 10)
	}
	if d.scale > 0 {
		if pad := int(d.scale) + 1 - len(digits); pad > 0 {
			digits = strings.Repeat("0", pad) + digits
		}
		cut := len(digits) - int(d.scale)
		digits = digits[:cut] + "." + digits[cut:]
	}
	if neg {
		return "-" + digits
	}
	return digits
}

// Float64 returns the float64 nearest to d (ties to even), with a single
// rounding of the exact value.
func (d Decimal) Float64() float64 {
	if d.big == nil {
		return smallFloat64(d.small, d.scale)
	}
	return quoFloat64(d.big, d.scale)
}

// exactPow10 holds the powers of ten that a float64 represents exactly.
var exactPow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

func smallFloat64(v int64, scale int32) float64 {
	// When v and 10^scale are both exact floats, one IEEE division rounds
	// the quotient correctly; that covers real amounts.
	if scale == 0 {
		return float64(v)
	}
	if -1<<53 <= v && v <= 1<<53 && int(scale) < len(exactPow10) {
		return float64(v) / exactPow10[scale]
	}
	return quoFloat64(big.NewInt(v), scale)
}

// log2of10 is a little above log2(10), for bounds that must not be short.
const log2of10 = 3.3219281

// quoFloat64 returns the float64 nearest to c × 10^-scale. The quotient is
// taken to 64 bits, truncated, and its last bit set if anything was cut
// ("round to odd"): rounding that to float64's 53 bits then gives what
// rounding the exact value would, without the double rounding of
// Quo-then-Float64 and without rendering a long value as text.
func quoFloat64(c *big.Int, scale int32) float64 {
	if c.Sign() == 0 {
		return 0
	}
	num := new(big.Float).SetInt(c) // exact: the precision grows to fit
	if scale == 0 {
		f, _ := num.Float64()
		return f
	}
	// Skip computing 10^scale when the value is surely out of range:
	// |c| < 2^bits, and 10^scale > 2^(scale·log2(10)).
	bits := c.BitLen()
	switch {
	case float64(bits) < float64(scale)*(log2of10-1e-6)-1100:
		return math.Copysign(0, float64(c.Sign()))
	case float64(bits) > float64(scale)*(log2of10+1e-6)+1100:
		return math.Inf(c.Sign())
	}
	q := new(big.Float).SetPrec(64).SetMode(big.ToZero).Quo(num, new(big.Float).SetInt(pow10Big(scale)))
	if q.Acc() != big.Exact {
		mant := new(big.Float)
		exp := q.MantExp(mant)
		u, _ := mant.SetMantExp(mant.Abs(mant), 64).Uint64()
		q.SetUint64(u|1).SetMantExp(q, exp-64)
		if c.Sign() < 0 {
			q.Neg(q)
		}
	}
	f, _ := q.Float64()
	return f
}
