package apiclient

import "hash/maphash"

// orderSet holds the OrderNos of one answer with their CreateTimes: an
// open-addressed table of at least twice as many slots as the answer has
// orders, cleared by the slots it used. For a hundred short strings an
// answer it costs about half a map: one hash an order serves both the
// answer's set and the previous answer's (the two share a seed), and
// nothing is allocated once the table has grown to the page size.
//
// A slot is one word, the hash's high half and the order's place in nos
// (plus one): the table of a page is 2 KiB, not the 10 KiB of slots that
// held the string and the time (40 bytes), which the page's 100 KiB
// passing through the cache evicted: the set's look-ups took 0.22 s of
// three steady sweeps' 3.65 s of client CPU in the sweep's profile, and
// take 0.03-0.10 s now (bench/RESULTS.md, 12-05). The strings and times
// are looked at only when the high halves match.
type orderSet struct {
	slots   []uint64 // 0: empty
	used    []int32  // the slots set, for clearing
	nos     []string
	created []int64
}

// orderHash is an OrderNo's hash in every orderSet of a reader.
func orderHash(seed maphash.Seed, no string) uint64 { return maphash.String(seed, no) }

const tagMask = 0xffffffff << 32

// reset empties the set and sizes it for n orders.
func (s *orderSet) reset(n int) {
	size := 16
	for size < 2*n {
		size *= 2
	}
	s.nos, s.created = s.nos[:0], s.created[:0]
	if len(s.slots) < size {
		s.slots, s.used = make([]uint64, size), s.used[:0]
		return
	}
	for _, i := range s.used {
		s.slots[i] = 0
	}
	s.used = s.used[:0]
}

// find returns the index of no's slot: where it is (ok true), or the
// empty slot where it would go. The set must not be full (reset sized it).
func (s *orderSet) find(no string, hash uint64) (slot int, ok bool) {
	mask := uint64(len(s.slots) - 1)
	tag := hash & tagMask
	for i := hash & mask; ; i = (i + 1) & mask {
		sl := s.slots[i]
		if sl == 0 {
			return int(i), false
		}
		if sl&tagMask == tag && s.nos[uint32(sl)-1] == no {
			return int(i), true
		}
	}
}

// lookup returns no's CreateTime, if the set holds it.
func (s *orderSet) lookup(no string, hash uint64) (int64, bool) {
	if len(s.slots) == 0 {
		return 0, false
	}
	i, ok := s.find(no, hash)
	if !ok {
		return 0, false
	}
	return s.created[uint32(s.slots[i])-1], true
}

// add puts no in the set, unless it is there: then it reports false.
func (s *orderSet) add(no string, hash uint64, created int64) bool {
	i, ok := s.find(no, hash)
	if ok {
		return false
	}
	s.nos, s.created = append(s.nos, no), append(s.created, created)
	s.slots[i] = hash&tagMask | uint64(len(s.nos))
	s.used = append(s.used, int32(i))
	return true
}
