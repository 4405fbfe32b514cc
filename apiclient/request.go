package apiclient

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// params renders the query's parameters, without Page and Signature.
func (c *Client) params(q Query) (map[string]string, error) {
	if q.Start.IsZero() || q.End.IsZero() || q.End.Unix() <= q.Start.Unix() {
		// The API takes whole seconds and wants EndTime > StartTime.
		return nil, errors.New("query window: End must be at least a second after Start")
	}
	p := map[string]string{
		"Action":    "ListUnpaidOrders",
		"PublicKey": c.cfg.PublicKey,
		"ProjectId": c.cfg.ProjectID,
		"StartTime": strconv.FormatInt(q.Start.Unix(), 10),
		"EndTime":   strconv.FormatInt(q.End.Unix(), 10),
		"PageSize":  strconv.Itoa(c.cfg.PageSize),
	}
	addList(p, "ResourceIds", q.ResourceIDs)
	addList(p, "ModelIds", q.ModelIDs)
	addList(p, "PricingUnits", itoas(q.PricingUnits))
	addList(p, "OrderTypes", itoas(q.OrderTypes))
	addList(p, "Regions", q.Regions)
	addList(p, "PricingSkus", q.PricingSKUs)
	addList(p, "ProductCodes", q.ProductCodes)
	for k, v := range p {
		if v == "" { // empty optional parameters are neither sent nor signed
			delete(p, k)
		}
	}
	return p, nil
}

// addList flattens a list as Name.0, Name.1, ..., skipping empty values so
// the indices stay contiguous.
func addList(p map[string]string, name string, values []string) {
	n := 0
	for _, v := range values {
		if v != "" {
			p[name+"."+strconv.Itoa(n)] = v
			n++
		}
	}
}

func itoas(ns []int) []string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return s
}

// pageBuf is the reusable memory of one page in flight.
type pageBuf struct {
	body bytes.Buffer
	dec  *decoder
	page page
}

// fetch requests one page of [start, end), retrying transient failures,
// and decodes it into buf.page.
//
// sent is called as each attempt goes out. A request that must wait (a
// Retry-After, a backoff) calls pause first: the sweep lets another worker
// take a slice meanwhile.
func (c *Client) fetch(ctx context.Context, base map[string]string, start, end int64, number int, buf *pageBuf, sent, pause func()) error {
	params := make(map[string]string, len(base)+2)
	for k, v := range base {
		params[k] = v
	}
	params["StartTime"] = strconv.FormatInt(start, 10)
	params["EndTime"] = strconv.FormatInt(end, 10)
	params["Page"] = strconv.Itoa(number)
	params["Signature"] = Sign(params, c.cfg.PrivateKey)
	form := make(url.Values, len(params))
	for k, v := range params {
		form.Set(k, v)
	}
	body := form.Encode()
	where := fmt.Sprintf("[%d, %d) page %d", start, end, number)

	var answered error // the last failure the API itself gave
	attempts, throttles := 0, 0
	for {
		t, err := c.pace.acquire(ctx)
		if err != nil {
			if answered != nil {
				return fmt.Errorf("%s: %w (last error: %w)", where, err, answered)
			}
			return fmt.Errorf("%s: %w", where, err)
		}
		sent()
		left := false
		leave := func() { // once the answer is known to carry data (see attempt)
			if !left {
				left = true
				c.pace.leave(t)
			}
		}
		retryAfter, err := c.attempt(ctx, body, params["Signature"], where, buf, leave)
		throttled := isThrottle(err)
		a := answerAdmitted
		switch {
		case throttled:
			a = answerThrottled
		case err != nil:
			a = answerFailed
		}
		if left {
			c.pace.finish(t, a, retryAfter)
		} else {
			c.pace.release(t, a, retryAfter)
		}
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			// A request cut short by the deadline says nothing; the answer
			// before it (throttled, say) says why the sweep ran out of time.
			var netErr *networkError
			if errors.As(err, &netErr) && answered != nil {
				err = answered
			}
			return fmt.Errorf("%s: %w (last error: %w)", where, context.Cause(ctx), err)
		}
		answered = err
		if !isTransient(err) {
			return err
		}
		if throttled {
			// Throttled retries wait behind the pacer, not behind backoff
			// of their own; a page the API keeps refusing still ends.
			if throttles++; throttles >= max(2*c.cfg.Retry.MaxAttempts, 10) {
				return fmt.Errorf("giving up after %d throttled attempts: %w", throttles, err)
			}
			if retryAfter > 0 {
				// Retry-After is honoured by this request, not by every
				// worker: the pacer has already slowed the others down,
				// and another worker takes a slice meanwhile.
				if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < retryAfter {
					return fmt.Errorf("giving up: Retry-After %v would pass the deadline: %w", retryAfter, err)
				}
				pause()
				timer := time.NewTimer(retryAfter)
				select {
				case <-ctx.Done():
					timer.Stop()
					return fmt.Errorf("%s: %w (last error: %w)", where, context.Cause(ctx), err)
				case <-timer.C:
				}
			}
			continue // the pacer has slowed down: wait behind it
		}
		if attempts++; attempts >= c.cfg.Retry.MaxAttempts {
			return fmt.Errorf("giving up after %d attempts: %w", attempts, err)
		}
		delay := max(c.backoff(attempts), retryAfter)
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < delay {
			return fmt.Errorf("giving up: the next retry would pass the deadline: %w", err)
		}
		pause()
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("%s: %w (last error: %w)", where, context.Cause(ctx), err)
		case <-timer.C:
		}
	}
}

