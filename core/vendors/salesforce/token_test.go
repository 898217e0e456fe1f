package salesforce_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"handoff/core/handoff"
	"handoff/core/vendors/salesforce/salesforcesandbox"
	"handoff/core/vendors/sandbox"
)

func TestAssertionClaims(t *testing.T) {
	f := newFixture(t, options{})
	if err := errOf(f.adapter.Ack(testCtx(t), transfer(handoff.StatusFailed, salesforcesandbox.DemoSessionID, 1))); err != nil {
		t.Fatal(err)
	}
	var form url.Values
	for _, r := range f.sb.Requests() {
		if r.Path == "/services/oauth2/token" {
			form, _ = url.ParseQuery(string(r.Body))
		}
	}
	if form.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		t.Errorf("grant_type = %q", form.Get("grant_type"))
	}
	claims := jwt.MapClaims{}
	tok, _, err := jwt.NewParser().ParseUnverified(form.Get("assertion"), claims)
	if err != nil {
		t.Fatalf("assertion: %v", err)
	}
	if tok.Header["alg"] != "RS256" {
		t.Errorf("alg = %v, want RS256", tok.Header["alg"])
	}
	// The audience is Salesforce's login server, not the URL the token is asked from.
	want := map[string]any{"iss": salesforcesandbox.DemoClientID, "sub": salesforcesandbox.DemoUsername, "aud": "https://login.salesforce.com"}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("%s = %v, want %v", k, claims[k], v)
		}
	}
	exp, _ := claims.GetExpirationTime()
	if exp == nil || exp.After(time.Now().Add(3*time.Minute+5*time.Second)) || exp.Before(time.Now()) {
		t.Errorf("exp = %v, want about 3 minutes from now", exp)
	}
}

func TestTokenIsReusedAcrossAcks(t *testing.T) {
	f := newFixture(t, options{})
	for i := range 5 {
		tr := transfer(handoff.StatusFailed, salesforcesandbox.DemoSessionID, int64(100+i))
		tr.ID = fmt.Sprintf("tr-%04d", i)
		if err := errOf(f.adapter.Ack(testCtx(t), tr)); err != nil {
			t.Fatalf("ack %d: %v", i, err)
		}
	}
	if got := f.sb.TokenCalls(); got != 1 {
		t.Errorf("token calls = %d for 5 acks, want 1", got)
	}
}

