//go:build amd64 && !purego

package apiclient

import "golang.org/x/sys/cpu"

// indexBlocks writes the stop bitmap of b, 64 bytes a word, to stops:
// len(b) is 64*len(stops). AVX2 where the processor has it (two 32-byte
// chunks a word, about half the instructions), else SSE2, which every
// amd64 processor has.
func indexBlocks(b []byte, stops []uint64) {
	if hasAVX2 {
		indexBlocksAVX2(b, stops)
		return
	}
	indexBlocksSSE2(b, stops)
}

var hasAVX2 = cpu.X86.HasAVX2

// indexVariants are the forms of indexBlocks this machine can run, for
// the tests to check each.
var indexVariants = func() map[string]func(b []byte, stops []uint64) {
	v := map[string]func(b []byte, stops []uint64){"sse2": indexBlocksSSE2, "generic": indexBlocksGeneric}
	if hasAVX2 {
		v["avx2"] = indexBlocksAVX2
	}
	return v
}()

//go:noescape
func indexBlocksSSE2(b []byte, stops []uint64)

//go:noescape
func indexBlocksAVX2(b []byte, stops []uint64)
