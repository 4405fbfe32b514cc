package apiclient

import "hash/maphash"

// orderSet holds the OrderNos of one answer with their CreateTimes: an
// open-addressed table of at least twice as many slots as the answer has
// orders, cleared by the slots it used. For a hundred short strings an
// answer it costs about half a map: one hash an order serves both the
// answer's set and the previous answer's (the two share a seed), and
// nothing is allocated once the table has grown to the page size.
type orderSet struct {
	slots []orderSlot
	used  []int32 // the slots set, for clearing
}

type orderSlot struct {
	hash    uint64 // 0: empty
	no      string
	created int64
}

// orderHash is an OrderNo's hash in every orderSet of a reader; never 0.
func orderHash(seed maphash.Seed, no string) uint64 { return maphash.String(seed, no) | 1 }

// reset empties the set and sizes it for n orders.
func (s *orderSet) reset(n int) {
	size := 16
	for size < 2*n {
		size *= 2
	}
	if len(s.slots) < size {
		s.slots, s.used = make([]orderSlot, size), s.used[:0]
		return
	}
	for _, i := range s.used {
		s.slots[i] = orderSlot{}
	}
	s.used = s.used[:0]
}

// find returns the index of no's slot: where it is (ok true), or the
// empty slot where it would go. The set must not be full (reset sized it).
func (s *orderSet) find(no string, hash uint64) (slot int, ok bool) {
	mask := uint64(len(s.slots) - 1)
	for i := hash & mask; ; i = (i + 1) & mask {
		sl := &s.slots[i]
		if sl.hash == 0 {
			return int(i), false
		}
		if sl.hash == hash && sl.no == no {
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
	return s.slots[i].created, ok
}

// add puts no in the set, unless it is there: then it reports false.
func (s *orderSet) add(no string, hash uint64, created int64) bool {
	i, ok := s.find(no, hash)
	if ok {
		return false
	}
	s.slots[i] = orderSlot{hash: hash, no: no, created: created}
	s.used = append(s.used, int32(i))
	return true
}
