package koreai_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/koreai"
	"handoff/core/vendors/koreai/koreaisandbox"
	"handoff/core/vendors/rest"
	"handoff/core/vendors/vendortest"
)

const tenant = "acme"

var (
	agent        = handoff.Target{Type: handoff.TargetAgent, ID: koreaisandbox.AgentID}
	queue        = handoff.Target{Type: handoff.TargetQueue, ID: koreaisandbox.QueueID}
	conversation = handoff.Conversation{ID: koreaisandbox.ConversationID}
)

// stack is a sandbox served over HTTP and an adapter configured against it.
type stack struct {
	adapter *koreai.Adapter
	sandbox *koreaisandbox.Sandbox
	server  *httptest.Server
	secrets *vendortest.Secrets
	creds   koreai.Credentials
	logs    *bytes.Buffer
}

func newStack(t *testing.T, cfg koreaisandbox.Config) *stack {
	t.Helper()
	sb := koreaisandbox.New(cfg)
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	t.Cleanup(sb.Close) // runs first: no callback outlives the test
	secret := koreaisandbox.DemoSecret(srv.URL)
	var creds koreai.Credentials
	if err := json.Unmarshal(secret, &creds); err != nil {
		t.Fatal(err)
	}
	secrets := vendortest.NewSecrets(tenant, koreai.Vendor, secret)
	logs := &bytes.Buffer{}
	adapter := koreai.New(vendors.Deps{
		Secrets: secrets,
		HTTP:    rest.New(srv.Client(), rest.WithBackoff(5*time.Millisecond)),
		Log:     slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:     time.Now,
	})
	return &stack{adapter: adapter, sandbox: sb, server: srv, secrets: secrets, creds: creds, logs: logs}
}

// transferRequest is one attempt at target, with a callback URL on addr (nothing listens there
// unless the test says so).
func transferRequest(target handoff.Target, callbackBase string) vendors.TransferRequest {
	return vendors.TransferRequest{
		Tenant:       tenant,
		TransferID:   "tr-0001",
		Conversation: conversation,
		Target:       target,
		CallbackURL:  callbackBase + "/callbacks/koreai?tenant=" + tenant + "&transfer=tr-0001",
	}
}

func TestConformance(t *testing.T) {
	queueTarget := queue
	vendortest.Run(t, vendortest.Harness{
		Setup: func(t *testing.T) vendortest.Setup {
			// The suite's callback URL leads nowhere: the sandbox must not post to it.
			s := newStack(t, koreaisandbox.Config{NoCallbacks: true})
			return vendortest.Setup{
				Transferer: s.adapter,
				Sandbox:    s.sandbox,
				Secrets:    []string{s.creds.ClientSecret, s.creds.CallbackSecret},
				Logs:       s.logs,
			}
		},
		Tenant:       tenant,
		Conversation: conversation,
		Targets:      []handoff.Target{agent, queue},
		Unsupported:  []handoff.TargetType{handoff.TargetSkill, handoff.TargetNext},
		Async:        true,
		// The docs' success sample is written with unquoted keys: not strict JSON.
		AnySuccessBody: true,
		Errors: []vendortest.ErrorCase{
			{VendorCode: "BAD_REQUEST", Want: handoff.CodeVendorRejected},
			{VendorCode: "NOT_FOUND", Want: handoff.CodeVendorRejected},
			{VendorCode: "AGENT_NOT_FOUND", Want: handoff.CodeVendorRejected},
			{VendorCode: "QUEUE_NOT_FOUND", Want: handoff.CodeVendorRejected, Target: &queueTarget},
			// The sandbox's (invented) codes decide nothing: the target is available by Kore's
			// availability API, so the refusal stays a refusal. TestTransferToTargetsThatCannotTakeIt
			// covers targets that are not.
			{VendorCode: "AGENT_NOT_AVAILABLE", Want: handoff.CodeVendorRejected},
			{VendorCode: "QUEUE_NOT_AVAILABLE", Want: handoff.CodeVendorRejected, Target: &queueTarget},
			{VendorCode: "ALREADY_ASSIGNED", Want: handoff.CodeVendorRejected},
			{VendorCode: "CONFLICT", Want: handoff.CodeVendorRejected},
			{VendorCode: "UNPROCESSABLE", Want: handoff.CodeVendorRejected},
			{VendorCode: "RATE_LIMIT_EXCEEDED", Want: handoff.CodeRateLimited},
			{VendorCode: "UNAUTHORIZED", Want: handoff.CodeVendorAuthFailed},
			{VendorCode: "FORBIDDEN", Want: handoff.CodeVendorAuthFailed},
			{VendorCode: "INTERNAL_SERVER_ERROR", Want: handoff.CodeVendorUnavailable},
			{VendorCode: "SERVICE_UNAVAILABLE", Want: handoff.CodeVendorUnavailable},
		},
	})
}

// noSecretIn fails when text holds one of the stack's credentials or any token sent to the
// sandbox (JWTs and callback tokens are credentials too).
func (s *stack) noSecretIn(t *testing.T, what, text string) {
	t.Helper()
	secrets := []string{s.creds.ClientSecret, s.creds.CallbackSecret}
	for _, r := range s.sandbox.Requests() {
		if jwt := r.Header.Get("auth"); jwt != "" {
			secrets = append(secrets, jwt, strings.Split(jwt, ".")[2])
		}
		var body struct{ CallbackURL string }
		if json.Unmarshal(r.Body, &body) == nil && body.CallbackURL != "" {
			if u, err := url.Parse(body.CallbackURL); err == nil {
				secrets = append(secrets, u.Query().Get("token"))
			}
		}
	}
	for _, secret := range secrets {
		if secret != "" && strings.Contains(text, secret) {
			t.Errorf("%s holds a credential: %.200q", what, text)
		}
	}
}

func restClient(s *stack) *rest.Client {
	return rest.New(s.server.Client(), rest.WithBackoff(5*time.Millisecond))
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func newSecrets(secret []byte) *vendortest.Secrets {
	return vendortest.NewSecrets(tenant, koreai.Vendor, secret)
}

// mustField reads one string field of a secret's JSON.
func mustField(t testing.TB, secret []byte, field string) string {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal(secret, &m); err != nil || m[field] == "" {
		t.Fatalf("secret has no %s", field)
	}
	return m[field]
}

// withField returns the secret JSON with one field set.
func withField(t testing.TB, secret []byte, field, value string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(secret, &m); err != nil {
		t.Fatal(err)
	}
	m[field] = value
	out, _ := json.Marshal(m)
	return out
}
