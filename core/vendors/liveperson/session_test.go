package liveperson_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors/liveperson"
	"handoff/core/vendors/liveperson/livepersonsandbox"
	"handoff/core/vendors/sandbox"
)

func TestLoginAndAgentSessionAreReused(t *testing.T) {
	e := newEnv(t, livepersonsandbox.Config{}, nil)
	for i := range 5 {
		if _, err := e.transfer(t, fmt.Sprintf("chat-%d", i), skillTarget("25975313")); err != nil {
			t.Fatalf("transfer %d: %v", i, err)
		}
	}
	if e.sb.Logins() != 1 || e.sb.AgentSessions() != 1 {
		t.Errorf("logins = %d, agent sessions = %d for 5 transfers, want 1 and 1", e.sb.Logins(), e.sb.AgentSessions())
	}
}

func TestConcurrentFirstTransfersShareOneLogin(t *testing.T) {
	e := newEnv(t, livepersonsandbox.Config{}, nil)
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, err := e.transfer(t, fmt.Sprintf("chat-%d", i), agentTarget("6"))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if e.count("POST", "/login") != 1 || e.sb.AgentSessions() != 1 {
		t.Errorf("login calls = %d, agent sessions = %d for %d concurrent first transfers, want 1 and 1",
			e.count("POST", "/login"), e.sb.AgentSessions(), n)
	}
}

func TestExpiredBearerLogsInAgainOnce(t *testing.T) {
	e := newEnv(t, livepersonsandbox.Config{}, nil)
	if _, err := e.transfer(t, "chat-1", skillTarget("2")); err != nil {
		t.Fatal(err)
	}
	e.sb.ExpireBearers() // the skills GET of the next transfer meets a 401
	if _, err := e.transfer(t, "chat-2", skillTarget("2")); err != nil {
		t.Fatalf("transfer after the bearer expired: %v", err)
	}
	if e.sb.Logins() != 2 || e.sb.AgentSessions() != 2 {
		t.Errorf("logins = %d, agent sessions = %d, want 2 and 2 (a new bearer needs a new agent session)",
			e.sb.Logins(), e.sb.AgentSessions())
	}
	if e.secrets.Invalidates != 0 {
		t.Errorf("secret invalidated %d times for an expired bearer, want 0", e.secrets.Invalidates)
	}
	bearers := map[string]bool{}
	for _, r := range e.sb.Requests() {
		if r.Method == "POST" && strings.HasSuffix(r.Path, "/transfer") {
			bearers[r.Header.Get("Authorization")] = true
		}
	}
	if len(bearers) != 2 {
		t.Errorf("the two transfers used %d bearers, want 2", len(bearers))
	}
}

func TestUnauthorizedTwiceIsAuthFailed(t *testing.T) {
	e := newEnv(t, livepersonsandbox.Config{}, nil)
	e.sb.Inject(sandbox.Fault{Kind: sandbox.AuthExpired}, 2)
	_, err := e.transfer(t, "chat-1", agentTarget("6"))
	wantCode(t, err, handoff.CodeVendorAuthFailed, "UNAUTHORIZED")
	if e.sb.TransferCalls() != 2 || e.sb.Logins() != 2 {
		t.Errorf("transfer calls = %d, logins = %d, want 2 and 2: one new login, one retry", e.sb.TransferCalls(), e.sb.Logins())
	}
	if e.secrets.Invalidates != 1 {
		t.Errorf("secret invalidated %d times, want 1", e.secrets.Invalidates)
	}
	if _, err := e.transfer(t, "chat-1", agentTarget("6")); err != nil {
		t.Fatalf("the next transfer: %v", err)
	}
	if e.sb.Logins() != 3 {
		t.Errorf("logins = %d, want 3: the refused session must not be reused", e.sb.Logins())
	}
}

