package apiclient

import (
	"bytes"
	"errors"
	"fmt"
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
	b     []byte
	i     int
	stops []uint64 // b's stop index (jsonindex.go)
}

// reset makes the scanner read b from its start, and indexes b.
func (s *scanner) reset(b []byte) {
	s.b, s.i, s.stops = b, 0, indexStops(b, s.stops)
}

// stringToken is a string as sent: raw is its content between the quotes.
type stringToken struct {
	raw     []byte
	escaped bool // raw holds a backslash escape
}

// text returns the string's text: raw itself when it needs no unescaping,
// else the text unescaped exactly as encoding/json does (invalid UTF-8 and
// lone surrogates become U+FFFD), appended to *buf. Earlier texts in *buf
// stay valid.
func (t stringToken) text(buf *[]byte) []byte {
	if !t.escaped && (isASCII(t.raw) || utf8.Valid(t.raw)) {
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
	if !t.escaped && (isASCII(raw) || utf8.Valid(raw)) {
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
func (s *scanner) stringToken() (stringToken, error) {
	start := s.i + 1 // after the opening quote
	end, escaped, err := s.stringEnd(start)
	if err != nil {
		return stringToken{}, err
	}
	s.i = end + 1
	return stringToken{raw: s.b[start:end], escaped: escaped}, nil
}

// stringEnd returns the index of the closing quote of the string whose
// content starts at b[i], and whether the content holds escapes, which it
// checks. It goes from stop to stop (jsonindex.go): plain content is never
// read. On an error the scanner is where the string went wrong.
func (s *scanner) stringEnd(i int) (end int, escaped bool, err error) {
	b := s.b
	for {
		if i = s.nextStop(i); i >= len(b) {
			break
		}
		switch c := b[i]; {
		case c == '"':
			return i, escaped, nil
		case c != '\\':
			s.i = i
			return 0, false, s.errorf("control character in string")
		}
		escaped = true
		if i, err = s.escapes(i); err != nil {
			return 0, false, err
		}
		if i+1 == len(b) && b[i] == '\\' {
			break // a backslash ends the body
		}
	}
	s.i = len(b)
	return 0, false, s.errorf("unterminated string")
}

// escapes checks the run of escapes that starts at b[i] (text sent as \u
// escapes comes in runs) and returns the index after it. A backslash that
// ends the body is left for the caller, which reports the string as
// unterminated.
func (s *scanner) escapes(i int) (int, error) {
	b := s.b
	for i+1 < len(b) && b[i] == '\\' {
		if b[i+1] == 'u' && len(b)-i >= 6 {
			// Text sent as \u escapes: most escapes are these.
			if h := b[i+2 : i+6 : i+6]; hexValue[h[0]]|hexValue[h[1]]|hexValue[h[2]]|hexValue[h[3]] == 0xff {
				s.i = i
				return i, s.errorf("bad \\u escape")
			}
			i += 6
			continue
		}
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
// checked exactly as stringToken checks it, with the same errors. Most
// skipped values are strings, and most have no escapes: their closing
// quote is the next stop.
func (s *scanner) skipString() error {
	if i := s.nextStop(s.i + 1); i < len(s.b) && s.b[i] == '"' {
		s.i = i + 1
		return nil
	}
	end, _, err := s.stringEnd(s.i + 1)
	if err != nil {
		return err
	}
	s.i = end + 1
	return nil
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
