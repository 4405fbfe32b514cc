package money

import (
	"math"
	"math/big"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in, want string
		err      bool
	}{
		{in: "0", want: "0"},
		{in: "12", want: "12"},
		{in: "-0.5", want: "-0.5"},
		{in: "+3.14159265", want: "3.14159265"},
		{in: "1.50", want: "1.50"},
		{in: "0.00000001", want: "0.00000001"},
		{in: "00012.3400", want: "12.3400"},
		{in: "123456789012345678901234567890.12345678", want: "123456789012345678901234567890.12345678"},
		{in: "-9223372036854775808", want: "-9223372036854775808"},
		{in: "", err: true},
		{in: "-", err: true},
		{in: ".5", err: true},
		{in: "5.", err: true},
		{in: "1e5", err: true},
		{in: "1E-2", err: true},
		{in: " 1", err: true},
		{in: "1 ", err: true},
		{in: "1,000.00", err: true},
		{in: "1.2.3", err: true},
		{in: "NaN", err: true},
		{in: "Inf", err: true},
		{in: "--1", err: true},
		{in: "0x10", err: true},
		{in: "１２", err: true}, // full-width digits
		{in: "1234567890123456789012345678901234567890.12", want: "1234567890123456789012345678901234567890.12"},
		{in: "-" + strings.Repeat("9", 200) + "." + strings.Repeat("1", 200), want: "-" + strings.Repeat("9", 200) + "." + strings.Repeat("1", 200)},
		{in: "1." + strings.Repeat("0", 1_000_000), want: "1.000000000000000000"},
		{in: "-0.5" + strings.Repeat("0", 100), want: "-0.500000000000000000"},
		{in: "0.10000000", want: "0.10000000"},
		{in: strings.Repeat("0", 1_000_000) + "12.5", want: "12.5"},
		{in: "-" + strings.Repeat("0", 100) + "." + strings.Repeat("0", 30) + "1", want: "-0.0000000000000000000000000000001"},
		{in: "-0", want: "0"},
		{in: "18446744073709551615", want: "18446744073709551615"},
		{in: "18446744073709551616", want: "18446744073709551616"},
		{in: "-9223372036854775809", want: "-9223372036854775809"},
		{in: "9223372036854775808", want: "9223372036854775808"},
		{in: "+", err: true},
		{in: ".", err: true},
		{in: "-.5", err: true},
		{in: "+-1", err: true},
		{in: "1_000", err: true},
		{in: "Infinity", err: true},
		{in: "1." + strings.Repeat("0", 100) + "e5", err: true},
		{in: strings.Repeat("1", 100) + " ", err: true},
	}
	for _, tt := range tests {
		name := tt.in
		if len(name) > 50 {
			name = name[:20] + "…" + name[len(name)-20:]
		}
		t.Run(name, func(t *testing.T) {
			d, err := ParseString(tt.in)
			if tt.err {
				assert.ErrorIs(t, err, ErrInvalid)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, d.String())
		})
	}
}

func mustParse(t testing.TB, s string) Decimal {
	d, err := ParseString(s)
	require.NoError(t, err, s)
	return d
}

func TestAddIsExact(t *testing.T) {
	tests := []struct {
		name  string
		terms []string
		want  string
	}{
		{"tenths that floats get wrong", []string{"0.1", "0.2"}, "0.3"},
		{"mixed scales", []string{"1.5", "0.00000001", "2"}, "3.50000001"},
		{"negatives cancel", []string{"10.25", "-10.25"}, "0.00"},
		{"int64 overflow moves to big", []string{"9223372036854775807", "1"}, "9223372036854775808"},
		{"rescale overflow moves to big", []string{"92233720368547758.07", "0.00000001"}, "92233720368547758.07000001"},
		{"big plus small", []string{"123456789012345678901234567890.5", "0.25"}, "123456789012345678901234567890.75"},
		{"credits are subtracted", []string{"100.00", "-30.50", "-80"}, "-10.50"},
		{"43 digits", []string{"1234567890123456789012345678901234567890.123", "-0.123"}, "1234567890123456789012345678901234567890.000"},
		{"big cancels down", []string{"99999999999999999999999.5", "-99999999999999999999999", "0.5"}, "1.0"},
		{"far apart scales", []string{"1" + strings.Repeat("0", 60), "0." + strings.Repeat("0", 59) + "1"},
			"1" + strings.Repeat("0", 60) + "." + strings.Repeat("0", 59) + "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sum Decimal
			for _, s := range tt.terms {
				sum = sum.Add(mustParse(t, s))
			}
			assert.Equal(t, tt.want, sum.String())
		})
	}
}

