package apiclient

import (
	"fmt"
	"hash/maphash"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestOrderSet checks the set against a map, over answers of every size up
// to past a page, with OrderNos that repeat within and across answers, and
// with every hash the same (each look-up then walks the whole run).
func TestOrderSet(t *testing.T) {
	seed := maphash.MakeSeed()
	for _, collide := range []bool{false, true} {
		hash := func(no string) uint64 {
			if collide {
				return 7
			}
			return orderHash(seed, no)
		}
		var s, prev orderSet
		var prevWant map[string]int64
		for answer := range 40 {
			n := (answer * 37) % 130
			s.reset(n)
			want := map[string]int64{}
			for i := range n {
				no := fmt.Sprintf("UO-%d", (answer*11+i*7)%(n+5)) // repeats within an answer
				if _, dup := want[no]; dup {
					require.False(t, s.add(no, hash(no), int64(i)), "%s again", no)
					continue
				}
				require.True(t, s.add(no, hash(no), int64(i)), no)
				want[no] = int64(i)
				if w, ok := prevWant[no]; ok {
					got, found := prev.lookup(no, hash(no))
					require.True(t, found, "%s in the previous answer", no)
					require.Equal(t, w, got)
				} else {
					_, found := prev.lookup(no, hash(no))
					require.False(t, found, "%s not in the previous answer", no)
				}
			}
			for no, w := range want {
				got, ok := s.lookup(no, hash(no))
				require.True(t, ok)
				require.Equal(t, w, got)
			}
			_, ok := s.lookup("absent", hash("absent"))
			require.False(t, ok)
			s, prev = prev, s
			prevWant = want
		}
	}
}
