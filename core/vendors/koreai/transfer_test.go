package koreai_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/koreai"
	"handoff/core/vendors/koreai/koreaisandbox"
	"handoff/core/vendors/sandbox"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func wantCode(t *testing.T, err error, want handoff.Code) *handoff.Error {
	t.Helper()
	var e *handoff.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v, want a *handoff.Error with code %s", err, want)
	}
	if e.Code != want {
		t.Fatalf("code = %s (%v), want %s", e.Code, err, want)
	}
	return e
}

// sent returns the assign-conversation requests the sandbox received.
func sent(s *stack) []sandbox.Request {
	var out []sandbox.Request
	for _, r := range s.sandbox.Requests() {
		if strings.HasSuffix(r.Path, "/assign-conversation") {
			out = append(out, r)
		}
	}
	return out
}

func TestTransferSendsAFreshJWTPerCall(t *testing.T) {
	s := newStack(t, koreaisandbox.Config{NoCallbacks: true})
	for i, target := range []handoff.Target{agent, queue} {
		req := transferRequest(target, "http://127.0.0.1:1")
		req.Conversation.ID = []string{"653a06c9aae89c5fbb4e0001", "653a06c9aae89c5fbb4e0002"}[i]
		if _, err := s.adapter.Transfer(ctx(t), req); err != nil {
			t.Fatalf("Transfer to %s: %v", target.Type, err)
		}
	}
	reqs := sent(s)
	if len(reqs) != 2 {
		t.Fatalf("assign-conversation calls = %d, want 2", len(reqs))
	}
	seen := map[string]bool{}
	for _, r := range reqs {
		raw := r.Header.Get("auth")
		if raw == "" || strings.HasPrefix(raw, "Bearer") {
			t.Fatalf("auth header = %.20q, want a bare JWT", raw)
		}
		if got := r.Header.Get("accountid"); got != koreaisandbox.AccountID {
			t.Errorf("accountid = %q, want %q", got, koreaisandbox.AccountID)
		}
		claims := jwt.MapClaims{}
		tok, err := jwt.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return []byte(s.creds.ClientSecret), nil },
			jwt.WithValidMethods([]string{"HS256"}))
		if err != nil || !tok.Valid {
			t.Fatalf("the JWT does not verify with the client secret as HS256: %v", err)
		}
		if claims["appId"] != koreaisandbox.ClientID {
			t.Errorf("appId claim = %v, want the client id", claims["appId"])
		}
		if sub, _ := claims["sub"].(string); sub == "" {
			t.Error("sub claim is empty")
		}
		iat, _ := claims.GetIssuedAt()
		exp, _ := claims.GetExpirationTime()
		if iat == nil || exp == nil || exp.Sub(iat.Time) != 60*time.Second {
			t.Errorf("iat = %v, exp = %v: want a 60 s token", iat, exp)
		}
		jti, _ := claims["jti"].(string)
		if len(jti) < 16 || seen[jti] {
			t.Errorf("jti %q is short or reused", jti)
		}
		seen[jti] = true
	}
}

// keys returns a JSON object's keys, sorted.
func keys(t *testing.T, body []byte) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("not a JSON object: %v", err)
	}
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestTransferBodyIsTheDocumentedOne(t *testing.T) {
	for _, tc := range []struct {
		target  handoff.Target
		example string
		want    map[string]string
	}{
		{agent, "testdata/assign_agent_request.json", map[string]string{"aId": koreaisandbox.AgentID}},
		{queue, "testdata/assign_queue_request.json", map[string]string{"transferredType": "QUEUE", "queueId": koreaisandbox.QueueID}},
	} {
		t.Run(string(tc.target.Type), func(t *testing.T) {
			s := newStack(t, koreaisandbox.Config{NoCallbacks: true})
			if _, err := s.adapter.Transfer(ctx(t), transferRequest(tc.target, "https://handoff.example")); err != nil {
				t.Fatal(err)
			}
			r := sent(s)[0]
			if want := "/agentassist/api/v1/public/" + koreaisandbox.StreamID + "/assign-conversation"; r.Method != http.MethodPost || r.Path != want {
				t.Errorf("%s %s, want POST %s", r.Method, r.Path, want)
			}
			example, err := os.ReadFile(tc.example)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := keys(t, r.Body), keys(t, example); !slices.Equal(got, want) {
				t.Errorf("body keys = %v, the docs' sample has %v", got, want)
			}
			var body map[string]string
			if err := json.Unmarshal(r.Body, &body); err != nil {
				t.Fatal(err)
			}
			tc.want["orgId"], tc.want["botSessionId"] = koreaisandbox.OrgID, conversation.ID
			for k, v := range tc.want {
				if body[k] != v {
					t.Errorf("%s = %q, want %q", k, body[k], v)
				}
			}
		})
	}
}