func TestRefusedCredentials(t *testing.T) {
	t.Run("wrong password", func(t *testing.T) {
		e := newEnv(t, livepersonsandbox.Config{}, nil)
		e.setSecret(t, liveperson.Credentials{AccountID: livepersonsandbox.DemoAccountID, Username: livepersonsandbox.DemoUsername, Password: "not-the-password"})
		_, err := e.transfer(t, "chat-1", skillTarget("2"))
		wantCode(t, err, handoff.CodeVendorAuthFailed, "LOGIN_REFUSED")
		if e.secrets.Invalidates != 1 || e.sb.AgentSessions() != 0 || e.sb.TransferCalls() != 0 {
			t.Errorf("invalidates = %d, agent sessions = %d, transfer calls = %d; want 1, 0, 0",
				e.secrets.Invalidates, e.sb.AgentSessions(), e.sb.TransferCalls())
		}
	})
	t.Run("revoked after login", func(t *testing.T) {
		e := newEnv(t, livepersonsandbox.Config{}, nil)
		e.sb.Inject(sandbox.Fault{Kind: sandbox.AuthRejected}, 0)
		_, err := e.transfer(t, "chat-1", agentTarget("6"))
		wantCode(t, err, handoff.CodeVendorAuthFailed, "LOGIN_REFUSED")
		if e.secrets.Invalidates != 1 {
			t.Errorf("secret invalidated %d times, want 1", e.secrets.Invalidates)
		}
	})
	t.Run("unknown account", func(t *testing.T) {
		e := newEnv(t, livepersonsandbox.Config{}, nil)
		e.setSecret(t, liveperson.Credentials{AccountID: "999", Username: livepersonsandbox.DemoUsername, Password: livepersonsandbox.DemoPassword})
		_, err := e.transfer(t, "chat-1", skillTarget("2"))
		wantCode(t, err, handoff.CodeVendorAuthFailed, "LOGIN_REFUSED")
	})
}

func TestApplicationLogin(t *testing.T) {
	cfg := livepersonsandbox.Config{AppKey: "sandbox-app-key-0001", Secret: "sandbox-app-secret-0001",
		AccessToken: "sandbox-access-token-0001", AccessTokenSecret: "sandbox-token-secret-0001"}
	e := newEnv(t, cfg, nil)
	e.setSecret(t, liveperson.Credentials{AccountID: livepersonsandbox.DemoAccountID, Username: livepersonsandbox.DemoUsername,
		AppKey: cfg.AppKey, Secret: cfg.Secret, AccessToken: cfg.AccessToken, AccessTokenSecret: cfg.AccessTokenSecret})
	if _, err := e.transfer(t, "chat-1", skillTarget("2")); err != nil {
		t.Fatal(err)
	}
	for _, r := range e.sb.Requests() {
		if strings.HasSuffix(r.Path, "/login") {
			var body map[string]string
			if err := json.Unmarshal(r.Body, &body); err != nil {
				t.Fatal(err)
			}
			keys := slices.Sorted(func(yield func(string) bool) {
				for k := range body {
					if !yield(k) {
						return
					}
				}
			})
			want := []string{"accessToken", "accessTokenSecret", "appKey", "secret", "username"}
			if !slices.Equal(keys, want) || body["appKey"] != cfg.AppKey || r.Query.Get("v") != "1.3" {
				t.Errorf("login body keys = %v (query %v), want %v", keys, r.Query, want)
			}
		}
	}
}

func TestCookiesOfTheAgentSessionAreSentBack(t *testing.T) {
	e := newEnv(t, livepersonsandbox.Config{}, nil)
	if _, err := e.transfer(t, "chat-1", skillTarget("2")); err != nil {
		t.Fatal(err)
	}
	chatCalls := 0
	for _, r := range e.sb.Requests() {
		cookie := r.Header.Get("Cookie")
		switch {
		case strings.HasSuffix(r.Path, "/login"):
			if cookie != "" {
				t.Errorf("the login sent cookies %q before any was set", cookie)
			}
		case strings.HasSuffix(r.Path, "/agentSession"):
			if !strings.Contains(cookie, "Session_id=") {
				t.Errorf("the agent session call did not send the login's Session_id cookie: %q", cookie)
			}
		case strings.HasSuffix(r.Path, "/chatSessions"):
			if !strings.Contains(cookie, "LPAgentSession=") {
				t.Errorf("%s %s under our agent session without its cookie: %q", r.Method, r.Path, cookie)
			}
		default:
			// Under the bot's agent session: our session's cookie is scoped to our session's path.
			chatCalls++
		}
	}
	if chatCalls != 2 {
		t.Errorf("chat calls = %d, want the skills GET and the transfer POST", chatCalls)
	}
}

