package liveperson_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/liveperson"
	"handoff/core/vendors/liveperson/livepersonsandbox"
	"handoff/core/vendors/rest"
	"handoff/core/vendors/vendortest"
)

// The fuzz targets put one LivePerson answer each — the login's, the agent session's, Retrieve
// Available Skills', Transfer a Chat's — in the fuzzer's hands; the sandbox answers every other
// request, in process (no sockets, no sleeps: the retry policy's pauses are skipped).

const fuzzBase = "http://127.0.0.1:1"

// fuzzServer answers the requests match selects with the fuzzed answer, the others with the
// sandbox, and keeps every request's URL.
type fuzzServer struct {
	sandbox http.Handler
	match   func(*http.Request) bool
	status  int
	header  http.Header
	body    []byte
	urls    []*url.URL
	matched int
}

func (f *fuzzServer) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		defer r.Body.Close()
	}
	f.urls = append(f.urls, r.URL)
	if f.match(r) {
		f.matched++
		return &http.Response{StatusCode: f.status, Header: f.header.Clone(), Body: io.NopCloser(bytes.NewReader(f.body)), Request: r}, nil
	}
	rec := httptest.NewRecorder()
	f.sandbox.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// run builds an adapter over a fuzzed server answering match with (status 100-599, Retry-After,
// body), and checks what every answer must leave true: requests only to the tenant's origin and
// account, an error only of our codes, with a bounded wait and no credential.
func run(t *testing.T, match func(*http.Request) bool, status uint16, retryAfter string, body []byte,
	do func(*liveperson.Adapter) error) *fuzzServer {
	t.Helper()
	srv := &fuzzServer{sandbox: livepersonsandbox.New(livepersonsandbox.Config{}), match: match,
		status: 100 + int(status)%500, header: http.Header{"Content-Type": {"application/json"}}, body: body}
	if retryAfter != "" {
		srv.header.Set("Retry-After", retryAfter)
	}
	hc := &http.Client{Transport: srv, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	a := liveperson.NewWithOptions(vendors.Deps{
		Secrets: vendortest.NewSecrets(tenant, liveperson.Vendor, livepersonsandbox.DemoSecret(fuzzBase)),
		HTTP:    rest.New(hc, rest.WithBackoff(0), rest.WithMaxWait(0)),
		Log:     slog.New(slog.DiscardHandler), Now: time.Now,
	}, liveperson.Options{Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }})
	err := do(a)
	if err != nil {
		var e *handoff.Error
		if !errors.As(err, &e) || e.Code == handoff.CodeInternal || e.Code == "" {
			t.Fatalf("error %v is not a coded *handoff.Error", err)
		}
		if e.RetryAfter < 0 || e.RetryAfter > time.Hour || len(e.VendorCode) > 64 {
			t.Fatalf("error %+v: wait or vendor code out of bounds", e)
		}
		if strings.Contains(err.Error(), livepersonsandbox.DemoPassword) {
			t.Fatalf("the password reached the error: %v", err)
		}
	}
	prefix := "/api/account/" + livepersonsandbox.DemoAccountID + "/"
	for _, u := range srv.urls {
		if u.Scheme+"://"+u.Host != fuzzBase || !strings.HasPrefix(u.EscapedPath(), prefix) {
			t.Fatalf("a request went to %s", u)
		}
		for _, seg := range strings.Split(u.EscapedPath(), "/") {
			if s, _ := url.PathUnescape(seg); s == "." || s == ".." {
				t.Fatalf("a request path holds a dot segment: %s", u.EscapedPath())
			}
		}
	}
	return srv
}

func transfer(target handoff.Target) func(*liveperson.Adapter) error {
	return func(a *liveperson.Adapter) error {
		res, err := a.Transfer(context.Background(), vendors.TransferRequest{
			Tenant: tenant, TransferID: "tr-fuzz", Conversation: handoff.Conversation{ID: livepersonsandbox.DemoChatID}, Target: target,
		})
		if err == nil && res.Outcome != handoff.OutcomeTransferred {
			return errors.New("success without the transferred outcome")
		}
		return err
	}
}

func ends(method, suffix string) func(*http.Request) bool {
	return func(r *http.Request) bool { return r.Method == method && strings.HasSuffix(r.URL.Path, suffix) }
}

// FuzzLoginAnswer: any answer to the Login Service API's login.
func FuzzLoginAnswer(f *testing.F) {
	f.Add(uint16(100), "", fuzzTestdata(f, "login_response.json"))
	f.Add(uint16(300), "", fuzzTestdata(f, "error_unauthorized.json"))
	f.Add(uint16(100), "", []byte(`{"bearer":"","sessionTTl":"-1"}`))
	f.Add(uint16(329), "5", []byte(`{}`))
	f.Fuzz(func(t *testing.T, status uint16, retryAfter string, body []byte) {
		run(t, ends(http.MethodPost, "/login"), status, retryAfter, body, transfer(agentTarget(livepersonsandbox.AgentOnlineID)))
	})
}