// A value that fits in an int64 is kept there, whatever its length, so
// that it costs no more than a short one.
func TestSmallStaysSmall(t *testing.T) {
	for _, in := range []string{
		"-9223372036854775808", "9223372036854775807", strings.Repeat("0", 1000) + "7",
		"1." + strings.Repeat("0", 1000), "-0." + strings.Repeat("0", 17) + "1",
	} {
		d := mustParse(t, in)
		assert.Nil(t, d.big, "%.40s", in)
	}
	d := mustParse(t, "99999999999999999999999.5").Add(mustParse(t, "-99999999999999999999999"))
	assert.Nil(t, d.big, "a sum that cancels down")
	assert.Equal(t, "0.5", d.String())
}

// digitsToInt must agree with big.Int.SetString on lengths around its
// splitting points.
func TestDigitsToInt(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, leafDigits - 1, leafDigits, leafDigits + 1, 2 * leafDigits, 2*leafDigits + 1, 5000, 20_011} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('0' + rng.IntN(10))
		}
		want, _ := new(big.Int).SetString(string(b), 10)
		assert.Equal(t, 0, want.Cmp(digitsToInt(b, map[int]*big.Int{})), "%d digits", n)
	}
}

func TestAManyCentsSum(t *testing.T) {
	// A million orders of 0.01 is exactly 10000.00; a float64 sum is not.
	var sum Decimal
	var f float64
	cent := mustParse(t, "0.01")
	for i := 0; i < 1_000_000; i++ {
		sum = sum.Add(cent)
		f += 0.01
	}
	assert.Equal(t, "10000.00", sum.String())
	assert.Equal(t, 10000.0, sum.Float64())
	assert.NotEqual(t, 10000.0, f, "the float sum drifts: the reason this package exists")
}

func TestCmpAndFloat(t *testing.T) {
	assert.Equal(t, -1, mustParse(t, "1.09").Cmp(mustParse(t, "1.1")))
	assert.Equal(t, 0, mustParse(t, "1.10").Cmp(mustParse(t, "1.1")))
	assert.Equal(t, 1, mustParse(t, "-1").Cmp(mustParse(t, "-2")))
	assert.Equal(t, 1, mustParse(t, "0").Cmp(mustParse(t, "-9223372036854775808")))
	assert.Equal(t, 0.1, mustParse(t, "0.1").Float64())
	assert.Equal(t, -1234.5678, mustParse(t, "-1234.5678").Float64())
	assert.Equal(t, 1.2345678901234568e29, mustParse(t, "123456789012345678901234567890.12345678").Float64())
}

// plain is the grammar Parse accepts.
var plain = regexp.MustCompile(`^[+-]?[0-9]+(\.[0-9]+)?$`)

// rat is the oracle's reading of a plain decimal.
func rat(t *testing.T, s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	require.True(t, ok, "big.Rat refuses %q", s)
	return r
}

// checkDecimal checks d against the exact value want: String, Sign and
// Float64.
func checkDecimal(t *testing.T, d Decimal, want *big.Rat, what string) {
	t.Helper()
	s := d.String()
	require.True(t, plain.MatchString(s), "%s renders as %q", what, s)
	require.Equal(t, 0, want.Cmp(rat(t, s)), "%s = %s, want %s", what, s, want.FloatString(int(d.scale)))
	require.Equal(t, want.Sign(), d.Sign(), what)
	f, _ := want.Float64()
	require.Equal(t, f, d.Float64(), "%s Float64", what)
}

