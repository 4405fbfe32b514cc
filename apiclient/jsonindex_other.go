//go:build !amd64 || purego

package apiclient

// indexBlocks writes the stop bitmap of b, 64 bytes a word, to stops:
// len(b) is 64*len(stops).
func indexBlocks(b []byte, stops []uint64) { indexBlocksGeneric(b, stops) }

// indexVariants are the forms of indexBlocks this build can run.
var indexVariants = map[string]func(b []byte, stops []uint64){"generic": indexBlocksGeneric}
