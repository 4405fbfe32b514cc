//go:build amd64 && !purego

package apiclient

// crossMembers crosses the members of ms from k, b[i] being member k's
// literal, as long as each has its literal there and a value it skips that
// is a string without escapes or a plain integer. It returns where it
// stopped: at a kept member's value, or at any other, for the caller.
//
// With AVX2, a literal is compared as one 32-byte vector and the loop
// keeps its state in registers: about 30 instructions a member, against
// some 65 for crossMembersGeneric, which Go's bounds checks and spills
// leave it.
func crossMembers(b []byte, stops []uint64, ms []shapeMember, k, i int) (int, int, crossed) {
	if hasAVX2 {
		return crossMembersAVX2(b, stops, ms, k, i)
	}
	return crossMembersGeneric(b, stops, ms, k, i)
}

// crossVariants are the forms of crossMembers this machine can run, for
// the tests to check each against the others.
var crossVariants = func() map[string]func([]byte, []uint64, []shapeMember, int, int) (int, int, crossed) {
	v := map[string]func([]byte, []uint64, []shapeMember, int, int) (int, int, crossed){"generic": crossMembersGeneric}
	if hasAVX2 {
		v["avx2"] = crossMembersAVX2
	}
	return v
}()

//go:noescape
func crossMembersAVX2(b []byte, stops []uint64, ms []shapeMember, k, i int) (int, int, crossed)
