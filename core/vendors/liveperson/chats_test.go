package liveperson_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors/liveperson/livepersonsandbox"
	"handoff/core/vendors/sandbox"
)

// A chat is transferred under the agent session that holds it (the bot's), found with Retrieve
// Chat Sessions from Handoff's own session; test failed before the fix (the chat was addressed
// under Handoff's own agent session, which the sandbox now refuses).
func TestTransferGoesThroughTheSessionHoldingTheChat(t *testing.T) {
	e := newEnv(t, livepersonsandbox.Config{}, nil)
	if _, err := e.transfer(t, "chat-1", skillTarget("2")); err != nil {
		t.Fatal(err)
	}
	want := "/agentSession/" + livepersonsandbox.BotAgentSessionID + "/chat/chat-1/transfer"
	if e.count("GET", want) != 1 || e.count("POST", want) != 1 || e.count("GET", "/chatSessions") != 1 {
		t.Errorf("requests %v: want the chat sessions, then the skills GET and the POST under the bot's session", paths(e))
	}
}

// A chat the agent does not hold is 404 CONVERSATION_NOT_FOUND on conversation.id, and nothing
// is sent about it; test failed before the fix.
func TestChatNotHeldIsConversationNotFound(t *testing.T) {
	for _, target := range []handoff.Target{skillTarget("2"), agentTarget("6")} {
		e := newEnv(t, livepersonsandbox.Config{}, nil)
		_, err := e.transfer(t, "not-routed-to-the-bot", target)
		if e := wantCode(t, err, handoff.CodeConversationNotFound, "CHAT_NOT_HELD"); e.Field != "conversation.id" {
			t.Errorf("field = %q, want conversation.id", e.Field)
		}
		if n := e.count("GET", "/transfer") + e.sb.TransferCalls(); n != 0 {
			t.Errorf("%d chat calls for a chat the agent does not hold, want 0", n)
		}
	}
}

// conversation.agentSessionId names the session holding the chat: the transfer goes through it,
// without polling the chat sessions.
func TestNamedAgentSession(t *testing.T) {
	e := newEnv(t, livepersonsandbox.Config{}, nil)
	req := request("chat-1", agentTarget("6"))
	req.Conversation.AgentSessionID = livepersonsandbox.BotAgentSessionID
	if _, err := e.adapter.Transfer(testCtx(t), req); err != nil {
		t.Fatal(err)
	}
	if e.count("GET", "/chatSessions") != 0 || e.count("POST", "/agentSession/"+livepersonsandbox.BotAgentSessionID+"/chat/chat-1/transfer") != 1 {
		t.Errorf("requests %v: want one POST under the named session, no chat sessions poll", paths(e))
	}

	// A named session that does not hold the chat: the skills check says so, no transfer call.
	e = newEnv(t, livepersonsandbox.Config{}, nil)
	req = request("chat-1", skillTarget("2"))
	req.Conversation.AgentSessionID = "4711"
	_, err := e.adapter.Transfer(testCtx(t), req)
	wantCode(t, err, handoff.CodeConversationNotFound, "CHAT_NOT_HELD")
	if e.sb.TransferCalls() != 0 {
		t.Errorf("transfer calls = %d, want 0", e.sb.TransferCalls())
	}
}

