//go:build !amd64 || purego

package apiclient

// crossMembers crosses the members of ms from k, b[i] being member k's
// literal, as long as each has its literal there and a value it skips that
// is a string without escapes or a plain integer. It returns where it
// stopped: at a kept member's value, or at any other, for the caller.
func crossMembers(b []byte, stops []uint64, ms []shapeMember, k, i int) (int, int, crossed) {
	return crossMembersGeneric(b, stops, ms, k, i)
}

// crossVariants are the forms of crossMembers this build can run.
var crossVariants = map[string]func([]byte, []uint64, []shapeMember, int, int) (int, int, crossed){
	"generic": crossMembersGeneric,
}
