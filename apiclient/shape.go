package apiclient

import (
	"encoding/binary"
	"math"
	"math/bits"
)

// Shapes: an API writes every order with the same code, so the orders of
// a body, and of a whole sweep, come in a few shapes. An order's shape is
// its bytes outside its values: the brace, the keys, the colons, the
// commas and the whitespace. An order whose bytes outside its values equal
// a shape learnt from an earlier order, byte for byte, has the same keys in
// the same places, so each value's field is known without looking its key
// up, and those bytes are valid JSON because they were when the shape was
// learnt: only the values are left to read and check. This skips the key
// look-up and the separator checks of all 38 members, most of a decode.
//
// Anything unexpected (another shape, a value that is not a scalar, a
// value the field's reader refuses) sends the order back to the member
// by member path, from its start, which then decides, and errors as
// before: the shapes change what is fast, never what is accepted.

// shapeMember is one member of a shape: lit is the bytes from the end of
// the value before it (or the order's start) to the start of its value.
type shapeMember struct {
	lit   []byte
	field field
	// words and masks hold a literal of up to 32 bytes as four words, the
	// bytes past its end masked out: compared without a loop. litMask has
	// a bit for each of its bytes, for a compare a byte a bit (AVX2), and
	// keptMask for a kept field; it is exitMask for a longer literal and
	// for the sentinel.
	words, masks [4]uint64
	litMask      uint64
	// room is how many bytes the body must hold past the literal's start,
	// more than this, for the AVX2 loop to take the member: 32, or for a
	// longer literal more than any body has (the caller's).
	room int
}

// exitMask is the litMask of a member the AVX2 loop leaves to its caller:
// its compare inverts 32 bits into a word whose high half is all ones, so
// bit 32 fails every compare, and tells the loop why it stopped.
const exitMask = 1 << 32

// keptMask is in the litMask of a member whose field is kept: it fails
// every compare too, so that the loop looks at a member's field only
// when the member is kept.
const keptMask = 1 << 33

// setWords fills m's words and masks from its literal, if it is short
// enough.
func (m *shapeMember) setWords() {
	if len(m.lit) > 32 {
		m.room, m.litMask = math.MaxInt, exitMask
		return
	}
	m.room = 32
	var padded [32]byte
	copy(padded[:], m.lit)
	m.litMask = 1<<len(m.lit) - 1
	if m.field != 0 {
		m.litMask |= keptMask
	}
	for k := range m.words {
		m.words[k] = binary.LittleEndian.Uint64(padded[8*k:])
		if n := len(m.lit) - 8*k; n >= 8 {
			m.masks[k] = ^uint64(0)
		} else if n > 0 {
			m.masks[k] = 1<<(8*n) - 1
		}
	}
}

// at reports whether b holds m's literal at i.
func (m *shapeMember) at(b []byte, i int) bool {
	if len(m.lit) > 32 || len(b)-i < 32 {
		return literalAt(b, i, m.lit)
	}
	p := (*[32]byte)(b[i:])
	return (binary.LittleEndian.Uint64(p[0:])^m.words[0])&m.masks[0]|
		(binary.LittleEndian.Uint64(p[8:])^m.words[1])&m.masks[1]|
		(binary.LittleEndian.Uint64(p[16:])^m.words[2])&m.masks[2]|
		(binary.LittleEndian.Uint64(p[24:])^m.words[3])&m.masks[3] == 0
}

type shape struct {
	members []shapeMember
	end     []byte // from the last value's end through the closing brace
	used    uint64 // the decoder's shapeClock when it last read an order or was learnt
}

// The bounds of the shapes a decoder keeps, so that an API whose every
// order has another shape costs a bounded part of a decode and of memory.
const (
	maxShapes        = 16
	maxShapeMembers  = 64
	maxShapeLiteral  = 128 // bytes, whitespace included
	maxLearnsPerPage = 4
	maxShapeAttempts = 2 // shapes tried per order whose first member matches
	// maxShapeMisses is how many orders of a page may match a shape's first
	// member and then fail before the page stops trying shapes: an API
	// whose orders begin alike and then differ (empty fields left out, say)
	// costs at most this many reads in vain.
	maxShapeMisses = 8
)

// shapeState is what an order being read keeps besides the Order: the
// amount and time as sent, until both are known.
type shapeState struct {
	amount, createTime scalarField
}

