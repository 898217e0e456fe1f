package liveperson

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors/rest"
)

// LivePerson documents almost no error for the Chat Agent API: only 200/201 per method, the
// Login Service API's 400/401/500, and one error body, for Refresh [C]:
//
//	{"error": {"time": "...", "message": "...", "internalCode": 10, "responseStatus": "UNAUTHORIZED"}}
//
// Whether transfer errors use it too is a guess [U/I]; nothing below depends on it being there.
// So the "vendor codes" we report are our own names for the kinds of answers LivePerson gives,
// worked out from the status, the phase of the flow and (for two undocumented cases) the
// message: they are what an operator sees as vendorCode on an attempt.
const (
	condLoginRefused    = "LOGIN_REFUSED"     // login 400/401: wrong or incomplete credentials [C]
	condUnauthorized    = "UNAUTHORIZED"      // bearer refused even right after a new login [I]
	condForbidden       = "FORBIDDEN"         // the user lacks a privilege [I]
	condNotFound        = "NOT_FOUND"         // login or agentSession 404: wrong baseUrl or accountId [I]
	condBadRequest      = "BAD_REQUEST"       // 400 on a chat call: LivePerson refused the request [I]
	condRejected        = "REJECTED"          // any other 4xx on a chat call [I]
	condSkillNotListed  = "SKILL_NOT_LISTED"  // Retrieve Available Skills does not list the skill [C]
	condSkillOffline    = "SKILL_OFFLINE"     // listed with onlineAgents 0 [I: the doc says it is not listed]
	condSkillUnavail    = "SKILL_UNAVAILABLE" // transfer refused: skill not available [U: status and body]
	condAgentUnavail    = "AGENT_UNAVAILABLE" // transfer refused: agent not available [U]
	condChatNotFound    = "CHAT_NOT_FOUND"    // 404 on a chat call: not (or no longer) in our agent session [I]
	condChatNotOwned    = "CHAT_NOT_OWNED"    // 4xx saying the bot is not in the chat any more [U]
	condRateLimited     = "TOO_MANY_REQUESTS" // 429 [C: retry policy page]
	condServerError     = "SERVER_ERROR"      // 5xx [C]
	condUnexpected      = "UNEXPECTED_STATUS" // a status no page describes (1xx, 3xx) [I]
	condMalformedAnswer = "MALFORMED_ANSWER"  // a 2xx whose body is not what the docs show
)

// rule is what one condition means for us.
type rule struct {
	code    handoff.Code
	message string // ours, safe to show; never the vendor's text
	// retryable: LivePerson refused before acting and the same request, sent again as is after
	// the wait it asked for, may succeed. Only those are re-sent inside one call.
	retryable bool
	// alreadyDone: with TransferRequest.Reconcile set, the earlier attempt of this transfer did
	// the transfer, so this answer counts as success.
	alreadyDone bool
}

// rules is the one table from LivePerson's answers to our codes.
var rules = map[string]rule{
	condLoginRefused:   {code: handoff.CodeVendorAuthFailed, message: "LivePerson refused the login with this tenant's credentials"},
	condUnauthorized:   {code: handoff.CodeVendorAuthFailed, message: "LivePerson refused the bearer of a fresh login"},
	condForbidden:      {code: handoff.CodeVendorAuthFailed, message: "the LivePerson user lacks a privilege this call needs"},
	condNotFound:       {code: handoff.CodeConfiguration, message: "LivePerson has no such account or service at this baseUrl"},
	condBadRequest:     {code: handoff.CodeVendorRejected, message: "LivePerson refused the request"},
	condRejected:       {code: handoff.CodeVendorRejected, message: "LivePerson refused the request"},
	condSkillNotListed: {code: handoff.CodeTargetUnavailable, message: "no agent of this skill is online to take the chat"},
	condSkillOffline:   {code: handoff.CodeTargetUnavailable, message: "no agent of this skill is online to take the chat"},
	condSkillUnavail:   {code: handoff.CodeTargetUnavailable, message: "LivePerson says the skill is not available"},
	condAgentUnavail:   {code: handoff.CodeTargetUnavailable, message: "LivePerson says the agent is not available"},
	// A chat the bot transferred away leaves its agent session, so a repeated transfer most
	// likely meets one of these two [U]. Only with Reconcile (an earlier attempt may have gone
	// through) do they mean "already done"; otherwise the chat id is simply wrong for this bot.
	condChatNotFound:    {code: handoff.CodeVendorRejected, message: "the chat is not in the bot's LivePerson agent session", alreadyDone: true},
	condChatNotOwned:    {code: handoff.CodeVendorRejected, message: "the bot no longer takes part in this chat", alreadyDone: true},
	condRateLimited:     {code: handoff.CodeRateLimited, message: "LivePerson asked us to slow down", retryable: true},
	condServerError:     {code: handoff.CodeVendorUnavailable, message: "LivePerson failed to answer"},
	condUnexpected:      {code: handoff.CodeVendorProtocol, message: "LivePerson answered with an undocumented status"},
	condMalformedAnswer: {code: handoff.CodeVendorProtocol, message: "LivePerson's answer is not what its docs describe"},
}

// phase is the step of the flow an answer came from; the same status means different things.
type phase int

const (
	phaseLogin phase = iota
	phaseAgentSession
	phaseSkills
	phaseTransfer
)

