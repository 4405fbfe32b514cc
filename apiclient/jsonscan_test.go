package apiclient

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scannerAt is a scanner of b, indexed, at offset i.
func scannerAt(b []byte, i int) *scanner {
	s := &scanner{}
	s.reset(b)
	s.i = i
	return s
}

// stringTokenReference is the byte-at-a-time scan: where the string token
// that starts at b[0] ends, and whether it holds escapes or non-ASCII bytes.
func stringTokenReference(b []byte) (end int, escaped, nonASCII, ok bool) {
	for i := 1; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1, escaped, nonASCII, true
		case c < 0x20:
			return 0, false, false, false
		case c >= 0x80:
			nonASCII = true
		case c == '\\':
			escaped = true
			if i+1 >= len(b) {
				return 0, false, false, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if i+6 > len(b) {
					return 0, false, false, false
				}
				for _, h := range b[i+2 : i+6] {
					if !strings.ContainsRune("0123456789abcdefABCDEF", rune(h)) {
						return 0, false, false, false
					}
				}
				i += 5
			default:
				return 0, false, false, false
			}
		}
	}
	return 0, false, false, false
}

// FuzzStringToken checks the eight-bytes-at-a-time scan against a byte loop.
func FuzzStringToken(f *testing.F) {
	for _, seed := range []string{"", "abc\"", `0123456"89`, "0123456789abcdef\\", "\x00", "\xff\xfe\x22\x21\x1f\x20",
		"华北二（乌兰察布）\"", "aaaaaaa\x01", "\x01\x00\x00\x00\x00\x00\x00\x22", "\x20\x20\x20\x20\x20\x20\x20\x20\x1f",
		`abcdefg\"hijklmn\\opq\u00e9rstuvwx"`, `\u12`, `\ud83d\ude80"`, "abc\"\xff\xff\xff\xff", "abcdefghijk\"\xe9"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, s []byte) {
		b := append([]byte{'"'}, s...)
		sc := scannerAt(b, 0)
		tok, err := sc.stringToken()
		end, wantEsc, wantNonASCII, ok := stringTokenReference(b)
		if (err == nil) != ok || (ok && (len(tok.raw) != end-2 || sc.i != end || tok.escaped != wantEsc || !isASCII(tok.raw) != wantNonASCII)) {
			t.Fatalf("stringToken(%q) = %+v, %v at %d; want end %d, escaped %v, non-ASCII %v, ok %v",
				b, tok, err, sc.i, end, wantEsc, wantNonASCII, ok)
		}
		// skipString must stop where stringToken does, with the same error.
		skip := scannerAt(b, 0)
		skipErr := skip.skipString()
		if skip.i != sc.i || fmt.Sprint(skipErr) != fmt.Sprint(err) {
			t.Fatalf("skipString(%q) = %v at %d; stringToken %v at %d", b, skipErr, skip.i, err, sc.i)
		}
	})
}

// FuzzStringText checks the unescaping against encoding/json's, invalid
// UTF-8 and lone surrogates included.
func FuzzStringText(f *testing.F) {
	for _, seed := range []string{"", "plain", `esc\"aped\\\/\b\f\n\r\t`, `\u00e9\ud83d\ude80`, `\ud83d`, `\ud83dx`,
		`\ude80\ud83d`, `\ud83d\u0041`, `\ud83d\ud83d\ude80`, "UTF-8 华北", "\xff", "a\xed\xa0\x80b", `\u0000`, "\xe4\xb8"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, s []byte) {
		quoted := append(append([]byte{'"'}, s...), '"')
		var want string
		if json.Unmarshal(quoted, &want) != nil {
			return
		}
		sc := scannerAt(quoted, 0)
		tok, err := sc.stringToken()
		require.NoError(t, err, "%q", quoted)
		buf := []byte("kept")
		got := tok.text(&buf)
		require.Equal(t, want, string(got), "%q", quoted)
		require.Equal(t, "kept", string(buf[:4]), "text must append to the buffer")
		require.Equal(t, "x"+want, string(tok.appendText([]byte("x"))), "%q", quoted)
	})
}

// FuzzSkip checks skip against json.Valid: what it accepts is valid JSON,
// and it accepts any valid JSON nested no deeper than maxDepth.
func FuzzSkip(f *testing.F) {
	for _, seed := range []string{`{}`, `[]`, `{"a":[1,-2.5e+3,"x\"",true,false,null,{}]}`, ` [ 1 , 2 ] `, `{"a" : {"b":[]},}`,
		`{"a":1,0":2}`, `{"a":1, 0":2}`, `{"a": 1, "b" :2}`, `01`, `-`, `1.`, `1e`, `"`, `tru`, `[1 2]`, `{"a"}`, strings.Repeat("[", 70) + strings.Repeat("]", 70)} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sc := scannerAt(b, 0)
		err := sc.skip(0)
		if err == nil {
			sc.ws()
		}
		accepted := err == nil && sc.i == len(b)
		if accepted && !json.Valid(b) {
			t.Fatalf("skip accepted invalid JSON %q", b)
		}
		if !accepted && json.Valid(b) && (err == nil || !strings.Contains(err.Error(), "nested too deeply")) {
			t.Fatalf("skip refused valid JSON %q: %v (stopped at %d)", b, err, sc.i)
		}
		if err != nil && !errors.Is(err, errSyntax) {
			t.Fatalf("error %v is not errSyntax", err)
		}
	})
}

