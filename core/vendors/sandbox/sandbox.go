// Package sandbox holds what every vendor sandbox shares: faults queued for the next calls, a
// record of the requests received, and the ways a misbehaving vendor answers (a hang, a reset, a
// body its docs do not describe). Each vendor's sandbox, in its own package, speaks that vendor's
// API on top of these; tests and the local stack use the sandboxes in place of the SaaS APIs.
package sandbox

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// Kind is a way a vendor can fail.
type Kind string

// The faults a sandbox can play. Each sandbox answers them the way its vendor's docs say.
const (
	// VendorError answers with the documented error for Fault.VendorCode.
	VendorError Kind = "vendor-error"
	// AuthExpired refuses the credentials the way the vendor says "expired"; the adapter is
	// expected to recover (refresh, re-login, refetch the secret) and try again.
	AuthExpired Kind = "auth-expired"
	// AuthRejected refuses the credentials outright.
	AuthRejected Kind = "auth-rejected"
	// RateLimited answers the vendor's rate-limit error with Retry-After = Fault.RetryAfter.
	RateLimited Kind = "rate-limited"
	// ServerError answers 500.
	ServerError Kind = "server-error"
	// Unavailable answers 503.
	Unavailable Kind = "unavailable"
	// Hang never answers; the client's deadline must end the call.
	Hang Kind = "hang"
	// Reset closes the connection without an answer.
	Reset Kind = "reset"
	// Malformed answers 200 with a body that is not what the docs describe.
	Malformed Kind = "malformed"
)

// Fault is one failure to play on a coming call.
type Fault struct {
	Kind       Kind
	VendorCode string
	RetryAfter time.Duration
}

// Faults is a queue of faults for a sandbox's next calls. The zero value is ready; it is safe for
// concurrent use.
type Faults struct {
	mu     sync.Mutex
	queue  []Fault
	always *Fault
}

// Inject plays f on the next `times` calls, or on every call from now on when times <= 0.
func (f *Faults) Inject(fault Fault, times int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if times <= 0 {
		f.always = &fault
		return
	}
	for range times {
		f.queue = append(f.queue, fault)
	}
}

// Next takes the fault for this call, if any.
func (f *Faults) Next() (Fault, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.queue) > 0 {
		next := f.queue[0]
		f.queue = f.queue[1:]
		return next, true
	}
	if f.always != nil {
		return *f.always, true
	}
	return Fault{}, false
}

// Clear drops every queued and standing fault.
func (f *Faults) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queue, f.always = nil, nil
}

// Request is one request a sandbox received.
type Request struct {
	Method string
	Path   string
	Query  url.Values
	Header http.Header
	Body   []byte
	At     time.Time
}

// Recorder keeps what a sandbox received, for tests to inspect. The zero value is ready.
type Recorder struct {
	mu   sync.Mutex
	reqs []Request
}

// Record reads the body (at most 1 MiB), stores the request, and returns the body for the
// handler to parse.
func (r *Recorder) Record(req *http.Request) []byte {
	body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, Request{
		Method: req.Method, Path: req.URL.Path, Query: req.URL.Query(),
		Header: req.Header.Clone(), Body: body, At: time.Now(),
	})
	return body
}

// Requests returns a copy of what was received, oldest first; the caller may change it freely.
func (r *Recorder) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Request, len(r.reqs))
	for i, req := range r.reqs {
		req.Query = url.Values(http.Header(req.Query).Clone()) // the same map type: values copied too
		req.Header = req.Header.Clone()
		req.Body = bytes.Clone(req.Body)
		out[i] = req
	}
	return out
}

// Count counts received requests with this method whose path matches.
func (r *Recorder) Count(method string, match func(path string) bool) int {
	n := 0
	for _, req := range r.Requests() {
		if req.Method == method && match(req.Path) {
			n++
		}
	}
	return n
}

// WriteJSON answers status with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// SetRetryAfter sets a Retry-After header in whole seconds (at least 1).
func SetRetryAfter(w http.ResponseWriter, d time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int((d+time.Second-1)/time.Second))))
}

// Play answers the transport-level faults that look the same for every vendor (Hang, Reset,
// ServerError, Unavailable, Malformed) and reports whether it answered. Vendor-specific kinds
// (VendorError, AuthExpired, AuthRejected, RateLimited) are left to the sandbox.
func Play(w http.ResponseWriter, r *http.Request, f Fault) bool {
	switch f.Kind {
	case Hang:
		// net/http notices a client that left only once the body is read to its end.
		_, _ = io.Copy(io.Discard, r.Body)
		select { // until the client gives up, bounded so a forgotten fault cannot pin a server
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
		return true
	case Reset:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return true
			}
		}
		panic(http.ErrAbortHandler) // net/http closes the connection without an answer
	case ServerError:
		WriteJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal error"})
		return true
	case Unavailable:
		WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "service unavailable"})
		return true
	case Malformed:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"unexpected": [1, 2, `)
		return true
	}
	return false
}