func TestAgentSessionLinkMustStayOnTheBaseURL(t *testing.T) {
	for _, origin := range []string{"https://evil.example", "http://127.0.0.1:1", "http://localhost.evil.example"} {
		t.Run(origin, func(t *testing.T) {
			e := newEnv(t, livepersonsandbox.Config{SessionLinkOrigin: origin}, nil)
			_, err := e.transfer(t, "chat-1", skillTarget("2"))
			wantCode(t, err, handoff.CodeVendorProtocol, "")
			if n := e.count("GET", "/transfer") + e.sb.TransferCalls(); n != 0 {
				t.Errorf("%d chat calls made with a session from another origin, want 0", n)
			}
		})
	}
}

func TestSessionIsRenewedAfterItsTTL(t *testing.T) {
	e := newEnv(t, livepersonsandbox.Config{}, nil)
	if _, err := e.transfer(t, "chat-1", skillTarget("2")); err != nil {
		t.Fatal(err)
	}
	e.offset.Store(int64(8 * time.Hour)) // the login said sessionTTl 28800000 ms
	if _, err := e.transfer(t, "chat-2", skillTarget("2")); err != nil {
		t.Fatal(err)
	}
	if e.sb.Logins() != 2 {
		t.Errorf("logins = %d after the session's TTL, want 2", e.sb.Logins())
	}
}

func TestChangedSecretLogsInWithTheNewOne(t *testing.T) {
	e := newEnv(t, livepersonsandbox.Config{}, nil)
	other := newEnv(t, livepersonsandbox.Config{}, nil)
	if _, err := e.transfer(t, "chat-1", skillTarget("2")); err != nil {
		t.Fatal(err)
	}
	e.setSecret(t, liveperson.Credentials{AccountID: livepersonsandbox.DemoAccountID, BaseURL: other.srv.URL,
		Username: livepersonsandbox.DemoUsername, Password: livepersonsandbox.DemoPassword})
	if _, err := e.transfer(t, "chat-2", skillTarget("2")); err != nil {
		t.Fatal(err)
	}
	if other.sb.Logins() != 1 || other.sb.TransferredTo("chat-2") != "skill:2" {
		t.Errorf("the transfer did not go to the secret's new baseUrl (logins there: %d)", other.sb.Logins())
	}
}

// LivePerson's retry policy: a 5xx is retried 3 times, after 5, 10 and 15 s. The skills GET
// changes nothing, so it is retried; test failed before the fix (3 GETs, no such pauses).
func TestServerErrorsAreRetriedAsThePolicySays(t *testing.T) {
	var seen atomic.Int32 // skills GETs, answered or not
	failing := func(n int32) func(http.Handler) http.Handler {
		seen.Store(0)
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/transfer") && seen.Add(1) <= n {
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				next.ServeHTTP(w, r)
			})
		}
	}
	t.Run("three 503s, then an answer", func(t *testing.T) {
		e := newEnv(t, livepersonsandbox.Config{}, failing(3))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := e.adapter.Transfer(ctx, request("chat-1", skillTarget("2"))); err != nil {
			t.Fatalf("transfer after three 503s on the skills GET: %v", err)
		}
		if got, want := e.pauses.get(), []time.Duration{5 * time.Second, 10 * time.Second, 15 * time.Second}; !slices.Equal(got, want) {
			t.Errorf("pauses = %v, want %v", got, want)
		}
		if n := seen.Load(); n != 4 {
			t.Errorf("skills GETs = %d, want 4", n)
		}
	})
	t.Run("never past the deadline", func(t *testing.T) {
		e := newEnv(t, livepersonsandbox.Config{}, failing(10))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		deadline, _ := ctx.Deadline()
		_, err := e.adapter.Transfer(ctx, request("chat-1", skillTarget("2")))
		wantCode(t, err, handoff.CodeVendorUnavailable, "SERVER_ERROR")
		var total time.Duration
		for _, p := range e.pauses.get() {
			total += p
		}
		if total == 0 || time.Now().Add(total).After(deadline) {
			t.Errorf("pauses %v: none, or past the 20 s deadline", e.pauses.get())
		}
	})
	t.Run("a transfer POST answered 5xx is not re-sent", func(t *testing.T) {
		e := newEnv(t, livepersonsandbox.Config{}, nil)
		e.sb.Inject(sandbox.Fault{Kind: sandbox.ServerError}, 0)
		_, err := e.transfer(t, "chat-1", agentTarget("6"))
		wantCode(t, err, handoff.CodeVendorUnavailable, "")
		if n := e.sb.TransferCalls(); n != 1 || len(e.pauses.get()) != 0 {
			t.Errorf("transfer calls = %d, pauses %v; want 1 and none", n, e.pauses.get())
		}
	})
}

