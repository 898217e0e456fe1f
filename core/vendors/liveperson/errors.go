package liveperson

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors/rest"
	"handoff/core/vendors/vendorkit"
)

// LivePerson documents almost no error for the Chat Agent API: only 200/201 per method, the
// Login Service API's 400/401/500, one error body (Refresh's 401) [C]:
//
//	{"error": {"time": "...", "message": "...", "internalCode": 10, "responseStatus": "UNAUTHORIZED"}}
//
// and the retry policy: a 4xx is a client error not to retry, a 429 is retried after at least a
// second, a 5xx is a server error [C: developers.liveperson.com/retry-policy-recommendations.html].
// So the "vendor codes" we report are our own names for the kinds of answers LivePerson gives,
// worked out from the status and the phase of the flow only: the message texts of transfer
// errors are undocumented, and we never decide on a guessed text.
const (
	condLoginRefused    = "LOGIN_REFUSED"     // login 401: wrong credentials [C: "Bad Authentication"]
	condLoginBadRequest = "LOGIN_BAD_REQUEST" // login 400: "Problem with body or query parameters" [C]
	condUnauthorized    = "UNAUTHORIZED"      // bearer refused even right after a new login [I]
	condForbidden       = "FORBIDDEN"         // the user lacks a privilege [I]
	condNotFound        = "NOT_FOUND"         // login or agentSession 404: wrong baseUrl or accountId [I]
	condBadRequest      = "BAD_REQUEST"       // 400 on a chat call: LivePerson refused the request [C: 4xx]
	condRejected        = "REJECTED"          // any other 4xx on a chat call [C: 4xx]
	condSkillNotListed  = "SKILL_NOT_LISTED"  // Retrieve Available Skills does not list the skill [C]
	condSkillOffline    = "SKILL_OFFLINE"     // listed with onlineAgents 0 [I: the doc says it is not listed]
	condChatNotHeld     = "CHAT_NOT_HELD"     // the agent does not hold the chat (Retrieve Chat Sessions, or a 404 under its session [I])
	condChatLeft        = "CHAT_LEFT_AGENT"   // reconcile: the chat is no longer held by the agent [C: Retrieve Chat Sessions]
	condRateLimited     = "TOO_MANY_REQUESTS" // 429 [C: retry policy page]
	condServerError     = "SERVER_ERROR"      // 5xx [C]
	condUnexpected      = "UNEXPECTED_STATUS" // a status no page describes (1xx, 3xx) [I]
	condMalformedAnswer = "MALFORMED_ANSWER"  // a 2xx whose body is not what the docs show
)

// rules is the one table from LivePerson's answers, named by condition, to our codes.
var rules = vendorkit.Table{
	condLoginRefused: {Code: handoff.CodeVendorAuthFailed, Message: "LivePerson refused the login with this tenant's credentials"},
	// A 400 is about the request's form, not the credentials: the secret is not invalidated.
	condLoginBadRequest: {Code: handoff.CodeConfiguration, Message: "LivePerson refused the login request as malformed (HTTP 400)"},
	condUnauthorized:    {Code: handoff.CodeVendorAuthFailed, Message: "LivePerson refused the bearer of a fresh login"},
	condForbidden:       {Code: handoff.CodeVendorAuthFailed, Message: "the LivePerson user lacks a privilege this call needs"},
	condNotFound:        {Code: handoff.CodeConfiguration, Message: "LivePerson has no such account or service at this baseUrl"},
	condBadRequest:      {Code: handoff.CodeVendorRejected, Message: "LivePerson refused the request"},
	condRejected:        {Code: handoff.CodeVendorRejected, Message: "LivePerson refused the request"},
	condSkillNotListed:  {Code: handoff.CodeTargetUnavailable, Message: "no agent of this skill is online to take the chat"},
	condSkillOffline:    {Code: handoff.CodeTargetUnavailable, Message: "no agent of this skill is online to take the chat"},
	condChatNotHeld: {Code: handoff.CodeConversationNotFound, Field: "conversation.id",
		Message: "the LivePerson agent does not hold this chat"},
	condRateLimited:     {Code: handoff.CodeRateLimited, Retryable: true, Message: "LivePerson asked us to slow down"},
	condServerError:     {Code: handoff.CodeVendorUnavailable, Message: "LivePerson failed to answer"},
	condUnexpected:      {Code: handoff.CodeVendorProtocol, Message: "LivePerson answered with an undocumented status"},
	condMalformedAnswer: {Code: handoff.CodeVendorProtocol, Message: "LivePerson's answer is not what its docs describe"},
}

// phase is the step of the flow an answer came from; the same status means different things.
type phase int

const (
	phaseLogin phase = iota
	phaseAgentSession
	phaseSkills
	phaseTransfer
	phaseChats   // Retrieve Chat Sessions
	phaseRefresh // the Login Service's refresh
)

// errorBody is LivePerson's error shape; every field is optional to us.
type errorBody struct {
	Error struct {
		InternalCode   json.RawMessage `json:"internalCode"`
		ResponseStatus string          `json:"responseStatus"`
	} `json:"error"`
}

// classify names a non-2xx answer from its status and the phase of the flow.
func classify(p phase, resp *rest.Response) string {
	status := resp.Status
	switch {
	case status == http.StatusTooManyRequests:
		return condRateLimited
	case status >= 500:
		return condServerError
	case status < 400:
		return condUnexpected
	case p == phaseLogin && status == http.StatusBadRequest:
		return condLoginBadRequest
	case p == phaseLogin && status == http.StatusUnauthorized:
		return condLoginRefused
	case status == http.StatusUnauthorized:
		return condUnauthorized
	case status == http.StatusForbidden:
		return condForbidden
	case status == http.StatusNotFound && (p == phaseSkills || p == phaseTransfer):
		// A 404 on a URL that names the chat under an agent session: that session does not hold
		// it [I: the docs list no error for these methods].
		return condChatNotHeld
	case status == http.StatusNotFound:
		// login, agent session, or our own agent session's chat sessions even after a new one
		return condNotFound
	case status == http.StatusBadRequest:
		return condBadRequest
	}
	return condRejected
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
func safeToken(s string) string { return vendorkit.CleanCode(strings.Trim(s, `"`), 40, "_-") }

// vendorError builds our error for a condition. The wait of a rate limit is the vendor's
// Retry-After, and at least a second, as LivePerson's retry policy asks.
func vendorError(op, cond string, resp *rest.Response, now time.Time) *handoff.Error {
	_, r, ok := rules.Lookup(cond)
	if !ok { // a condition without a row is a bug of ours; say so rather than guess
		r = vendorkit.Row{Code: handoff.CodeInternal, Message: "unmapped LivePerson condition " + cond}
	}
	e := &handoff.Error{Code: r.Code, Op: op, Message: r.Message, Field: r.Field, VendorCode: cond}
	if resp != nil {
		e.Err = answerOf(resp)
		if r.Code == handoff.CodeRateLimited {
			e.RetryAfter = max(rest.RetryAfter(resp.Header, now), time.Second)
		}
	}
	return e
}