func TestScannerWalksObjectsAndArrays(t *testing.T) {
	sc := scannerAt([]byte(" { \"a\" : [ 1 , \"\\u0062\" ] ,\n\t\"c\\u00e9\":{} } "), 0)
	require.NoError(t, sc.enterObject())
	var keys []string
	for first := true; ; first = false {
		key, ok, err := sc.member(first)
		require.NoError(t, err)
		if !ok {
			break
		}
		var buf []byte
		keys = append(keys, string(key.text(&buf)))
		if sc.peek() != '[' {
			require.NoError(t, sc.skip(1))
			continue
		}
		sc.enterArray()
		var elems []string
		for first := true; ; first = false {
			ok, err := sc.element(first, " in a")
			require.NoError(t, err)
			if !ok {
				break
			}
			start := sc.i
			require.NoError(t, sc.skip(1))
			elems = append(elems, string(bytes.TrimSpace(sc.b[start:sc.i])))
		}
		assert.Equal(t, []string{"1", `"\u0062"`}, elems)
	}
	assert.Equal(t, []string{"a", "cé"}, keys)
	sc.ws()
	assert.Equal(t, len(sc.b), sc.i)

	sc = scannerAt([]byte(`[1 2]`), 0)
	sc.enterArray()
	ok, err := sc.element(true, " in a")
	require.True(t, ok)
	require.NoError(t, err)
	require.NoError(t, sc.skip(1))
	_, err = sc.element(false, " in a")
	assert.ErrorContains(t, err, "expected , or ] in a")
}

// FuzzDigits checks the eight-bytes-at-a-time digit run against a byte loop.
func FuzzDigits(f *testing.F) {
	for _, seed := range []string{"", "0", "1767216895", "12345678", "123456789", "1234567:", "123456/9", "1.5", "99999999999999999\xff",
		"\x3a\x3a\x3a\x3a\x3a\x3a\x3a\x3a", "\xf9\xfa\xff12345678"} {
		f.Add([]byte(seed), uint8(0))
	}
	f.Fuzz(func(t *testing.T, b []byte, at uint8) {
		start := int(at) % (len(b) + 1)
		want := 0
		for start+want < len(b) && b[start+want] >= '0' && b[start+want] <= '9' {
			want++
		}
		sc := scannerAt(b, start)
		if got := sc.digits(); got != want || sc.i != start+want {
			t.Fatalf("digits(%q at %d) = %d, at %d; want %d", b, start, got, sc.i, want)
		}
	})
}

// FuzzWhitespace checks the eight-bytes-at-a-time whitespace run against a
// byte loop.
func FuzzWhitespace(f *testing.F) {
	for _, seed := range []string{"", " ", "\n\t\t\"a", "        x", "         \r\n\t \x0b", "\x00", "\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t",
		" \x8a\x89", "\xa0\xa0\xa0\xa0\xa0\xa0\xa0\xa0", "\n\n\n\n\n\n\n\x0c"} {
		f.Add([]byte(seed), uint8(0))
	}
	f.Fuzz(func(t *testing.T, b []byte, at uint8) {
		start := int(at) % (len(b) + 1)
		want := start
		for want < len(b) && strings.IndexByte(" \t\n\r", b[want]) >= 0 {
			want++
		}
		sc := scannerAt(b, start)
		if sc.ws(); sc.i != want {
			t.Fatalf("ws(%q at %d) stopped at %d; want %d", b, start, sc.i, want)
		}
	})
}

// numberReference is number as it was, peek by peek: the grammar, and where
// it fails.
func numberReference(s *scanner) ([]byte, error) {
	start := s.i
	if s.peek() == '-' {
		s.i++
	}
	switch c := s.peek(); {
	case c == '0':
		s.i++
	case c >= '1' && c <= '9':
		s.digits()
	default:
		return nil, s.errorf("bad number")
	}
	if s.peek() == '.' {
		s.i++
		if s.digits() == 0 {
			return nil, s.errorf("bad number")
		}
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.i++
		if c := s.peek(); c == '+' || c == '-' {
			s.i++
		}
		if s.digits() == 0 {
			return nil, s.errorf("bad number")
		}
	}
	return s.b[start:s.i], nil
}

// FuzzNumber checks number against the peek-by-peek grammar.
func FuzzNumber(f *testing.F) {
	for _, seed := range []string{"", "0", "-", "-0", "01", "1767216895", "1.5", "1.", "-1.5e+3", "1e", "1E-", "2e+9x", "0.0001,", "9\xff"} {
		f.Add([]byte(seed), uint8(0))
	}
	f.Fuzz(func(t *testing.T, b []byte, at uint8) {
		start := int(at) % (len(b) + 1)
		got, want := scannerAt(b, start), scannerAt(b, start)
		n, err := got.number()
		wantN, wantErr := numberReference(want)
		if got.i != want.i || !bytes.Equal(n, wantN) || fmt.Sprint(err) != fmt.Sprint(wantErr) {
			t.Fatalf("number(%q at %d) = %q, %v at %d; want %q, %v at %d", b, start, n, err, got.i, wantN, wantErr, want.i)
		}
	})
}

// TestIsASCII checks isASCII against a byte loop at every length to 40,
// with one byte of 0x80 or above at every place, or none.
func TestIsASCII(t *testing.T) {
	for n := 0; n <= 40; n++ {
		b := make([]byte, n)
		for i := range b {
			b[i] = 'a' + byte(i%26)
		}
		require.True(t, isASCII(b), "length %d", n)
		for at := range b {
			for _, c := range []byte{0x80, 0xc3, 0xff} {
				saved := b[at]
				b[at] = c
				require.False(t, isASCII(b), "length %d, %#x at %d", n, c, at)
				b[at] = saved
			}
		}
	}
}