// After a 429, at least a second before the same request goes again, even without Retry-After;
// test failed before the fix (a bare 429 was returned at once).
func TestRateLimitWaitsAtLeastASecond(t *testing.T) {
	e := newEnv(t, livepersonsandbox.Config{}, nil)
	e.sb.Inject(sandbox.Fault{Kind: sandbox.RateLimited}, 1)
	if _, err := e.transfer(t, "chat-1", agentTarget("6")); err != nil {
		t.Fatalf("transfer after one bare 429: %v", err)
	}
	if got := e.pauses.get(); len(got) != 1 || got[0] < time.Second || e.sb.TransferCalls() != 2 {
		t.Errorf("pauses = %v, transfer calls %d; want one of at least 1s, then the resend", got, e.sb.TransferCalls())
	}
}

func TestNoCredentialInLogsOrErrors(t *testing.T) {
	cfg := livepersonsandbox.Config{Password: "password-never-shown", AppKey: "app-key-never-shown",
		Secret: "secret-never-shown", AccessToken: "token-never-shown", AccessTokenSecret: "token-secret-never-shown"}
	e := newEnv(t, cfg, nil)
	var texts []string
	record := func(err error) {
		if err != nil {
			texts = append(texts, fmt.Sprintf("%v | %+v | %#v", err, err, err))
		}
	}
	creds := liveperson.Credentials{AccountID: livepersonsandbox.DemoAccountID, Username: livepersonsandbox.DemoUsername,
		AppKey: cfg.AppKey, Secret: cfg.Secret, AccessToken: cfg.AccessToken, AccessTokenSecret: cfg.AccessTokenSecret}
	e.setSecret(t, creds)
	_, err := e.transfer(t, "chat-1", skillTarget("2"))
	record(err)
	e.sb.ExpireBearers()
	_, err = e.transfer(t, "chat-2", skillTarget(livepersonsandbox.SkillOfflineID))
	record(err)
	e.sb.Inject(sandbox.Fault{Kind: sandbox.AuthExpired}, 2)
	_, err = e.transfer(t, "chat-3", agentTarget("6"))
	record(err)
	e.setSecret(t, liveperson.Credentials{AccountID: livepersonsandbox.DemoAccountID, Username: livepersonsandbox.DemoUsername, Password: "wrong-password-never-shown"})
	_, err = e.transfer(t, "chat-4", agentTarget("6"))
	record(err)
	creds.BaseURL = e.srv.URL
	texts = append(texts, e.logs.String(), fmt.Sprintf("%v %+v %#v", creds, creds, creds))

	secrets := []string{cfg.Password, cfg.AppKey, cfg.Secret, cfg.AccessToken, cfg.AccessTokenSecret, "wrong-password-never-shown"}
	for _, r := range e.sb.Requests() {
		if b, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			secrets = append(secrets, b)
		}
	}
	if len(secrets) < 8 {
		t.Fatalf("only %d secrets to look for: the scenario did not run", len(secrets))
	}
	for _, text := range texts {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("a credential leaked: %.300q", text)
			}
		}
	}
}
