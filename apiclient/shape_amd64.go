//go:build amd64 && !purego

package apiclient

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// crossMembers crosses the members of ms from k, b[i] being member k's
// literal, as long as each has its literal there and a value it skips that
// is a string without escapes or a plain integer. It returns where it
// stopped: at a member's value it does not take, for the caller. It
// records up to maxKept kept members' strings without escapes in kept,
// and returns how many; the caller reads them before the member it
// stopped at.
//
// With AVX2 (and BMI1, BMI2), a literal is compared as one 32-byte vector
// and the loop keeps its state in registers: about 40 instructions for a
// member with a plain string value, against some 65 for crossMembersGeneric, which Go's
// bounds checks and spills leave it (callgrind, bench/RESULTS.md).
//
// The AVX2 form needs ms followed, within its capacity, by a sentinel
// member whose room is past any body (learnShape makes one), which ends
// its loop without a count of members; and stops as indexStops makes it,
// with its zero words past the body's, which spare the loop a bounds
// check at each stop.
func crossMembers(b []byte, stops []uint64, ms []shapeMember, k, i int, kept *[maxKept]keptValue) (int, int, int, crossed) {
	if hasShapeLoop && hasSentinel(ms) && len(stops) >= (len(b)+63)/64+paddingWords {
		return crossMembersAVX2(b, stops, ms, k, i, kept)
	}
	return crossMembersGeneric(b, stops, ms, k, i, kept)
}

// crossVariants are the forms of crossMembers this machine can run, for
// the tests to check each against the others.
var crossVariants = func() map[string]func([]byte, []uint64, []shapeMember, int, int, *[maxKept]keptValue) (int, int, int, crossed) {
	v := map[string]func([]byte, []uint64, []shapeMember, int, int, *[maxKept]keptValue) (int, int, int, crossed){"generic": crossMembersGeneric}
	if hasShapeLoop {
		v["avx2"] = func(b []byte, stops []uint64, ms []shapeMember, k, i int, kept *[maxKept]keptValue) (int, int, int, crossed) {
			if !hasSentinel(ms) {
				panic("crossMembersAVX2 without a sentinel member")
			}
			if len(stops) < (len(b)+63)/64+paddingWords {
				panic("crossMembersAVX2 without the index's zero words")
			}
			return crossMembersAVX2(b, stops, ms, k, i, kept)
		}
	}
	return v
}()

// hasShapeLoop: crossMembersAVX2 also finds a string's end with TZCNT
// (BMI1) and SHRX (BMI2), which every AVX2 processor of Intel and AMD has.
var hasShapeLoop = hasAVX2 && cpu.X86.HasBMI1 && cpu.X86.HasBMI2

//go:noescape
func crossMembersAVX2(b []byte, stops []uint64, ms []shapeMember, k, i int, kept *[maxKept]keptValue) (int, int, int, crossed)

// The assembly indexes kept by shifting: a keptValue is 32 bytes.
var _ [32 - unsafe.Sizeof(keptValue{})]struct{}
var _ [unsafe.Sizeof(keptValue{}) - 32]struct{}
