package koreai_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/koreai"
	"handoff/core/vendors/koreai/koreaisandbox"
)

var assignPath = "/agentassist/api/v1/public/" + koreaisandbox.StreamID + "/assign-conversation"

var sessionCounter atomic.Int64

// nextSession is a fresh 24-hex botSessionId, so no request collides with an earlier assignment.
func nextSession() string { return fmt.Sprintf("653a06c9aae89c5fbb%06d", sessionCounter.Add(1)) }

func validClaims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{"appId": koreaisandbox.ClientID, "sub": "test", "iat": now.Unix(),
		"exp": now.Add(time.Minute).Unix(), "jti": rand.Text()}
}

func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func agentBody(session string) string {
	return `{"callbackUrl":"http://127.0.0.1:1/cb","orgId":"` + koreaisandbox.OrgID + `","aId":"` + koreaisandbox.AgentID + `","botSessionId":"` + session + `"}`
}

// call sends one raw request to the sandbox and returns the status and decoded error code.
func call(t *testing.T, s *stack, method, path string, header http.Header, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, s.server.URL+path, strings.NewReader(body))
	req.Header = header
	resp, err := s.server.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var e struct {
		Errors []struct{ Msg, Code string }
	}
	if resp.StatusCode >= 400 {
		if err := json.Unmarshal(raw, &e); err != nil || len(e.Errors) != 1 || e.Errors[0].Msg == "" {
			t.Fatalf("error body %q is not {\"errors\":[{\"msg\",\"code\"}]}", raw)
		}
		return resp.StatusCode, e.Errors[0].Code
	}
	return resp.StatusCode, ""
}

func headers(auth string) http.Header {
	return http.Header{"Auth": {auth}, "Accountid": {koreaisandbox.AccountID}, "Content-Type": {"application/json"}}
}

func TestSandboxChecksTheJWT(t *testing.T) {
	s := newStack(t, koreaisandbox.Config{NoCallbacks: true})
	secret := []byte(s.creds.ClientSecret)
	now := time.Now()
	with := func(edit func(jwt.MapClaims)) jwt.MapClaims {
		c := validClaims(now)
		edit(c)
		return c
	}
	for _, tc := range []struct {
		name   string
		token  string
		status int
	}{
		{"valid", sign(t, jwt.SigningMethodHS256, secret, validClaims(now)), 200},
		{"missing", "", 401},
		{"Bearer prefix", "Bearer " + sign(t, jwt.SigningMethodHS256, secret, validClaims(now)), 401},
		{"wrong secret", sign(t, jwt.SigningMethodHS256, []byte("not-the-secret"), validClaims(now)), 401},
		{"HS512", sign(t, jwt.SigningMethodHS512, secret, validClaims(now)), 401},
		{"alg none", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, validClaims(now)), 401},
		{"wrong appId", sign(t, jwt.SigningMethodHS256, secret, with(func(c jwt.MapClaims) { c["appId"] = "cs-other" })), 401},
		{"appid lower-case", sign(t, jwt.SigningMethodHS256, secret, with(func(c jwt.MapClaims) { c["appid"] = c["appId"]; delete(c, "appId") })), 401},
		{"no exp", sign(t, jwt.SigningMethodHS256, secret, with(func(c jwt.MapClaims) { delete(c, "exp") })), 401},
		{"expired", sign(t, jwt.SigningMethodHS256, secret, with(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Second).Unix() })), 401},
		{"no jti", sign(t, jwt.SigningMethodHS256, secret, with(func(c jwt.MapClaims) { delete(c, "jti") })), 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if status, _ := call(t, s, http.MethodPost, assignPath, headers(tc.token), agentBody(nextSession())); status != tc.status {
				t.Errorf("status = %d, want %d", status, tc.status)
			}
		})
	}
	t.Run("jti reused", func(t *testing.T) {
		tok := sign(t, jwt.SigningMethodHS256, secret, validClaims(now))
		if status, _ := call(t, s, http.MethodPost, assignPath, headers(tok), agentBody(nextSession())); status != 200 {
			t.Fatalf("first use: %d", status)
		}
		if status, _ := call(t, s, http.MethodPost, assignPath, headers(tok), agentBody(nextSession())); status != 401 {
			t.Errorf("second use of a jti: %d, want 401", status)
		}
	})
}