// The token endpoint reports no lifetime; the adapter assumes 30 minutes [I] and mints anew
// after that, without waiting for a 401.
func TestTokenIsMintedAgainAfterItsAssumedLifetime(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	f := newFixture(t, options{cfg: salesforcesandbox.Config{Now: clock}, now: clock})
	ack := func(seq int64) {
		t.Helper()
		tr := transfer(handoff.StatusFailed, salesforcesandbox.DemoSessionID, seq)
		tr.ID = fmt.Sprintf("tr-%04d", seq)
		if err := errOf(f.adapter.Ack(testCtx(t), tr)); err != nil {
			t.Fatal(err)
		}
	}
	ack(1)
	mu.Lock()
	now = now.Add(29 * time.Minute)
	mu.Unlock()
	ack(2)
	if got := f.sb.TokenCalls(); got != 1 {
		t.Errorf("token calls after 29 minutes = %d, want 1", got)
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	ack(3)
	if got := f.sb.TokenCalls(); got != 2 {
		t.Errorf("token calls after 31 minutes = %d, want 2", got)
	}
}

func TestConcurrentAcksShareOneTokenFetch(t *testing.T) {
	sessions := make([]string, 8)
	for i := range sessions {
		sessions[i] = fmt.Sprintf("5f0b7a6c-3e1d-4c2b-9a8f-7e6d5c4b3b%02d", i)
	}
	// The token endpoint is held back a while, so that callers without a shared fetch would
	// pile up on it; a shared fetch makes one call however long it waits.
	slow := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/services/oauth2/token" {
				time.Sleep(300 * time.Millisecond)
			}
			h.ServeHTTP(w, r)
		})
	}
	f := newFixture(t, options{cfg: salesforcesandbox.Config{Sessions: sessions}, wrap: slow})
	var wg sync.WaitGroup
	errs := make([]error, len(sessions))
	for i, s := range sessions {
		wg.Go(func() {
			tr := transfer(handoff.StatusFailed, s, 1)
			tr.ID = fmt.Sprintf("tr-%04d", i)
			errs[i] = errOf(f.adapter.Ack(testCtx(t), tr))
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if got := f.sb.TokenCalls(); got != 1 {
		t.Errorf("token calls = %d for %d concurrent acks, want 1", got, len(sessions))
	}
}

func TestTokenIsMintedAgainAfterA401(t *testing.T) {
	f := newFixture(t, options{})
	f.sb.Inject(sandbox.Fault{Kind: sandbox.AuthExpired}, 1)
	if err := errOf(f.adapter.Ack(testCtx(t), transfer(handoff.StatusFailed, salesforcesandbox.DemoSessionID, 1))); err != nil {
		t.Fatalf("Ack after an expired token: %v", err)
	}
	if got := f.sb.TokenCalls(); got != 2 {
		t.Errorf("token calls = %d, want 2 (the first, then one after the 401)", got)
	}
	got := messages(f.sb)
	if len(got) != 2 || got[0].Header.Get("Authorization") == got[1].Header.Get("Authorization") {
		t.Errorf("the retry after a 401 did not carry a new token (%d messages)", len(got))
	}
}

func TestRefusedAssertionIsAuthFailed(t *testing.T) {
	f := newFixture(t, options{cfg: salesforcesandbox.Config{ClientID: "3MVG9another.connected.app"}})
	err := errOf(f.adapter.Ack(testCtx(t), transfer(handoff.StatusFailed, salesforcesandbox.DemoSessionID, 1)))
	var e *handoff.Error
	if !errors.As(err, &e) || e.Code != handoff.CodeVendorAuthFailed || e.VendorCode != "invalid_grant" || handoff.Retryable(err) {
		t.Fatalf("Ack with a refused assertion = %v, want final VENDOR_AUTH_FAILED invalid_grant", err)
	}
	if f.secrets.Invalidates == 0 {
		t.Error("the cached secret was not dropped after the credentials were refused")
	}
	if got := f.sb.AckCalls(); got != 0 {
		t.Errorf("ack calls = %d without a token, want 0", got)
	}
	for _, s := range secretValues() {
		if strings.Contains(err.Error(), s) || strings.Contains(f.logs.String(), s) {
			t.Errorf("a credential leaked: error %q, logs %q", err, f.logs)
		}
	}
}

func TestTokenEndpointDownIsRetryable(t *testing.T) {
	f := newFixture(t, options{})
	f.sb.InjectToken(sandbox.Fault{Kind: sandbox.Unavailable}, 0)
	err := errOf(f.adapter.Ack(testCtx(t), transfer(handoff.StatusFailed, salesforcesandbox.DemoSessionID, 1)))
	if handoff.ErrorCode(err) != handoff.CodeVendorUnavailable || !handoff.Retryable(err) {
		t.Errorf("Ack with the login endpoint down = %v, want retryable VENDOR_UNAVAILABLE", err)
	}
}

func TestTransferredEndsTheSession(t *testing.T) {
	f := newFixture(t, options{})
	if err := errOf(f.adapter.Ack(testCtx(t), transfer(handoff.StatusTransferred, salesforcesandbox.DemoSessionID, 1))); err != nil {
		t.Fatal(err)
	}
	var end, msg http.Header
	for _, r := range f.sb.Requests() {
		switch {
		case r.Method == http.MethodDelete && r.Path == "/v5.3.0/sessions/"+salesforcesandbox.DemoSessionID:
			end = r.Header
		case r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/messages"):
			msg = r.Header
		}
	}
	if end == nil {
		t.Fatal("no DELETE of the session")
	}
	if got := end.Get("X-Session-End-Reason"); got != "Transfer" {
		t.Errorf("X-Session-End-Reason = %q, want Transfer", got)
	}
	if end.Get("X-Request-ID") == msg.Get("X-Request-ID") {
		t.Error("the session end reused the message's X-Request-ID")
	}
	if !f.sb.SessionEnded(salesforcesandbox.DemoSessionID) {
		t.Error("the sandbox's session is still live")
	}
}

func TestSessionStaysOpen(t *testing.T) {
	tests := []struct {
		name   string
		status handoff.Status
		secret func(map[string]any)
	}{
		{"after a failed transfer", handoff.StatusFailed, nil},
		{"when endSessionOnSuccess is false", handoff.StatusTransferred, func(m map[string]any) { m["endSessionOnSuccess"] = false }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, options{secret: tc.secret})
			if err := errOf(f.adapter.Ack(testCtx(t), transfer(tc.status, salesforcesandbox.DemoSessionID, 1))); err != nil {
				t.Fatal(err)
			}
			if got := f.sb.EndCalls(); got != 0 {
				t.Errorf("session ends = %d, want 0", got)
			}
		})
	}
}

func TestSessionEndAnswers(t *testing.T) {
	tests := []struct {
		name      string
		fault     sandbox.Fault
		wantError handoff.Code
		wantLog   string
	}{
		{"already ended (404) is done", sandbox.Fault{Kind: sandbox.VendorError, VendorCode: "NotFoundError"}, "", ""},
		{"refused (403) is logged, not returned", sandbox.Fault{Kind: sandbox.VendorError, VendorCode: "ForbiddenError"}, "", "could not be ended"},
		{"busy (503) is logged, not returned (a retry would resend the ack)", sandbox.Fault{Kind: sandbox.Unavailable}, "", "session end uncertain"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, options{})
			f.sb.InjectEnd(tc.fault, 0)
			err := errOf(f.adapter.Ack(testCtx(t), transfer(handoff.StatusTransferred, salesforcesandbox.DemoSessionID, 1)))
			if handoff.ErrorCode(err) != tc.wantError {
				t.Errorf("Ack = %v, want code %q", err, tc.wantError)
			}
			if !strings.Contains(f.logs.String(), tc.wantLog) {
				t.Errorf("logs %q do not say %q", f.logs, tc.wantLog)
			}
		})
	}
}
