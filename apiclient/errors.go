package apiclient

import (
	"cmp"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// APIError is a response with a non-zero RetCode.
type APIError struct {
	RetCode int64
	Message string
	Action  string
	Where   string // the slice and page asked for
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s: API RetCode %d (%s): %s", e.Where, e.RetCode, cmp.Or(RetCodeMeaning(e.RetCode), "unknown code"), e.Message)
}

// Transient reports whether the contract says to retry this RetCode.
func (e *APIError) Transient() bool {
	switch e.RetCode {
	case 110, 130, 150, 153:
		return true
	}
	return e.RetCode >= 2000
}

// StatusError is an HTTP response with a status other than 200.
type StatusError struct {
	StatusCode int
	Where      string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s: HTTP status %d", e.Where, e.StatusCode)
}

// RedirectError is a 3xx answer. The client never follows one: the signed
// body must not go to another server, and a GET's answer there is no data.
type RedirectError struct {
	StatusCode int
	Location   string // scheme and host only
	Where      string
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("%s: HTTP status %d redirects to %s: refused, the exporter only talks to --api.endpoint (set it to the final URL)",
		e.Where, e.StatusCode, e.Location)
}

// Transient reports whether the contract says to retry this status.
func (e *StatusError) Transient() bool {
	switch e.StatusCode {
	case 429, 502, 503, 504:
		return true
	}
	return false
}

// DecodeError is a response body that could not be read as the API's JSON.
type DecodeError struct {
	Where string
	Err   error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("%s: decoding response: %v", e.Where, e.Err)
}
func (e *DecodeError) Unwrap() error { return e.Err }

// ErrTooManyPages ends a sweep that reached Config.MaxPages with every page
// still full: a truncated total must not pass for a complete one.
var ErrTooManyPages = errors.New("too many pages: the sweep was stopped by the max-pages guard")

// ErrResponseTooLarge is returned when a body exceeds Config.MaxResponseBytes.
var ErrResponseTooLarge = errors.New("response body too large")

// RetCodeMeaning is what a RetCode of the contract means, or "" for a code
// it does not name.
func RetCodeMeaning(code int64) string {
	switch code {
	case 110:
		return "upstream timeout"
	case 130:
		return "gateway error"
	case 150:
		return "service unavailable"
	case 153:
		return "throttled"
	case 160, 161:
		return "unknown action"
	case 170:
		return "signature missing"
	case 171:
		return "signature wrong"
	case 172:
		return "no such user: check the public key"
	case 174:
		return "token missing"
	case 230:
		return "bad or missing parameter"
	case 292:
		return "no such project"
	case 294:
		return "IP not allowed"
	case 299:
		return "permission denied"
	}
	return ""
}

// redactor removes credentials from any text a server sends back, so that an
// error message can never carry them into a log line or a metric.
type redactor []string

// cut redacts s and keeps at most MaxServerText bytes of it.
func (r redactor) cut(s string) string {
	// Redact before cutting, so that a secret cannot survive in halves.
	return CutText(r.redact(s), MaxServerText)
}

// redact replaces each secret of r in s, in any case of its ASCII letters
// (a server may echo a key upper-cased), with [REDACTED].
func (r redactor) redact(s string) string {
	for _, secret := range r {
		s = redactFold(s, secret)
	}
	return s
}

// redactFold replaces secret in s, its ASCII letters in any case. ASCII
// case folding keeps every byte where it was, so that the places found in
// the folded copy are the places in s.
func redactFold(s, secret string) string {
	if secret == "" || len(s) < len(secret) {
		return s
	}
	folded, key := asciiLower(s), asciiLower(secret)
	if !strings.Contains(folded, key) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(folded, key)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString("[REDACTED]")
		s, folded = s[i+len(key):], folded[i+len(key):]
	}
}

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; 'A' <= c && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// redactSecret is redactFold for text of the client's own as well as the
// server's (a sweep's error, a label value, a logged OrderNo): there it
// takes a secret of minRedactedSecret bytes or more, since a shorter one
// (a test's "k") would redact letters of the client's own words, and is
// no credential anyway.
func redactSecret(s, secret string) string {
	if len(secret) < minRedactedSecret {
		return s
	}
	return redactFold(s, secret)
}

const minRedactedSecret = 8

// redactedError is an error whose text has the private key redacted: what
// a sweep returns, since its errors may quote what a server sent (an
// OrderNo, say) wherever it sent it.
type redactedError struct {
	err    error
	secret string
}

func (e *redactedError) Error() string { return redactSecret(e.err.Error(), e.secret) }
func (e *redactedError) Unwrap() error { return e.err }

// MaxServerText bounds what an error carries from the server's text (a
// Message, an Action): a 10 MB message must not make a 10 MB log line.
const MaxServerText = 256

// IsBidi reports the Unicode controls that reorder the text around them
// (embeddings, overrides, isolates, marks): text from a server holding them
// displays as another text than the one stored ("Trojan Source"), so they
// are neutralized in labels and logs.
func IsBidi(r rune) bool {
	return r == 0x061c || r == 0x200e || r == 0x200f || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}

// CutText keeps at most limit bytes of s, on a UTF-8 boundary, and says how
// much was cut.
func CutText(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	end := limit
	for end > 0 && !utf8.RuneStart(s[end]) {
		end--
	}
	return fmt.Sprintf("%s…[cut: %d bytes in all]", s[:end], len(s))
}