// longSeeds are inputs far past the old 40-digit limit.
var longSeeds = []string{
	strings.Repeat("9", 43),
	"-" + strings.Repeat("1234567890", 8) + "." + strings.Repeat("0987654321", 12),
	"0." + strings.Repeat("0", 150) + "3",
	"+" + strings.Repeat("0", 60) + "5." + strings.Repeat("0", 60),
	"-" + strings.Repeat("7", 250) + ".5",
	"1" + strings.Repeat("0", 2100) + "." + strings.Repeat("9", 1100),
}

// FuzzParse checks that Parse accepts exactly the plain decimals, of any
// length, and reads them as big.Rat does.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"0", "-0.5", "+3.14", "1.50", "1e3", "", "-", ".", "5.", " 1", "NaN", "１２", "0x1F"} {
		f.Add(s)
	}
	for _, s := range longSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseString(s)
		if !plain.MatchString(s) {
			require.ErrorIs(t, err, ErrInvalid, "%q", s)
			return
		}
		require.NoError(t, err, "%q", s)
		checkDecimal(t, d, rat(t, s), s)
		again, err := ParseString(d.String())
		require.NoError(t, err)
		assert.Equal(t, d.String(), again.String(), "round trip of %q", s)
	})
}

// FuzzAdd checks Parse, Add and String against math/big.Rat as the oracle.
func FuzzAdd(f *testing.F) {
	for _, s := range [][2]string{
		{"0.1", "0.2"}, {"9223372036854775807", "1"}, {"-5.000001", "5"},
		{"123456789012345678901234567890.5", "-0.25"}, {"1e3", "1"}, {"", "."},
		{"-9223372036854775808", "-0.1"}, {"99999999999999999999.99", "-99999999999999999999.98"},
	} {
		f.Add(s[0], s[1])
	}
	for i, s := range longSeeds {
		f.Add(s, longSeeds[(i+1)%len(longSeeds)])
		f.Add(s, "-0.01")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		da, errA := ParseString(a)
		db, errB := ParseString(b)
		if errA != nil || errB != nil {
			return
		}
		want := new(big.Rat).Add(rat(t, a), rat(t, b))
		checkDecimal(t, da.Add(db), want, a+" + "+b)
		assert.Equal(t, want.Cmp(rat(t, b)), da.Add(db).Cmp(db), "Cmp")
	})
}

// longDecimal makes a decimal text with intLen integer and fracLen
// fractional digits from rng, so that the fuzzer reaches long inputs that it
// would seldom type.
func longDecimal(rng *rand.Rand, intLen, fracLen int, neg bool) string {
	b := make([]byte, 0, intLen+fracLen+2)
	if neg {
		b = append(b, '-')
	}
	for range max(intLen, 1) {
		b = append(b, byte('0'+rng.IntN(10)))
	}
	if fracLen > 0 {
		b = append(b, '.')
		for range fracLen {
			b = append(b, byte('0'+rng.IntN(10)))
		}
	}
	return string(b)
}

// FuzzAddLong sums two generated decimals of up to 300 digits on each side
// of the point.
func FuzzAddLong(f *testing.F) {
	f.Add(uint64(1), uint16(43), uint16(0), uint16(1), uint16(8), false, true)
	f.Add(uint64(2), uint16(200), uint16(200), uint16(40), uint16(120), true, false)
	f.Add(uint64(3), uint16(1), uint16(300), uint16(300), uint16(1), true, true)
	f.Add(uint64(4), uint16(19), uint16(19), uint16(20), uint16(18), false, false)
	f.Fuzz(func(t *testing.T, seed uint64, intA, fracA, intB, fracB uint16, negA, negB bool) {
		rng := rand.New(rand.NewPCG(seed, 0))
		a := longDecimal(rng, int(intA%301), int(fracA%301), negA)
		b := longDecimal(rng, int(intB%301), int(fracB%301), negB)
		da, db := mustParse(t, a), mustParse(t, b)
		checkDecimal(t, da, rat(t, a), a)
		want := new(big.Rat).Add(rat(t, a), rat(t, b))
		checkDecimal(t, da.Add(db), want, a+" + "+b)
	})
}