// FuzzAgentSessionAnswer: any answer to Start Agent Session, whose link names the session every
// later call goes to: none may leave the tenant's origin and account.
func FuzzAgentSessionAnswer(f *testing.F) {
	f.Add(uint16(101), fuzzTestdata(f, "agent_session_response.json"))
	f.Add(uint16(101), []byte(`{"agentSessionLocation":{"link":{"@href":"https://evil.example/api/account/123456/agentSession/x"}}}`))
	f.Add(uint16(101), []byte(`{"agentSessionLocation":{"link":{"@href":"/api/account/123456/agentSession/%2e%2e"}}}`))
	f.Add(uint16(101), []byte(`{"agentSessionLocation":{"link":{"@href":"../../account/9/agentSession/a%2Fb"}}}`))
	f.Add(uint16(101), []byte(`{"agentSessionLocation":{"link":{"@href":"//127.0.0.1:1/api/account/123456/agentSession/s?x#y"}}}`))
	f.Fuzz(func(t *testing.T, status uint16, body []byte) {
		run(t, ends(http.MethodPost, "/agentSession"), status, "", body, transfer(agentTarget(livepersonsandbox.AgentOnlineID)))
	})
}

// FuzzSkillsAnswer: any answer to Retrieve Available Skills, read for availability.
func FuzzSkillsAnswer(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "skills_*.json"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint16(100), b)
	}
	f.Fuzz(func(t *testing.T, status uint16, body []byte) {
		var got []handoff.Availability
		run(t, ends(http.MethodGet, "/transfer"), status, "", body, func(a *liveperson.Adapter) error {
			var err error
			got, err = a.Availability(context.Background(), vendors.AvailabilityRequest{Tenant: tenant, ConversationID: livepersonsandbox.DemoChatID})
			return err
		})
		for _, s := range got {
			if n, err := strconv.ParseUint(s.ID, 10, 63); s.Type != handoff.TargetSkill || err != nil || strconv.FormatUint(n, 10) != s.ID ||
				s.OnlineAgents != nil && *s.OnlineAgents < 0 || s.Available != (s.OnlineAgents == nil || *s.OnlineAgents > 0) {
				t.Fatalf("skill %+v", s)
			}
		}
	})
}

// FuzzTransferAnswer: any answer to Transfer a Chat. It is sent again only when LivePerson
// refused before acting (a 401 with a new login, a 429), never after a 5xx.
func FuzzTransferAnswer(f *testing.F) {
	f.Add(uint16(100), "", []byte(``))
	f.Add(uint16(100), "", []byte(`{}`))
	f.Add(uint16(100), "", []byte(`<html>ok</html>`))
	f.Add(uint16(304), "", []byte(`{"error":{"message":"Chat not found"}}`))
	f.Add(uint16(300), "", []byte(`{"error":{"message":"Skill is not available for transfer"}}`))
	f.Add(uint16(329), "2", []byte(`{}`))
	f.Add(uint16(401), "", []byte(`{}`))
	f.Fuzz(func(t *testing.T, status uint16, retryAfter string, body []byte) {
		srv := run(t, ends(http.MethodPost, "/transfer"), status, retryAfter, body, transfer(agentTarget(livepersonsandbox.AgentOnlineID)))
		if srv.matched > 8 || srv.status >= 500 && srv.matched > 1 {
			t.Fatalf("the transfer was sent %d times", srv.matched)
		}
	})
}

func fuzzTestdata(f *testing.F, name string) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// FuzzChatSessionsAnswer: any answer to Retrieve Chat Sessions, whose links name the agent
// session every later chat call goes to: none may leave the tenant's origin and account.
func FuzzChatSessionsAnswer(f *testing.F) {
	f.Add(uint16(100), bytes.ReplaceAll(fuzzTestdata(f, "chat_sessions_response.json"), []byte("https://{domain}"), []byte(fuzzBase)))
	f.Add(uint16(100), []byte(`{"chatSessions":{"chatSession":{"link":{"@href":"https://evil.example/api/account/123456/agentSession/1/chat/`+livepersonsandbox.DemoChatID+`"}}}}`))
	f.Add(uint16(100), []byte(`{"chatSessions":{"chatSession":[{"link":{"href":"/api/account/123456/agentSession/%2e%2e/chat/`+livepersonsandbox.DemoChatID+`"}}]}}`))
	f.Add(uint16(100), []byte(`{"chatSessions":""}`))
	f.Fuzz(func(t *testing.T, status uint16, body []byte) {
		run(t, ends(http.MethodGet, "/chatSessions"), status, "", body, transfer(agentTarget(livepersonsandbox.AgentOnlineID)))
	})
}
