package apiclient

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
)

// This file is a generic JSON scanner: tokens, strings, numbers, literals,
// whitespace and skipping whole values, all checked against the JSON
// grammar. It knows nothing of the API's schema (response.go).

// maxDepth bounds the nesting of skipped values.
const maxDepth = 64

var errSyntax = errors.New("malformed JSON")

// scanner reads JSON from b, at offset i.
type scanner struct {
	b []byte
	i int
}

// stringToken is a string as sent: raw is its content between the quotes.
type stringToken struct {
	raw      []byte
	escaped  bool // raw holds a backslash escape
	nonASCII bool // raw holds a byte >= 0x80, which may be invalid UTF-8
}

// text returns the string's text: raw itself when it needs no unescaping,
// else the text unescaped exactly as encoding/json does (invalid UTF-8 and
// lone surrogates become U+FFFD), appended to *buf. Earlier texts in *buf
// stay valid.
func (t stringToken) text(buf *[]byte) []byte {
	if !t.escaped && (!t.nonASCII || utf8.Valid(t.raw)) {
		return t.raw
	}
	start := len(*buf)
	*buf = t.appendText(*buf)
	return (*buf)[start:]
}

// appendText appends the string's text, unescaped, to dst. raw must have
// been checked by stringToken (the scanner), so every escape is well formed.
func (t stringToken) appendText(dst []byte) []byte {
	raw := t.raw
	if !t.escaped && (!t.nonASCII || utf8.Valid(raw)) {
		return append(dst, raw...)
	}
	for i := 0; i < len(raw); {
		switch c := raw[i]; {
		case c == '\\':
			e := raw[i+1]
			if e != 'u' {
				dst = append(dst, unescapedByte[e])
				i += 2
				continue
			}
			r := hex4(raw[i+2 : i+6])
			i += 6
			if utf16.IsSurrogate(r) {
				if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					if pair := utf16.DecodeRune(r, hex4(raw[i+2:i+6])); pair != utf8.RuneError {
						dst = utf8.AppendRune(dst, pair)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			i++
		default:
			r, size := utf8.DecodeRune(raw[i:])
			dst = utf8.AppendRune(dst, r) // U+FFFD for an invalid byte
			i += size
		}
	}
	return dst
}

// unescapedByte maps the letter of a one-letter escape to its byte.
var unescapedByte = [256]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// hex4 reads four hexadecimal digits, already checked.
func hex4(h []byte) rune {
	var r rune
	for _, c := range h[:4] {
		r = r<<4 | rune(hexValue[c])
	}
	return r
}

// hexValue is a hex digit's value, or 0xff for a byte that is none.
var hexValue = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i, c := range "0123456789abcdef" {
		t[c] = byte(i)
	}
	for i, c := range "ABCDEF" {
		t[c] = byte(10 + i)
	}
	return t
}()

// stringToken reads a string token (the scanner is at its opening quote).
// Escapes are checked for form; control characters are refused.
//
// Runs of plain bytes are crossed eight at a time: (v-lsbs) &^ v & msbs
// flags the bytes of v that are zero, with false positives only above a
// true one, so the lowest flag of the three tests (quote, backslash, below
// 0x20) is exact. Skipped fields are most of a body, and most are strings.
func (s *scanner) stringToken() (stringToken, error) {
	b := s.b
	start := s.i + 1 // after the opening quote
	i := start
	var high uint64 // the bytes crossed, OR-ed: their top bits say non-ASCII
	escaped := false
	for {
		for ; i+8 <= len(b); i += 8 {
			x := binary.LittleEndian.Uint64(b[i:])
			q, e := x^(lsbs*'"'), x^(lsbs*'\\')
			if m := (((q - lsbs) &^ q) | ((e - lsbs) &^ e) | ((x - lsbs*0x20) &^ x)) & msbs; m != 0 {
				n := bits.TrailingZeros64(m) // the special byte's top bit
				high |= x & (1<<n - 1)
				i += n / 8
				goto special
			}
			high |= x
		}
		for ; i < len(b); i++ {
			c := b[i]
			if c == '"' || c == '\\' || c < 0x20 {
				goto special
			}
			high |= uint64(c)
		}
		break
	special:
		switch c := b[i]; {
		case c == '"':
			s.i = i + 1
			return stringToken{raw: b[start:i], escaped: escaped, nonASCII: high&msbs != 0}, nil
		case c != '\\':
			s.i = i
			return stringToken{}, s.errorf("control character in string")
		}
		escaped = true
		var err error
		if i, err = s.escapes(i); err != nil {
			return stringToken{}, err
		}
		if i+1 == len(b) && b[i] == '\\' {
			break // a backslash ends the body
		}
	}
	s.i = len(b)
	return stringToken{}, s.errorf("unterminated string")
}

// escapes checks the run of escapes that starts at b[i] (text sent as \u
// escapes comes in runs) and returns the index after it. A backslash that
// ends the body is left for the caller, which reports the string as
// unterminated.
func (s *scanner) escapes(i int) (int, error) {
	b := s.b
	for i+1 < len(b) && b[i] == '\\' {
		switch b[i+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i += 2
			continue
		case 'u':
			if i+6 > len(b) {
				s.i = i
				return i, s.errorf("short \\u escape")
			}
			if h := b[i+2 : i+6]; hexValue[h[0]]|hexValue[h[1]]|hexValue[h[2]]|hexValue[h[3]] == 0xff {
				s.i = i
				return i, s.errorf("bad \\u escape")
			}
			i += 6
			continue
		}
		s.i = i
		return i, s.errorf("bad escape")
	}
	return i, nil
}

const (
	lsbs = 0x0101010101010101
	msbs = 0x8080808080808080
)

// skipString crosses a string token (the scanner is at its opening quote),
// checked exactly as stringToken checks it, with the same errors, but
// tracks nothing of what the string holds. Most skipped values are strings.
func (s *scanner) skipString() error {
	b := s.b
	i := s.i + 1 // after the opening quote
	for {
		for ; i+8 <= len(b); i += 8 {
			x := binary.LittleEndian.Uint64(b[i:])
			q, e := x^(lsbs*'"'), x^(lsbs*'\\')
			if m := (((q - lsbs) &^ q) | ((e - lsbs) &^ e) | ((x - lsbs*0x20) &^ x)) & msbs; m != 0 {
				i += bits.TrailingZeros64(m) / 8
				goto special
			}
		}
		for ; i < len(b); i++ {
			if c := b[i]; c == '"' || c == '\\' || c < 0x20 {
				goto special
			}
		}
		break
	special:
		switch c := b[i]; {
		case c == '"':
			s.i = i + 1
			return nil
		case c != '\\':
			s.i = i
			return s.errorf("control character in string")
		}
		var err error
		if i, err = s.escapes(i); err != nil {
			return err
		}
		if i+1 == len(b) && b[i] == '\\' {
			break // a backslash ends the body
		}
	}
	s.i = len(b)
	return s.errorf("unterminated string")
}

// enterObject reads the opening brace of an object; member then reads its
// members.
func (s *scanner) enterObject() error {
	s.ws()
	if s.next() != '{' {
		return s.errorf("expected an object")
	}
	s.ws()
	return nil
}

// member reads the next member's key and colon and leaves the scanner at
// its value, which the caller must consume; first is true for an object's
// first call. ok is false once the closing brace is read, or on an error.
func (s *scanner) member(first bool) (key stringToken, ok bool, err error) {
	if ok, err = s.toKey(first); !ok {
		return stringToken{}, false, err
	}
	if key, err = s.stringToken(); err != nil {
		return stringToken{}, false, err
	}
	if err = s.toValue(); err != nil {
		return stringToken{}, false, err
	}
	return key, true, nil
}

// toKey is member's first half: it moves to the next member's key and
// leaves the scanner at its opening quote. ok is false once the closing
// brace is read, or on an error. It works on locals, stored once.
func (s *scanner) toKey(first bool) (ok bool, err error) {
	b, i := s.b, s.i
	if !first {
		i = skipWS(b, i)
		switch {
		case i < len(b) && b[i] == ',':
			i++
		case i < len(b) && b[i] == '}':
			s.i = i + 1
			return false, nil
		default:
			s.i = i + 1
			return false, s.errorf("expected , or }")
		}
	} else if i < len(b) && b[i] == '}' {
		s.i = i + 1
		return false, nil
	}
	i = skipWS(b, i)
	s.i = i
	if i >= len(b) || b[i] != '"' {
		return false, s.errorf("expected a key")
	}
	return true, nil
}

// keySep is how many bytes a comma and at most one space take at the
// scanner when a key's quote follows them, as in compact or spaced JSON,
// where toKey would only cross those bytes; else 0.
func (s *scanner) keySep() int {
	if b, i := s.b, s.i; i+2 < len(b) && b[i] == ',' {
		if b[i+1] == '"' {
			return 1
		}
		if b[i+1] == ' ' && b[i+2] == '"' {
			return 2
		}
	}
	return 0
}

// valueSep is how many bytes a colon and at most one space take at the
// scanner when a byte other than whitespace follows them, where toValue
// would only cross those bytes; else 0.
func (s *scanner) valueSep() int {
	if b, i := s.b, s.i; i+2 < len(b) && b[i] == ':' {
		if b[i+1] > ' ' {
			return 1
		}
		if b[i+1] == ' ' && b[i+2] > ' ' {
			return 2
		}
	}
	return 0
}

// toValue is member's second half, after the key: it reads the colon and
// leaves the scanner at the value.
func (s *scanner) toValue() error {
	b := s.b
	i := skipWS(b, s.i)
	if i >= len(b) || b[i] != ':' {
		s.i = i + 1
		return s.errorf("expected :")
	}
	s.i = skipWS(b, i+1)
	return nil
}

// shortASCIIString reads a string token of at most 15 bytes, all ASCII and
// none escaped (the scanner is at its opening quote), as most keys are: it
// returns its content and that content's first and last eight bytes as
// words, as keyWords does. ok is false for any other string, which it
// leaves unread; it needs 17 bytes of body after the quote.
func (s *scanner) shortASCIIString() (raw []byte, head, tail uint64, ok bool) {
	i := s.i + 1
	if i+16 > len(s.b) {
		return nil, 0, 0, false
	}
	k := s.b[i : i+16 : i+16] // one bounds check
	w0 := binary.LittleEndian.Uint64(k[:8])
	if m := specialOrNonASCII(w0); m != 0 {
		n := bits.TrailingZeros64(m) / 8
		if k[n&15] != '"' {
			return nil, 0, 0, false
		}
		s.i = i + n + 1
		return k[:n], w0 & (1<<(8*n) - 1), 0, true
	}
	w1 := binary.LittleEndian.Uint64(k[8:])
	m := specialOrNonASCII(w1)
	if m == 0 {
		return nil, 0, 0, false
	}
	n := 8 + bits.TrailingZeros64(m)/8 // the content's length
	if k[n&15] != '"' {
		return nil, 0, 0, false
	}
	s.i = i + n + 1
	if n > 8 {
		tail = w0>>(8*(n-8)) | w1<<(8*(16-n))
	}
	return k[:n], w0, tail, true
}

// specialOrNonASCII flags the bytes of x that are a quote, a backslash,
// below 0x20 or above 0x7f: the lowest flag is exact (see stringToken).
func specialOrNonASCII(x uint64) uint64 {
	q, e := x^(lsbs*'"'), x^(lsbs*'\\')
	return (((q - lsbs) &^ q) | ((e - lsbs) &^ e) | ((x - lsbs*0x20) &^ x) | x) & msbs
}

// enterArray reads the opening bracket of an array (the scanner is at it);
// element then moves to each element.
func (s *scanner) enterArray() {
	s.i++
	s.ws()
}

// element moves to the next element of an array, which the caller must
// consume; first is true for an array's first call. ok is false once the
// closing bracket is read, or on an error; what names the array in one.
func (s *scanner) element(first bool, what string) (ok bool, err error) {
	if first {
		if s.peek() == ']' {
			s.i++
			return false, nil
		}
	} else {
		s.ws()
		switch s.next() {
		case ',':
		case ']':
			return false, nil
		default:
			return false, s.errorf("expected , or ]%s", what)
		}
	}
	s.ws()
	return true, nil
}

// skip passes over any value, checking its syntax.
func (s *scanner) skip(depth int) error {
	if depth > maxDepth {
		return s.errorf("nested too deeply")
	}
	s.ws()
	switch c := s.peek(); {
	case c == '"':
		return s.skipString()
	case c == '{':
		if err := s.enterObject(); err != nil {
			return err
		}
		for first := true; ; first = false {
			if n := s.keySep(); n != 0 && !first {
				s.i += n
			} else if ok, err := s.toKey(first); !ok {
				return err
			}
			if err := s.skipString(); err != nil {
				return err
			}
			if n := s.valueSep(); n != 0 {
				s.i += n
			} else if err := s.toValue(); err != nil {
				return err
			}
			if err := s.skipValue(depth + 1); err != nil {
				return err
			}
		}
	case c == '[':
		s.enterArray()
		for first := true; ; first = false {
			ok, err := s.element(first, "")
			if !ok {
				return err
			}
			if err := s.skipValue(depth + 1); err != nil {
				return err
			}
		}
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		_, err := s.number()
		return err
	}
	return s.errorf("unexpected character")
}

// skipValue is skip for a value the scanner is at (no whitespace before
// it), with the commonest values first.
func (s *scanner) skipValue(depth int) error {
	if depth <= maxDepth && s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			return s.skipString()
		case c-'0' <= 9:
			_, err := s.number()
			return err
		}
	}
	return s.skip(depth)
}

