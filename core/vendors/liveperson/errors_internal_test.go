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
	skill, agent := handoff.TargetSkill, handoff.TargetAgent
	cases := []struct {
		name   string
		phase  phase
		status int
		body   []byte
		target handoff.TargetType
		cond   string
		code   handoff.Code
		done   bool // already done under Reconcile
	}{
		{"login 401", phaseLogin, 401, lpBody("Bad Authentication (invalid site or agent)", "UNAUTHORIZED"), "", condLoginRefused, handoff.CodeVendorAuthFailed, false},
		{"login 400", phaseLogin, 400, lpBody("Problem with body", "BAD_REQUEST"), "", condLoginRefused, handoff.CodeVendorAuthFailed, false},
		{"login 404", phaseLogin, 404, nil, "", condNotFound, handoff.CodeConfiguration, false},
		{"login 500", phaseLogin, 500, nil, "", condServerError, handoff.CodeVendorUnavailable, false},
		{"agent session 401", phaseAgentSession, 401, unauthorized, "", condUnauthorized, handoff.CodeVendorAuthFailed, false},
		{"skills 401 (doc body)", phaseSkills, 401, unauthorized, "", condUnauthorized, handoff.CodeVendorAuthFailed, false},
		{"skills 404", phaseSkills, 404, lpBody("Chat not found", "NOT_FOUND"), "", condChatNotFound, handoff.CodeVendorRejected, true},
		{"transfer 404", phaseTransfer, 404, nil, skill, condChatNotFound, handoff.CodeVendorRejected, true},
		{"transfer 403 privilege", phaseTransfer, 403, lpBody("User lacks the privilege", "FORBIDDEN"), skill, condForbidden, handoff.CodeVendorAuthFailed, false},
		{"transfer 403 not in chat", phaseTransfer, 403, lpBody("Agent is not in chat", "FORBIDDEN"), skill, condChatNotOwned, handoff.CodeVendorRejected, true},
		{"transfer 409 no longer", phaseTransfer, 409, lpBody("The agent is no longer a participant", "CONFLICT"), agent, condChatNotOwned, handoff.CodeVendorRejected, true},
		{"transfer 400 skill gone", phaseTransfer, 400, lpBody("Skill no longer exists", "BAD_REQUEST"), skill, condBadRequest, handoff.CodeVendorRejected, false},
		{"transfer 400 chat in other state", phaseTransfer, 400, lpBody("Chat not found", "BAD_REQUEST"), skill, condBadRequest, handoff.CodeVendorRejected, false},
		{"transfer 400 skill unavailable", phaseTransfer, 400, lpBody("Skill is not available for transfer", "BAD_REQUEST"), skill, condSkillUnavail, handoff.CodeTargetUnavailable, false},
		{"transfer 409 agent unavailable", phaseTransfer, 409, lpBody("Agent 7 is UNAVAILABLE", "CONFLICT"), agent, condAgentUnavail, handoff.CodeTargetUnavailable, false},
		{"transfer 400 no agents online", phaseTransfer, 400, lpBody("No agent online in skill", "BAD_REQUEST"), skill, condSkillUnavail, handoff.CodeTargetUnavailable, false},
		{"transfer 400", phaseTransfer, 400, lpBody("Invalid transfer request", "BAD_REQUEST"), skill, condBadRequest, handoff.CodeVendorRejected, false},
		{"transfer 400 without body", phaseTransfer, 400, []byte("<html>bad</html>"), skill, condBadRequest, handoff.CodeVendorRejected, false},
		{"transfer 422", phaseTransfer, 422, nil, skill, condRejected, handoff.CodeVendorRejected, false},
		{"transfer 429", phaseTransfer, 429, nil, skill, condRateLimited, handoff.CodeRateLimited, false},
		{"transfer 500", phaseTransfer, 500, nil, skill, condServerError, handoff.CodeVendorUnavailable, false},
		{"transfer 503", phaseTransfer, 503, nil, skill, condServerError, handoff.CodeVendorUnavailable, false},
		{"transfer 302", phaseTransfer, 302, nil, skill, condUnexpected, handoff.CodeVendorProtocol, false},
		// Unavailability is only read from a transfer's answer, never from a skills GET.
		{"skills 400 unavailable", phaseSkills, 400, lpBody("Skill is not available", "BAD_REQUEST"), "", condBadRequest, handoff.CodeVendorRejected, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := &rest.Response{Status: c.status, Header: http.Header{}, Body: c.body}
			cond := classify(c.phase, resp, c.target)
			if cond != c.cond {
				t.Fatalf("classify = %s, want %s", cond, c.cond)
			}
			e := vendorError("liveperson.Test", cond, resp, time.Now())
			if e.Code != c.code || e.VendorCode != c.cond || rules[cond].alreadyDone != c.done {
				t.Errorf("vendorError = %s / %s, already done %v; want %s / %s, %v",
					e.Code, e.VendorCode, rules[cond].alreadyDone, c.code, c.cond, c.done)
			}
			// Our message, never the vendor's text.
			if msg := vendorMessage(c.body); msg != "" && strings.Contains(e.Error(), msg) {
				t.Errorf("the vendor's message reached our error: %v", e)
			}
		})
	}
}

func TestEveryConditionHasARule(t *testing.T) {
	for _, cond := range []string{condLoginRefused, condUnauthorized, condForbidden, condNotFound, condBadRequest,
		condRejected, condSkillNotListed, condSkillOffline, condSkillUnavail, condAgentUnavail, condChatNotFound,
		condChatNotOwned, condRateLimited, condServerError, condUnexpected, condMalformedAnswer} {
		if r, ok := rules[cond]; !ok || r.code == "" || r.message == "" {
			t.Errorf("condition %s has no complete rule", cond)
		}
	}
}

// The sandbox's fault answers must be recognised as the codes they are named after, or the
// conformance suite would test a sandbox that disagrees with the adapter.
func TestSandboxFaultsClassifyAsNamed(t *testing.T) {
	for code, f := range sandboxFaults {
		target := handoff.TargetSkill
		if code == condAgentUnavail {
			target = handoff.TargetAgent
		}
		resp := &rest.Response{Status: f.status, Header: http.Header{}, Body: lpBody(f.message, "X")}
		if got := classify(phaseTransfer, resp, target); got != code {
			t.Errorf("sandbox fault %s classifies as %s", code, got)
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
	retry := resendable(phaseTransfer, false)
	if retry(bare) || !retry(long) || retry(&rest.Response{Status: 503, Header: http.Header{}}) {
		t.Error("a transfer may be re-sent only after a 429 with Retry-After")
	}
	if !resendable(phaseSkills, true)(&rest.Response{Status: 500, Header: http.Header{}}) {
		t.Error("the skills GET may be re-sent after a 5xx")
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
