package rest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors/rest"
)

// vendor is an httptest server that counts the requests it received; answer gets the hit number
// (1 for the first request).
type vendor struct {
	*httptest.Server
	hits atomic.Int32
	// release ends every handler still blocked in hang, so the server can close.
	release chan struct{}
}

func newVendor(t *testing.T, answer func(hit int, w http.ResponseWriter, r *http.Request)) *vendor {
	t.Helper()
	v := &vendor{release: make(chan struct{})}
	v.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answer(int(v.hits.Add(1)), w, r)
	}))
	t.Cleanup(v.Close)                     // runs second
	t.Cleanup(func() { close(v.release) }) // runs first: unblocks hung handlers
	return v
}

// hang blocks until the client gives up (or the test ends).
func (v *vendor) hang(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-v.release:
	}
}

// reset closes the connection without an answer.
func reset(w http.ResponseWriter) {
	if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
		_ = conn.Close()
	}
}

func status(code int, header ...string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, `{"ok":`+fmt.Sprint(code < 300)+`}`)
	}
}

// testCtx is bounded so that a call that waits when it should not fails the test instead of
// hanging it; the bound is never an assertion on how long anything took.
func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// signCount returns a Sign hook that counts attempts and stamps each with its number.
func signCount(n *atomic.Int32) func(http.Header) error {
	return func(h http.Header) error {
		h.Set("X-Attempt", fmt.Sprint(n.Add(1)))
		return nil
	}
}

func wantCode(t *testing.T, err error, want handoff.Code) {
	t.Helper()
	if got := handoff.ErrorCode(err); got != want {
		t.Fatalf("error code = %q, want %q (err: %v)", got, want, err)
	}
	if _, ok := errors.AsType[*handoff.Error](err); !ok {
		t.Fatalf("error %v is not a *handoff.Error", err)
	}
}

// closedAddr returns an address nothing listens on, so connecting to it is refused.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

func TestRefusedConnectionIsRetriedAndNotSent(t *testing.T) {
	var attempts atomic.Int32
	c := rest.New(&http.Client{}, rest.WithAttempts(3), rest.WithBackoff(time.Millisecond))
	url := "http://" + closedAddr(t) + "/rest/1/SECRETCODE/imopenlines.bot.session.transfer"
	resp, err := c.Do(testCtx(t, 10*time.Second), rest.Request{
		Op: "test.Transfer", Method: http.MethodPost, URL: url, Body: []byte(`{}`), Sign: signCount(&attempts),
	})
	if resp != nil {
		t.Fatalf("resp = %+v, want nil", resp)
	}
	wantCode(t, err, handoff.CodeVendorUnavailable)
	if !rest.NotSent(err) {
		t.Errorf("NotSent(%v) = false, want true for a refused connection", err)
	}
	if got := attempts.Load(); got != 3 {
		t.Errorf("attempts = %d, want 3: a request that never left may be sent again", got)
	}
	if strings.Contains(err.Error(), "SECRETCODE") {
		t.Errorf("error quotes the URL, which may hold a credential: %v", err)
	}
}

func TestRefusedThenAcceptedReachesVendorOnce(t *testing.T) {
	v := newVendor(t, func(_ int, w http.ResponseWriter, _ *http.Request) { status(200)(w) })
	var dials atomic.Int32
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if dials.Add(1) == 1 {
			return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	c := rest.New(&http.Client{Transport: tr}, rest.WithBackoff(time.Millisecond))
	resp, err := c.Do(testCtx(t, 10*time.Second), rest.Request{Method: http.MethodPost, URL: v.URL, Body: []byte(`{}`)})
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	if resp.Status != 200 || v.hits.Load() != 1 {
		t.Errorf("status %d after %d hits, want 200 after 1", resp.Status, v.hits.Load())
	}
}

// A request that may have reached the vendor is never sent again unless it is Idempotent.
func TestAmbiguousFailureOfTransferIsNotResent(t *testing.T) {
	cases := []struct {
		name     string
		answer   func(v *vendor, w http.ResponseWriter, r *http.Request)
		wantCode handoff.Code // "" when a response is expected
		want     int
	}{
		{"500", func(_ *vendor, w http.ResponseWriter, _ *http.Request) { status(500)(w) }, "", 500},
		{"502", func(_ *vendor, w http.ResponseWriter, _ *http.Request) { status(502)(w) }, "", 502},
		{"503", func(_ *vendor, w http.ResponseWriter, _ *http.Request) { status(503)(w) }, "", 503},
		{"504", func(_ *vendor, w http.ResponseWriter, _ *http.Request) { status(504)(w) }, "", 504},
		{"timeout", func(v *vendor, _ http.ResponseWriter, r *http.Request) { v.hang(r) }, handoff.CodeVendorTimeout, 0},
		{"reset", func(_ *vendor, w http.ResponseWriter, _ *http.Request) { reset(w) }, handoff.CodeVendorUnavailable, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var v *vendor
			v = newVendor(t, func(_ int, w http.ResponseWriter, r *http.Request) { tc.answer(v, w, r) })
			var attempts atomic.Int32
			c := rest.New(v.Client(), rest.WithAttempts(3), rest.WithBackoff(time.Millisecond),
				rest.WithAttemptTimeout(200*time.Millisecond))
			resp, err := c.Do(testCtx(t, 10*time.Second), rest.Request{
				Op: "test.Transfer", Method: http.MethodPost, URL: v.URL, Body: []byte(`{"to":"12"}`),
				Sign: signCount(&attempts),
			})
			if tc.wantCode != "" {
				wantCode(t, err, tc.wantCode)
				if rest.NotSent(err) {
					t.Errorf("NotSent(%v) = true; the request did reach the vendor", err)
				}
			} else if err != nil || resp.Status != tc.want {
				t.Fatalf("Do = %+v, %v; want status %d", resp, err, tc.want)
			}
			if got := attempts.Load(); got != 1 {
				t.Errorf("attempts = %d, want 1: a transfer is never re-sent blindly", got)
			}
			if got := v.hits.Load(); got != 1 {
				t.Errorf("server hits = %d, want 1", got)
			}
		})
	}
}

