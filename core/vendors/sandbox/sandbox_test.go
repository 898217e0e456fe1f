package sandbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"handoff/core/vendors/sandbox"
)

func next(t *testing.T, f *sandbox.Faults) string {
	t.Helper()
	fault, ok := f.Next()
	if !ok {
		return "-"
	}
	return string(fault.Kind) + ":" + fault.VendorCode
}

func TestFaultsQueueOrder(t *testing.T) {
	var f sandbox.Faults
	if got := next(t, &f); got != "-" {
		t.Fatalf("zero Faults played %s", got)
	}
	f.Inject(sandbox.Fault{Kind: sandbox.VendorError, VendorCode: "A"}, 2)
	f.Inject(sandbox.Fault{Kind: sandbox.ServerError}, 1)
	f.Inject(sandbox.Fault{Kind: sandbox.RateLimited, RetryAfter: time.Second}, 0) // standing
	f.Inject(sandbox.Fault{Kind: sandbox.VendorError, VendorCode: "B"}, 1)

	var got []string
	for range 6 {
		got = append(got, next(t, &f))
	}
	want := []string{"vendor-error:A", "vendor-error:A", "server-error:", "vendor-error:B", "rate-limited:", "rate-limited:"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("faults played %v, want %v (queued first, in order, then the standing one)", got, want)
	}
	if fault, _ := f.Next(); fault.RetryAfter != time.Second {
		t.Errorf("standing fault lost its RetryAfter: %+v", fault)
	}

	f.Inject(sandbox.Fault{Kind: sandbox.Hang}, -1) // negative is "always" too, replacing the last
	if got := next(t, &f); got != "hang:" {
		t.Errorf("after a second standing fault: %s, want hang:", got)
	}

	f.Inject(sandbox.Fault{Kind: sandbox.Reset}, 3)
	f.Clear()
	if got := next(t, &f); got != "-" {
		t.Errorf("after Clear: %s, want none", got)
	}
}

// The fault injected is a copy: changing the caller's value afterwards changes nothing.
func TestFaultsKeepACopy(t *testing.T) {
	var f sandbox.Faults
	fault := sandbox.Fault{Kind: sandbox.VendorError, VendorCode: "A"}
	f.Inject(fault, 0)
	fault.VendorCode = "changed"
	if got := next(t, &f); got != "vendor-error:A" {
		t.Errorf("standing fault = %s, want vendor-error:A", got)
	}
}

// Run with -race: every injected fault is played exactly once, whoever asks.
func TestFaultsConcurrentInjectAndNext(t *testing.T) {
	var f sandbox.Faults
	const injectors, each = 8, 50
	var wg sync.WaitGroup
	taken := make(chan string, injectors*each)
	done := make(chan struct{})
	for i := range injectors {
		wg.Go(func() {
			for j := range each {
				f.Inject(sandbox.Fault{Kind: sandbox.VendorError, VendorCode: fmt.Sprintf("%d-%d", i, j)}, 1)
			}
		})
	}
	var takers sync.WaitGroup
	for range 4 {
		takers.Go(func() {
			for {
				if fault, ok := f.Next(); ok {
					taken <- fault.VendorCode
					continue
				}
				select {
				case <-done:
					return
				default:
				}
			}
		})
	}
	wg.Wait()
	close(done)
	takers.Wait()
	for { // what the takers left behind
		fault, ok := f.Next()
		if !ok {
			break
		}
		taken <- fault.VendorCode
	}
	close(taken)
	seen := map[string]int{}
	for code := range taken {
		seen[code]++
	}
	if len(seen) != injectors*each {
		t.Errorf("%d distinct faults played, want %d", len(seen), injectors*each)
	}
	for code, n := range seen {
		if n != 1 {
			t.Errorf("fault %s played %d times", code, n)
		}
	}
}