// Retrieve Chat Sessions is polled no more often than every 2 s: concurrent and back-to-back
// look-ups share an answer; a chat missing from a fresh answer is looked for again once 2 s
// have passed.
func TestChatSessionsArePolledAtMostEveryTwoSeconds(t *testing.T) {
	e := newEnv(t, livepersonsandbox.Config{}, nil)
	for _, chat := range []string{"chat-1", "chat-2", "chat-3"} {
		if _, err := e.transfer(t, chat, agentTarget("6")); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.count("GET", "/chatSessions"); n != 1 {
		t.Errorf("chat sessions polls = %d for three transfers at once, want 1", n)
	}
	e.sb.RouteChat("routed-later")
	if _, err := e.transfer(t, "routed-later", agentTarget("6")); err != nil {
		t.Fatal(err)
	}
	var waited time.Duration
	for _, p := range e.pauses.get() {
		waited += p
	}
	if n := e.count("GET", "/chatSessions"); n != 2 || waited <= 0 || waited > 2*time.Second {
		t.Errorf("polls = %d after waiting %v, want a second poll after waiting out the 2 s", n, waited)
	}
}

// The login is kept alive with the Login Service's refresh, not replaced; test failed before
// the fix (no refresh was ever sent).
func TestLoginIsKeptAliveWithRefresh(t *testing.T) {
	e := newEnv(t, livepersonsandbox.Config{}, nil)
	if _, err := e.transfer(t, "chat-1", agentTarget("6")); err != nil {
		t.Fatal(err)
	}
	e.offset.Add(int64(6 * time.Minute))
	if _, err := e.transfer(t, "chat-2", agentTarget("6")); err != nil {
		t.Fatal(err)
	}
	if e.sb.Refreshes() != 1 || e.sb.Logins() != 1 || e.sb.AgentSessions() != 1 {
		t.Errorf("refreshes = %d, logins = %d, agent sessions = %d; want 1, 1, 1",
			e.sb.Refreshes(), e.sb.Logins(), e.sb.AgentSessions())
	}
	// A login LivePerson ended is replaced once the refresh is refused.
	e.sb.ExpireBearers()
	e.offset.Add(int64(6 * time.Minute))
	if _, err := e.transfer(t, "chat-3", agentTarget("6")); err != nil {
		t.Fatal(err)
	}
	if e.sb.Logins() != 2 || e.secrets.Invalidates != 0 {
		t.Errorf("logins = %d, invalidates = %d after a refused refresh; want 2, 0", e.sb.Logins(), e.secrets.Invalidates)
	}
}

// Concurrent transfers that find the login due for its keep-alive send one refresh.
func TestConcurrentTransfersShareOneRefresh(t *testing.T) {
	e := newEnv(t, livepersonsandbox.Config{}, nil)
	if _, err := e.transfer(t, "chat-0", agentTarget("6")); err != nil {
		t.Fatal(err)
	}
	e.offset.Add(int64(6 * time.Minute))
	var wg sync.WaitGroup
	for i := 1; i <= 10; i++ {
		wg.Go(func() {
			if _, err := e.transfer(t, fmt.Sprintf("chat-%d", i), agentTarget("6")); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := e.count("POST", "/refresh"); n != 1 || e.sb.Logins() != 1 {
		t.Errorf("refresh calls = %d, logins = %d; want 1 and 1", n, e.sb.Logins())
	}
}

// Our agent session unknown to LivePerson (404 on its chat sessions): one new login and agent
// session, then the chat is found.
func TestEndedAgentSessionIsReplaced(t *testing.T) {
	e := newEnv(t, livepersonsandbox.Config{}, nil)
	if _, err := e.transfer(t, "chat-1", agentTarget("6")); err != nil {
		t.Fatal(err)
	}
	e.sb.EndAgentSessions()
	e.offset.Add(int64(3 * time.Second)) // past the 2 s between polls
	if _, err := e.transfer(t, "chat-2", agentTarget("6")); err != nil {
		t.Fatal(err)
	}
	if e.sb.AgentSessions() != 2 || e.secrets.Invalidates != 0 {
		t.Errorf("agent sessions = %d, invalidates = %d; want 2, 0", e.sb.AgentSessions(), e.secrets.Invalidates)
	}
}

// Handoff never logs out: a logout would send the agent's chats back to the queue.
func TestNeverLogsOut(t *testing.T) {
	e := newEnv(t, livepersonsandbox.Config{}, nil)
	e.sb.Inject(sandbox.Fault{Kind: sandbox.AuthExpired}, 1)
	for i, chat := range []string{"chat-1", "chat-2"} {
		if _, err := e.transfer(t, chat, agentTarget("6")); err != nil {
			t.Fatalf("transfer %d: %v", i, err)
		}
		e.offset.Add(int64(time.Hour))
	}
	e.sb.Inject(sandbox.Fault{Kind: sandbox.AuthRejected}, 0)
	_, _ = e.transfer(t, "chat-3", agentTarget("6"))
	if e.count("POST", "/logout") != 0 || e.sb.Requeued(livepersonsandbox.DemoChatID) {
		t.Errorf("Handoff logged out (%d) or the bot's chats were requeued", e.count("POST", "/logout"))
	}
}

// A 400 from login is "a problem with body or query parameters", not bad credentials: the
// cached secret is kept; test failed before the fix (it was invalidated as LOGIN_REFUSED).
func TestLoginBadRequestKeepsTheSecret(t *testing.T) {
	badRequest := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/login") {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte(`{"error":{"message":"x","internalCode":3,"responseStatus":"BAD_REQUEST"}}`))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	e := newEnv(t, livepersonsandbox.Config{}, badRequest)
	_, err := e.transfer(t, "chat-1", agentTarget("6"))
	wantCode(t, err, handoff.CodeConfiguration, "LOGIN_BAD_REQUEST")
	if e.secrets.Invalidates != 0 {
		t.Errorf("secret invalidated %d times after a login 400, want 0", e.secrets.Invalidates)
	}
}

func paths(e *env) []string {
	var out []string
	for _, r := range e.sb.Requests() {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}

// actThen500 lets the sandbox carry out the first transfer POST and answers it with a 500, as
// a proxy failing after LivePerson acted would: the chat has left the bot, we never hear.
func actThen500(next http.Handler) http.Handler {
	var spoilt atomic.Bool
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/transfer") || spoilt.Swap(true) {
			next.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(httptest.NewRecorder(), r)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"error":{"message":"x","internalCode":0,"responseStatus":"INTERNAL_SERVER_ERROR"}}`))
	})
}

// A reconcile right after a transfer that acted but failed to answer does not trust the chat
// sessions answer polled before that transfer (it still lists the chat): it polls again, after
// the 2 s between polls, sees the chat gone and concludes done with no second POST. Test failed
// before the fix (the stale answer sent a second POST, refused 404 CHAT_NOT_HELD).
func TestReconcileRightAfterAnActingFailurePollsAgain(t *testing.T) {
	e := newEnv(t, livepersonsandbox.Config{}, actThen500)
	_, err := e.transfer(t, "chat-1", agentTarget("6"))
	wantCode(t, err, handoff.CodeVendorUnavailable, "SERVER_ERROR")
	if got := e.sb.TransferredTo("chat-1"); got != "agent:6" {
		t.Fatalf("the sandbox says the chat went to %q, want agent:6 (the fault is after acting)", got)
	}
	req := request("chat-1", agentTarget("6"))
	req.Reconcile = true
	res, err := e.adapter.Transfer(testCtx(t), req)
	if err != nil || res.Outcome != handoff.OutcomeTransferred || res.VendorCode != "CHAT_LEFT_AGENT" {
		t.Fatalf("reconciled transfer = %+v, %v; want transferred with vendor code CHAT_LEFT_AGENT", res, err)
	}
	if n, polls := e.sb.TransferCalls(), e.count("GET", "/chatSessions"); n != 1 || polls != 2 {
		t.Errorf("transfer calls = %d, chat sessions polls = %d; want 1 and 2 (a fresh look, no second POST)", n, polls)
	}
	var waited time.Duration
	for _, p := range e.pauses.get() {
		waited += p
	}
	if waited <= 0 || waited > 2*time.Second {
		t.Errorf("waited %v before polling again, want the rest of the 2 s between polls", waited)
	}
}

// When the deadline leaves no time to poll again, a reconcile neither concludes done nor sends a
// transfer from the earlier answer: it is VENDOR_TIMEOUT, for a later retry to decide.
func TestReconcileWithoutTimeToLookAgainDecidesNothing(t *testing.T) {
	e := newEnv(t, livepersonsandbox.Config{}, actThen500)
	_, err := e.transfer(t, "chat-1", agentTarget("6"))
	wantCode(t, err, handoff.CodeVendorUnavailable, "SERVER_ERROR")
	req := request("chat-1", agentTarget("6"))
	req.Reconcile = true
	ctx, cancel := context.WithTimeout(testCtx(t), 3*time.Second) // less than 2 s of wait + 2 s kept for the call
	defer cancel()
	_, err = e.adapter.Transfer(ctx, req)
	wantCode(t, err, handoff.CodeVendorTimeout, "")
	if n, polls := e.sb.TransferCalls(), e.count("GET", "/chatSessions"); n != 1 || polls != 1 {
		t.Errorf("transfer calls = %d, chat sessions polls = %d; want 1 and 1", n, polls)
	}
}
