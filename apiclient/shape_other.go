//go:build !amd64 || purego

package apiclient

// crossMembers crosses the members of ms from k, b[i] being member k's
// literal, as long as each has its literal there and a value it skips that
// is a string without escapes or a plain integer. It returns where it
// stopped: at a member's value it does not take, for the caller. It
// records up to maxKept kept members' strings without escapes in kept,
// and returns how many; the caller reads them before the member it
// stopped at.
func crossMembers(b []byte, stops []uint64, ms []shapeMember, k, i int, kept *[maxKept]keptValue) (int, int, int, crossed) {
	return crossMembersGeneric(b, stops, ms, k, i, kept)
}

// crossVariants are the forms of crossMembers this build can run.
var crossVariants = map[string]func([]byte, []uint64, []shapeMember, int, int, *[maxKept]keptValue) (int, int, int, crossed){
	"generic": crossMembersGeneric,
}
