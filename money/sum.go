package money

import (
	"math/big"
	"math/bits"
)

// maxSumScale is the most decimals a Sum's fast path carries: every power
// of ten it rescales by is then in pow10Small.
const maxSumScale = 38

// Sum accumulates Decimals in place. The zero value is 0.
//
// Decimal.Add returns a new value, so once a sum passes int64 every
// addition allocates a big.Int. Sum keeps the coefficient in 128 bits,
// enough for 10^22 amounts of 1e8 at 8 decimals, and past that in a
// big.Int that it reuses; either way an Add allocates nothing in steady
// state. An amount too long for that path (over 127 bits or over 38
// decimals: none in real data) is summed apart as a Decimal, so that it
// cannot slow down the additions that follow it.
//
// A Sum is used through a pointer: a copy shares its storage once it has
// passed 128 bits.
type Sum struct {
	hi, lo uint64 // the coefficient, two's complement, while wide is nil
	scale  int32  // of the coefficient, at most maxSumScale
	wide   *wideSum
	rest   Decimal // the amounts too long for the fast path
}

// wideSum is a Sum's coefficient past 128 bits, with scratch space so that
// an addition reuses memory rather than allocating.
type wideSum struct {
	n    big.Int // the coefficient
	t, u big.Int // an addend, and an addend rescaled
	w    [128 / bits.UintSize]big.Word
}

// Add adds d to s.
func (s *Sum) Add(d Decimal) {
	if k := s.scale - d.scale; d.big == nil && s.wide == nil && k >= 0 && k < int32(len(pow10)) {
		// The common case, in one multiply and one add: an int64 amount
		// at no more decimals than the sum's, which stays in 128 bits.
		// Anything else, an overflow included, takes the general path,
		// which starts again from s as it was.
		v, neg := uint64(d.small), d.small < 0
		if neg {
			v = -v
		}
		xhi, xlo := bits.Mul64(v, uint64(pow10[k]))
		if neg {
			xhi, xlo = neg128(xhi, xlo)
		}
		// (xhi, xlo) is |v| × 10^k < 2^127, negated if need be.
		if hi, lo, ok := sum128(s.hi, s.lo, xhi, xlo); ok {
			s.hi, s.lo = hi, lo
			return
		}
	}
	s.addAny(d)
}

// addAny is Add for any d: what the fast path does not take.
func (s *Sum) addAny(d Decimal) {
	if d.scale <= maxSumScale {
		if d.big == nil {
			s.add128(uint64(d.small>>63), uint64(d.small), d.scale)
			return
		}
		if d.big.BitLen() < 128 {
			hi, lo := int128Of(d.big)
			s.add128(hi, lo, d.scale)
			return
		}
	}
	s.rest = s.rest.Add(d)
}

// Merge adds the value of o to s, for sums kept per worker.
func (s *Sum) Merge(o *Sum) {
	if o == s {
		s.Add(o.Decimal())
		return
	}
	if o.wide != nil {
		s.addBig(&o.wide.n, o.scale)
	} else {
		s.add128(o.hi, o.lo, o.scale)
	}
	if o.rest.Sign() != 0 {
		s.rest = s.rest.Add(o.rest)
	}
}

// add128 adds the 128-bit coefficient x = (hi, lo) at scale sc.
func (s *Sum) add128(hi, lo uint64, sc int32) {
	if sc > s.scale {
		s.rescale(sc)
	}
	xhi, xlo := hi, lo
	if k := s.scale - sc; k > 0 {
		var ok bool
		if xhi, xlo, ok = mul128(hi, lo, k); !ok {
			s.widen()
			setInt128(&s.wide.t, &s.wide.w, hi, lo)
			s.wide.u.Mul(&s.wide.t, pow10Small[k])
			s.wide.n.Add(&s.wide.n, &s.wide.u)
			return
		}
	}
	if s.wide == nil {
		if hi, lo, ok := sum128(s.hi, s.lo, xhi, xlo); ok {
			s.hi, s.lo = hi, lo
			return
		}
		s.widen()
	}
	setInt128(&s.wide.t, &s.wide.w, xhi, xlo)
	s.wide.n.Add(&s.wide.n, &s.wide.t)
}

// addBig adds the coefficient n at scale sc; n is not modified.
func (s *Sum) addBig(n *big.Int, sc int32) {
	if sc > s.scale {
		s.rescale(sc)
	}
	s.widen()
	if k := s.scale - sc; k > 0 {
		s.wide.u.Mul(n, pow10Small[k])
		n = &s.wide.u
	}
	s.wide.n.Add(&s.wide.n, n)
}

