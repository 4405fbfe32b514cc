package money

import (
	"math"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	maxInt64Text = "9223372036854775807"
	minInt64Text = "-9223372036854775808"
	maxInt128    = "170141183460469231731687303715884105727" // 2^127-1
)

// checkSum checks s against the exact value want.
func checkSum(t *testing.T, s *Sum, want *big.Rat, what string) {
	t.Helper()
	checkDecimal(t, s.Decimal(), want, what)
	assert.Equal(t, s.Decimal().String(), s.String(), what)
	f, _ := want.Float64()
	assert.Equal(t, f, s.Float64(), "%s Float64", what)
}

func TestSum(t *testing.T) {
	var zero Sum
	assert.Equal(t, "0", zero.String())
	assert.Equal(t, 0.0, zero.Float64())
	assert.Equal(t, 0, zero.Decimal().Sign())

	tests := []struct {
		name  string
		terms []string
		want  string
	}{
		{"tenths", []string{"0.1", "0.2"}, "0.3"},
		{"mixed scales", []string{"1.5", "0.00000001", "-2"}, "-0.49999999"},
		{"credits cancel", []string{"10.25", "-10.25"}, "0.00"},
		{"past int64", []string{maxInt64Text, "1"}, "9223372036854775808"},
		{"below int64", []string{minInt64Text, "-1"}, "-9223372036854775809"},
		{"past int64 by rescaling", []string{"92233720368547758.07", "0.00000001"}, "92233720368547758.07000001"},
		{"to 2^127-1", []string{maxInt128}, maxInt128},
		{"past 2^127", []string{maxInt128, "1"}, "170141183460469231731687303715884105728"},
		{"past 2^127 by rescaling", []string{"17014118346046923173168730371588410572.7", "0.01"}, "17014118346046923173168730371588410572.71"},
		{"a small amount rescaled past 128 bits", []string{"1", "0." + strings.Repeat("0", 37) + "1", "9223372036854775807"},
			"9223372036854775808." + strings.Repeat("0", 37) + "1"},
		{"rescaled into 2^127 to 2^128", []string{"2" + strings.Repeat("0", 37), "0.1"}, "2" + strings.Repeat("0", 37) + ".1"},
		{"an addend rescaled into 2^127 to 2^128", []string{"-0.1", "-2" + strings.Repeat("0", 37)}, "-2" + strings.Repeat("0", 37) + ".1"},
		{"down to -2^127", []string{"-" + maxInt128, "-1"}, "-170141183460469231731687303715884105728"},
		{"below -2^127", []string{"-" + maxInt128, "-2"}, "-170141183460469231731687303715884105729"},
		{"past 128 bits and back", []string{maxInt128, maxInt128, "-" + maxInt128, "-" + maxInt128, "0.5"}, "0.5"},
		{"39 decimals summed apart", []string{"1.5", "0." + strings.Repeat("0", 38) + "1", "-0.5"}, "1." + strings.Repeat("0", 38) + "1"},
		{"a 200-digit amount summed apart", []string{strings.Repeat("9", 200), "1", "-0.25"}, strings.Repeat("9", 200) + ".75"},
		{"padding does not count", []string{"1." + strings.Repeat("0", 10000), "2"}, "3.000000000000000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s Sum
			want := new(big.Rat)
			for _, term := range tt.terms {
				s.Add(mustParse(t, term))
				want.Add(want, rat(t, term))
			}
			assert.Equal(t, tt.want, s.String())
			checkSum(t, &s, want, tt.name)
		})
	}
}

func TestSumMerge(t *testing.T) {
	terms := []string{"0.1", maxInt128, "-3.14159265", strings.Repeat("7", 60), "1", "0." + strings.Repeat("0", 50) + "9", minInt64Text}
	for split := range len(terms) + 1 {
		var a, b Sum
		want := new(big.Rat)
		for i, term := range terms {
			if i < split {
				a.Add(mustParse(t, term))
			} else {
				b.Add(mustParse(t, term))
			}
			want.Add(want, rat(t, term))
		}
		a.Merge(&b)
		checkSum(t, &a, want, "merged at "+strconv.Itoa(split))
		a.Merge(&a)
		checkSum(t, &a, want.Add(want, want), "merged with itself at "+strconv.Itoa(split))
	}
}

