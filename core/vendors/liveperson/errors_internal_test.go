package liveperson

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors/rest"
)

func lpBody(message, responseStatus string) []byte {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"time": "Sep 22, 2016 4:10:15 PM",
		"message": message, "internalCode": 7, "responseStatus": responseStatus}})
	return b
}

func TestErrorTable(t *testing.T) {
	unauthorized, err := os.ReadFile("testdata/error_unauthorized.json")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		phase  phase
		status int
		body   []byte
		cond   string
		code   handoff.Code
	}{
		{"login 401", phaseLogin, 401, lpBody("Bad Authentication (invalid site or agent)", "UNAUTHORIZED"), condLoginRefused, handoff.CodeVendorAuthFailed},
		// "Problem with body or query parameters" [C]: not the credentials' fault.
		{"login 400", phaseLogin, 400, lpBody("Problem with body", "BAD_REQUEST"), condLoginBadRequest, handoff.CodeConfiguration},
		{"login 404", phaseLogin, 404, nil, condNotFound, handoff.CodeConfiguration},
		{"login 500", phaseLogin, 500, nil, condServerError, handoff.CodeVendorUnavailable},
		{"agent session 401", phaseAgentSession, 401, unauthorized, condUnauthorized, handoff.CodeVendorAuthFailed},
		{"skills 401 (doc body)", phaseSkills, 401, unauthorized, condUnauthorized, handoff.CodeVendorAuthFailed},
		{"skills 404", phaseSkills, 404, lpBody("Chat not found", "NOT_FOUND"), condChatNotHeld, handoff.CodeConversationNotFound},
		{"transfer 404", phaseTransfer, 404, nil, condChatNotHeld, handoff.CodeConversationNotFound},
		{"transfer 403", phaseTransfer, 403, lpBody("Agent is not in chat", "FORBIDDEN"), condForbidden, handoff.CodeVendorAuthFailed},
		// The texts are never read: the same status means the same, whatever the message says.
		{"transfer 400 saying unavailable", phaseTransfer, 400, lpBody("Skill is not available for transfer", "BAD_REQUEST"), condBadRequest, handoff.CodeVendorRejected},
		{"transfer 409 saying no longer in chat", phaseTransfer, 409, lpBody("The agent is no longer a participant in the chat", "CONFLICT"), condRejected, handoff.CodeVendorRejected},
		{"transfer 400 without body", phaseTransfer, 400, []byte("<html>bad</html>"), condBadRequest, handoff.CodeVendorRejected},
		{"transfer 422", phaseTransfer, 422, nil, condRejected, handoff.CodeVendorRejected},
		{"transfer 429", phaseTransfer, 429, nil, condRateLimited, handoff.CodeRateLimited},
		{"transfer 500", phaseTransfer, 500, nil, condServerError, handoff.CodeVendorUnavailable},
		{"transfer 503", phaseTransfer, 503, nil, condServerError, handoff.CodeVendorUnavailable},
		{"transfer 302", phaseTransfer, 302, nil, condUnexpected, handoff.CodeVendorProtocol},
		{"chat sessions 401", phaseChats, 401, unauthorized, condUnauthorized, handoff.CodeVendorAuthFailed},
		{"chat sessions 404", phaseChats, 404, nil, condNotFound, handoff.CodeConfiguration},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := &rest.Response{Status: c.status, Header: http.Header{}, Body: c.body}
			cond := classify(c.phase, resp)
			if cond != c.cond {
				t.Fatalf("classify = %s, want %s", cond, c.cond)
			}
			e := vendorError("liveperson.Test", cond, resp, time.Now())
			if e.Code != c.code || e.VendorCode != c.cond {
				t.Errorf("vendorError = %s / %s; want %s / %s", e.Code, e.VendorCode, c.code, c.cond)
			}
			if c.code == handoff.CodeConversationNotFound && e.Field != "conversation.id" {
				t.Errorf("field = %q, want conversation.id", e.Field)
			}
			// Our message, never the vendor's text.
			var eb struct{ Error struct{ Message string } }
			if json.Unmarshal(c.body, &eb) == nil && eb.Error.Message != "" && strings.Contains(e.Error(), eb.Error.Message) {
				t.Errorf("the vendor's message reached our error: %v", e)
			}
		})
	}
}

func TestEveryConditionHasARule(t *testing.T) {
	for _, cond := range []string{condLoginRefused, condLoginBadRequest, condUnauthorized, condForbidden, condNotFound,
		condBadRequest, condRejected, condSkillNotListed, condSkillOffline, condChatNotHeld, condChatLeft,
		condRateLimited, condServerError, condUnexpected, condMalformedAnswer} {
		if r, ok := rules[cond]; cond != condChatLeft && (!ok || r.code == "" || r.message == "") {
			t.Errorf("condition %s has no complete rule", cond)
		}
	}
}

func TestRateLimitWait(t *testing.T) {
	now := time.Now()
	bare := &rest.Response{Status: 429, Header: http.Header{}}
	if e := vendorError("op", condRateLimited, bare, now); e.RetryAfter != time.Second {
		t.Errorf("RetryAfter for a bare 429 = %v, want LivePerson's minimum of 1s", e.RetryAfter)
	}
	long := &rest.Response{Status: 429, Header: http.Header{"Retry-After": {"120"}}}
	if e := vendorError("op", condRateLimited, long, now); e.RetryAfter != 2*time.Minute {
		t.Errorf("RetryAfter = %v, want 2m", e.RetryAfter)
	}
}

func TestVendorAnswerKeepsOnlyCodes(t *testing.T) {
	a := answerOf(&rest.Response{Status: 401, Body: lpBody("token abc123 is bad", "UNAUTHORIZED")})
	if a.responseStatus != "UNAUTHORIZED" || a.internalCode != "7" || strings.Contains(a.Error(), "abc123") {
		t.Errorf("answer = %+v (%v)", a, a)
	}
	a = answerOf(&rest.Response{Status: 400, Body: lpBody("x", "secret value with spaces")})
	if a.responseStatus != "" {
		t.Errorf("a responseStatus that is not a code was kept: %q", a.responseStatus)
	}
}
