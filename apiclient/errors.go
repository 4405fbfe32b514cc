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
	for _, secret := range r {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "[REDACTED]")
		}
	}
	return CutText(s, MaxServerText)
}

// MaxServerText bounds what an error carries from the server's text (a
// Message, an Action): a 10 MB message must not make a 10 MB log line.
const MaxServerText = 256

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
