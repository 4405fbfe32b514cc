package apiclient

import (
	"encoding/json"
	"strings"
	"testing"
)

// rawStringReference is the byte-at-a-time scan: where the string token
// that starts at b[0] ends, and whether it holds escapes.
func rawStringReference(b []byte) (end int, escaped, ok bool) {
	for i := 1; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1, escaped, true
		case c < 0x20:
			return 0, false, false
		case c == '\\':
			escaped = true
			if i+1 >= len(b) {
				return 0, false, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if i+6 > len(b) {
					return 0, false, false
				}
				for _, h := range b[i+2 : i+6] {
					if !isHex(h) {
						return 0, false, false
					}
				}
				i += 5
			default:
				return 0, false, false
			}
		}
	}
	return 0, false, false
}

// FuzzRawString checks the eight-bytes-at-a-time scan against a byte loop.
func FuzzRawString(f *testing.F) {
	for _, seed := range []string{"", "abc\"", `0123456"89`, "0123456789abcdef\\", "\x00", "\xff\xfe\x22\x21\x1f\x20",
		"华北二（乌兰察布）\"", "aaaaaaa\x01", "\x01\x00\x00\x00\x00\x00\x00\x22", "\x20\x20\x20\x20\x20\x20\x20\x20\x1f",
		`abcdefg\"hijklmn\\opq\u00e9rstuvwx"`, `\u12`, `\ud83d\ude80"`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, s []byte) {
		b := append([]byte{'"'}, s...)
		d := &decoder{b: b}
		raw, esc, err := d.rawString()
		end, wantEsc, ok := rawStringReference(b)
		if (err == nil) != ok || (ok && (len(raw) != end || d.i != end || esc != wantEsc)) {
			t.Fatalf("rawString(%q) = %q, %v, %v; want end %d, %v, ok %v", b, raw, esc, err, end, wantEsc, ok)
		}
	})
}

// FuzzDecoderAcceptsValidStrings puts arbitrary bytes inside a skipped
// string and inside a kept one: whenever encoding/json accepts the body, so
// must the decoder, and the kept value must be the same. (The other fuzz
// targets only compare bodies both decoders accept.)
func FuzzDecoderAcceptsValidStrings(f *testing.F) {
	for _, seed := range []string{"", "plain", `esc\"aped\\`, `\u00e9\ud83d\ude80`, "UTF-8 华北", "\xff", "\x01", `\`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, s []byte) {
		body := []byte(`{"RetCode":0,"Skipped":"` + string(s) + `","Orders":[{"OrderNo":"` + string(s) +
			`","Region":"` + string(s) + `","OrderTotalPrice":"1","CreateTime":"1"}]}`)
		if !json.Valid(body) {
			return
		}
		var want struct {
			Orders []struct{ OrderNo, Region string }
		}
		if err := json.Unmarshal(body, &want); err != nil {
			t.Fatal(err)
		}
		var p page
		if err := newDecoder().decodePage(body, &p); err != nil {
			t.Fatalf("rejected valid %q: %v", body, err)
		}
		if len(p.orders) != 1 || p.orders[0].OrderNo != want.Orders[0].OrderNo || p.orders[0].Region != want.Orders[0].Region {
			t.Fatalf("%q: got %+v, want %+v", body, p.orders, want.Orders)
		}
	})
}

// BenchmarkDecodePage decodes a page of 100 full orders, CPU only.
func BenchmarkDecodePage(b *testing.B) {
	body := []byte(`{"RetCode":0,"Orders":[` + strings.TrimSuffix(strings.Repeat(fullOrder+",", 100), ",") + `]}`)
	d := newDecoder()
	var p page
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := d.decodePage(body, &p); err != nil {
			b.Fatal(err)
		}
	}
}