// backoff is full jitter: a random delay up to the capped exponential step.
func (c *Client) backoff(attempt int) time.Duration {
	step := c.cfg.Retry.BaseDelay << min(attempt-1, 20)
	if step > c.cfg.Retry.MaxDelay || step <= 0 {
		step = c.cfg.Retry.MaxDelay
	}
	return step/2 + rand.N(step/2+1)
}

type transientError interface{ Transient() bool }

// networkError is a failure to reach the API or to read its answer.
type networkError struct {
	where string
	err   error
}

func (e *networkError) Error() string { return fmt.Sprintf("%s: %v", e.where, e.err) }
func (e *networkError) Unwrap() error { return e.err }

// Transient: a refused or reset connection may work the next time; a
// certificate the system does not trust, a server that refuses the TLS
// handshake, or plain HTTP from an https endpoint, never will.
func (e *networkError) Transient() bool { return !isPermanent(e.err) }

func isPermanent(err error) bool {
	if errors.Is(err, http.ErrSchemeMismatch) {
		return true
	}
	// A TLS alert from the server (a client certificate required, no
	// protocol version in common, a handshake failure) comes over TCP as
	// a net.OpError of Op "remote error"; tls.AlertError is what QUIC
	// returns. The server has refused; asking again will not change it.
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "remote error" {
		return true
	}
	var (
		verify   *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		header   tls.RecordHeaderError
		alert    tls.AlertError
	)
	return errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &hostname) ||
		errors.As(err, &invalid) || errors.As(err, &header) || errors.As(err, &alert)
}

// isCorruptEncoding reports whether err is the transport's gzip reader
// refusing a body: broken data, not a broken network.
func isCorruptEncoding(err error) bool {
	var corrupt flate.CorruptInputError
	return errors.Is(err, gzip.ErrHeader) || errors.Is(err, gzip.ErrChecksum) || errors.As(err, &corrupt)
}

func isTransient(err error) bool {
	var t transientError
	return errors.As(err, &t) && t.Transient()
}

func isThrottle(err error) bool {
	var apiErr *APIError
	var statusErr *StatusError
	return (errors.As(err, &apiErr) && apiErr.RetCode == 153) ||
		(errors.As(err, &statusErr) && statusErr.StatusCode == http.StatusTooManyRequests)
}