// errorBody is LivePerson's error shape; every field is optional to us.
type errorBody struct {
	Error struct {
		Message        string          `json:"message"`
		InternalCode   json.RawMessage `json:"internalCode"`
		ResponseStatus string          `json:"responseStatus"`
	} `json:"error"`
}

// classify names a non-2xx answer. target is the transfer target's type (empty outside a
// transfer); it only tells a skill's unavailability from an agent's.
func classify(p phase, resp *rest.Response, target handoff.TargetType) string {
	status := resp.Status
	msg := strings.ToLower(vendorMessage(resp.Body))
	chatCall := p == phaseSkills || p == phaseTransfer
	switch {
	case status == http.StatusTooManyRequests:
		return condRateLimited
	case status >= 500:
		return condServerError
	case status < 400:
		return condUnexpected
	case p == phaseLogin && (status == http.StatusBadRequest || status == http.StatusUnauthorized):
		return condLoginRefused
	case status == http.StatusUnauthorized:
		return condUnauthorized
	case chatCall && saysNotInChat(msg):
		return condChatNotOwned // checked before 403: this one is about the chat, not the user
	case status == http.StatusForbidden:
		return condForbidden
	case status == http.StatusNotFound && chatCall:
		return condChatNotFound
	case status == http.StatusNotFound:
		return condNotFound
	case p == phaseTransfer && saysUnavailable(msg):
		// The doc says a transfer to an unavailable skill "will result in an error" without the
		// status or the body [U]; we guess any 4xx whose message says so.
		if target == handoff.TargetAgent {
			return condAgentUnavail
		}
		return condSkillUnavail
	case status == http.StatusBadRequest:
		return condBadRequest
	}
	return condRejected
}

func saysUnavailable(msg string) bool {
	for _, s := range []string{"unavailable", "not available", "no available", "no agent", "offline"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// saysNotInChat recognises a refusal because the bot is not (or no longer) in the chat. It wants
// both the chat (or a participant) and a negation, so "Skill no longer exists" is not taken for
// it: under Reconcile this answer counts as success, and a wrong match would hide a failure.
func saysNotInChat(msg string) bool {
	if !strings.Contains(msg, "chat") && !strings.Contains(msg, "participa") {
		return false
	}
	for _, s := range []string{"not in", "no longer", "not a participant", "not participating", "not the owner", "not assigned"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// vendorMessage reads the message of LivePerson's error body, if it has one. It is only
// matched against, never copied into our errors.
func vendorMessage(body []byte) string {
	var eb errorBody
	if json.Unmarshal(body, &eb) != nil {
		return ""
	}
	return eb.Error.Message
}

// vendorAnswer is the cause we attach to a mapped error: the status and LivePerson's codes,
// which cannot hold a credential, and not its message text.
type vendorAnswer struct {
	status         int
	responseStatus string
	internalCode   string
}

func (v vendorAnswer) Error() string {
	s := fmt.Sprintf("LivePerson answered HTTP %d", v.status)
	if v.responseStatus != "" || v.internalCode != "" {
		s += fmt.Sprintf(" (responseStatus %q, internalCode %s)", v.responseStatus, v.internalCode)
	}
	return s
}

func answerOf(resp *rest.Response) vendorAnswer {
	a := vendorAnswer{status: resp.Status}
	var eb errorBody
	if json.Unmarshal(resp.Body, &eb) == nil {
		a.responseStatus = safeToken(eb.Error.ResponseStatus)
		a.internalCode = safeToken(string(eb.Error.InternalCode))
	}
	return a
}

// safeToken keeps a short code-like value (letters, digits, '_', '-'), so nothing the vendor
// echoes can ride along into our logs.
func safeToken(s string) string {
	s = strings.Trim(s, `"`)
	if len(s) > 40 {
		return ""
	}
	for _, c := range s {
		if !(c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return ""
		}
	}
	return s
}

// vendorError builds our error for a condition. The wait of a rate limit is the vendor's
// Retry-After, and at least a second, as LivePerson's retry policy asks.
func vendorError(op, cond string, resp *rest.Response, now time.Time) *handoff.Error {
	r, ok := rules[cond]
	if !ok { // a condition without a row is a bug of ours; say so rather than guess
		r = rule{code: handoff.CodeInternal, message: "unmapped LivePerson condition " + cond}
	}
	e := &handoff.Error{Code: r.code, Op: op, Message: r.message, VendorCode: cond}
	if resp != nil {
		e.Err = answerOf(resp)
		if r.code == handoff.CodeRateLimited {
			e.RetryAfter = max(rest.RetryAfter(resp.Header, now), time.Second)
		}
	}
	return e
}

// resendable tells the shared client which answers may be re-sent as they are. A 429 may, once
// its Retry-After (at least the second LivePerson's retry policy asks for) has passed; a bare 429
// is returned to the caller with a one-second RetryAfter instead of a shorter backoff. A 5xx may
// only for idempotent calls (login, agent session, the skills GET): for a transfer it may come
// after LivePerson acted.
func resendable(p phase, idempotent bool) func(*rest.Response) bool {
	return func(resp *rest.Response) bool {
		if resp.OK() {
			return false
		}
		if resp.Status >= 500 {
			return idempotent
		}
		return rules[classify(p, resp, "")].retryable && rest.RetryAfter(resp.Header, time.Now()) >= time.Second
	}
}
