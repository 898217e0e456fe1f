package salesforce

import (
	"fmt"
	"net/http"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors/rest"
)

// runtimeAnswer is what one HTTP status of the Bot Runtime API means to us. The runtime's error
// body ({status, path, requestId, error, message, timestamp}) says nothing the status does not,
// so the status is the key and the body is never copied into our errors.
type runtimeAnswer struct {
	// Name is the spec's error schema, reported as the VendorCode.
	Name string
	Code handoff.Code
	// Retryable marks an answer given before the bot acted (busy, throttled, down), so the same
	// message may be sent again at once. Every retryable code (handoff.Retryable) is also tried
	// again later by bot-ack, with the same sequenceId.
	Retryable bool
	// AlreadyDone marks an answer that, to a session end, means the session already ended.
	AlreadyDone bool
}

// runtimeAnswers is docs/vendors/salesforce.md (v5 codes plus v4's 410). 401 is answered after one new
// token: see Adapter.call.
var runtimeAnswers = map[int]runtimeAnswer{
	http.StatusBadRequest:          {Name: "BadRequestError", Code: handoff.CodeVendorRejected},
	http.StatusUnauthorized:        {Name: "UnauthorizedError", Code: handoff.CodeVendorAuthFailed},
	http.StatusForbidden:           {Name: "ForbiddenError", Code: handoff.CodeVendorRejected},
	http.StatusNotFound:            {Name: "NotFoundError", Code: handoff.CodeVendorRejected, AlreadyDone: true},
	http.StatusGone:                {Name: "NotAvailableError", Code: handoff.CodeVendorRejected},
	http.StatusUnprocessableEntity: {Name: "RequestProcessingException", Code: handoff.CodeVendorRejected},
	http.StatusLocked:              {Name: "ServerBusyError", Code: handoff.CodeVendorUnavailable, Retryable: true},
	http.StatusTooManyRequests:     {Name: "TooManyRequestsError", Code: handoff.CodeRateLimited, Retryable: true},
	// The spec: "Service is unavailable possibly because Apex or Flow calls timed out", so the
	// bot ran: never sent again (an ack answered so is recorded uncertain; see sendMessage).
	http.StatusServiceUnavailable: {Name: "ServiceUnavailable", Code: handoff.CodeVendorUnavailable},
	// Not in the spec, but a gateway in front of the runtime answers these.
	http.StatusInternalServerError: {Name: "InternalServerError", Code: handoff.CodeVendorUnavailable},
	http.StatusBadGateway:          {Name: "BadGateway", Code: handoff.CodeVendorUnavailable},
	http.StatusGatewayTimeout:      {Name: "GatewayTimeout", Code: handoff.CodeVendorTimeout},
}

// answerFor returns the row for status; statuses outside the table fall back by class.
func answerFor(status int) runtimeAnswer {
	if a, ok := runtimeAnswers[status]; ok {
		return a
	}
	name := fmt.Sprintf("HTTP%d", status)
	switch {
	case status >= 500:
		return runtimeAnswer{Name: name, Code: handoff.CodeVendorUnavailable}
	case status >= 400:
		return runtimeAnswer{Name: name, Code: handoff.CodeVendorRejected}
	}
	return runtimeAnswer{Name: name, Code: handoff.CodeVendorProtocol}
}

// resendable is the rest.Request.Retry of runtime calls: only answers given before the bot acted.
func resendable(r *rest.Response) bool { return answerFor(r.Status).Retryable }

// runtimeError turns a non-2xx runtime answer into our error, with the vendor's wait when it
// asked for one.
func runtimeError(op string, resp *rest.Response, now time.Time) *handoff.Error {
	a := answerFor(resp.Status)
	return &handoff.Error{
		Code:       a.Code,
		Op:         op,
		Message:    fmt.Sprintf("the Einstein Bot runtime answered %s (HTTP %d)", a.Name, resp.Status),
		VendorCode: a.Name,
		RetryAfter: rest.RetryAfter(resp.Header, now),
	}
}

// tokenErrors maps the OAuth token endpoint's error codes. Salesforce documents them for its
// OAuth flows, not in the Bot API spec [I]; every other 4xx is treated as refused credentials too.
var tokenErrors = map[string]handoff.Code{
	"invalid_grant":          handoff.CodeVendorAuthFailed, // bad assertion, user not pre-authorized, key mismatch
	"invalid_client_id":      handoff.CodeVendorAuthFailed,
	"invalid_client":         handoff.CodeVendorAuthFailed,
	"inactive_user":          handoff.CodeVendorAuthFailed,
	"inactive_org":           handoff.CodeVendorAuthFailed,
	"invalid_request":        handoff.CodeVendorAuthFailed,
	"unsupported_grant_type": handoff.CodeVendorAuthFailed,
	"rate_limit_exceeded":    handoff.CodeRateLimited,
}

// tokenError turns a failed token request into our error. The OAuth error code is kept only
// when it is one we know: the rest of the body is the vendor's text and stays out.
func tokenError(op string, resp *rest.Response, oauthCode string, now time.Time) *handoff.Error {
	e := &handoff.Error{Op: op, RetryAfter: rest.RetryAfter(resp.Header, now)}
	code, known := tokenErrors[oauthCode]
	switch {
	case resp.Status == http.StatusTooManyRequests:
		e.Code = handoff.CodeRateLimited
	case resp.Status >= 500:
		e.Code = handoff.CodeVendorUnavailable
	case known:
		e.Code, e.VendorCode = code, oauthCode
	default:
		e.Code = handoff.CodeVendorAuthFailed
	}
	e.Message = fmt.Sprintf("Salesforce refused the access-token request (HTTP %d)", resp.Status)
	return e
}