func TestTransferAwaitsTheCallbackWithTheSessionAsRef(t *testing.T) {
	s := newStack(t, koreaisandbox.Config{NoCallbacks: true})
	res, err := s.adapter.Transfer(ctx(t), transferRequest(agent, "https://handoff.example"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != handoff.OutcomeAwaiting || res.VendorRef != conversation.ID {
		t.Errorf("result = %+v, want awaiting with the session id %s", res, conversation.ID)
	}
}

// signedCallbackURL is the callbackUrl the adapter sent in the only transfer of s.
func signedCallbackURL(t *testing.T, s *stack) *url.URL {
	t.Helper()
	var body struct{ CallbackURL string }
	if err := json.Unmarshal(sent(s)[0].Body, &body); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(body.CallbackURL)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestCallbackURLCarriesAVerifiableToken(t *testing.T) {
	s := newStack(t, koreaisandbox.Config{NoCallbacks: true})
	if _, err := s.adapter.Transfer(ctx(t), transferRequest(agent, "https://handoff.example")); err != nil {
		t.Fatal(err)
	}
	u := signedCallbackURL(t, s)
	q := u.Query()
	if u.Host != "handoff.example" || u.Path != "/callbacks/koreai" || q.Get("tenant") != tenant || q.Get("transfer") != "tr-0001" {
		t.Fatalf("callbackUrl %s/%s?tenant=%s&transfer=%s does not keep our route", u.Host, u.Path, q.Get("tenant"), q.Get("transfer"))
	}
	if got := q.Get("token"); !strings.HasPrefix(got, "h1.") || strings.ContainsAny(got, "=+/%") {
		t.Fatalf("token = %q, want an h1 token of unreserved characters", got)
	}
	sample, _ := os.ReadFile("testdata/callback_agent.json")
	cb, err := s.adapter.ParseCallback(ctx(t), vendors.CallbackRequest{Tenant: tenant, Query: q, Body: sample})
	if err != nil || cb.Outcome != handoff.OutcomeTransferred || cb.TransferID != "tr-0001" {
		t.Fatalf("ParseCallback with the URL we sent = %+v, %v; want transferred for tr-0001", cb, err)
	}

	// The same secret for another tenant must not make the token valid there.
	if err := s.secrets.Put(ctx(t), "acme2", koreai.Vendor, koreaisandbox.DemoSecret(s.server.URL)); err != nil {
		t.Fatal(err)
	}
	tampered := map[string]func(url.Values){
		"tenant":         func(v url.Values) { v.Set("tenant", "acme2") },
		"transfer":       func(v url.Values) { v.Set("transfer", "tr-0002") },
		"token":          func(v url.Values) { v.Set("token", v.Get("token")[:20]+"AAAA"+v.Get("token")[24:]) },
		"no token":       func(v url.Values) { v.Del("token") },
		"two transfers":  func(v url.Values) { v.Add("transfer", "tr-0002") },
		"padded token":   func(v url.Values) { v.Set("token", v.Get("token")+"=") },
		"unknown tenant": func(v url.Values) { v.Set("tenant", "nobody") },
		"token of secret": func(v url.Values) {
			v.Set("token", koreai.CallbackToken("another-secret-0123456789", tenant, "tr-0001", agent, time.Now()))
		},
	}
	for name, tamper := range tampered {
		t.Run(name, func(t *testing.T) {
			v := url.Values{}
			for k, vs := range q {
				v[k] = slices.Clone(vs)
			}
			tamper(v)
			cb, err := s.adapter.ParseCallback(ctx(t), vendors.CallbackRequest{Tenant: v.Get("tenant"), Query: v, Body: sample})
			wantCode(t, err, handoff.CodeUnauthorized)
			if cb != (vendors.Callback{}) {
				t.Errorf("an unauthorized callback returned %+v, want nothing", cb)
			}
		})
	}
}

// TestCallbackURLWithTheTokenInThePath: given a callback URL without a query, the token goes
// in the path, where a platform that drops or re-encodes query strings leaves it intact; it
// alone proves the tenant, the transfer and the attempt.
func TestCallbackURLWithTheTokenInThePath(t *testing.T) {
	s := newStack(t, koreaisandbox.Config{NoCallbacks: true})
	req := transferRequest(agent, "https://handoff.example")
	req.CallbackURL = "https://handoff.example/callbacks/koreai"
	if _, err := s.adapter.Transfer(ctx(t), req); err != nil {
		t.Fatal(err)
	}
	u := signedCallbackURL(t, s)
	token, ok := strings.CutPrefix(u.EscapedPath(), "/callbacks/koreai/")
	if !ok || u.RawQuery != "" || strings.Contains(token, "/") {
		t.Fatalf("callbackUrl %s: want /callbacks/koreai/{token} and no query", u)
	}
	sample, _ := os.ReadFile("testdata/callback_agent.json")
	cb, err := s.adapter.ParseCallback(ctx(t), vendors.CallbackRequest{PathToken: token, Body: sample})
	if err != nil || cb.Outcome != handoff.OutcomeTransferred || cb.TransferID != "tr-0001" || cb.Tenant != tenant || *cb.Target != agent {
		t.Fatalf("ParseCallback with the path token = %+v, %v", cb, err)
	}
}

func TestTransferRefusesABadCallbackURLBeforeAnyCall(t *testing.T) {
	s := newStack(t, koreaisandbox.Config{NoCallbacks: true})
	req := transferRequest(agent, "")
	req.CallbackURL = "/callbacks/koreai?tenant=acme"
	_, err := s.adapter.Transfer(ctx(t), req)
	wantCode(t, err, handoff.CodeConfiguration)
	if n := s.sandbox.TransferCalls(); n != 0 {
		t.Errorf("transfer calls = %d, want 0", n)
	}
}

func TestTransferToTargetsThatCannotTakeIt(t *testing.T) {
	for _, tc := range []struct {
		target handoff.Target
		code   handoff.Code
		vendor string
	}{
		{handoff.Target{Type: handoff.TargetAgent, ID: koreaisandbox.BusyAgentID}, handoff.CodeTargetUnavailable, "AGENT_NOT_AVAILABLE"},
		{handoff.Target{Type: handoff.TargetAgent, ID: koreaisandbox.OfflineAgentID}, handoff.CodeTargetUnavailable, "AGENT_NOT_AVAILABLE"},
		{handoff.Target{Type: handoff.TargetQueue, ID: koreaisandbox.ClosedQueueID}, handoff.CodeTargetUnavailable, "QUEUE_NOT_AVAILABLE"},
		{handoff.Target{Type: handoff.TargetAgent, ID: "a-00000000-0000-0000-0000-000000000000"}, handoff.CodeVendorRejected, "AGENT_NOT_FOUND"},
		{handoff.Target{Type: handoff.TargetQueue, ID: "qu-0000000-0000-0000-0000-000000000000"}, handoff.CodeVendorRejected, "QUEUE_NOT_FOUND"},
	} {
		t.Run(tc.target.ID, func(t *testing.T) {
			s := newStack(t, koreaisandbox.Config{NoCallbacks: true})
			_, err := s.adapter.Transfer(ctx(t), transferRequest(tc.target, "https://handoff.example"))
			if e := wantCode(t, err, tc.code); e.VendorCode != tc.vendor {
				t.Errorf("vendor code = %q, want %q", e.VendorCode, tc.vendor)
			}
			if s.sandbox.TransferCalls() != 1 {
				t.Errorf("transfer calls = %d, want 1", s.sandbox.TransferCalls())
			}
		})
	}
}

func TestReconcileTakesAlreadyAssignedAsOurs(t *testing.T) {
	s := newStack(t, koreaisandbox.Config{NoCallbacks: true})
	first := transferRequest(agent, "https://handoff.example")
	if _, err := s.adapter.Transfer(ctx(t), first); err != nil {
		t.Fatal(err)
	}
	_, err := s.adapter.Transfer(ctx(t), first)
	if e := wantCode(t, err, handoff.CodeVendorRejected); e.VendorCode != "ALREADY_ASSIGNED" {
		t.Errorf("without Reconcile: vendor code %q, want ALREADY_ASSIGNED", e.VendorCode)
	}
	first.Reconcile = true
	res, err := s.adapter.Transfer(ctx(t), first)
	if err != nil || res.Outcome != handoff.OutcomeAwaiting || res.VendorCode != "ALREADY_ASSIGNED" {
		t.Errorf("with Reconcile: %+v, %v; want awaiting the earlier attempt's callback", res, err)
	}
}

// rotatingSecrets serves an outdated secret until it is invalidated, as a cache holding the
// secret from before a rotation does.
type rotatingSecrets struct {
	mu                sync.Mutex
	current, next     []byte
	gets, invalidates int
}

func (r *rotatingSecrets) Get(context.Context, string, string) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gets++
	return r.current, nil
}

func (r *rotatingSecrets) Invalidate(string, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.invalidates++
	r.current = r.next
}

func (r *rotatingSecrets) Put(context.Context, string, string, []byte) error { return nil }

func TestRotatedClientSecretIsRefetchedOnce(t *testing.T) {
	s := newStack(t, koreaisandbox.Config{NoCallbacks: true})
	var stale map[string]string
	_ = json.Unmarshal(koreaisandbox.DemoSecret(s.server.URL), &stale)
	stale["clientSecret"] = "the-secret-before-rotation"
	staleJSON, _ := json.Marshal(stale)
	secrets := &rotatingSecrets{current: staleJSON, next: koreaisandbox.DemoSecret(s.server.URL)}
	adapter := koreai.New(vendors.Deps{Secrets: secrets, HTTP: restClient(s), Log: discard()})

	if _, err := adapter.Transfer(ctx(t), transferRequest(agent, "https://handoff.example")); err != nil {
		t.Fatalf("Transfer after a rotation: %v", err)
	}
	if secrets.invalidates != 1 || secrets.gets != 2 || s.sandbox.TransferCalls() != 2 {
		t.Errorf("invalidates = %d, gets = %d, calls = %d; want 1, 2, 2", secrets.invalidates, secrets.gets, s.sandbox.TransferCalls())
	}
}

func TestRefusedCredentialsAreRefetchedOnceOnly(t *testing.T) {
	s := newStack(t, koreaisandbox.Config{NoCallbacks: true})
	s.sandbox.Inject(sandbox.Fault{Kind: sandbox.AuthRejected}, 0)
	_, err := s.adapter.Transfer(ctx(t), transferRequest(agent, "https://handoff.example"))
	wantCode(t, err, handoff.CodeVendorAuthFailed)
	if s.secrets.Invalidates != 1 || s.sandbox.TransferCalls() != 2 {
		t.Errorf("invalidates = %d, calls = %d; want 1 and 2", s.secrets.Invalidates, s.sandbox.TransferCalls())
	}
	s.noSecretIn(t, "error", err.Error())
	s.noSecretIn(t, "logs", s.logs.String())
}

func TestUnknownTenantIsNotAVendorCall(t *testing.T) {
	s := newStack(t, koreaisandbox.Config{NoCallbacks: true})
	req := transferRequest(agent, "https://handoff.example")
	req.Tenant = "nobody"
	_, err := s.adapter.Transfer(ctx(t), req)
	wantCode(t, err, handoff.CodeUnknownTenant)
	if s.sandbox.TransferCalls() != 0 {
		t.Error("a call was made without credentials")
	}
}

func TestNoCredentialInLogsOrErrors(t *testing.T) {
	s := newStack(t, koreaisandbox.Config{NoCallbacks: true})
	var texts []string
	record := func(err error) {
		if err != nil {
			texts = append(texts, err.Error())
		}
	}
	_, err := s.adapter.Transfer(ctx(t), transferRequest(agent, "https://handoff.example"))
	record(err)
	for _, f := range []sandbox.Fault{
		{Kind: sandbox.AuthExpired}, {Kind: sandbox.VendorError, VendorCode: "BAD_REQUEST"},
		{Kind: sandbox.ServerError}, {Kind: sandbox.Malformed}, {Kind: sandbox.RateLimited, RetryAfter: time.Hour},
	} {
		s.sandbox.Inject(f, 1)
		req := transferRequest(queue, "https://handoff.example")
		req.Conversation.ID = "653a06c9aae89c5fbb4e0009"
		_, err := s.adapter.Transfer(ctx(t), req)
		record(err)
	}
	u := signedCallbackURL(t, s)
	forged := u.Query()
	forged.Set("token", "forged")
	_, err = s.adapter.ParseCallback(ctx(t), vendors.CallbackRequest{Tenant: tenant, Query: forged, Body: []byte(`{}`)})
	record(err)
	_, err = s.adapter.ParseCallback(ctx(t), vendors.CallbackRequest{Tenant: tenant, Query: u.Query(), Body: []byte(`nope`)})
	record(err)
	if len(texts) < 5 {
		t.Fatalf("only %d errors collected; the faults did not fail", len(texts))
	}
	texts = append(texts, s.logs.String())
	for _, text := range texts {
		s.noSecretIn(t, "error or log", text)
	}
}