// amounts8 are amounts of about 1e8 at 8 decimals, as real data has.
func amounts8(n int) []Decimal {
	rng := rand.New(rand.NewPCG(8, 8))
	out := make([]Decimal, n)
	for i := range out {
		v := rng.Int64N(2e16) - 2e15 // up to 2e8, some credits
		out[i] = Decimal{small: v, scale: 8}
	}
	return out
}

func TestSumAddAllocs(t *testing.T) {
	amounts := amounts8(1024)
	var s Sum
	s.Add(mustParse(t, maxInt64Text)) // already past int64
	s.Add(mustParse(t, "0.00000001")) // at 8 decimals already
	i := 0
	allocs := testing.AllocsPerRun(10_000, func() {
		s.Add(amounts[i%len(amounts)])
		i++
	})
	assert.Zero(t, allocs, "past int64")
	assert.NotNil(t, s.Decimal().big, "the sum is past int64")
	assert.Nil(t, s.wide, "and within 128 bits")

	s.Add(mustParse(t, maxInt128))
	s.Add(mustParse(t, maxInt128))
	for range 100 { // let the big.Int reach its working size
		s.Add(amounts[i%len(amounts)])
		i++
	}
	allocs = testing.AllocsPerRun(10_000, func() {
		s.Add(amounts[i%len(amounts)])
		i++
	})
	assert.Zero(t, allocs, "past 128 bits")
	assert.NotNil(t, s.wide)
}

// readOps drives FuzzSum: bytes make amounts and operations.
type readOps []byte

func (r *readOps) byte() byte {
	if len(*r) == 0 {
		return 0
	}
	c := (*r)[0]
	*r = (*r)[1:]
	return c
}

func (r *readOps) uint64() uint64 {
	var v uint64
	for range 8 {
		v = v<<8 | uint64(r.byte())
	}
	return v
}

// amount returns the text of an amount near one of the boundaries Sum
// crosses, at a scale of its choice.
func (r *readOps) amount() string {
	kind := r.byte()
	var n big.Int
	switch kind % 8 {
	case 0, 1: // real data: up to 1e8 at up to 8 decimals
		n.SetUint64(r.uint64() % 1e16)
	case 2: // about int64
		n.SetUint64(math.MaxInt64 - 2 + uint64(r.byte()%5))
	case 3: // any 128 bits
		n.SetUint64(r.uint64())
		n.Lsh(&n, 64).Or(&n, new(big.Int).SetUint64(r.uint64()))
	case 4: // about 2^127
		n.Lsh(big.NewInt(1), 127).Sub(&n, big.NewInt(int64(r.byte()%5)-2))
	case 5: // long, and maybe past the fast path's 38 decimals
		rng := rand.New(rand.NewPCG(r.uint64(), 5))
		return longDecimal(rng, int(r.byte()%80), int(r.byte()%80), kind&8 != 0)
	default:
		n.SetUint64(uint64(r.byte()))
	}
	text := n.String()
	if scale := int(r.byte() % 42); scale > 0 {
		if len(text) <= scale {
			text = strings.Repeat("0", scale-len(text)+1) + text
		}
		text = text[:len(text)-scale] + "." + text[len(text)-scale:]
	}
	if kind&8 != 0 {
		text = "-" + text
	}
	return text
}

// FuzzSum checks sequences of Add and Merge against big.Rat.
func FuzzSum(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
	f.Add([]byte("\x00\x02\x00\x00\x00\x00\x00\x00\x00\x08\x00\x02\x01\x00\x00\x00\x00\x00\x00\x00\x08")) // 2 + 1e-8
	f.Add([]byte("\x01\x02\x03\x00\x01\x02\x0a\x05\x03\x02\x04\x01\x00\x01\x04\x03\x0c\x03\x02\x01"))     // int64 and 2^127 edges
	f.Add([]byte("\x00\x03\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x03\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x26"))
	f.Add([]byte("\x02\x05\x01\x02\x03\x04\x05\x06\x07\x08\x30\x30\x00\x00\x04\x01\x03\x07\x08\x04\x02\x00\x02\x04\x0a"))
	f.Add([]byte("\x00\x0d\x01\x02\x03\x04\x05\x06\x07\x08\x40\x41\x00\x00\x00\x00\x00\x00\x00\x00\x00\x09\x27"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := readOps(data)
		var s Sum
		want := new(big.Rat)
		for step := 0; len(r) > 0 && step < 200; step++ {
			op := r.byte()
			switch op % 4 {
			case 0, 1:
				a := r.amount()
				s.Add(mustParse(t, a))
				want.Add(want, rat(t, a))
			case 2:
				var o Sum
				for range op/4%4 + 1 {
					a := r.amount()
					o.Add(mustParse(t, a))
					want.Add(want, rat(t, a))
				}
				s.Merge(&o)
			case 3:
				if op&4 != 0 && step < 64 {
					s.Merge(&s)
					want.Add(want, want)
				} else {
					checkSum(t, &s, want, "step "+strconv.Itoa(step))
				}
			}
		}
		checkSum(t, &s, want, "the end")
	})
}

