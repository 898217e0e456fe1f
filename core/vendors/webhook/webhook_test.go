package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/rest"
	"handoff/core/vendors/sandbox"
	"handoff/core/vendors/vendortest"
	"handoff/core/vendors/webhook"
	"handoff/core/vendors/webhook/webhooksandbox"
)

const (
	tenant = "acme"
	// secretPath is a receiver path holding a secret code, as real webhook URLs often do.
	secretPath = "/hooks/acme/whk-s3cr3t-c0de-7f2a9c"
)

type fixture struct {
	sb      *webhooksandbox.Sandbox
	srv     *httptest.Server
	adapter *webhook.Adapter
	secrets *vendortest.Secrets
	logs    *bytes.Buffer
	url     string
}

func newFixture(t *testing.T, cfg webhooksandbox.Config, now func() time.Time) *fixture {
	t.Helper()
	if cfg.Path == "" {
		cfg.Path = secretPath
	}
	f := &fixture{sb: webhooksandbox.New(cfg), logs: &bytes.Buffer{}}
	f.srv = httptest.NewServer(f.sb)
	t.Cleanup(f.srv.Close)
	f.url = f.srv.URL + cfg.Path
	secret, _ := json.Marshal(map[string]string{"url": f.url, "signingSecret": webhooksandbox.DemoSigningSecret})
	f.secrets = vendortest.NewSecrets(tenant, webhook.VendorKey, secret)
	f.adapter = webhook.New(vendors.Deps{
		Secrets: f.secrets,
		HTTP:    rest.New(f.srv.Client(), rest.WithBackoff(5*time.Millisecond)),
		Log:     slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:     now,
	})
	return f
}

// secretValues are what must never show in an error or a log line.
func secretValues(f *fixture) []string {
	return []string{webhooksandbox.DemoSigningSecret, strings.TrimPrefix(webhooksandbox.DemoSigningSecret, "whsec_"),
		"whk-s3cr3t-c0de-7f2a9c", f.url}
}

func TestConformance(t *testing.T) {
	var cases []vendortest.ErrorCase
	for _, c := range []struct {
		status int
		want   handoff.Code
	}{
		{400, handoff.CodeVendorRejected}, {401, handoff.CodeVendorAuthFailed}, {403, handoff.CodeVendorAuthFailed},
		{404, handoff.CodeVendorRejected}, {408, handoff.CodeVendorTimeout}, {409, handoff.CodeVendorRejected},
		{410, handoff.CodeVendorRejected}, {413, handoff.CodeVendorRejected}, {422, handoff.CodeVendorRejected},
		{429, handoff.CodeRateLimited}, {500, handoff.CodeVendorUnavailable}, {502, handoff.CodeVendorUnavailable},
		{503, handoff.CodeVendorUnavailable}, {504, handoff.CodeVendorTimeout},
	} {
		cases = append(cases, vendortest.ErrorCase{VendorCode: strconv.Itoa(c.status), Want: c.want})
	}
	vendortest.RunAcker(t, vendortest.AckHarness{
		Setup: func(t *testing.T) vendortest.AckSetup {
			f := newFixture(t, webhooksandbox.Config{}, nil)
			return vendortest.AckSetup{Acker: f.adapter, Sandbox: f.sb, Secrets: secretValues(f), Logs: f.logs}
		},
		Tenant: tenant,
		Bot:    handoff.Bot{Vendor: webhook.VendorKey, SessionID: "bot-session-0001"},
		Errors: cases,
	})
}

func transfer(status handoff.Status, seq int64) handoff.Transfer {
	at := time.Date(2024, 4, 5, 19, 34, 38, 901e6, time.UTC)
	target := handoff.Target{Type: handoff.TargetAgent, ID: "a-220172c-856e-4db6-a2d1-d4c2dabe0001"}
	return handoff.Transfer{
		ID: "tr-0001", Tenant: tenant, Vendor: "koreai", Status: status,
		Conversation: handoff.Conversation{ID: "653a06c9aae89c5fbb4e0001"},
		Target:       target,
		Attempts:     []handoff.Attempt{{Target: target, Outcome: handoff.OutcomeTransferred, At: at}},
		Ack:          handoff.Ack{Status: handoff.AckPending, SequenceID: seq},
		Bot:          &handoff.Bot{Vendor: webhook.VendorKey, SessionID: "bot-session-0001"},
		Metadata:     json.RawMessage(`{"orderId":"A-17"}`),
		CreatedAt:    at.Add(-time.Minute), UpdatedAt: at,
	}
}