// shapeIndexEntry is a slot of the decoder's index of shapes by the eight
// bytes after an order's brace, which names the shape to try first: a
// hint, checked as any shape is. They mostly lie in the first literal (a
// brace, a quoted key of five letters or more and a colon make nine
// bytes), so they tell apart the shapes that begin with other keys or
// other whitespace, which come mixed in a page of an API that writes keys
// in several orders, without trying each in turn.
type shapeIndexEntry struct {
	key uint64
	sh  *shape
}

const shapeIndexSlots = 16 // a power of two

func shapeIndexSlot(key uint64) int { return int((key * 0x9e3779b97f4a7c15) >> 60) }

// orderByShape reads the order at the scanner by one of the learnt shapes:
// the one the index names for its first bytes, then the others, most
// recently used first. It returns false, with the scanner, o, no and
// d.orderNos as they were (d.valueText emptied), when no shape takes the
// whole order.
func (d *decoder) orderByShape(o *Order, no *orderNoRange) bool {
	b, start := d.b, d.i
	if start >= len(b) || b[start] != '{' || d.shapeMisses >= maxShapeMisses {
		return false
	}
	orderNos, attempts := len(d.orderNos), 0
	d.valueText = d.valueText[:0]
	var entry *shapeIndexEntry
	var key uint64
	var tried *shape // by the index, in vain
	if len(b)-start > 8 {
		key = binary.LittleEndian.Uint64(b[start+1:])
		entry = &d.shapeIndex[shapeIndexSlot(key)]
		// readShape compares the first literal too: no need of at here.
		if sh := entry.sh; sh != nil && entry.key == key {
			var st shapeState
			if d.readShape(sh, o, no, &st) {
				o.setAmountAndTime(st.amount, st.createTime)
				d.shapeClock++
				sh.used = d.shapeClock // for learnShape to give up the least recently used
				d.shapeHits++
				return true
			}
			// Not an attempt of the list's (a hint that names another
			// shape, its first literal unchecked): the order still has
			// maxShapeAttempts there, and counts as a miss only if no
			// shape takes it.
			d.i, d.orderNos, d.valueText = start, d.orderNos[:orderNos], d.valueText[:0]
			*o, *no = Order{}, orderNoRange{}
			tried = sh
		}
	}
	for k, sh := range d.shapes {
		if sh == tried {
			continue
		}
		if !sh.members[0].at(b, start) {
			continue
		}
		var st shapeState
		if d.readShape(sh, o, no, &st) {
			o.setAmountAndTime(st.amount, st.createTime)
			d.toFront(k)
			d.shapeClock++
			sh.used = d.shapeClock
			if entry != nil {
				*entry = shapeIndexEntry{key: key, sh: sh}
			}
			d.shapeHits++
			return true
		}
		d.i, d.orderNos, d.valueText = start, d.orderNos[:orderNos], d.valueText[:0]
		*o, *no = Order{}, orderNoRange{}
		if attempts++; attempts == maxShapeAttempts {
			break
		}
	}
	if attempts > 0 || tried != nil {
		d.shapeMisses++
	}
	return false
}

// readShape reads the order at the scanner by sh, leaving the scanner after
// it. On false the caller restores what it changed.
func (d *decoder) readShape(sh *shape, o *Order, no *orderNoRange, st *shapeState) bool {
	b, i := d.b, d.i
	for k := 0; ; k++ {
		var at crossed
		var n int
		// The members with plain values go in a loop without calls, which
		// keeps its state in registers; it stops at any other. It records
		// the kept members' strings without escapes, for keptFields.
		i, k, n, at = crossMembers(b, d.stops, sh.members, k, i, &d.kept)
		if n > 0 {
			d.keptFields(d.kept[:n], o, no, st)
		}
		switch at {
		case crossedAll:
			if !literalAt(b, i, sh.end) {
				return false
			}
			d.i = i + len(sh.end)
			return true
		case crossedMismatch:
			return false
		case crossedLongLiteral:
			m := &sh.members[k]
			if !literalAt(b, i, m.lit) || len(b)-i == len(m.lit) {
				return false
			}
			i += len(m.lit)
		}
		m := &sh.members[k]
		d.i = i
		if m.field != fieldOther {
			if d.orderField(m.field, o, no, st) != nil {
				return false
			}
			i = d.i
			continue
		}
		switch c := b[i]; {
		case c == '"':
			if d.skipString() != nil {
				return false
			}
		case c == '-' || c-'0' <= 9:
			if _, err := d.number(); err != nil {
				return false
			}
		case c == 'n' || c == 't' || c == 'f':
			if d.skip(1) != nil {
				return false
			}
		default:
			return false
		}
		i = d.i
	}
}