func TestFloat64IsCorrectlyRounded(t *testing.T) {
	pow2 := func(e int) *big.Rat { // 2^e
		if e >= 0 {
			return new(big.Rat).SetInt(new(big.Int).Lsh(big.NewInt(1), uint(e)))
		}
		return new(big.Rat).SetFrac(big.NewInt(1), new(big.Int).Lsh(big.NewInt(1), uint(-e)))
	}
	add := func(a, b *big.Rat) *big.Rat { return new(big.Rat).Add(a, b) }
	sub := func(a, b *big.Rat) *big.Rat { return new(big.Rat).Sub(a, b) }
	tiny, _ := new(big.Rat).SetString("1e-1200") // far below any ulp here
	maxHalfUlp := sub(pow2(1024), pow2(970))     // MaxFloat64 + half an ulp
	tests := []struct {
		name string
		in   string
		want float64
	}{
		{"2^53+1 ties to even", "9007199254740993", 1 << 53},
		{"2^53+1 with a zero decimal ties to even", "9007199254740993.0", 1 << 53},
		{"just above the tie rounds up", "9007199254740993.0000000000000000000001", 1<<53 + 2},
		{"just below the tie rounds down", "-9007199254740992.9999999999999999999999", -(1 << 53)},
		{"half the smallest denormal ties to 0", pow2(-1075).FloatString(1075), 0},
		{"just above it rounds to the smallest", add(pow2(-1075), tiny).FloatString(1200), math.SmallestNonzeroFloat64},
		{"far below rounds to 0", "-0." + strings.Repeat("0", 400) + "1", 0},
		{"max float plus half an ulp is Inf", maxHalfUlp.FloatString(0), math.Inf(1)},
		{"just below that is max float", sub(maxHalfUlp, tiny).FloatString(1200), math.MaxFloat64},
		{"far above is -Inf", "-1" + strings.Repeat("0", 400) + ".5", math.Inf(-1)},
		{"0.1", "0.1", 0.1},
		{"8 decimals", "-99999999.99999999", -99999999.99999999},
		{"30 decimals", "0.123456789012345678901234567890", 0.12345678901234568},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustParse(t, tt.in)
			want, _ := rat(t, tt.in).Float64()
			require.Equal(t, want, tt.want, "the test's expectation disagrees with big.Rat")
			assert.Equal(t, tt.want, d.Float64())
		})
	}
}

// FuzzFloat64 checks Float64 against big.Rat on coefficients of up to 400
// digits at scales up to 1200, which reach denormals and overflow.
func FuzzFloat64(f *testing.F) {
	f.Add(uint64(1), uint16(17), uint16(8), false)
	f.Add(uint64(2), uint16(400), uint16(80), true)
	f.Add(uint64(3), uint16(3), uint16(1100), false)
	f.Add(uint64(4), uint16(330), uint16(10), false)
	f.Add(uint64(5), uint16(60), uint16(380), true)
	f.Fuzz(func(t *testing.T, seed uint64, digits, scale uint16, neg bool) {
		rng := rand.New(rand.NewPCG(seed, 1))
		n := 1 + int(digits%400)
		sc := int(scale % 1201)
		s := longDecimal(rng, max(n-sc, 1), min(sc, n), neg)
		if sc > n {
			s = strings.Replace(s, ".", "."+strings.Repeat("0", sc-n), 1)
		}
		want, _ := rat(t, s).Float64()
		assert.Equal(t, want, mustParse(t, s).Float64(), "%s", s)
	})
}

// FuzzParseShort checks the one-pass path against the general one: the
// same Decimal, field for field, wherever it answers.
func FuzzParseShort(f *testing.F) {
	for _, s := range []string{"0", "-0", "-0.5", "+3.14", "1.50", "007.10", "1e3", "", "-", ".", "5.", ".5", "-.5",
		"123456789012345678", "1234567890123456789", "12345678901234567.8", "-99999999.99999999", "1..2", "1.2.3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		short, ok := parseShort([]byte(s))
		if !ok {
			return
		}
		want, err := parseAny([]byte(s))
		require.NoError(t, err, "%q", s)
		require.Equal(t, want, short, "%q", s)
	})
}
