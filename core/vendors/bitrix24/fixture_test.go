package bitrix24_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"handoff/core/vendors"
	"handoff/core/vendors/bitrix24"
	"handoff/core/vendors/bitrix24/bitrix24sandbox"
	"handoff/core/vendors/rest"
	"handoff/core/vendors/vendortest"
)

const tenant = "acme"

// fixture is a sandbox behind an httptest server and an adapter configured against it.
type fixture struct {
	sandbox *bitrix24sandbox.Sandbox
	server  *httptest.Server
	secrets *vendortest.Secrets
	adapter *bitrix24.Adapter
	logs    *bytes.Buffer
}

type mode string

const (
	oauthMode   mode = "oauth"
	webhookMode mode = "webhook"
)

// newFixture starts a default sandbox. wrap, when set, stands between the server and the sandbox.
func newFixture(t *testing.T, m mode, wrap func(*bitrix24sandbox.Sandbox) http.Handler) *fixture {
	t.Helper()
	return newFixtureWith(t, bitrix24sandbox.Config{}, m, wrap)
}

// newFixtureWith is newFixture with a sandbox built from cfg.
func newFixtureWith(t *testing.T, cfg bitrix24sandbox.Config, m mode, wrap func(*bitrix24sandbox.Sandbox) http.Handler) *fixture {
	t.Helper()
	sb := bitrix24sandbox.New(cfg)
	var h http.Handler = sb
	if wrap != nil {
		h = wrap(sb)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	secret := bitrix24sandbox.DemoSecret(srv.URL)
	if m == webhookMode {
		secret = bitrix24sandbox.DemoWebhookSecret(srv.URL)
	}
	f := &fixture{sandbox: sb, server: srv, secrets: vendortest.NewSecrets(tenant, "bitrix24", secret), logs: &bytes.Buffer{}}
	f.adapter = bitrix24.New(f.deps(f.secrets))
	return f
}

func (f *fixture) deps(s vendors.Secrets) vendors.Deps {
	return vendors.Deps{
		Secrets: s,
		HTTP:    rest.New(f.server.Client(), rest.WithBackoff(5*time.Millisecond)),
		Log:     newLogger(f.logs),
		Now:     time.Now,
	}
}

// newLogger logs everything, so a leak at any level shows.
func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// secretValues are every credential of the default sandbox: none may reach a log or an error.
// Rotated tokens start with the first ones, so watching those catches them too.
func secretValues(t *testing.T) []string {
	t.Helper()
	var oauth, hook map[string]string
	if err := json.Unmarshal(bitrix24sandbox.DemoSecret("http://127.0.0.1:1"), &oauth); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(bitrix24sandbox.DemoWebhookSecret("http://127.0.0.1:1"), &hook); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(hook["webhookUrl"])
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/") // rest, userId, code
	return []string{
		parts[2], hook["botClientId"], hook["applicationToken"],
		oauth["accessToken"], oauth["refreshToken"], oauth["appClientSecret"],
	}
}

// assertNoSecrets fails when any credential appears in text.
func assertNoSecrets(t *testing.T, text string) {
	t.Helper()
	for _, s := range secretValues(t) {
		if strings.Contains(text, s) {
			t.Errorf("a credential leaked: %.300q", text)
		}
	}
}

// bodyOf decodes a recorded JSON request body.
func bodyOf(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("request body is not JSON: %v", err)
	}
	return m
}