// BenchmarkSumAdd sums amounts of about 1e8 at 8 decimals into one
// series, past int64 after about a thousand of them: Decimal.Add, which
// allocates a big.Int for every addition from there on, against Sum.Add.
func BenchmarkSumAdd(b *testing.B) {
	amounts := amounts8(4096)
	b.Run("Decimal.Add", func(b *testing.B) {
		b.ReportAllocs()
		var sum Decimal
		for i := 0; b.Loop(); i++ {
			sum = sum.Add(amounts[i%len(amounts)])
		}
	})
	b.Run("Sum.Add", func(b *testing.B) {
		b.ReportAllocs()
		var sum Sum
		for i := 0; b.Loop(); i++ {
			sum.Add(amounts[i%len(amounts)])
		}
	})
	// Past int64 from the start, as a busy series is after its first
	// thousand orders.
	b.Run("Decimal.Add/past-int64", func(b *testing.B) {
		b.ReportAllocs()
		sum := mustParse(b, "100000000000.00000000")
		for i := 0; b.Loop(); i++ {
			sum = sum.Add(amounts[i%len(amounts)])
		}
	})
	b.Run("Sum.Add/past-int64", func(b *testing.B) {
		b.ReportAllocs()
		var sum Sum
		sum.Add(mustParse(b, "100000000000.00000000"))
		for i := 0; b.Loop(); i++ {
			sum.Add(amounts[i%len(amounts)])
		}
	})
	b.Run("Sum.Add/past-128-bits", func(b *testing.B) {
		b.ReportAllocs()
		var sum Sum
		sum.Add(mustParse(b, maxInt128))
		sum.Add(mustParse(b, maxInt128))
		for i := 0; b.Loop(); i++ {
			sum.Add(amounts[i%len(amounts)])
		}
	})
}

// TestSumAddFastPathIsTheGeneralOne: Add's one-multiply path leaves a Sum
// exactly as the general path (addAny) does, field for field, for int64
// amounts at every scale, the edges of int64, and sums started next to
// the edges of 128 bits (where the fast path must give up unchanged).
func TestSumAddFastPathIsTheGeneralOne(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	edges := []int64{0, 1, -1, math.MinInt64, math.MaxInt64, math.MinInt64 + 1, 999999999999999999, -999999999999999999}
	for trial := range 50000 {
		var fast, general Sum
		if sc := int32(r.IntN(maxSumScale + 1)); sc > 0 {
			fast.rescale(sc)
			general.rescale(sc)
		}
		if r.IntN(3) == 0 {
			hi := uint64(math.MaxInt64) - uint64(r.IntN(3))
			if r.IntN(2) == 0 {
				hi = 1<<63 + uint64(r.IntN(3))
			}
			lo := r.Uint64()
			fast.hi, fast.lo, general.hi, general.lo = hi, lo, hi, lo
		}
		for step := range 8 {
			v := edges[r.IntN(len(edges))]
			if r.IntN(2) == 0 {
				v = int64(r.Uint64())
			}
			d := Decimal{small: v, scale: int32(r.IntN(maxSumScale + 2))}
			fast.Add(d)
			general.addAny(d)
			same := fast.hi == general.hi && fast.lo == general.lo && fast.scale == general.scale &&
				(fast.wide == nil) == (general.wide == nil) && (fast.wide == nil || fast.wide.n.Cmp(&general.wide.n) == 0) &&
				fast.rest.Cmp(general.rest) == 0
			require.True(t, same, "trial %d step %d, adding %v: %+v against %+v", trial, step, d, fast, general)
		}
	}
}
