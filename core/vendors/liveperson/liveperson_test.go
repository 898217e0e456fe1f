package liveperson_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/liveperson"
	"handoff/core/vendors/liveperson/livepersonsandbox"
	"handoff/core/vendors/rest"
	"handoff/core/vendors/vendortest"
)

func TestConformance(t *testing.T) {
	agent := agentTarget(livepersonsandbox.AgentOnlineID)
	vendortest.Run(t, vendortest.Harness{
		Setup: func(t *testing.T) vendortest.Setup {
			e := newEnv(t, livepersonsandbox.Config{}, nil)
			return vendortest.Setup{Transferer: e.adapter, Sandbox: e.sb, Logs: e.logs,
				Secrets: []string{livepersonsandbox.DemoPassword}}
		},
		Tenant:       tenant,
		Conversation: handoff.Conversation{ID: livepersonsandbox.DemoChatID},
		Targets:      []handoff.Target{skillTarget(livepersonsandbox.SkillSupportID), agent},
		Unsupported:  []handoff.TargetType{handoff.TargetQueue, handoff.TargetNext},
		// LivePerson documents no Transfer a Chat error, only that a 4xx is a client error
		// (retry policy page): the vendor codes are our names for the statuses (errors.go).
		Errors: []vendortest.ErrorCase{
			{VendorCode: "BAD_REQUEST", Want: handoff.CodeVendorRejected},
			{VendorCode: "BAD_REQUEST", Want: handoff.CodeVendorRejected, Target: &agent},
			{VendorCode: "REJECTED", Want: handoff.CodeVendorRejected},
			{VendorCode: "FORBIDDEN", Want: handoff.CodeVendorAuthFailed},
			{VendorCode: "CHAT_NOT_HELD", Want: handoff.CodeConversationNotFound},
		},
	})
}

func TestTransferSendsTheDocumentedRequest(t *testing.T) {
	for _, target := range []handoff.Target{skillTarget("2"), agentTarget("6")} {
		t.Run(string(target.Type), func(t *testing.T) {
			e := newEnv(t, livepersonsandbox.Config{}, nil)
			if _, err := e.transfer(t, livepersonsandbox.DemoChatID, target); err != nil {
				t.Fatal(err)
			}
			var post *struct {
				Query, Header map[string][]string
				Body          []byte
			}
			for _, r := range e.sb.Requests() {
				if r.Method == "POST" && strings.HasSuffix(r.Path, "/chat/"+livepersonsandbox.DemoChatID+"/transfer") {
					post = &struct {
						Query, Header map[string][]string
						Body          []byte
					}{r.Query, r.Header, r.Body}
				}
			}
			if post == nil {
				t.Fatal("no transfer POST recorded")
			}
			if q := post.Query; q["v"][0] != "1" || q["NC"][0] != "true" {
				t.Errorf("query = %v, want v=1&NC=true", q)
			}
			h := post.Header
			if !strings.HasPrefix(h["Authorization"][0], "Bearer ") || h["Content-Type"][0] != "application/json" ||
				h["Accept"][0] != "application/json" {
				t.Errorf("headers = %v", h)
			}
			// The id must be a JSON number, as the doc's examples send it.
			var body map[string]map[string]json.RawMessage
			if err := json.Unmarshal(post.Body, &body); err != nil {
				t.Fatal(err)
			}
			want := `{"id":` + target.ID + `}`
			if got := string(body["transfer"][string(target.Type)]); got != want {
				t.Errorf("transfer.%s = %s, want %s", target.Type, got, want)
			}
			if got := string(body["transfer"]["text"]); got != `"I think this person needs some help from you."` {
				t.Errorf("transfer.text = %s", got)
			}
			if len(body["transfer"]) != 2 {
				t.Errorf("transfer holds %d fields, want exactly the target and text: %s", len(body["transfer"]), post.Body)
			}
			if got := e.sb.TransferredTo(livepersonsandbox.DemoChatID); got != string(target.Type)+":"+target.ID {
				t.Errorf("sandbox says the chat went to %q", got)
			}
		})
	}
}

