package apiclient

import (
	"strings"
	"testing"
)

// stopsReference is the stop bitmap a byte at a time.
func stopsReference(b []byte) []uint64 {
	stops := make([]uint64, (len(b)+63)/64)
	for i, c := range b {
		if c == '"' || c == '\\' || c < 0x20 {
			stops[i/64] |= 1 << (i % 64)
		}
	}
	return stops
}

// FuzzIndexStops checks the index, and each form of it this machine runs
// (AVX2, SSE2, eight bytes at a time), against a byte loop, at every
// length and alignment.
func FuzzIndexStops(f *testing.F) {
	for _, seed := range []string{"", `"`, `\`, "\x00", "\x1f\x20\x21\x22\x5b\x5c\x5d\x7f\x80\xa2\xdc\xff",
		strings.Repeat(`{"a\"b":"\u00e9\n"} `, 20), strings.Repeat("\x1f", 64), strings.Repeat("\x9f", 130),
		strings.Repeat("\x20\x21\x22\x23\x00\x02\x1d\x5c\x5e\x7e\xa0\xa2\xde\xff", 10)} {
		f.Add([]byte(seed), uint8(0))
	}
	f.Fuzz(func(t *testing.T, b []byte, shift uint8) {
		b = append(make([]byte, int(shift%16)), b...)[shift%16:] // misaligned
		want := stopsReference(b)
		// Into a fresh array, and into one that held the index of a longer
		// body full of stops (as a decoder reuses it): no stale bit stays.
		longer := append(append([]byte{}, b...), strings.Repeat(`"`, 200)...)
		for _, reused := range [][]uint64{{0xdead}, indexStops(longer, nil)} {
			got := indexStops(b, reused)
			if len(got) != len(want)+paddingWords || got[len(want)] != 0 || got[len(want)+1] != 0 {
				t.Fatalf("%d words for %d bytes, want %d and two zero words", len(got), len(b), len(want))
			}
			for w := range want {
				if got[w] != want[w] {
					t.Fatalf("word %d of %q: %#x, want %#x", w, b, got[w], want[w])
				}
			}
		}
		full := len(b) / 64
		for name, index := range indexVariants {
			got := make([]uint64, full)
			index(b[:full*64], got)
			for w := range got {
				if got[w] != want[w] {
					t.Fatalf("%s word %d of %q: %#x, want %#x", name, w, b, got[w], want[w])
				}
			}
		}
	})
}

// TestNextStop checks nextStop against a byte loop at every offset.
func TestNextStop(t *testing.T) {
	b := []byte(strings.Repeat("abc", 50) + `"` + strings.Repeat("x", 200) + "\\yz\n" + strings.Repeat("q", 70) +
		`"` + strings.Repeat("r", 63) + `\` + strings.Repeat("s", 64) + `"` + strings.Repeat("t", 65))
	s := &scanner{b: b, stops: indexStops(b, nil)}
	for i := 0; i <= len(b)+70; i++ {
		want := len(b)
		for j := i; j < len(b); j++ {
			if c := b[j]; c == '"' || c == '\\' || c < 0x20 {
				want = j
				break
			}
		}
		if got := s.nextStop(i); got != want {
			t.Fatalf("nextStop(%d) = %d, want %d", i, got, want)
		}
	}
}
