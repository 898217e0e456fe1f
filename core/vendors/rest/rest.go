// Package rest is the HTTP client every vendor adapter shares: per-call deadlines from the
// context, bounded retries with jittered backoff for what is safe to retry, Retry-After honoured,
// and response bodies read with a size limit. It returns vendor answers as they are; each adapter
// maps them to Handoff's codes with its own table.
package rest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"handoff/core/handoff"
)

// Defaults for a Client's zero fields.
const (
	DefaultMaxBody     = 1 << 20
	DefaultAttempts    = 3
	DefaultBaseBackoff = 200 * time.Millisecond
	DefaultAttemptTime = 10 * time.Second
	DefaultMaxWait     = 5 * time.Second
)

// Client sends requests to vendor APIs. The zero value is not usable; build it with New.
type Client struct {
	http        *http.Client
	maxBody     int64
	attempts    int
	baseBackoff time.Duration
	attemptTime time.Duration
	maxWait     time.Duration
	userAgent   string
	sleep       func(context.Context, time.Duration) error
}

// Option changes a Client built by New.
type Option func(*Client)

// WithAttempts sets how many times one request may be sent at most (1 = no retry).
func WithAttempts(n int) Option { return func(c *Client) { c.attempts = max(1, n) } }

// WithBackoff sets the first retry's pause; each later pause doubles, with jitter.
func WithBackoff(d time.Duration) Option { return func(c *Client) { c.baseBackoff = d } }

// WithAttemptTimeout bounds one attempt, so one hung connection cannot eat the whole deadline.
func WithAttemptTimeout(d time.Duration) Option { return func(c *Client) { c.attemptTime = d } }

// WithMaxWait bounds how long a Retry-After is waited for inside one call; a longer ask ends the
// call with the vendor's answer, whose wait (RetryAfter) the adapter maps to RATE_LIMITED.
func WithMaxWait(d time.Duration) Option { return func(c *Client) { c.maxWait = d } }

// WithMaxBody bounds how much of a response body is read.
func WithMaxBody(n int64) Option { return func(c *Client) { c.maxBody = n } }