func TestChatIDIsEscapedIntoOnePathSegment(t *testing.T) {
	chat := "H1?v=2&NC=false#x%2F.."
	e := newEnv(t, livepersonsandbox.Config{BotChats: []string{chat}}, nil)
	if _, err := e.transfer(t, chat, agentTarget("6")); err != nil {
		t.Fatal(err)
	}
	if got := e.sb.TransferredTo(chat); got != "agent:6" {
		t.Errorf("the sandbox saw no transfer of chat %q (got %q): the id leaked out of its segment", chat, got)
	}
}

func TestNonNumericTargetIsRefusedBeforeAnyCall(t *testing.T) {
	for _, id := range []string{"Sales", "-5", "0", "2.5", "+2", "1e3", "99999999999999999999"} {
		t.Run(id, func(t *testing.T) {
			e := newEnv(t, livepersonsandbox.Config{}, nil)
			_, err := e.transfer(t, livepersonsandbox.DemoChatID, skillTarget(id))
			if e := wantCode(t, err, handoff.CodeInvalidRequest, ""); e.Field != "target.id" {
				t.Errorf("field = %q, want target.id", e.Field)
			}
			if n := len(e.sb.Requests()); n != 0 {
				t.Errorf("%d requests sent for an invalid id, want 0", n)
			}
		})
	}
}

func TestOfflineTargets(t *testing.T) {
	e := newEnv(t, livepersonsandbox.Config{}, nil)

	// The offline skill is not listed by Retrieve Available Skills: no transfer is tried.
	_, err := e.transfer(t, "chat-1", skillTarget(livepersonsandbox.SkillOfflineID))
	wantCode(t, err, handoff.CodeTargetUnavailable, "SKILL_NOT_LISTED")
	if n := e.sb.TransferCalls(); n != 0 {
		t.Errorf("transfer calls = %d for an unlisted skill, want 0", n)
	}

	// Agents have no pre-check, and the refusal's status and text are undocumented: it is a
	// refusal (the next fallback is tried), whatever its text says.
	_, err = e.transfer(t, "chat-1", agentTarget(livepersonsandbox.AgentOfflineID))
	wantCode(t, err, handoff.CodeVendorRejected, "BAD_REQUEST")
	_, err = e.transfer(t, "chat-1", agentTarget("999"))
	wantCode(t, err, handoff.CodeVendorRejected, "BAD_REQUEST")
}

// A reconcile (an earlier attempt may have reached LivePerson) confirms where the chat is with
// Retrieve Chat Sessions instead of reading a refusal as done.
func TestReconcile(t *testing.T) {
	reconcile := func(chat string, target handoff.Target) vendors.TransferRequest {
		req := request(chat, target)
		req.Reconcile = true
		return req
	}
	t.Run("the chat left the agent: done, without a transfer call", func(t *testing.T) {
		e := newEnv(t, livepersonsandbox.Config{}, nil)
		if _, err := e.transfer(t, "chat-1", skillTarget("2")); err != nil {
			t.Fatal(err)
		}
		res, err := e.adapter.Transfer(testCtx(t), reconcile("chat-1", skillTarget("2")))
		if err != nil || res.Outcome != handoff.OutcomeTransferred || res.VendorCode != "CHAT_LEFT_AGENT" {
			t.Fatalf("reconciled transfer = %+v, %v; want transferred with vendor code CHAT_LEFT_AGENT", res, err)
		}
		if n := e.sb.TransferCalls(); n != 1 {
			t.Errorf("transfer calls = %d, want 1: the chat sessions showed the chat is gone", n)
		}
	})
	t.Run("the chat is still held: it is transferred now", func(t *testing.T) {
		e := newEnv(t, livepersonsandbox.Config{}, nil)
		res, err := e.adapter.Transfer(testCtx(t), reconcile("chat-2", agentTarget("6")))
		if err != nil || res.Outcome != handoff.OutcomeTransferred || res.VendorCode != "" {
			t.Fatalf("reconciled transfer = %+v, %v; want transferred by this call", res, err)
		}
		if got := e.sb.TransferredTo("chat-2"); got != "agent:6" {
			t.Errorf("sandbox says the chat went to %q, want agent:6", got)
		}
	})
	t.Run("a 404 on the transfer is not done", func(t *testing.T) {
		e := newEnv(t, livepersonsandbox.Config{}, nil)
		e.sb.Inject(vendorFault("CHAT_NOT_HELD"), 1)
		_, err := e.adapter.Transfer(testCtx(t), reconcile("chat-3", agentTarget("6")))
		wantCode(t, err, handoff.CodeConversationNotFound, "CHAT_NOT_HELD")
	})
	t.Run("other refusals stay refusals", func(t *testing.T) {
		e := newEnv(t, livepersonsandbox.Config{}, nil)
		e.sb.Inject(vendorFault("REJECTED"), 1)
		_, err := e.adapter.Transfer(testCtx(t), reconcile("chat-4", agentTarget("6")))
		wantCode(t, err, handoff.CodeVendorRejected, "REJECTED")
	})
	t.Run("with the agent session named, the chat sessions still decide", func(t *testing.T) {
		e := newEnv(t, livepersonsandbox.Config{}, nil)
		if _, err := e.transfer(t, "chat-5", agentTarget("6")); err != nil {
			t.Fatal(err)
		}
		req := reconcile("chat-5", agentTarget("6"))
		req.Conversation.AgentSessionID = livepersonsandbox.BotAgentSessionID
		res, err := e.adapter.Transfer(testCtx(t), req)
		if err != nil || res.VendorCode != "CHAT_LEFT_AGENT" || e.sb.TransferCalls() != 1 {
			t.Fatalf("reconciled transfer = %+v, %v (transfer calls %d); want done, no new call", res, err, e.sb.TransferCalls())
		}
	})
}

