package salesforce

import (
	"fmt"
	"net/http"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors/rest"
	"handoff/core/vendors/vendorkit"
)

// runtimeAnswers is docs/vendors/salesforce.md (v5 codes plus v4's 410), keyed by HTTP status:
// the runtime's error body ({status, path, requestId, error, message, timestamp}) says nothing
// the status does not, so it is never read into our errors. Name is the spec's error schema,
// reported as the VendorCode. Retryable marks an answer given before the bot acted (busy,
// throttled), so the same message may be sent again at once; every retryable code
// (handoff.Retryable) is also tried again later by bot-ack, with the same sequenceId.
// AlreadyDone, to a session end, means the session already ended. 401 is answered after one
// new token: see Adapter.call.
var runtimeAnswers = vendorkit.Table{
	"400": {Name: "BadRequestError", Code: handoff.CodeVendorRejected},
	"401": {Name: "UnauthorizedError", Code: handoff.CodeVendorAuthFailed},
	"403": {Name: "ForbiddenError", Code: handoff.CodeVendorRejected},
	"404": {Name: "NotFoundError", Code: handoff.CodeVendorRejected, AlreadyDone: true},
	"410": {Name: "NotAvailableError", Code: handoff.CodeVendorRejected},
	"422": {Name: "RequestProcessingException", Code: handoff.CodeVendorRejected},
	"423": {Name: "ServerBusyError", Code: handoff.CodeVendorUnavailable, Retryable: true},
	"429": {Name: "TooManyRequestsError", Code: handoff.CodeRateLimited, Retryable: true},
	// The spec: "Service is unavailable possibly because Apex or Flow calls timed out", so the
	// bot ran: never sent again (an ack answered so is recorded uncertain; see sendMessage).
	"503": {Name: "ServiceUnavailable", Code: handoff.CodeVendorUnavailable},
	// Not in the spec, but a gateway in front of the runtime answers these.
	"500": {Name: "InternalServerError", Code: handoff.CodeVendorUnavailable},
	"502": {Name: "BadGateway", Code: handoff.CodeVendorUnavailable},
	"504": {Name: "GatewayTimeout", Code: handoff.CodeVendorTimeout},
	"5xx": {Code: handoff.CodeVendorUnavailable},
	"4xx": {Code: handoff.CodeVendorRejected},
}

// answerFor returns the row for status; a status without a name of its own is named HTTP<n>.
func answerFor(status int) vendorkit.Row {
	_, a := runtimeAnswers.Classify(status, "")
	if a.Name == "" {
		a.Name = fmt.Sprintf("HTTP%d", status)
	}
	return a
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
var tokenErrors = vendorkit.Table{
	"invalid_grant":          {Code: handoff.CodeVendorAuthFailed}, // bad assertion, user not pre-authorized, key mismatch
	"invalid_client_id":      {Code: handoff.CodeVendorAuthFailed},
	"invalid_client":         {Code: handoff.CodeVendorAuthFailed},
	"inactive_user":          {Code: handoff.CodeVendorAuthFailed},
	"inactive_org":           {Code: handoff.CodeVendorAuthFailed},
	"invalid_request":        {Code: handoff.CodeVendorAuthFailed},
	"unsupported_grant_type": {Code: handoff.CodeVendorAuthFailed},
	"rate_limit_exceeded":    {Code: handoff.CodeRateLimited},
}

// tokenError turns a failed token request into our error. The OAuth error code is kept only
// when it is one we know: the rest of the body is the vendor's text and stays out.
func tokenError(op string, resp *rest.Response, oauthCode string, now time.Time) *handoff.Error {
	e := &handoff.Error{Op: op, RetryAfter: rest.RetryAfter(resp.Header, now)}
	code, row, known := tokenErrors.Lookup(oauthCode)
	switch {
	case resp.Status == http.StatusTooManyRequests:
		e.Code = handoff.CodeRateLimited
	case resp.Status >= 500:
		e.Code = handoff.CodeVendorUnavailable
	case known:
		e.Code, e.VendorCode = row.Code, code
	default:
		e.Code = handoff.CodeVendorAuthFailed
	}
	e.Message = fmt.Sprintf("Salesforce refused the access-token request (HTTP %d)", resp.Status)
	return e
}