func testCtx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestDeliveryIsTheSignedTransferResource(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	f := newFixture(t, webhooksandbox.Config{}, func() time.Time { return now })
	tr := transfer(handoff.StatusTransferred, 1712345678901)
	if err := errOf(f.adapter.Ack(testCtx(t), tr)); err != nil {
		t.Fatal(err)
	}
	reqs := f.sb.Requests()
	if len(reqs) != 1 {
		t.Fatalf("requests = %d, want 1", len(reqs))
	}
	r := reqs[0]
	want, _ := json.Marshal(tr)
	if !bytes.Equal(r.Body, want) {
		t.Errorf("body\n got %s\nwant %s", r.Body, want)
	}
	if got := r.Header.Get("webhook-timestamp"); got != strconv.FormatInt(now.Unix(), 10) {
		t.Errorf("webhook-timestamp = %q, want %d", got, now.Unix())
	}
	if r.Header.Get("Content-Type") != "application/json" || !strings.HasPrefix(r.Header.Get("webhook-id"), "msg_") {
		t.Errorf("headers = %v", r.Header)
	}
	// A receiver of its own, with nothing of ours but the secret, accepts it.
	if err := webhook.Verify(webhooksandbox.DemoSigningSecret, r.Header, r.Body, now); err != nil {
		t.Errorf("Verify: %v", err)
	}
	d := f.sb.Deliveries()
	if len(d) != 1 || d[0].Transfer.ID != tr.ID || d[0].Transfer.Status != handoff.StatusTransferred {
		t.Errorf("deliveries = %+v", d)
	}
}

func TestRetriesShareTheIDButAreSignedAnew(t *testing.T) {
	var mu sync.Mutex
	now := time.Now().Truncate(time.Second)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	f := newFixture(t, webhooksandbox.Config{}, clock)
	tr := transfer(handoff.StatusFailed, 1712345678902)
	if err := errOf(f.adapter.Ack(testCtx(t), tr)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(90 * time.Second)
	mu.Unlock()
	if err := errOf(f.adapter.Ack(testCtx(t), tr)); err != nil {
		t.Fatal(err)
	}
	reqs := f.sb.Requests()
	if reqs[0].Header.Get("webhook-id") != reqs[1].Header.Get("webhook-id") {
		t.Error("the retry carried another webhook-id")
	}
	if reqs[0].Header.Get("webhook-timestamp") == reqs[1].Header.Get("webhook-timestamp") {
		t.Error("the retry reused the first timestamp: a late retry would fall out of the replay window")
	}
	if got := len(f.sb.Deliveries()); got != 1 {
		t.Errorf("deliveries = %d, want 1: the receiver drops the repeat by webhook-id", got)
	}
}

func TestAResendWithinOneAckIsSignedAnew(t *testing.T) {
	var mu sync.Mutex
	tick := time.Now().Truncate(time.Second)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); tick = tick.Add(10 * time.Second); return tick }
	f := newFixture(t, webhooksandbox.Config{Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return tick }}, clock)
	f.sb.Inject(sandbox.Fault{Kind: sandbox.Unavailable}, 1)
	if err := errOf(f.adapter.Ack(testCtx(t), transfer(handoff.StatusTransferred, 1))); err != nil {
		t.Fatal(err)
	}
	reqs := f.sb.Requests()
	if len(reqs) != 2 {
		t.Fatalf("requests = %d, want 2 (a 503, then the resend)", len(reqs))
	}
	if reqs[0].Header.Get("webhook-id") != reqs[1].Header.Get("webhook-id") ||
		reqs[0].Header.Get("webhook-timestamp") == reqs[1].Header.Get("webhook-timestamp") {
		t.Errorf("resend headers %v then %v, want the same id with a new timestamp", reqs[0].Header, reqs[1].Header)
	}
}

func TestZeroSequenceIDStillGivesAStableID(t *testing.T) {
	f := newFixture(t, webhooksandbox.Config{}, nil)
	tr := transfer(handoff.StatusFailed, 0)
	for range 2 {
		if err := errOf(f.adapter.Ack(testCtx(t), tr)); err != nil {
			t.Fatal(err)
		}
	}
	other := tr
	other.UpdatedAt = tr.UpdatedAt.Add(time.Second)
	if err := errOf(f.adapter.Ack(testCtx(t), other)); err != nil {
		t.Fatal(err)
	}
	keys := f.sb.AckKeys()
	if keys[0] != keys[1] || keys[0] == keys[2] {
		t.Errorf("webhook-ids = %q, want the first two equal and the third different", keys)
	}
}

// rotatingSecrets serves the old signing secret until it is invalidated, then the new one, as
// a cache does when the secret was rotated in Secrets Manager.
type rotatingSecrets struct {
	mu               sync.Mutex
	current, rotated []byte
	invalidates      int
}

func (s *rotatingSecrets) Get(context.Context, string, string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current, nil
}

