package rest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors/rest"
)

func TestRateLimitedWithShortRetryAfterIsRetried(t *testing.T) {
	t.Parallel()
	v := newVendor(t, func(hit int, w http.ResponseWriter, _ *http.Request) {
		if hit == 1 {
			status(429, "Retry-After", "1")(w)
			return
		}
		status(200)(w)
	})
	// The backoff is far beyond the max wait: only the vendor's Retry-After can make this retry.
	c := rest.New(v.Client(), rest.WithMaxWait(5*time.Second), rest.WithBackoff(time.Hour))
	// A POST: a 429 means the vendor refused before acting, so even a transfer is retried.
	resp, err := c.Do(testCtx(t, 10*time.Second), rest.Request{Method: http.MethodPost, URL: v.URL, Body: []byte(`{}`)})
	if err != nil || resp.Status != 200 {
		t.Fatalf("Do = %+v, %v; want 200 after waiting", resp, err)
	}
	if got := v.hits.Load(); got != 2 {
		t.Errorf("hits = %d, want 2", got)
	}
}

// A wait longer than the call may spend ends the call with the vendor's answer, for the adapter
// to map to RATE_LIMITED with the wait. A client that waited anyway would hit the server twice,
// or run into the test context and fail with VENDOR_TIMEOUT.
func TestLongRetryAfterReturnsResponseWithoutWaiting(t *testing.T) {
	cases := []struct {
		name       string
		code       int
		retryAfter string
		maxWait    time.Duration
		deadline   time.Duration
		idempotent bool
	}{
		{"429 beyond max wait", 429, "2", time.Second, 30 * time.Second, false},
		{"429 far beyond max wait", 429, "120", time.Second, 30 * time.Second, false},
		{"429 beyond deadline", 429, "3", time.Minute, time.Second, false},
		{"429 http date beyond max wait", 429, time.Now().Add(10 * time.Second).UTC().Format(http.TimeFormat), time.Second, 30 * time.Second, false},
		{"503 beyond max wait, idempotent", 503, "2", time.Second, 30 * time.Second, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := newVendor(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
				status(tc.code, "Retry-After", tc.retryAfter)(w)
			})
			c := rest.New(v.Client(), rest.WithMaxWait(tc.maxWait))
			resp, err := c.Do(testCtx(t, tc.deadline), rest.Request{Method: http.MethodPost, URL: v.URL, Idempotent: tc.idempotent})
			if err != nil {
				t.Fatalf("Do: %v; want the %d response", err, tc.code)
			}
			if resp.Status != tc.code || resp.Header.Get("Retry-After") != tc.retryAfter {
				t.Errorf("resp = %d Retry-After %q, want %d %q", resp.Status, resp.Header.Get("Retry-After"), tc.code, tc.retryAfter)
			}
			if got := v.hits.Load(); got != 1 {
				t.Errorf("hits = %d, want 1", got)
			}
		})
	}
}

func TestRetryCallbackOverrides(t *testing.T) {
	cases := []struct {
		name     string
		first    int
		retry    func(*rest.Response) bool
		wantHits int32
		want     int
	}{
		{"500 declared safe", 500, func(r *rest.Response) bool { return r.Status == 500 }, 2, 200},
		{"body says limit exceeded", 400, func(r *rest.Response) bool {
			return strings.Contains(string(r.Body), "QUERY_LIMIT_EXCEEDED")
		}, 2, 200},
		{"429 declared unsafe", 429, func(*rest.Response) bool { return false }, 1, 429},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := newVendor(t, func(hit int, w http.ResponseWriter, _ *http.Request) {
				if hit == 1 {
					w.WriteHeader(tc.first)
					_, _ = io.WriteString(w, `{"error":"QUERY_LIMIT_EXCEEDED"}`)
					return
				}
				status(200)(w)
			})
			c := rest.New(v.Client(), rest.WithBackoff(time.Millisecond))
			resp, err := c.Do(testCtx(t, 10*time.Second), rest.Request{Method: http.MethodPost, URL: v.URL, Retry: tc.retry})
			if err != nil || resp.Status != tc.want {
				t.Fatalf("Do = %+v, %v; want %d", resp, err, tc.want)
			}
			if got := v.hits.Load(); got != tc.wantHits {
				t.Errorf("hits = %d, want %d", got, tc.wantHits)
			}
		})
	}
}

// The n-th pause lies between half and all of base·2^(n-1). WithMaxWait turns that into a count:
// a pause longer than the max wait ends the call instead of retrying. Repeated, so the jitter is
// exercised; no duration is measured.
func TestBackoffStaysWithinBounds(t *testing.T) {
	const base = 4 * time.Millisecond
	cases := []struct {
		name     string
		attempts int
		maxWait  time.Duration
		wantHits int32
	}{
		{"first pause at least base/2", 2, base/2 - time.Nanosecond, 1},
		{"first pause at most base", 2, base, 2},
		{"second pause doubles", 3, base, 2},
		{"second pause at most 2·base", 3, 2 * base, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := newVendor(t, func(_ int, w http.ResponseWriter, _ *http.Request) { status(503)(w) })
			c := rest.New(v.Client(), rest.WithAttempts(tc.attempts), rest.WithBackoff(base), rest.WithMaxWait(tc.maxWait))
			for i := range 20 {
				v.hits.Store(0)
				resp, err := c.Do(testCtx(t, 10*time.Second), rest.Request{Method: http.MethodGet, URL: v.URL, Idempotent: true})
				if err != nil || resp.Status != 503 {
					t.Fatalf("run %d: Do = %+v, %v; want the 503", i, resp, err)
				}
				if got := v.hits.Load(); got != tc.wantHits {
					t.Fatalf("run %d: hits = %d, want %d", i, got, tc.wantHits)
				}
			}
		})
	}
}