// keptValue is a kept member's string without escapes, as crossMembers
// records it: b[start:end] is its content; or, number set, an amount's
// or a time's plain integer, b[start:end] its digits.
type keptValue struct {
	member, start, end int
	field              field
	number             bool
}

// maxKept is how many values one call of crossMembers records.
const maxKept = 16

// crossed is where crossMembers stopped.
type crossed uint8

const (
	crossedAll         crossed = iota // every member, i after the last value
	crossedValue                      // at member k's value, its literal matched
	crossedLongLiteral                // at member k's literal, too long for the loop
	crossedMismatch                   // member k's literal is not at i
)

// crossMembersGeneric is crossMembers in Go (crossMembers in shape_amd64.go
// for the dispatch).
func crossMembersGeneric(b []byte, stops []uint64, ms []shapeMember, k, i int, kept *[maxKept]keptValue) (int, int, int, crossed) {
	n := 0
	for ; k < len(ms); k++ {
		m := &ms[k]
		if len(m.lit) > 32 || len(b)-i <= 32 {
			return i, k, n, crossedLongLiteral
		}
		p := (*[32]byte)(b[i : i+32])
		if (binary.LittleEndian.Uint64(p[0:])^m.words[0])&m.masks[0]|
			(binary.LittleEndian.Uint64(p[8:])^m.words[1])&m.masks[1]|
			(binary.LittleEndian.Uint64(p[16:])^m.words[2])&m.masks[2]|
			(binary.LittleEndian.Uint64(p[24:])^m.words[3])&m.masks[3] != 0 {
			return i, k, n, crossedMismatch
		}
		i += len(m.lit) // i < len(b): the literal ended more than a byte before it
		switch c := b[i]; {
		case c == '"':
			// Most strings have no escape: the closing quote is the next stop.
			x := stopWindow(stops, i+1)
			end := i + 1 + bits.TrailingZeros64(x)
			if x == 0 || end >= len(b) {
				return i, k, n, crossedValue
			}
			if b[end] == '"' {
				if m.field != fieldOther {
					if n == maxKept {
						return i, k, n, crossedValue
					}
					kept[n] = keptValue{member: k, start: i + 1, end: end, field: m.field}
					n++
				}
				i = end + 1
				continue
			}
			return i, k, n, crossedValue // escapes: the caller's
		case m.field >= fieldOrderTotalPrice && (c-'1' <= 8 || c == '0'):
			// An amount or a time sent as a plain integer.
			end := i + 1
			if c != '0' {
				end = digitsEnd(b, i+1)
			}
			if n == maxKept || end >= len(b) || b[end]-'0' <= 9 || b[end] == '.' || b[end]|0x20 == 'e' {
				return i, k, n, crossedValue
			}
			kept[n] = keptValue{member: k, start: i, end: end, field: m.field, number: true}
			n++
			i = end
		case m.field != fieldOther:
			return i, k, n, crossedValue
		case c-'1' <= 8:
			end := digitsEnd(b, i+1)
			if end >= len(b) || b[end] == '.' || b[end]|0x20 == 'e' {
				return i, k, n, crossedValue
			}
			i = end
		case c == '0':
			// A zero, plain if no digit, fraction or exponent follows.
			if i+1 >= len(b) {
				return i, k, n, crossedValue
			}
			if c := b[i+1]; c-'0' <= 9 || c == '.' || c|0x20 == 'e' {
				return i, k, n, crossedValue
			}
			i++
		default:
			return i, k, n, crossedValue
		}
	}
	return i, k, n, crossedAll
}

// hasSentinel reports whether ms is followed, within its capacity, by the
// sentinel member learnShape puts after a shape's last (room past any
// body, and exitMask), which the AVX2 form of crossMembers needs to stop.
// A member with a long literal does as well.
func hasSentinel(ms []shapeMember) bool {
	if cap(ms) == len(ms) {
		return false
	}
	m := &ms[:len(ms)+1][len(ms)]
	return m.room == math.MaxInt && m.litMask == exitMask
}