// The adapter runs on the docs' own payloads: the login example's bearer, the Start Agent
// Session example's link, the Retrieve Chat Sessions example (its link names the agent session
// holding the chat, which every chat call then goes to) and the Retrieve Available Skills example.
func TestDocumentedPayloads(t *testing.T) {
	var srv *httptest.Server
	var chatCalls []*http.Request
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/login"):
			http.SetCookie(w, &http.Cookie{Name: "Session_id", Value: "s1", Path: "/"})
			_, _ = w.Write(testdata(t, "login_response.json"))
		case strings.HasSuffix(r.URL.Path, "/agentSession"):
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write(bytes.ReplaceAll(testdata(t, "agent_session_response.json"),
				[]byte("https://va.agentvep.liveperson.net"), []byte(srv.URL)))
		case strings.HasSuffix(r.URL.Path, "/chatSessions"):
			if r.URL.Path != "/api/account/123456/agentSession/3a6b2f1e9c0d4e57/chatSessions" {
				t.Errorf("chat sessions asked at %s, want under our own agent session", r.URL.Path)
			}
			_, _ = w.Write(bytes.ReplaceAll(testdata(t, "chat_sessions_response.json"),
				[]byte("https://{domain}"), []byte(srv.URL)))
		case r.Method == http.MethodGet:
			chatCalls = append(chatCalls, r)
			_, _ = w.Write(testdata(t, "skills_seed_example.json"))
		default:
			chatCalls = append(chatCalls, r)
		}
	}))
	defer srv.Close()
	secrets := vendortest.NewSecrets(tenant, liveperson.Vendor, livepersonsandbox.DemoSecret(srv.URL))
	a := liveperson.New(vendors.Deps{Secrets: secrets, HTTP: rest.New(srv.Client())})
	if _, err := a.Transfer(testCtx(t), request(livepersonsandbox.DemoChatID, skillTarget("26060413"))); err != nil {
		t.Fatal(err)
	}
	if len(chatCalls) != 2 {
		t.Fatalf("chat calls = %d, want the skills GET and the transfer", len(chatCalls))
	}
	for _, r := range chatCalls {
		if r.Header.Get("Authorization") != "Bearer 9cf6ee24b6a1031e202f292a0ad20c8f52bfd9f01abc8b9489365995052c6603" ||
			r.URL.Path != "/api/account/123456/agentSession/1027882276/chat/"+livepersonsandbox.DemoChatID+"/transfer" {
			t.Errorf("%s %s with %q", r.Method, r.URL.Path, r.Header.Get("Authorization"))
		}
	}
}