func (s *rotatingSecrets) Invalidate(string, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.invalidates++
	s.current = s.rotated
}

func (s *rotatingSecrets) Put(context.Context, string, string, []byte) error { return nil }

func TestRefusedSignatureRereadsTheSecret(t *testing.T) {
	const newSecret = "whsec_bmV3LXNpZ25pbmcta2V5LWFmdGVyLXJvdGF0aW9uISE="
	sb := webhooksandbox.New(webhooksandbox.Config{SigningSecret: newSecret})
	srv := httptest.NewServer(sb)
	defer srv.Close()
	secret := func(s string) []byte {
		b, _ := json.Marshal(map[string]string{"url": srv.URL + webhooksandbox.DemoPath, "signingSecret": s})
		return b
	}
	store := &rotatingSecrets{current: secret(webhooksandbox.DemoSigningSecret), rotated: secret(newSecret)}
	a := webhook.New(vendors.Deps{Secrets: store, HTTP: rest.New(srv.Client())})
	if err := errOf(a.Ack(testCtx(t), transfer(handoff.StatusTransferred, 1))); err != nil {
		t.Fatalf("Ack across a secret rotation: %v", err)
	}
	if store.invalidates != 1 || sb.AckCalls() != 2 || len(sb.Deliveries()) != 1 {
		t.Errorf("invalidates %d, calls %d, deliveries %d; want 1, 2, 1", store.invalidates, sb.AckCalls(), len(sb.Deliveries()))
	}
}

func TestTransportErrorsDoNotShowTheURL(t *testing.T) {
	f := newFixture(t, webhooksandbox.Config{}, nil)
	f.srv.Close() // connection refused, with the URL in Go's error
	err := errOf(f.adapter.Ack(testCtx(t), transfer(handoff.StatusTransferred, 1)))
	if !handoff.Retryable(err) {
		t.Fatalf("Ack to a closed receiver = %v, want a retryable error", err)
	}
	text := err.Error() + f.logs.String()
	for _, s := range secretValues(f) {
		if strings.Contains(text, s) {
			t.Errorf("a credential leaked: %q", text)
		}
	}
}

func TestSandboxRefuses(t *testing.T) {
	f := newFixture(t, webhooksandbox.Config{}, nil)
	body, _ := json.Marshal(transfer(handoff.StatusTransferred, 1))
	sign := func(id string, ts int64, b []byte) string {
		s, err := webhook.Sign(webhooksandbox.DemoSigningSecret, id, ts, b)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	now := time.Now().Unix()
	pending, _ := json.Marshal(transfer(handoff.StatusPending, 1))
	extra := append(bytes.TrimSuffix(append([]byte(nil), body...), []byte("}")), []byte(`,"secretField":1}`)...)
	tests := []struct {
		name   string
		path   string
		body   []byte
		id     string
		ts     int64
		sig    string
		status int
	}{
		{"valid", secretPath, body, "msg_1", now, sign("msg_1", now, body), 200},
		{"wrong path", "/hooks/other", body, "msg_1", now, sign("msg_1", now, body), 404},
		{"bad signature", secretPath, body, "msg_1", now, sign("msg_2", now, body), 401},
		{"stale timestamp", secretPath, body, "msg_1", now - 600, sign("msg_1", now-600, body), 401},
		{"no signature", secretPath, body, "msg_1", now, "", 400},
		{"not final", secretPath, pending, "msg_1", now, sign("msg_1", now, pending), 422},
		{"unknown field", secretPath, extra, "msg_1", now, sign("msg_1", now, extra), 422},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest(http.MethodPost, f.srv.URL+tc.path, bytes.NewReader(tc.body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("webhook-id", tc.id)
		req.Header.Set("webhook-timestamp", strconv.FormatInt(tc.ts, 10))
		if tc.sig != "" {
			req.Header.Set("webhook-signature", tc.sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.status)
		}
	}
}

func TestDemoSecretWorks(t *testing.T) {
	sb := webhooksandbox.New(webhooksandbox.Config{})
	srv := httptest.NewServer(sb)
	defer srv.Close()
	a := webhook.New(vendors.Deps{Secrets: vendortest.NewSecrets(tenant, webhook.VendorKey, webhooksandbox.DemoSecret(srv.URL)),
		HTTP: rest.New(srv.Client())})
	if err := errOf(a.Ack(testCtx(t), transfer(handoff.StatusTransferred, 1))); err != nil {
		t.Fatal(err)
	}
	if len(sb.Deliveries()) != 1 {
		t.Error("the demo sandbox recorded no delivery")
	}
}

// errOf keeps the error of an Ack, for the tests that look only at it.
func errOf(_ vendors.AckResult, err error) error { return err }