// number returns a JSON number's literal text, checked against the grammar.
// On an error the scanner is where the grammar failed.
func (s *scanner) number() ([]byte, error) {
	b, start := s.b, s.i
	i := start
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i]-'1' <= 8:
		i = digitsEnd(b, i+1)
	default:
		s.i = i
		return nil, s.errorf("bad number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		j := digitsEnd(b, i)
		if j == i {
			s.i = i
			return nil, s.errorf("bad number")
		}
		i = j
	}
	if i < len(b) && b[i]|0x20 == 'e' {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digitsEnd(b, i)
		if j == i {
			s.i = i
			return nil, s.errorf("bad number")
		}
		i = j
	}
	s.i = i
	return b[start:i], nil
}

// digits crosses a run of decimal digits and returns its length. (Eight
// at a time was no faster: most numbers of a body are short.)
func (s *scanner) digits() int {
	start := s.i
	s.i = digitsEnd(s.b, s.i)
	return s.i - start
}

// digitsEnd returns where the run of decimal digits at b[i:] ends.
func digitsEnd(b []byte, i int) int {
	for i < len(b) && b[i]-'0' <= 9 {
		i++
	}
	return i
}

// literal reads word (true, false or null).
func (s *scanner) literal(word string) error {
	if !bytes.HasPrefix(s.b[s.i:], []byte(word)) {
		return s.errorf("bad literal")
	}
	s.i += len(word)
	return nil
}

// whitespace has bit c set for each JSON whitespace byte c.
const whitespace uint64 = 1<<' ' | 1<<'\t' | 1<<'\n' | 1<<'\r'

// ws crosses whitespace.
func (s *scanner) ws() {
	if s.i < len(s.b) && s.b[s.i] > ' ' {
		return // compact JSON
	}
	s.i = skipWS(s.b, s.i)
}

// skipWS returns where the whitespace at b[i:] ends. Runs are short, one to
// three bytes even in indented JSON: too short for eight at a time to pay.
func skipWS(b []byte, i int) int {
	for i < len(b) {
		if c := b[i]; c > ' ' || whitespace&(1<<c) == 0 {
			break
		}
		i++
	}
	return i
}

func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) next() byte {
	c := s.peek()
	s.i++
	return c
}

func (s *scanner) errorf(format string, args ...any) error {
	return fmt.Errorf("%w at byte %d: %s", errSyntax, min(s.i, len(s.b)), fmt.Sprintf(format, args...))
}