// rescale moves the coefficient to the larger scale sc. It happens at most
// once per decimal place, so its allocations do not matter.
func (s *Sum) rescale(sc int32) {
	k := sc - s.scale
	s.scale = sc
	if s.wide == nil {
		if hi, lo, ok := mul128(s.hi, s.lo, k); ok {
			s.hi, s.lo = hi, lo
			return
		}
		s.widen()
	}
	s.wide.n.Mul(&s.wide.n, pow10Small[k])
}

// widen moves the coefficient to a big.Int, if it is not there yet.
func (s *Sum) widen() {
	if s.wide != nil {
		return
	}
	s.wide = new(wideSum)
	setInt128(&s.wide.t, &s.wide.w, s.hi, s.lo)
	s.wide.n.Set(&s.wide.t) // a copy: t's words are scratch
	s.hi, s.lo = 0, 0
}

// Decimal returns the value of s.
func (s *Sum) Decimal() Decimal {
	var d Decimal
	switch {
	case s.wide != nil:
		d = newDecimal(new(big.Int).Set(&s.wide.n), s.scale)
	case s.hi == uint64(int64(s.lo)>>63):
		d = Decimal{small: int64(s.lo), scale: s.scale}
	default:
		n := new(big.Int)
		setInt128(n, new([128 / bits.UintSize]big.Word), s.hi, s.lo)
		d = Decimal{big: n, scale: s.scale}
	}
	if s.rest.Sign() != 0 {
		d = d.Add(s.rest)
	}
	return d
}

// Float64 returns the float64 nearest to the value of s.
func (s *Sum) Float64() float64 {
	if s.wide == nil && s.rest.Sign() == 0 && s.hi == uint64(int64(s.lo)>>63) {
		return smallFloat64(int64(s.lo), s.scale) // no Decimal to allocate
	}
	return s.Decimal().Float64()
}

// String renders the value of s as Decimal.String does.
func (s *Sum) String() string { return s.Decimal().String() }

// mul128 returns x × 10^k for the two's complement x = (hi, lo), and false
// if the product does not fit in 128 bits.
func mul128(hi, lo uint64, k int32) (uint64, uint64, bool) {
	neg := int64(hi) < 0
	if neg {
		hi, lo = neg128(hi, lo)
	}
	for k > 0 {
		step := min(k, int32(len(pow10)-1))
		k -= step
		m := uint64(pow10[step])
		pHi, pLo := bits.Mul64(lo, m)
		carryHi, mid := bits.Mul64(hi, m)
		h, c := bits.Add64(pHi, mid, 0)
		if carryHi != 0 || c != 0 || int64(h) < 0 {
			return 0, 0, false
		}
		hi, lo = h, pLo
	}
	if neg {
		hi, lo = neg128(hi, lo)
	}
	return hi, lo, true
}

// sum128 returns the two's complement sum of (ahi, alo) and (bhi, blo),
// and false if it overflows 128 bits.
func sum128(ahi, alo, bhi, blo uint64) (hi, lo uint64, ok bool) {
	lo, c := bits.Add64(alo, blo, 0)
	hi, _ = bits.Add64(ahi, bhi, c)
	// Signed overflow only when both signs agree and the result's differs.
	return hi, lo, int64(ahi^bhi) < 0 || int64(ahi^hi) >= 0
}

func neg128(hi, lo uint64) (uint64, uint64) {
	lo, b := bits.Sub64(0, lo, 0)
	hi, _ = bits.Sub64(0, hi, b)
	return hi, lo
}

// setInt128 sets z to the two's complement (hi, lo), using w as its words:
// z then aliases w, which saves an allocation.
func setInt128(z *big.Int, w *[128 / bits.UintSize]big.Word, hi, lo uint64) {
	neg := int64(hi) < 0
	if neg {
		hi, lo = neg128(hi, lo) // the magnitude; 2^127 is right unsigned
	}
	if bits.UintSize == 64 {
		w[0], w[1] = big.Word(lo), big.Word(hi)
	} else {
		for i := range w {
			v := lo
			if i >= len(w)/2 {
				v = hi
			}
			w[i] = big.Word(v >> (32 * (i % 2)))
		}
	}
	z.SetBits(w[:])
	if neg {
		z.Neg(z)
	}
}

// int128Of returns n, which must have fewer than 128 bits, in two's
// complement.
func int128Of(n *big.Int) (hi, lo uint64) {
	for i, w := range n.Bits() {
		bit := i * bits.UintSize
		if bit < 64 {
			lo |= uint64(w) << bit
		} else {
			hi |= uint64(w) << (bit - 64)
		}
	}
	if n.Sign() < 0 {
		hi, lo = neg128(hi, lo)
	}
	return hi, lo
}