func TestRecorder(t *testing.T) {
	var rec sandbox.Recorder
	req := httptest.NewRequest(http.MethodPost, "/rest/imopenlines.bot.session.transfer?CHAT_ID=112", strings.NewReader(`{"USER_ID":12}`))
	req.Header.Set("Authorization", "Bearer t1")
	body := rec.Record(req)
	if string(body) != `{"USER_ID":12}` {
		t.Fatalf("Record returned %q", body)
	}
	rec.Record(httptest.NewRequest(http.MethodGet, "/other", nil))

	// Changing the request after it was recorded changes nothing recorded.
	req.Header.Set("Authorization", "Bearer changed")
	req.URL.RawQuery = "CHAT_ID=999"

	got := rec.Requests()
	if len(got) != 2 {
		t.Fatalf("%d requests recorded, want 2", len(got))
	}
	r := got[0]
	if r.Method != http.MethodPost || r.Path != "/rest/imopenlines.bot.session.transfer" ||
		r.Query.Get("CHAT_ID") != "112" || r.Header.Get("Authorization") != "Bearer t1" ||
		string(r.Body) != `{"USER_ID":12}` || r.At.IsZero() {
		t.Errorf("recorded %+v", r)
	}
	if got[1].Path != "/other" {
		t.Errorf("second request %q: not oldest first", got[1].Path)
	}

	// What Requests returns is the caller's own: changing it changes nothing recorded.
	r.Header.Set("Authorization", "mutated")
	r.Query.Set("CHAT_ID", "mutated")
	r.Body[0] = 'X'
	got[0].Method = "mutated"
	again := rec.Requests()[0]
	if again.Method != http.MethodPost || again.Header.Get("Authorization") != "Bearer t1" ||
		again.Query.Get("CHAT_ID") != "112" || string(again.Body) != `{"USER_ID":12}` {
		t.Errorf("a caller's change reached the record: %+v", again)
	}

	if n := rec.Count(http.MethodPost, func(p string) bool { return strings.HasPrefix(p, "/rest/") }); n != 1 {
		t.Errorf("Count(POST /rest/…) = %d, want 1", n)
	}
	if n := rec.Count(http.MethodPost, func(string) bool { return true }); n != 1 {
		t.Errorf("Count(POST any) = %d, want 1", n)
	}
}

func TestRecorderBodyLimit(t *testing.T) {
	var rec sandbox.Recorder
	big := strings.Repeat("x", 1<<20+10)
	body := rec.Record(httptest.NewRequest(http.MethodPost, "/", strings.NewReader(big)))
	if len(body) != 1<<20 {
		t.Errorf("recorded %d bytes, want at most 1 MiB", len(body))
	}
}

func TestRecorderConcurrent(t *testing.T) {
	var rec sandbox.Recorder
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			rec.Record(httptest.NewRequest(http.MethodPost, fmt.Sprintf("/r/%d", i), strings.NewReader("{}")))
			_ = rec.Requests()
		})
	}
	wg.Wait()
	if n := rec.Count(http.MethodPost, func(p string) bool { return strings.HasPrefix(p, "/r/") }); n != 20 {
		t.Errorf("Count = %d, want 20", n)
	}
}

// playing starts a server that plays fault on every request and reports when the handler is
// done.
func playing(t *testing.T, fault sandbox.Fault) (*httptest.Server, <-chan bool) {
	t.Helper()
	done := make(chan bool, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answered := false
		defer func() { done <- answered }()
		answered = sandbox.Play(w, r, fault)
	}))
	t.Cleanup(srv.Close)
	return srv, done
}

// within fails the test if nothing arrives before the bound; the bound is never an assertion on
// how long something took, only a guard against a hang.
func within[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not happen", what)
		panic("unreachable")
	}
}

func TestPlayHangReturnsWhenClientGivesUp(t *testing.T) {
	srv, done := playing(t, sandbox.Fault{Kind: sandbox.Hang})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, strings.NewReader("{}"))
	resp, err := srv.Client().Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("a hung vendor answered %d", resp.StatusCode)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("client error = %v, want its own deadline", err)
	}
	if answered := within(t, done, "Play(Hang) returning after the client left"); !answered {
		t.Error("Play(Hang) reported it did not answer")
	}
}

func TestPlayResetGivesConnectionError(t *testing.T) {
	srv, done := playing(t, sandbox.Fault{Kind: sandbox.Reset})
	resp, err := srv.Client().Post(srv.URL, "application/json", strings.NewReader("{}"))
	if err == nil {
		resp.Body.Close()
		t.Fatalf("a reset answered %d", resp.StatusCode)
	}
	var urlErr *url.Error
	if !errors.As(err, &urlErr) || urlErr.Timeout() {
		t.Errorf("client error = %v, want a connection error", err)
	}
	if answered := within(t, done, "Play(Reset) returning"); !answered {
		t.Error("Play(Reset) reported it did not answer")
	}
}