// toFront makes d.shapes[k] the most recently used shape.
func (d *decoder) toFront(k int) {
	if k > 0 {
		sh := d.shapes[k]
		copy(d.shapes[1:k+1], d.shapes[:k])
		d.shapes[0] = sh
	}
}

// learnShape learns the shape of the order in b[start:end], which the member
// by member path has just read without an error, unless it has a value that
// is not a scalar. A shape the decoder knows already (left untried behind
// others that begin alike) becomes the most recently used; a new one comes
// first, and a full table gives up the least recently used.
func (d *decoder) learnShape(start, end int) {
	if d.noShapes || d.learns >= maxLearnsPerPage || d.b[start] != '{' {
		return
	}
	d.learns++
	saved := d.i
	defer func() { d.i = saved }()
	d.i = start + 1
	d.ws()
	members := d.shapeScratch[:0]
	defer func() {
		clear(members) // they point into the body, which must not be kept
		d.shapeScratch = members[:0]
	}()
	size, pos := 0, start
	for first := true; ; first = false {
		f, ok, err := d.memberField(first, orderKeys)
		if err != nil {
			return
		}
		if !ok {
			break
		}
		switch c := d.peek(); {
		case c == '"', c == '-', c-'0' <= 9, c == 't', c == 'f', c == 'n':
		default:
			return // an object or an array
		}
		if len(members) == maxShapeMembers || d.i-pos > maxShapeLiteral {
			return
		}
		members = append(members, shapeMember{lit: d.b[pos:d.i], field: f})
		size += d.i - pos
		if d.skipValue(1) != nil {
			return
		}
		pos = d.i
	}
	if d.i != end || len(members) == 0 || end-pos > maxShapeLiteral {
		return
	}
	d.shapeClock++
	for k, s := range d.shapes {
		if s.same(&shape{members: members, end: d.b[pos:end]}) {
			d.toFront(k)
			s.used = d.shapeClock
			return
		}
	}
	// One array for the shape's bytes: the body is not the decoder's to keep.
	arena := make([]byte, 0, size+end-pos)
	for k := range members {
		arena = append(arena, members[k].lit...)
		members[k].lit = arena[len(arena)-len(members[k].lit):]
		members[k].setWords()
	}
	arena = append(arena, d.b[pos:end]...)
	// A sentinel member past the last (within the slice's capacity) ends
	// crossMembers' AVX2 loop: its room is past any body.
	withSentinel := make([]shapeMember, len(members)+1)
	copy(withSentinel, members)
	withSentinel[len(members)].room = math.MaxInt
	withSentinel[len(members)].litMask = exitMask
	sh := &shape{members: withSentinel[:len(members)], end: arena[len(arena)-(end-pos):], used: d.shapeClock}
	if len(d.shapes) < maxShapes {
		d.shapes = append(d.shapes, nil)
	}
	// The least recently used goes: the last of the list (which orders
	// the tries) unless the index read orders by another since.
	last := len(d.shapes) - 1
	for k, s := range d.shapes {
		if s != nil && d.shapes[last] != nil && s.used < d.shapes[last].used {
			last = k
		}
	}
	d.toFront(last)
	if gone := d.shapes[0]; gone != nil {
		for i := range d.shapeIndex {
			if d.shapeIndex[i].sh == gone {
				d.shapeIndex[i] = shapeIndexEntry{}
			}
		}
	}
	d.shapes[0] = sh
}

func (s *shape) same(t *shape) bool {
	if len(s.members) != len(t.members) || string(s.end) != string(t.end) {
		return false
	}
	for k := range s.members {
		if string(s.members[k].lit) != string(t.members[k].lit) {
			return false
		}
	}
	return true
}

// literalAt reports whether b holds lit at i. Eight bytes at a time, the
// last eight overlapping, inline: a literal is some 10 to 30 bytes, too
// short for a call to memequal to pay.
func literalAt(b []byte, i int, lit []byte) bool {
	n := len(lit)
	if len(b)-i < n {
		return false
	}
	s := b[i : i+n]
	if n < 8 {
		return string(s) == string(lit)
	}
	var diff uint64
	for k := 0; k+8 <= n; k += 8 {
		diff |= binary.LittleEndian.Uint64(s[k:]) ^ binary.LittleEndian.Uint64(lit[k:])
	}
	diff |= binary.LittleEndian.Uint64(s[n-8:]) ^ binary.LittleEndian.Uint64(lit[n-8:])
	return diff == 0
}