// attempt makes one HTTP request and decodes its answer into buf.page.
func (c *Client) attempt(ctx context.Context, body, signature, where string, buf *pageBuf, leave func()) (retryAfter time.Duration, err error) {
	outcome := OutcomeSuccess
	defer func() { c.cfg.Observe(outcome) }()

	rctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, c.endpoint, strings.NewReader(body))
	if err != nil {
		outcome = OutcomeNetworkError
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.cfg.UserAgent)

	resp, err := c.http.Do(req)
	if err != nil {
		outcome = OutcomeNetworkError
		if ctx.Err() != nil {
			outcome = OutcomeCanceled
		}
		if rctx.Err() != nil && ctx.Err() == nil {
			err = fmt.Errorf("no answer within --api.timeout (%v): %w", c.cfg.Timeout, err)
		}
		return 0, &networkError{where: where, err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // keep the connection reusable
		outcome = OutcomeHTTPError
		if resp.StatusCode == http.StatusTooManyRequests {
			outcome = OutcomeThrottled
		}
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			// Never followed: the signed body, or a GET whose answer would
			// pass for data, must not go to another server.
			return 0, &RedirectError{StatusCode: resp.StatusCode, Where: where, Location: locationHost(resp.Header.Get("Location"))}
		}
		return parseRetryAfter(resp.Header.Get("Retry-After")), &StatusError{StatusCode: resp.StatusCode, Where: where}
	}

	buf.body.Reset()
	n, err := buf.body.ReadFrom(io.LimitReader(resp.Body, c.cfg.MaxResponseBytes+1))
	if err != nil && isCorruptEncoding(err) {
		// A body that says gzip and is none: the same answer comes again.
		outcome = OutcomeDecodeError
		return 0, &DecodeError{Where: where, Err: fmt.Errorf("reading body (Content-Encoding %s): %w", CutText(resp.Header.Get("Content-Encoding"), 32), err)}
	}
	if err != nil {
		outcome = OutcomeNetworkError
		if ctx.Err() != nil {
			outcome = OutcomeCanceled
		}
		return 0, &networkError{where: where, err: fmt.Errorf("reading body: %w", err)}
	}
	if n > c.cfg.MaxResponseBytes {
		outcome = OutcomeDecodeError
		return 0, &DecodeError{Where: where, Err: fmt.Errorf("%w: over %d bytes", ErrResponseTooLarge, c.cfg.MaxResponseBytes)}
	}
	// The request leaves the pacer's window once its answer is known to
	// carry data (RetCode 0, read before the orders), before the orders are
	// decoded: decoding is the client's work, and a place held through it
	// left the API idle. A throttle (RetCode 153) keeps its place until
	// its cut, so that no request is sent on it at the old pace; so does an
	// answer whose RetCode comes after its orders (no API known does so).
	buf.dec.answered = leave
	err = buf.dec.decodePage(buf.body.Bytes(), &buf.page)
	buf.dec.answered = nil
	if err != nil {
		outcome = OutcomeDecodeError
		return 0, &DecodeError{Where: where, Err: err}
	}
	if p := &buf.page; p.retCode != 0 {
		outcome = OutcomeAPIError
		if p.retCode == 153 {
			outcome = OutcomeThrottled
		}
		clean := redactor{c.cfg.PrivateKey, c.cfg.PublicKey, signature}
		if p.retCode == 153 {
			// A gateway that throttles with RetCode 153 may say for how
			// long, as with HTTP 429.
			retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"))
		}
		return retryAfter, &APIError{RetCode: p.retCode, Message: clean.cut(p.message), Action: clean.cut(p.action), Where: where}
	}
	return 0, nil
}

// locationHost is the scheme and host of a Location header: enough to say
// where a redirect pointed, without a query that may carry anything.
func locationHost(loc string) string {
	u, err := url.Parse(loc)
	if err != nil || u.Host == "" {
		return "(no host)"
	}
	return CutText(u.Scheme+"://"+u.Host, 128)
}

// parseRetryAfter reads a Retry-After of delay seconds (the HTTP-date form
// is rare on APIs and ignored), capped at a minute.
func parseRetryAfter(v string) time.Duration {
	s, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || s <= 0 {
		return 0
	}
	return min(time.Duration(s)*time.Second, time.Minute)
}
