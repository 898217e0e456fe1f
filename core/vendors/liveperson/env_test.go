package liveperson_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/liveperson"
	"handoff/core/vendors/liveperson/livepersonsandbox"
	"handoff/core/vendors/rest"
	"handoff/core/vendors/sandbox"
	"handoff/core/vendors/vendortest"
)

const tenant = "acme"

// env is a sandbox served over HTTP and an adapter configured against it.
type env struct {
	sb      *livepersonsandbox.Sandbox
	srv     *httptest.Server
	adapter *liveperson.Adapter
	secrets *vendortest.Secrets
	logs    *bytes.Buffer // slog's handler serialises its writes
	offset  atomic.Int64  // added to the adapter's clock
	pauses  pauses        // what the adapter waited, in order
}

// pauses records the adapter's waits; each moves its clock instead of sleeping.
type pauses struct {
	mu   sync.Mutex
	list []time.Duration
}

func (p *pauses) get() []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.list)
}

// newEnv starts a sandbox with cfg; wrap, when set, stands in front of it (to answer some
// calls with recorded payloads). The tenant's secret is the demo one. The bot holds chat-0 to
// chat-29 besides the demo chats.
func newEnv(t *testing.T, cfg livepersonsandbox.Config, wrap func(http.Handler) http.Handler) *env {
	t.Helper()
	for i := range 30 {
		cfg.BotChats = append(cfg.BotChats, fmt.Sprintf("chat-%d", i))
	}
	e := &env{sb: livepersonsandbox.New(cfg), logs: &bytes.Buffer{}}
	var h http.Handler = e.sb
	if wrap != nil {
		h = wrap(h)
	}
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	e.secrets = vendortest.NewSecrets(tenant, liveperson.Vendor, livepersonsandbox.DemoSecret(e.srv.URL))
	e.adapter = liveperson.NewWithOptions(vendors.Deps{
		Secrets: e.secrets,
		HTTP:    rest.New(e.srv.Client(), rest.WithBackoff(5*time.Millisecond)),
		Log:     slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:     func() time.Time { return time.Now().Add(time.Duration(e.offset.Load())) },
	}, liveperson.Options{Sleep: func(ctx context.Context, d time.Duration) error {
		e.pauses.mu.Lock()
		e.pauses.list = append(e.pauses.list, d)
		e.pauses.mu.Unlock()
		e.offset.Add(int64(d))
		return ctx.Err()
	}})
	return e
}

// setSecret replaces the tenant's secret (before the first call, or to rotate it).
func (e *env) setSecret(t *testing.T, creds liveperson.Credentials) {
	t.Helper()
	if creds.BaseURL == "" {
		creds.BaseURL = e.srv.URL
	}
	b := mustJSON(t, creds)
	if err := e.secrets.Put(context.Background(), tenant, liveperson.Vendor, b); err != nil {
		t.Fatal(err)
	}
}

func (e *env) transfer(t *testing.T, chatID string, target handoff.Target) (vendors.TransferResult, error) {
	t.Helper()
	return e.adapter.Transfer(testCtx(t), request(chatID, target))
}

// count counts recorded requests by method whose path ends with suffix.
func (e *env) count(method, suffix string) int {
	n := 0
	for _, r := range e.sb.Requests() {
		if r.Method == method && strings.HasSuffix(r.Path, suffix) {
			n++
		}
	}
	return n
}

func request(chatID string, target handoff.Target) vendors.TransferRequest {
	return vendors.TransferRequest{Tenant: tenant, TransferID: "tr-1", Conversation: handoff.Conversation{ID: chatID},
		Target: target, Note: "I think this person needs some help from you."}
}

func skillTarget(id string) handoff.Target { return handoff.Target{Type: handoff.TargetSkill, ID: id} }
func agentTarget(id string) handoff.Target { return handoff.Target{Type: handoff.TargetAgent, ID: id} }

func testCtx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func testdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// answerSkills answers Retrieve Available Skills with body and passes everything else on.
func answerSkills(body []byte) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/transfer") {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(body)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func wantCode(t *testing.T, err error, code handoff.Code, vendorCode string) *handoff.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s", code)
	}
	e := handoff.AsError(err)
	if e.Code != code {
		t.Fatalf("code = %s (%v), want %s", e.Code, err, code)
	}
	if vendorCode != "" && e.VendorCode != vendorCode {
		t.Errorf("vendor code = %q (%v), want %q", e.VendorCode, err, vendorCode)
	}
	return e
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func vendorFault(code string) sandbox.Fault {
	return sandbox.Fault{Kind: sandbox.VendorError, VendorCode: code}
}