func TestSandboxChecksHeadersAndBody(t *testing.T) {
	s := newStack(t, koreaisandbox.Config{NoCallbacks: true})
	org := koreaisandbox.OrgID
	for _, tc := range []struct {
		name   string
		method string
		path   string
		header func(http.Header)
		body   string
		status int
		code   string
	}{
		{"agent form", "POST", assignPath, nil, "", 200, ""},
		{"queue form", "POST", assignPath, nil, `{"callbackUrl":"https://x.example/cb","orgId":"` + org + `","transferredType":"QUEUE","queueId":"` + koreaisandbox.QueueID + `","botSessionId":"%s"}`, 200, ""},
		{"GET", "GET", assignPath, nil, "", 405, "METHOD_NOT_ALLOWED"},
		{"unknown stream", "POST", strings.Replace(assignPath, koreaisandbox.StreamID, "st-other", 1), nil, "", 404, "NOT_FOUND"},
		{"unknown endpoint", "POST", "/agentassist/api/v1/public/" + koreaisandbox.StreamID + "/transfer", nil, "", 404, "NOT_FOUND"},
		{"no accountid", "POST", assignPath, func(h http.Header) { h.Del("Accountid") }, "", 400, "BAD_REQUEST"},
		{"other account", "POST", assignPath, func(h http.Header) { h.Set("Accountid", "650d9eb6da96d0bc0d239999") }, "", 403, "FORBIDDEN"},
		{"text body", "POST", assignPath, func(h http.Header) { h.Set("Content-Type", "text/plain") }, "", 400, "BAD_REQUEST"},
		{"unknown field", "POST", assignPath, nil, `{"callbackUrl":"https://x.example/cb","orgId":"` + org + `","aId":"` + koreaisandbox.AgentID + `","botSessionId":"%s","note":"hi"}`, 400, "BAD_REQUEST"},
		{"misspelt field", "POST", assignPath, nil, `{"callbackURL":"https://x.example/cb","orgId":"` + org + `","aId":"` + koreaisandbox.AgentID + `","botSessionId":"%s"}`, 400, "BAD_REQUEST"},
		{"aId a number", "POST", assignPath, nil, `{"callbackUrl":"https://x.example/cb","orgId":"` + org + `","aId":42,"botSessionId":"%s"}`, 400, "BAD_REQUEST"},
		{"agent and queue", "POST", assignPath, nil, `{"callbackUrl":"https://x.example/cb","orgId":"` + org + `","aId":"` + koreaisandbox.AgentID + `","transferredType":"QUEUE","queueId":"` + koreaisandbox.QueueID + `","botSessionId":"%s"}`, 400, "BAD_REQUEST"},
		{"transferredType AGENT", "POST", assignPath, nil, `{"callbackUrl":"https://x.example/cb","orgId":"` + org + `","transferredType":"AGENT","queueId":"` + koreaisandbox.QueueID + `","botSessionId":"%s"}`, 400, "BAD_REQUEST"},
		{"queue without type", "POST", assignPath, nil, `{"callbackUrl":"https://x.example/cb","orgId":"` + org + `","queueId":"` + koreaisandbox.QueueID + `","botSessionId":"%s"}`, 400, "BAD_REQUEST"},
		{"other org", "POST", assignPath, nil, `{"callbackUrl":"https://x.example/cb","orgId":"o-other","aId":"` + koreaisandbox.AgentID + `","botSessionId":"%s"}`, 400, "BAD_REQUEST"},
		{"relative callbackUrl", "POST", assignPath, nil, `{"callbackUrl":"/cb","orgId":"` + org + `","aId":"` + koreaisandbox.AgentID + `","botSessionId":"%s"}`, 400, "BAD_REQUEST"},
		{"no callbackUrl", "POST", assignPath, nil, `{"orgId":"` + org + `","aId":"` + koreaisandbox.AgentID + `","botSessionId":"%s"}`, 400, "BAD_REQUEST"},
		{"session not 24-hex", "POST", assignPath, nil, `{"callbackUrl":"https://x.example/cb","orgId":"` + org + `","aId":"` + koreaisandbox.AgentID + `","botSessionId":"conversation-%s"}`, 400, "BAD_REQUEST"},
		{"trailing data", "POST", assignPath, nil, agentBody("%s") + `{}`, 400, "BAD_REQUEST"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := headers(sign(t, jwt.SigningMethodHS256, []byte(s.creds.ClientSecret), validClaims(time.Now())))
			if tc.header != nil {
				tc.header(h)
			}
			body := tc.body
			if body == "" {
				body = agentBody("%s")
			}
			status, code := call(t, s, tc.method, tc.path, h, fmt.Sprintf(body, nextSession()))
			if status != tc.status || code != tc.code {
				t.Errorf("= %d %s, want %d %s", status, code, tc.status, tc.code)
			}
		})
	}
}

