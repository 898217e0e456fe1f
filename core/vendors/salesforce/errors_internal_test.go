package salesforce

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors/rest"
)

func TestRuntimeAnswers(t *testing.T) {
	tests := []struct {
		status      int
		name        string
		code        handoff.Code
		resend      bool // refused before the bot acted: sent again within the call
		alreadyDone bool // to a session end: the session has ended
	}{
		{400, "BadRequestError", handoff.CodeVendorRejected, false, false},
		{401, "UnauthorizedError", handoff.CodeVendorAuthFailed, false, false},
		{403, "ForbiddenError", handoff.CodeVendorRejected, false, false},
		{404, "NotFoundError", handoff.CodeVendorRejected, false, true},
		{410, "NotAvailableError", handoff.CodeVendorRejected, false, false},
		{422, "RequestProcessingException", handoff.CodeVendorRejected, false, false},
		{423, "ServerBusyError", handoff.CodeVendorUnavailable, true, false},
		{429, "TooManyRequestsError", handoff.CodeRateLimited, true, false},
		{503, "ServiceUnavailable", handoff.CodeVendorUnavailable, false, false}, // the bot ran: never resent
		{500, "InternalServerError", handoff.CodeVendorUnavailable, false, false},
		{502, "BadGateway", handoff.CodeVendorUnavailable, false, false},
		{504, "GatewayTimeout", handoff.CodeVendorTimeout, false, false},
		{418, "HTTP418", handoff.CodeVendorRejected, false, false},
		{507, "HTTP507", handoff.CodeVendorUnavailable, false, false},
		{302, "HTTP302", handoff.CodeVendorProtocol, false, false},
	}
	for _, tc := range tests {
		a := answerFor(tc.status)
		if a.Name != tc.name || a.Code != tc.code || a.Retryable != tc.resend || a.AlreadyDone != tc.alreadyDone {
			t.Errorf("answerFor(%d) = %+v, want %s %s resend=%v alreadyDone=%v", tc.status, a, tc.name, tc.code, tc.resend, tc.alreadyDone)
		}
		if a.Retryable && !handoff.Retryable(&handoff.Error{Code: a.Code}) {
			t.Errorf("%d is resent at once but its code %s is final", tc.status, a.Code)
		}
	}
}

func TestRuntimeErrorKeepsTheWait(t *testing.T) {
	resp := &rest.Response{Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"120"}},
		Body: []byte(`{"status":429,"message":"token 00Dxx!secret"}`)}
	e := runtimeError("salesforce.SendMessage", resp, time.Now())
	if e.Code != handoff.CodeRateLimited || e.RetryAfter != 2*time.Minute || e.VendorCode != "TooManyRequestsError" {
		t.Errorf("runtimeError = %+v", e)
	}
	if e.Err != nil || len(e.Message) > 80 {
		t.Errorf("the vendor's body reached the error: %v", e)
	}
}

func TestTokenErrors(t *testing.T) {
	tests := []struct {
		status     int
		oauth      string
		code       handoff.Code
		vendorCode string
	}{
		{400, "invalid_grant", handoff.CodeVendorAuthFailed, "invalid_grant"},
		{400, "invalid_client_id", handoff.CodeVendorAuthFailed, "invalid_client_id"},
		{400, "inactive_user", handoff.CodeVendorAuthFailed, "inactive_user"},
		{400, "rate_limit_exceeded", handoff.CodeRateLimited, "rate_limit_exceeded"},
		{400, "something <script>", handoff.CodeVendorAuthFailed, ""},
		{429, "", handoff.CodeRateLimited, ""},
		{500, "server_error", handoff.CodeVendorUnavailable, ""},
	}
	for _, tc := range tests {
		e := tokenError("salesforce.Token", &rest.Response{Status: tc.status, Header: http.Header{}}, tc.oauth, time.Now())
		if e.Code != tc.code || e.VendorCode != tc.vendorCode {
			t.Errorf("tokenError(%d, %q) = %s/%q, want %s/%q", tc.status, tc.oauth, e.Code, e.VendorCode, tc.code, tc.vendorCode)
		}
	}
}

func TestRequestID(t *testing.T) {
	a, b := requestID("tr-1", 5, "message"), requestID("tr-1", 5, "message")
	if a != b {
		t.Errorf("requestID is not stable: %s, %s", a, b)
	}
	if !uuidPattern.MatchString(a) || a[14] != '5' || !strings.ContainsAny(a[19:20], "89ab") {
		t.Errorf("requestID %s is not a version 5 UUID", a)
	}
	for _, other := range []string{requestID("tr-2", 5, "message"), requestID("tr-1", 6, "message"), requestID("tr-1", 5, "end")} {
		if other == a {
			t.Errorf("different acks share the request id %s", a)
		}
	}
}