// New builds a Client over hc (which owns transport settings such as TLS and pooling).
func New(hc *http.Client, opts ...Option) *Client {
	c := &Client{
		http:        hc,
		maxBody:     DefaultMaxBody,
		attempts:    DefaultAttempts,
		baseBackoff: DefaultBaseBackoff,
		attemptTime: DefaultAttemptTime,
		maxWait:     DefaultMaxWait,
		userAgent:   "handoff/1 (+bot-to-human transfer)",
		sleep:       Sleep,
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Request is one call to a vendor.
type Request struct {
	Op     string // names the call in errors, e.g. "bitrix24.Transfer"
	Method string
	URL    string
	Header http.Header
	Body   []byte
	// Idempotent marks a request that may be sent again after an ambiguous failure (a timeout or
	// a reset after the request left). Transfers are not: they are never re-sent blindly.
	Idempotent bool
	// Retry says which answers were refused before the vendor acted, so a new try is safe
	// (Bitrix24's 503 QUERY_LIMIT_EXCEEDED, a 429). Nil means 429 only, and 502/503/504 too for
	// an Idempotent request.
	Retry func(*Response) bool
	// Sign, when set, adds the headers that must be fresh on every send (a JWT with a unique
	// jti, an OAuth 1 nonce): it runs before each attempt, so a retry is never a replay that a
	// vendor enforcing one-time tokens would refuse.
	Sign func(http.Header) error
}

// Response is a vendor's answer, body already read (at most the client's limit).
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// OK reports a 2xx status.
func (r *Response) OK() bool { return r.Status >= 200 && r.Status < 300 }

// Do sends req, retrying what is safe, and returns the last answer whatever its status (a 429
// whose Retry-After is longer than this call may wait included). The error is a *handoff.Error
// for failures to get an answer: VENDOR_TIMEOUT when the deadline or an attempt ran out,
// VENDOR_UNAVAILABLE when the vendor could not be reached, VENDOR_BAD_RESPONSE when its body was
// too large, CONFIGURATION when the request could not be built or signed (or the code Sign
// returned).
func (c *Client) Do(ctx context.Context, req Request) (*Response, error) {
	var lastErr error
	for attempt := 1; ; attempt++ {
		resp, err := c.once(ctx, req)
		wait, retry := c.shouldRetry(req, resp, err)
		if !retry || attempt >= c.attempts {
			if err != nil {
				return nil, err
			}
			return resp, nil
		}
		lastErr = err
		if wait == 0 {
			wait = c.backoff(attempt)
		}
		if wait > c.maxWait || !fitsDeadline(ctx, wait) {
			if resp != nil && (resp.Status == http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "") {
				return resp, nil // the adapter maps it, with the wait from RetryAfter
			}
			if lastErr != nil {
				return nil, lastErr
			}
			return resp, nil
		}
		if err := c.sleep(ctx, wait); err != nil {
			return nil, transportError(req.Op, err)
		}
	}
}

func (c *Client) once(ctx context.Context, req Request) (*Response, error) {
	actx, cancel := context.WithTimeout(ctx, c.attemptTime)
	defer cancel()
	hreq, err := http.NewRequestWithContext(actx, req.Method, req.URL, bytes.NewReader(req.Body))
	if err != nil {
		return nil, handoff.E(handoff.CodeConfiguration, req.Op, "invalid vendor URL", withoutURL(err))
	}
	for k, vs := range req.Header {
		hreq.Header[k] = vs
	}
	if req.Sign != nil {
		if err := req.Sign(hreq.Header); err != nil {
			if _, ok := errors.AsType[*handoff.Error](err); ok {
				return nil, err
			}
			return nil, handoff.E(handoff.CodeConfiguration, req.Op, "the request could not be signed", err)
		}
	}
	if hreq.Header.Get("User-Agent") == "" {
		hreq.Header.Set("User-Agent", c.userAgent)
	}
	hresp, err := c.http.Do(hreq)
	if err != nil {
		return nil, transportError(req.Op, err)
	}
	defer hresp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(hresp.Body, c.maxBody+1))
	if err != nil {
		return nil, transportError(req.Op, err)
	}
	if int64(len(body)) > c.maxBody {
		return nil, handoff.E(handoff.CodeVendorProtocol, req.Op,
			fmt.Sprintf("vendor response is larger than %d bytes", c.maxBody), nil)
	}
	return &Response{Status: hresp.StatusCode, Header: hresp.Header, Body: body}, nil
}

// shouldRetry decides whether another attempt is safe, and how long the vendor asked us to wait.
func (c *Client) shouldRetry(req Request, resp *Response, err error) (time.Duration, bool) {
	if err != nil {
		if NotSent(err) {
			return 0, true
		}
		// Only what may go better next time (handoff.Retryable): not an oversized answer, nor a
		// URL or a signature that is wrong on our side.
		return 0, req.Idempotent && handoff.Retryable(err) && !errors.Is(err, context.Canceled)
	}
	wait := RetryAfter(resp.Header, time.Now())
	if req.Retry != nil {
		return wait, req.Retry(resp)
	}
	switch resp.Status {
	case http.StatusTooManyRequests:
		return wait, true
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return wait, req.Idempotent
	}
	return 0, false
}

func (c *Client) backoff(attempt int) time.Duration {
	d := c.baseBackoff << (attempt - 1)
	return d/2 + rand.N(d/2+1) // jitter: between half and the full pause
}

func fitsDeadline(ctx context.Context, wait time.Duration) bool {
	deadline, ok := ctx.Deadline()
	return !ok || time.Until(deadline) > wait+100*time.Millisecond
}

// Sleep waits d, or until ctx ends (its error then).
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// notSentError marks a failure that happened before any byte of the request reached the vendor.
type notSentError struct{ error }

func (e notSentError) Unwrap() error { return e.error }

// NotSent reports whether err proves the request never reached the vendor (a refused connection,
// a failed DNS look-up), so sending it again cannot do the thing twice.
func NotSent(err error) bool {
	var ns notSentError
	return errors.As(err, &ns)
}

// withoutURL drops the URL a *url.Error quotes: it may hold a credential (Bitrix24's webhook
// code is a path segment; some APIs take tokens in the query).
func withoutURL(err error) error {
	if urlErr, ok := errors.AsType[*url.Error](err); ok {
		return urlErr.Err
	}
	return err
}

func transportError(op string, err error) error {
	err = withoutURL(err)
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return handoff.E(handoff.CodeVendorTimeout, op, "the vendor did not answer in time", err)
	case errors.Is(err, context.Canceled):
		return handoff.E(handoff.CodeVendorTimeout, op, "the call was cancelled", err)
	case errors.As(err, &dnsErr), errors.Is(err, syscall.ECONNREFUSED),
		errors.As(err, &opErr) && opErr.Op == "dial":
		return notSentError{handoff.E(handoff.CodeVendorUnavailable, op, "the vendor could not be reached", err)}
	}
	return handoff.E(handoff.CodeVendorUnavailable, op, "the connection to the vendor failed", err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// RetryAfter reads a Retry-After header (seconds or an HTTP date); zero when absent or past.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	// Beyond the range of int, Atoi returns the nearest bound with ErrRange: still a number of
	// seconds, to be capped like any other, not a reason to retry at once.
	if secs, err := strconv.Atoi(v); err == nil || errors.Is(err, strconv.ErrRange) {
		if secs < 0 {
			return 0
		}
		return time.Duration(min(secs, 3600)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), time.Hour)
	}
	return 0
}

// JoinURL appends escaped path segments to a base URL, so an id can never add a segment, a
// query or a fragment of its own.
func JoinURL(base string, segments ...string) string {
	b := strings.TrimRight(base, "/")
	for _, s := range segments {
		b += "/" + url.PathEscape(s)
	}
	return b
}

// CheckBaseURL accepts an https URL, or http only for a loopback host (sandboxes and tests). Base
// URLs come from secrets; this keeps a mistyped secret from sending credentials in clear text.
func CheckBaseURL(field, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil {
		return fmt.Errorf("%s must be an absolute URL without credentials", field)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%s must use https (http is accepted only for loopback hosts)", field)
	}
	return fmt.Errorf("%s must be an https URL", field)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
