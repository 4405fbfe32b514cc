package money

import (
	"math/big"
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
		{in: "1." + strings.Repeat("0", MaxDigits), err: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
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

// FuzzAdd checks Parse, Add and String against math/big.Rat as the oracle.
func FuzzAdd(f *testing.F) {
	for _, s := range [][2]string{
		{"0.1", "0.2"}, {"9223372036854775807", "1"}, {"-5.000001", "5"},
		{"123456789012345678901234567890.5", "-0.25"}, {"1e3", "1"}, {"", "."},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		da, errA := ParseString(a)
		db, errB := ParseString(b)
		if errA != nil || errB != nil {
			return
		}
		ra, ok := new(big.Rat).SetString(a)
		require.True(t, ok, "accepted %q that big.Rat refuses", a)
		rb, ok := new(big.Rat).SetString(b)
		require.True(t, ok, "accepted %q that big.Rat refuses", b)
		want := new(big.Rat).Add(ra, rb)
		got, ok := new(big.Rat).SetString(da.Add(db).String())
		require.True(t, ok)
		assert.Equal(t, 0, want.Cmp(got), "%s + %s", a, b)
	})
}
