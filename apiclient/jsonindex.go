package apiclient

import "math/bits"

// The stop index: before a body is scanned, one pass over it marks every
// byte that can end a run of plain string content (a quote, a backslash or
// a byte below 0x20) in a bitmap, 64 bytes to a word. The scanner then
// crosses a string by finding the next marked bit, instead of looking at
// its bytes: most of a body is strings, most of them skipped.
//
// The pass is AVX2 or SSE2 on amd64 (jsonindex_amd64.s), eight bytes at a
// time elsewhere (indexBlocksGeneric); each is checked against a byte loop.

// paddingWords is how many zero words follow the bitmap of a body: two,
// so that a window of two words from any place up to len(b) can be read
// without a check (crossMembersAVX2 does).
const paddingWords = 2

// indexStops sets stops to the stop bitmap of b, reusing its backing array,
// and the zero words of paddingWords after it.
func indexStops(b []byte, stops []uint64) []uint64 {
	words := (len(b) + 63) / 64
	if cap(stops) < words+paddingWords {
		stops = make([]uint64, words+paddingWords, words+paddingWords+words/4)
	}
	stops = stops[:words+paddingWords]
	stops[words], stops[words+1] = 0, 0
	full := len(b) / 64
	if full > 0 {
		indexBlocks(b[:full*64], stops[:full])
	}
	if tail := b[full*64:]; len(tail) > 0 {
		// The last, short block is padded with spaces, which mark nothing.
		var block [64]byte
		copy(block[:], tail)
		for i := len(tail); i < len(block); i++ {
			block[i] = ' '
		}
		indexBlocks(block[:], stops[full:full+1])
	}
	return stops
}

// indexBlocksGeneric is indexBlocks eight bytes at a time: len(b) is
// 64*len(stops).
func indexBlocksGeneric(b []byte, stops []uint64) {
	for w := range stops {
		block := b[w*64 : w*64+64 : w*64+64]
		var m uint64
		for k := 0; k < 8; k++ {
			m |= uint64(stopBits(leUint64(block[k*8:]))) << (8 * k)
		}
		stops[w] = m
	}
}

// stopBits returns a bit for each byte of x (little-endian) that is a
// quote, a backslash or below 0x20. Exact, unlike the borrow trick of
// zero-byte tests: no byte's flag depends on its neighbours.
func stopBits(x uint64) uint8 {
	const low7 = lsbs * 0x7f
	q, e := x^(lsbs*'"'), x^(lsbs*'\\')
	// A byte is zero iff adding 0x7f to its low seven bits carries nothing
	// into bit 7 and its own bit 7 is clear.
	zq := ^((q&low7 + low7) | q)
	ze := ^((e&low7 + low7) | e)
	// A byte is below 0x20 iff adding 0x60 to its low seven bits carries
	// nothing into bit 7 and its own bit 7 is clear.
	lt := ^((x&low7 + lsbs*0x60) | x)
	m := (zq | ze | lt) & msbs
	// Gather the eight top bits into one byte.
	return uint8((m >> 7) * 0x0102040810204080 >> 56)
}

func leUint64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// nextStop returns the index of the first stop byte of s.b at or after i,
// or len(s.b) if there is none. It looks at the 64 bytes from i in one
// window of two words, so whether the stop lies in i's word or the next
// costs no branch: stops are some 15 bytes apart, and a branch on it would
// be mispredicted one time in four.
func (s *scanner) nextStop(i int) int {
	if x := stopWindow(s.stops, i); x != 0 {
		return i + bits.TrailingZeros64(x)
	}
	return s.nextStopFrom(i)
}

// stopWindow returns the stop bits of the 64 bytes from i, bit 0 for
// b[i]: zero if none of them is a stop, or if i is past the index.
func stopWindow(stops []uint64, i int) uint64 {
	w, sh := i>>6, uint(i)&63
	if w+1 >= len(stops) {
		return 0
	}
	// The next word's bits come shifted in twice, by 1 and by 63-sh, so
	// that no shift reaches 64.
	return stops[w]>>sh | stops[w+1]<<1<<(63-sh)
}

// nextStopFrom is nextStop a word at a time, for long runs of plain bytes.
// Kept out of line, so that nextStop is inlined.
//
//go:noinline
func (s *scanner) nextStopFrom(i int) int {
	for w := i >> 6; w < len(s.stops); w++ {
		x := s.stops[w]
		if w == i>>6 {
			x &^= 1<<(i&63) - 1
		}
		if x != 0 {
			return w<<6 + bits.TrailingZeros64(x)
		}
	}
	return len(s.b)
}
