package bitrix24

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors/rest"
)

// TestErrorTable pins every documented code to its status, our code, whether Bitrix24 refused
// it before executing, and how the adapter recovers. The expectations are written out here,
// not derived from the table, so a wrong edit of the table fails.
func TestErrorTable(t *testing.T) {
	const (
		rejected    = handoff.CodeVendorRejected
		auth        = handoff.CodeVendorAuthFailed
		unavailable = handoff.CodeVendorUnavailable
		limited     = handoff.CodeRateLimited
	)
	tests := []struct {
		code    string
		status  int
		want    handoff.Code
		refused bool
		recover recovery
		doneOn  string
	}{
		{"CHAT_ID_EMPTY", 400, rejected, true, recoverNone, ""},
		{"USER_ID_EMPTY", 400, rejected, true, recoverNone, ""},
		{"QUEUE_ID_EMPTY", 400, rejected, true, recoverNone, ""},
		{"TRANSFER_ID_EMPTY", 400, rejected, true, recoverNone, ""},
		{"BOT_ID_ERROR", 400, rejected, true, recoverNone, ""},
		{"OPERATOR_WRONG", 400, handoff.CodeTargetUnavailable, true, recoverNone, ""},
		{"WRONG_CHAT", 400, rejected, true, recoverNone, methodOperator},
		{"WRONG_AUTH_TYPE", 403, auth, true, recoverNone, ""},
		{"INTERNAL_SERVER_ERROR", 500, unavailable, false, recoverNone, ""},
		{"ERROR_UNEXPECTED_ANSWER", 500, unavailable, false, recoverNone, ""},
		{"QUERY_LIMIT_EXCEEDED", 503, limited, true, recoverWait, ""},
		{"OPERATION_TIME_LIMIT", 429, limited, true, recoverWait, ""},
		{"OVERLOAD_LIMIT", 503, unavailable, true, recoverNone, ""},
		{"ERROR_BATCH_METHOD_NOT_ALLOWED", 405, rejected, true, recoverNone, ""},
		{"ERROR_BATCH_LENGTH_EXCEEDED", 400, rejected, true, recoverNone, ""},
		{"NO_AUTH_FOUND", 401, auth, true, recoverReread, ""},
		{"INVALID_REQUEST", 400, handoff.CodeConfiguration, true, recoverNone, ""},
		{"ACCESS_DENIED", 403, auth, true, recoverNone, ""},
		{"INVALID_CREDENTIALS", 403, auth, true, recoverNone, ""},
		{"ERROR_MANIFEST_IS_NOT_AVAILABLE", 404, rejected, true, recoverNone, ""},
		{"insufficient_scope", 403, auth, true, recoverNone, ""},
		{"expired_token", 401, auth, true, recoverRefresh, ""},
		{"invalid_token", 401, auth, true, recoverReread, ""},
		{"user_access_error", 403, auth, true, recoverNone, ""},
		{"PORTAL_DELETED", 500, auth, true, recoverNone, ""},
		{"ERROR_METHOD_NOT_FOUND", 404, rejected, true, recoverNone, ""},
	}
	for code := range recoveries {
		if canonical, _, ok := portalErrors.Lookup(code); !ok || canonical != code {
			t.Errorf("recovery for %s, which the table does not hold in that spelling", code)
		}
	}
	if len(tests) != len(portalErrors) {
		t.Errorf("the test pins %d codes, the table holds %d: pin every code", len(tests), len(portalErrors))
	}
	for _, tt := range tests {
		for _, spelling := range []string{tt.code, strings.ToLower(tt.code), strings.ToUpper(tt.code)} {
			canonical, r, ok := portalErrors.Lookup(spelling)
			if !ok {
				t.Errorf("%s: not in the table", spelling)
				continue
			}
			if canonical != tt.code {
				t.Errorf("%s: canonical spelling %q, want %q", spelling, canonical, tt.code)
			}
			doneOn := ""
			if r.AlreadyDone {
				doneOn = alreadyDoneOn
			}
			if r.Status != tt.status || r.Code != tt.want || r.Retryable != tt.refused || recoveries[canonical] != tt.recover || doneOn != tt.doneOn {
				t.Errorf("%s: %+v, want status %d code %s refused %v recover %d alreadyDoneOn %q",
					spelling, r, tt.status, tt.want, tt.refused, tt.recover, tt.doneOn)
			}
			if r.Message == "" {
				t.Errorf("%s: no message", spelling)
			}
		}
	}
}

func TestOAuthErrorTable(t *testing.T) {
	for _, code := range []string{"invalid_request", "invalid_client", "invalid_grant", "insufficient_scope", "invalid_scope", "PAYMENT_REQUIRED", "INVALID_GRANT"} {
		if _, r, ok := oauthErrors.Lookup(code); !ok || r.Code != handoff.CodeVendorAuthFailed {
			t.Errorf("%s: %+v, %v; want VENDOR_AUTH_FAILED", code, r, ok)
		}
	}
	// The portal's INVALID_REQUEST (https) is not the OAuth server's invalid_request.
	if _, r, _ := portalErrors.Lookup("invalid_request"); r.Code != handoff.CodeConfiguration {
		t.Errorf("portal invalid_request = %s, want CONFIGURATION", r.Code)
	}
}