func TestSandboxRateLimitsPerAccount(t *testing.T) {
	now := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	s := newStack(t, koreaisandbox.Config{NoCallbacks: true, RatePerMinute: 2, Now: func() time.Time { return now }})
	secret := []byte(s.creds.ClientSecret)
	send := func() int {
		status, _ := call(t, s, http.MethodPost, assignPath, headers(sign(t, jwt.SigningMethodHS256, secret, validClaims(now))), agentBody(nextSession()))
		return status
	}
	if a, b, c := send(), send(), send(); a != 200 || b != 200 || c != 429 {
		t.Fatalf("statuses %d %d %d, want 200 200 429", a, b, c)
	}
	adapter := koreai.New(vendors.Deps{Secrets: s.secrets, HTTP: restClient(s), Log: discard(), Now: func() time.Time { return now }})
	_, err := adapter.Transfer(ctx(t), transferRequest(agent, "https://handoff.example"))
	if e := wantCode(t, err, handoff.CodeRateLimited); e.RetryAfter != time.Minute {
		t.Errorf("RetryAfter = %v, want the rest of the window (1m)", e.RetryAfter)
	}
	now = now.Add(time.Minute)
	if got := send(); got != 200 {
		t.Errorf("next window: %d, want 200", got)
	}
}

// callbackReceiver is our callback route in miniature: it hands what Kore posts to ParseCallback.
func callbackReceiver(t *testing.T, adapter *koreai.Adapter) (*httptest.Server, chan vendors.Callback) {
	got := make(chan vendors.Callback, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		cb, err := adapter.ParseCallback(r.Context(), vendors.CallbackRequest{Tenant: r.URL.Query().Get("tenant"), Query: r.URL.Query(), Header: r.Header, Body: body})
		if err != nil {
			t.Errorf("ParseCallback: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		got <- cb
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func awaitCallback(t *testing.T, got chan vendors.Callback) vendors.Callback {
	t.Helper()
	select {
	case cb := <-got:
		return cb
	case <-time.After(10 * time.Second): // an upper bound, not a timing assertion
		t.Fatal("the sandbox posted no callback")
		return vendors.Callback{}
	}
}

func TestSandboxPostsTheOutcomeToTheCallbackURL(t *testing.T) {
	for _, target := range []handoff.Target{agent, queue} {
		t.Run(string(target.Type), func(t *testing.T) {
			s := newStack(t, koreaisandbox.Config{})
			receiver, got := callbackReceiver(t, s.adapter)
			if _, err := s.adapter.Transfer(ctx(t), transferRequest(target, receiver.URL)); err != nil {
				t.Fatal(err)
			}
			cb := awaitCallback(t, got)
			if cb.Outcome != handoff.OutcomeTransferred || cb.TransferID != "tr-0001" || cb.VendorRef != conversation.ID {
				t.Errorf("callback = %+v, want transferred for tr-0001, ref %s", cb, conversation.ID)
			}
			s.sandbox.Wait()
			d := s.sandbox.Deliveries()
			if len(d) != 1 || d[0].Status != http.StatusOK || d[0].Err != "" {
				t.Fatalf("deliveries = %+v, want one answered 200", d)
			}
			example, _ := os.ReadFile("testdata/callback_" + string(target.Type) + ".json")
			if k, want := keys(t, d[0].Body), keys(t, example); !slices.Equal(k, want) {
				t.Errorf("posted keys %v, want the sample's %v", k, want)
			}
		})
	}
}

func TestSandboxPostsAFailureStatusAndFreesTheSession(t *testing.T) {
	s := newStack(t, koreaisandbox.Config{FailStatus: map[string]string{koreaisandbox.AgentID: "failed"}})
	receiver, got := callbackReceiver(t, s.adapter)
	if _, err := s.adapter.Transfer(ctx(t), transferRequest(agent, receiver.URL)); err != nil {
		t.Fatal(err)
	}
	// "failed" is the sandbox's invented word: the adapter records it and keeps waiting.
	if cb := awaitCallback(t, got); cb.Outcome != "" || !cb.Unrecognised || !strings.Contains(cb.Detail, "failed") {
		t.Errorf("callback = %+v, want an unrecognised status recorded, no outcome", cb)
	}
	s.sandbox.Wait()
	if _, err := s.adapter.Transfer(ctx(t), transferRequest(queue, receiver.URL)); err != nil {
		t.Errorf("a new transfer after a failed one: %v", err)
	}
}

func TestSandboxCanPostAnUnknownShape(t *testing.T) {
	s := newStack(t, koreaisandbox.Config{UnknownShape: true})
	receiver, got := callbackReceiver(t, s.adapter)
	if _, err := s.adapter.Transfer(ctx(t), transferRequest(agent, receiver.URL)); err != nil {
		t.Fatal(err)
	}
	cb := awaitCallback(t, got)
	if cb.Outcome != "" || cb.TransferID != "tr-0001" || !strings.Contains(cb.Detail, "data, event") {
		t.Errorf("callback = %+v, want no outcome and a detail naming the keys", cb)
	}
}

func TestSandboxRecordsAFailedDeliveryWithoutTheToken(t *testing.T) {
	s := newStack(t, koreaisandbox.Config{})
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	if _, err := s.adapter.Transfer(ctx(t), transferRequest(agent, dead.URL)); err != nil {
		t.Fatal(err)
	}
	s.sandbox.Wait()
	d := s.sandbox.Deliveries()
	if len(d) != 1 || d[0].Status != 0 || d[0].Err == "" {
		t.Fatalf("deliveries = %+v, want one failure", d)
	}
	s.noSecretIn(t, "delivery error", d[0].Err)
}

func TestSandboxCloseDropsPendingCallbacks(t *testing.T) {
	s := newStack(t, koreaisandbox.Config{CallbackDelay: time.Hour})
	var posted atomic.Int64
	receiver := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { posted.Add(1) }))
	defer receiver.Close()
	if _, err := s.adapter.Transfer(ctx(t), transferRequest(agent, receiver.URL)); err != nil {
		t.Fatal(err)
	}
	s.sandbox.Close() // returns at once: the pending callback is dropped, not waited for
	if n := posted.Load(); n != 0 || len(s.sandbox.Deliveries()) != 0 {
		t.Errorf("%d callbacks posted after Close", n)
	}
}

func TestDemoSecretIsAValidTenantSecret(t *testing.T) {
	var creds koreai.Credentials
	if err := vendors.DecodeCredentials("demo/koreai", koreaisandbox.DemoSecret("http://127.0.0.1:4010"), &creds); err != nil {
		t.Fatal(err)
	}
	if creds.StreamID != koreaisandbox.StreamID || creds.ClientID != koreaisandbox.ClientID || !bytes.Contains(koreaisandbox.DemoSecret("x"), []byte(`"callbackSecret"`)) {
		t.Errorf("demo secret %+v does not name the sandbox", creds)
	}
}