func TestMaxBody(t *testing.T) {
	const limit = 64
	for _, n := range []int{limit, limit + 1} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			v := newVendor(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
				_, _ = io.WriteString(w, strings.Repeat("x", n))
			})
			c := rest.New(v.Client(), rest.WithMaxBody(limit), rest.WithBackoff(time.Millisecond))
			resp, err := c.Do(testCtx(t, 10*time.Second), rest.Request{Method: http.MethodGet, URL: v.URL, Idempotent: true})
			if n <= limit {
				if err != nil || len(resp.Body) != n {
					t.Fatalf("Do = %+v, %v; want a %d-byte body", resp, err, n)
				}
				return
			}
			wantCode(t, err, handoff.CodeVendorProtocol)
			if got := v.hits.Load(); got != 1 {
				t.Errorf("hits = %d, want 1: an oversized answer will not shrink on a retry", got)
			}
		})
	}
}

func TestSignRunsBeforeEveryAttempt(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	v := newVendor(t, func(hit int, w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, strings.Join(r.Header.Values("X-Attempt"), ",")+"|"+r.Header.Get("Authorization"))
		mu.Unlock()
		if hit < 3 {
			status(503)(w)
			return
		}
		status(200)(w)
	})
	var n atomic.Int32
	c := rest.New(v.Client(), rest.WithBackoff(time.Millisecond))
	req := rest.Request{
		Method: http.MethodGet, URL: v.URL, Idempotent: true,
		Header: http.Header{"Authorization": {"Bearer static"}},
		Sign: func(h http.Header) error {
			h.Add("X-Attempt", fmt.Sprint(n.Add(1))) // Add: a header left over from an earlier attempt would show
			return nil
		},
	}
	resp, err := c.Do(testCtx(t, 10*time.Second), req)
	if err != nil || resp.Status != 200 {
		t.Fatalf("Do = %+v, %v", resp, err)
	}
	want := []string{"1|Bearer static", "2|Bearer static", "3|Bearer static"}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("server saw %q, want %q", seen, want)
	}
	if len(req.Header["X-Attempt"]) != 0 {
		t.Errorf("Sign changed the caller's headers: %v", req.Header)
	}
}

func TestSignFailureSendsNothing(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want handoff.Code
	}{
		{"plain error is configuration", errors.New("no private key"), handoff.CodeConfiguration},
		{"domain error kept", handoff.E(handoff.CodeVendorAuthFailed, "test.token", "token refused", nil), handoff.CodeVendorAuthFailed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := newVendor(t, func(_ int, w http.ResponseWriter, _ *http.Request) { status(200)(w) })
			var calls atomic.Int32
			c := rest.New(v.Client(), rest.WithBackoff(time.Millisecond))
			_, err := c.Do(testCtx(t, 10*time.Second), rest.Request{
				Method: http.MethodGet, URL: v.URL, Idempotent: true,
				Sign: func(http.Header) error { calls.Add(1); return tc.err },
			})
			wantCode(t, err, tc.want)
			if v.hits.Load() != 0 {
				t.Errorf("hits = %d, want 0", v.hits.Load())
			}
			if got := calls.Load(); got != 1 {
				t.Errorf("Sign called %d times, want 1: a failure that is not the vendor's is not retried", got)
			}
		})
	}
}

func TestInvalidURLIsConfigurationAndNotQuoted(t *testing.T) {
	var attempts atomic.Int32
	c := rest.New(&http.Client{}, rest.WithBackoff(time.Millisecond))
	_, err := c.Do(testCtx(t, 10*time.Second), rest.Request{
		Method: http.MethodGet, URL: "https://portal.example/rest/1/SECRETCODE/\x7f", Idempotent: true,
		Sign: signCount(&attempts),
	})
	wantCode(t, err, handoff.CodeConfiguration)
	if strings.Contains(err.Error(), "SECRETCODE") {
		t.Errorf("error quotes the URL: %v", err)
	}
	if attempts.Load() != 0 {
		t.Errorf("Sign ran for a request that cannot be built")
	}
}

func TestDefaultUserAgent(t *testing.T) {
	agents := make(chan string, 2)
	v := newVendor(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		agents <- r.UserAgent()
		status(200)(w)
	})
	c := rest.New(v.Client())
	for _, h := range []http.Header{nil, {"User-Agent": {"custom/2"}}} {
		if _, err := c.Do(testCtx(t, 10*time.Second), rest.Request{Method: http.MethodGet, URL: v.URL, Header: h}); err != nil {
			t.Fatal(err)
		}
	}
	if got := <-agents; !strings.HasPrefix(got, "handoff/") {
		t.Errorf("default User-Agent = %q", got)
	}
	if got := <-agents; got != "custom/2" {
		t.Errorf("User-Agent = %q, want the caller's", got)
	}
}

func BenchmarkDo(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"result":true}`)
	}))
	defer srv.Close()
	c := rest.New(srv.Client())
	req := rest.Request{
		Op: "bench.Transfer", Method: http.MethodPost, URL: srv.URL + "/rest/imopenlines.bot.session.transfer",
		Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"CHAT_ID":112,"USER_ID":12}`),
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		resp, err := c.Do(ctx, req)
		if err != nil || resp.Status != 200 {
			b.Fatalf("Do = %+v, %v", resp, err)
		}
	}
}