// Over HTTP/2 there is no connection to hijack: the stream is aborted instead.
func TestPlayResetOverHTTP2(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sandbox.Play(w, r, sandbox.Fault{Kind: sandbox.Reset})
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	resp, err := srv.Client().Post(srv.URL, "application/json", strings.NewReader("{}"))
	if err == nil {
		defer resp.Body.Close()
		if resp.ProtoMajor != 2 {
			t.Fatalf("test server spoke %s, want HTTP/2", resp.Proto)
		}
		if _, err = io.ReadAll(resp.Body); err == nil {
			t.Fatalf("a reset over HTTP/2 answered %d with a complete body", resp.StatusCode)
		}
	}
}

func TestPlayAbortsWithoutHijacker(t *testing.T) {
	w := httptest.NewRecorder() // not an http.Hijacker
	defer func() {
		if r := recover(); r != http.ErrAbortHandler {
			t.Errorf("Play(Reset) without a hijacker: recovered %v, want http.ErrAbortHandler", r)
		}
	}()
	sandbox.Play(w, httptest.NewRequest(http.MethodGet, "/", nil), sandbox.Fault{Kind: sandbox.Reset})
}

func TestPlayAnswers(t *testing.T) {
	cases := []struct {
		kind      sandbox.Kind
		status    int
		validJSON bool
	}{
		{sandbox.ServerError, 500, true},
		{sandbox.Unavailable, 503, true},
		{sandbox.Malformed, 200, false},
	}
	for _, tc := range cases {
		t.Run(string(tc.kind), func(t *testing.T) {
			srv, done := playing(t, sandbox.Fault{Kind: tc.kind})
			resp, err := srv.Client().Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("status %d %q, want %d application/json", resp.StatusCode, resp.Header.Get("Content-Type"), tc.status)
			}
			if json.Valid(body) != tc.validJSON {
				t.Errorf("body %q: valid JSON = %v, want %v", body, !tc.validJSON, tc.validJSON)
			}
			if tc.kind == sandbox.Malformed {
				var v any
				if err := json.Unmarshal(body, &v); err == nil {
					t.Errorf("malformed body %q decodes", body)
				}
			}
			if answered := within(t, done, "Play returning"); !answered {
				t.Error("Play reported it did not answer")
			}
		})
	}
}

// Vendor-specific kinds are the vendor sandbox's to answer: Play writes nothing.
func TestPlayLeavesVendorKinds(t *testing.T) {
	for _, kind := range []sandbox.Kind{sandbox.VendorError, sandbox.AuthExpired, sandbox.AuthRejected, sandbox.RateLimited, ""} {
		w := httptest.NewRecorder()
		if sandbox.Play(w, httptest.NewRequest(http.MethodGet, "/", nil), sandbox.Fault{Kind: kind}) {
			t.Errorf("Play(%q) = true, want false", kind)
		}
		if w.Body.Len() != 0 || len(w.Header()) != 0 || w.Flushed {
			t.Errorf("Play(%q) wrote %q %v", kind, w.Body.String(), w.Header())
		}
	}
}

func TestWriteJSON(t *testing.T) {
	w := httptest.NewRecorder()
	sandbox.WriteJSON(w, http.StatusCreated, map[string]any{"result": true})
	if w.Code != 201 || w.Header().Get("Content-Type") != "application/json" || strings.TrimSpace(w.Body.String()) != `{"result":true}` {
		t.Errorf("WriteJSON wrote %d %v %q", w.Code, w.Header(), w.Body.String())
	}
}

func TestSetRetryAfter(t *testing.T) {
	cases := map[time.Duration]string{
		0:                       "1",
		-time.Second:            "1",
		time.Millisecond:        "1",
		time.Second:             "1",
		1500 * time.Millisecond: "2",
		30 * time.Second:        "30",
	}
	for d, want := range cases {
		w := httptest.NewRecorder()
		sandbox.SetRetryAfter(w, d)
		if got := w.Header().Get("Retry-After"); got != want {
			t.Errorf("SetRetryAfter(%v) = %q, want %q", d, got, want)
		}
	}
}