func TestUnknownCodesGoByStatus(t *testing.T) {
	tests := map[int]handoff.Code{
		400: handoff.CodeVendorRejected, 404: handoff.CodeVendorRejected, 422: handoff.CodeVendorRejected,
		401: handoff.CodeVendorAuthFailed, 403: handoff.CodeVendorAuthFailed,
		429: handoff.CodeRateLimited,
		500: handoff.CodeVendorUnavailable, 502: handoff.CodeVendorUnavailable, 503: handoff.CodeVendorUnavailable,
		200: handoff.CodeVendorProtocol, 302: handoff.CodeVendorProtocol,
	}
	for status, want := range tests {
		if got := byStatus(status).Code; got != want {
			t.Errorf("status %d: %s, want %s", status, got, want)
		}
	}
}

func TestToError(t *testing.T) {
	verr := func(code string, retryAfter time.Duration) vendorError {
		canonical, r, _ := portalErrors.Lookup(code)
		return vendorError{code: canonical, rule: r, retryAfter: retryAfter}
	}
	tests := []struct {
		name       string
		v          vendorError
		reconcile  bool
		want       handoff.Code
		retryAfter time.Duration
	}{
		{"operator wrong", verr("OPERATOR_WRONG", 0), false, handoff.CodeTargetUnavailable, 0},
		{"operator wrong is ambiguous when reconciling", verr("OPERATOR_WRONG", 0), true, handoff.CodeVendorUnavailable, 5 * time.Second},
		{"query limit without a wait", verr("QUERY_LIMIT_EXCEEDED", 0), false, handoff.CodeRateLimited, queryLimitWait},
		{"query limit with a wait", verr("QUERY_LIMIT_EXCEEDED", 2*time.Minute), false, handoff.CodeRateLimited, 2 * time.Minute},
		{"operation limit without a wait", verr("OPERATION_TIME_LIMIT", 0), false, handoff.CodeRateLimited, operationLimitWait},
		{"operation limit with a reset", verr("OPERATION_TIME_LIMIT", 30*time.Second), false, handoff.CodeRateLimited, 30 * time.Second},
		{"unknown 429", vendorError{code: "SLOW_DOWN", rule: byStatus(429)}, false, handoff.CodeRateLimited, queryLimitWait},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.v.toError("bitrix24.Transfer", tt.reconcile)
			if e.Code != tt.want || e.RetryAfter != tt.retryAfter || e.VendorCode != tt.v.code {
				t.Errorf("got %s (retry after %v, vendor code %q), want %s (retry after %v, %q)",
					e.Code, e.RetryAfter, e.VendorCode, tt.want, tt.retryAfter, tt.v.code)
			}
		})
	}
}

// TestRefusedForNow: only rate limits applied before execution are re-sent within the call.
func TestRefusedForNow(t *testing.T) {
	withRetryAfter := http.Header{"Retry-After": {"2"}}
	tests := []struct {
		body   string
		header http.Header
		want   bool
	}{
		{`{"error":"QUERY_LIMIT_EXCEEDED","error_description":"Too many requests"}`, nil, true},
		{`{"error":"query_limit_exceeded"}`, nil, true},
		{`{"error":"OPERATION_TIME_LIMIT"}`, nil, false},
		{`{"error":"OPERATION_TIME_LIMIT"}`, withRetryAfter, true},
		{`{"error":"OVERLOAD_LIMIT"}`, withRetryAfter, false},
		{`{"error":"INTERNAL_SERVER_ERROR"}`, nil, false},
		{`{"error":"OPERATOR_WRONG"}`, nil, false},
		{`<html>502 Bad Gateway</html>`, nil, false},
	}
	for _, tt := range tests {
		resp := &rest.Response{Status: 503, Header: tt.header, Body: []byte(tt.body)}
		if resp.Header == nil {
			resp.Header = http.Header{}
		}
		if got := refusedForNow(resp); got != tt.want {
			t.Errorf("refusedForNow(%s, %v) = %v, want %v", tt.body, tt.header, got, tt.want)
		}
	}
}

func TestSafeCode(t *testing.T) {
	tests := map[string]string{
		"SOME_CODE":             "SOME_CODE",
		"expired_token":         "expired_token",
		"service unavailable":   "",
		"bad\ncode":             "",
		"<b>x</b>":              "",
		"токен":                 "",
		strings.Repeat("A", 64): strings.Repeat("A", 64),
		strings.Repeat("A", 65): "",
	}
	for in, want := range tests {
		if got := safeCode(in); got != want {
			t.Errorf("safeCode(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRetryPolicy(t *testing.T) {
	tests := []struct {
		status     int
		body       string
		idempotent bool
		want       bool
	}{
		{503, `{"error":"QUERY_LIMIT_EXCEEDED"}`, false, true},
		{503, `{"error":"service unavailable"}`, false, false},
		{503, `{"error":"service unavailable"}`, true, true},
		{502, `<html></html>`, true, true},
		{503, `{"error":"OVERLOAD_LIMIT"}`, true, false},
		{500, `{"error":"INTERNAL_SERVER_ERROR"}`, true, false},
	}
	for _, tt := range tests {
		resp := &rest.Response{Status: tt.status, Header: http.Header{}, Body: []byte(tt.body)}
		if got := retryPolicy(tt.idempotent)(resp); got != tt.want {
			t.Errorf("%d %s idempotent=%v: %v, want %v", tt.status, tt.body, tt.idempotent, got, tt.want)
		}
	}
}
