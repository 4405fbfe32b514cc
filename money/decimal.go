// Package money holds exact decimal amounts: parsed from the API's decimal
// strings, summed without rounding, and turned into a float only when a
// metric is exposed.
package money

import (
	"errors"
	"math/big"
	"strconv"
	"strings"
)

// MaxDigits bounds the digits of a parsed amount, so that a hostile value
// (a million zeros after the point) cannot make every later addition slow.
const MaxDigits = 40

// ErrInvalid is returned for anything that is not a plain decimal number.
var ErrInvalid = errors.New("not a plain decimal number")

// Decimal is an exact decimal number: coefficient × 10^-scale. The
// coefficient lives in an int64 while it fits, which keeps parsing and
// summing free of allocations, and moves to a big.Int when it does not.
// The zero value is 0.
type Decimal struct {
	small int64
	big   *big.Int // non-nil when the coefficient does not fit in small
	scale int32
}

// Parse reads a plain decimal: an optional sign, digits, and optionally a
// point followed by digits ("12", "-0.5", "3.14159265"). Exponents, spaces,
// thousands separators, "NaN" and "Inf" are refused with ErrInvalid.
func Parse(b []byte) (Decimal, error) {
	i, neg := 0, false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		i++
	}
	var (
		coef          uint64
		digits, scale int
		intDigits     int
		sawPoint      bool
		overflow      bool
	)
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
			if sawPoint {
				scale++
			} else {
				intDigits++
			}
			if coef > (1<<63-1-9)/10 {
				overflow = true
			} else if !overflow {
				coef = coef*10 + uint64(c-'0')
			}
		case c == '.' && !sawPoint:
			sawPoint = true
		default:
			return Decimal{}, ErrInvalid
		}
	}
	if intDigits == 0 || (sawPoint && scale == 0) || digits > MaxDigits {
		return Decimal{}, ErrInvalid
	}
	if overflow {
		return parseBig(string(b), neg, int32(scale))
	}
	d := Decimal{small: int64(coef), scale: int32(scale)}
	if neg {
		d.small = -d.small
	}
	return d, nil
}

// ParseString is Parse for a string.
func ParseString(s string) (Decimal, error) { return Parse([]byte(s)) }

func parseBig(s string, neg bool, scale int32) (Decimal, error) {
	s = strings.TrimLeft(s, "+-")
	s = strings.Replace(s, ".", "", 1)
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return Decimal{}, ErrInvalid
	}
	if neg {
		n.Neg(n)
	}
	return Decimal{big: n, scale: scale}, nil
}

var pow10 = func() [19]int64 {
	var p [19]int64
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

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

// Add returns d + o, exactly.
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
	return Decimal{big: new(big.Int).Add(a, b), scale: scale}
}

func scaleBig(n *big.Int, by int32) *big.Int {
	if by == 0 {
		return n
	}
	f := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(by)), nil)
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

// String renders d in plain decimal notation with its full scale
// ("1.50" stays "1.50"), so that parsing it back gives the same value.
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

// Float64 returns the float64 nearest to d: computed from the exact decimal
// text, so the only rounding is the final one.
func (d Decimal) Float64() float64 {
	if d.big == nil && d.scale == 0 {
		return float64(d.small)
	}
	f, _ := strconv.ParseFloat(d.String(), 64)
	return f
}
