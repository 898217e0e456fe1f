package koreai

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors/rest"
)

func TestErrorTable(t *testing.T) {
	const rateMsg = `{"errors":[{"msg":"You've exceeded the per-minute rate limit. Try later.","code":"RL"}]}`
	for _, tc := range []struct {
		status      int
		body        string
		code        handoff.Code
		retryable   bool
		alreadyDone bool
		vendorCode  string
	}{
		{429, `{}`, handoff.CodeRateLimited, true, false, ""},
		{429, rateMsg, handoff.CodeRateLimited, true, false, "RL"},
		{400, rateMsg, handoff.CodeRateLimited, true, false, "RL"},
		{403, `{"message":"Too many requests"}`, handoff.CodeRateLimited, true, false, ""},
		{401, `{"errors":[{"msg":"Invalid token","code":401}]}`, handoff.CodeVendorAuthFailed, false, false, "401"},
		{403, `{"error":{"message":"scope","code":"FORBIDDEN"}}`, handoff.CodeVendorAuthFailed, false, false, "FORBIDDEN"},
		{409, `{"errors":[{"msg":"Conversation is already assigned to an agent","code":"ALREADY_ASSIGNED"}]}`, handoff.CodeVendorRejected, false, true, "ALREADY_ASSIGNED"},
		{409, `{"message":"The session was already transferred"}`, handoff.CodeVendorRejected, false, true, ""},
		// Kore documents no error texts: none but the rate limit's decides anything.
		{409, `{"errors":[{"msg":"Agent is not available"}]}`, handoff.CodeVendorRejected, false, true, ""},
		{409, `{"message":"agent is offline"}`, handoff.CodeVendorRejected, false, true, ""},
		{422, `{"errors":[{"msg":"Queue is closed","code":"Q"}]}`, handoff.CodeVendorRejected, false, false, "Q"},
		{422, `{"error":"Agent busy"}`, handoff.CodeVendorRejected, false, false, ""},
		{409, `{"message":"The session is offline"}`, handoff.CodeVendorRejected, false, true, ""},
		{409, `{}`, handoff.CodeVendorRejected, false, true, ""},
		{422, `not json`, handoff.CodeVendorRejected, false, false, ""},
		{400, `{"errors":[{"msg":"Agent is not available"}]}`, handoff.CodeVendorRejected, false, false, ""}, // only 409/422 mean unavailable
		{404, `{"errors":[{"msg":"Bot not found","code":"NOT_FOUND"}]}`, handoff.CodeVendorRejected, false, false, "NOT_FOUND"},
		{418, ``, handoff.CodeVendorRejected, false, false, ""},
		{500, `{"errors":[{"msg":"Agent is not available"}]}`, handoff.CodeVendorUnavailable, false, false, ""},
		{502, ``, handoff.CodeVendorUnavailable, false, false, ""},
		{503, ``, handoff.CodeVendorUnavailable, false, false, ""},
		{504, ``, handoff.CodeVendorUnavailable, false, false, ""},
		{302, ``, handoff.CodeVendorProtocol, false, false, ""},
		{400, `{"code":"has spaces in it"}`, handoff.CodeVendorRejected, false, false, ""},
		{400, `{"errors":"not a list","code":"TOP"}`, handoff.CodeVendorRejected, false, false, "TOP"},
	} {
		rule, vendorCode := classify(tc.status, []byte(tc.body))
		if rule.Code != tc.code || rule.Retryable != tc.retryable || rule.AlreadyDone != tc.alreadyDone || vendorCode != tc.vendorCode {
			t.Errorf("%d %s → %s retryable=%v alreadyDone=%v vendor=%q; want %s %v %v %q",
				tc.status, tc.body, rule.Code, rule.Retryable, rule.AlreadyDone, vendorCode, tc.code, tc.retryable, tc.alreadyDone, tc.vendorCode)
		}
	}
}

func TestEveryRuleSaysWhy(t *testing.T) {
	if len(errorSources) != len(errorTable) {
		t.Errorf("%d sources for %d rows: every row says why, and only rows do", len(errorSources), len(errorTable))
	}
	for key, rule := range errorTable {
		why := errorSources[key]
		if !strings.Contains(why, "[C]") && !strings.Contains(why, "[I]") && !strings.Contains(why, "[U]") {
			t.Errorf("rule %s → %s does not mark its source: %q", key, rule.Code, why)
		}
		if messages[rule.Code] == "" {
			t.Errorf("no message of ours for %s", rule.Code)
		}
	}
}

func TestMapError(t *testing.T) {
	now := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	e, _ := mapError("koreai.Transfer", &rest.Response{Status: 409, Body: []byte(`{"message":"Agent a-1 is not available, secret-ish detail"}`)}, now)
	if e.Code != handoff.CodeVendorRejected || e.VendorCode != "HTTP_409" || strings.Contains(e.Error(), "secret-ish") || e.Err != nil {
		t.Errorf("mapError = %v (vendor code %q): want our message, HTTP_409 and no vendor text", e, e.VendorCode)
	}
	limited := &rest.Response{Status: 429, Header: http.Header{"Retry-After": {"7"}}, Body: []byte(`{}`)}
	if e, _ := mapError("op", limited, now); e.RetryAfter != 7*time.Second {
		t.Errorf("RetryAfter = %v, want 7s from the header", e.RetryAfter)
	}
	if !refusedBeforeExecution(limited) {
		t.Error("a 429 with Retry-After must be re-sent (rest bounds the wait)")
	}
	limited.Header = http.Header{}
	if refusedBeforeExecution(limited) {
		t.Error("a 429 without Retry-After must not be re-sent at once: Kore's window is a minute")
	}
	if refusedBeforeExecution(&rest.Response{Status: 503, Header: http.Header{"Retry-After": {"1"}}}) {
		t.Error("a 503 on a transfer must never be re-sent")
	}
}