func TestIdempotentRetriedOnServerUnavailable(t *testing.T) {
	for _, code := range []int{502, 503, 504} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			v := newVendor(t, func(hit int, w http.ResponseWriter, _ *http.Request) {
				if hit == 1 {
					status(code)(w)
					return
				}
				status(200)(w)
			})
			c := rest.New(v.Client(), rest.WithBackoff(time.Millisecond))
			resp, err := c.Do(testCtx(t, 10*time.Second), rest.Request{Method: http.MethodGet, URL: v.URL, Idempotent: true})
			if err != nil || resp.Status != 200 {
				t.Fatalf("Do = %+v, %v; want 200", resp, err)
			}
			if got := v.hits.Load(); got != 2 {
				t.Errorf("hits = %d, want 2", got)
			}
		})
	}
}

func TestIdempotentRetriesStopAtAttempts(t *testing.T) {
	v := newVendor(t, func(_ int, w http.ResponseWriter, _ *http.Request) { status(503)(w) })
	c := rest.New(v.Client(), rest.WithAttempts(4), rest.WithBackoff(time.Microsecond))
	resp, err := c.Do(testCtx(t, 10*time.Second), rest.Request{Method: http.MethodGet, URL: v.URL, Idempotent: true})
	if err != nil || resp.Status != 503 {
		t.Fatalf("Do = %+v, %v; want the last 503", resp, err)
	}
	if got := v.hits.Load(); got != 4 {
		t.Errorf("hits = %d, want 4 (WithAttempts)", got)
	}
}

func TestIdempotentRetriedAfterAttemptTimeout(t *testing.T) {
	t.Parallel()
	var v *vendor
	v = newVendor(t, func(hit int, w http.ResponseWriter, r *http.Request) {
		if hit == 1 {
			v.hang(r)
			return
		}
		status(200)(w)
	})
	c := rest.New(v.Client(), rest.WithBackoff(time.Millisecond), rest.WithAttemptTimeout(500*time.Millisecond))
	resp, err := c.Do(testCtx(t, 10*time.Second), rest.Request{Method: http.MethodGet, URL: v.URL, Idempotent: true})
	if err != nil || resp.Status != 200 {
		t.Fatalf("Do = %+v, %v; want 200 from the second attempt", resp, err)
	}
	if got := v.hits.Load(); got != 2 {
		t.Errorf("hits = %d, want 2", got)
	}
}

func TestAttemptTimeoutEndsHungAttempt(t *testing.T) {
	t.Parallel()
	var v *vendor
	v = newVendor(t, func(_ int, _ http.ResponseWriter, r *http.Request) { v.hang(r) })
	// The context allows far longer than the attempt: only the attempt timeout can end the call.
	c := rest.New(v.Client(), rest.WithAttempts(1), rest.WithAttemptTimeout(100*time.Millisecond))
	_, err := c.Do(testCtx(t, 20*time.Second), rest.Request{Method: http.MethodGet, URL: v.URL})
	wantCode(t, err, handoff.CodeVendorTimeout)
}

func TestContextDeadlineIsVendorTimeout(t *testing.T) {
	t.Parallel()
	for _, idempotent := range []bool{false, true} {
		t.Run(fmt.Sprint("idempotent=", idempotent), func(t *testing.T) {
			var v *vendor
			v = newVendor(t, func(_ int, _ http.ResponseWriter, r *http.Request) { v.hang(r) })
			c := rest.New(v.Client(), rest.WithBackoff(time.Millisecond))
			_, err := c.Do(testCtx(t, 200*time.Millisecond), rest.Request{Method: http.MethodGet, URL: v.URL, Idempotent: idempotent})
			wantCode(t, err, handoff.CodeVendorTimeout)
		})
	}
}

func TestCancelledCallIsNotRetried(t *testing.T) {
	entered := make(chan struct{}, 3)
	var v *vendor
	v = newVendor(t, func(_ int, _ http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		v.hang(r)
	})
	ctx, cancel := context.WithCancel(testCtx(t, 10*time.Second))
	go func() {
		<-entered
		cancel()
	}()
	var attempts atomic.Int32
	c := rest.New(v.Client(), rest.WithBackoff(time.Millisecond))
	_, err := c.Do(ctx, rest.Request{Method: http.MethodGet, URL: v.URL, Idempotent: true, Sign: signCount(&attempts)})
	wantCode(t, err, handoff.CodeVendorTimeout)
	if got := attempts.Load(); got != 1 {
		t.Errorf("attempts = %d, want 1: a cancelled call is over", got)
	}
}
