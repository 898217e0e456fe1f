package webhook

import (
	"net/http"
	"testing"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors/rest"
)

func TestDeliveryCodes(t *testing.T) {
	tests := []struct {
		status    int
		code      handoff.Code
		retryable bool
	}{
		{301, handoff.CodeVendorRejected, false}, // redirects are failures, not followed
		{302, handoff.CodeVendorRejected, false},
		{400, handoff.CodeVendorRejected, false},
		{401, handoff.CodeVendorAuthFailed, false},
		{403, handoff.CodeVendorAuthFailed, false},
		{404, handoff.CodeVendorRejected, false},
		{408, handoff.CodeVendorTimeout, true},
		{409, handoff.CodeVendorRejected, false},
		{410, handoff.CodeVendorRejected, false}, // the receiver wants no more
		{422, handoff.CodeVendorRejected, false},
		{429, handoff.CodeRateLimited, true},
		{500, handoff.CodeVendorUnavailable, true},
		{502, handoff.CodeVendorUnavailable, true},
		{503, handoff.CodeVendorUnavailable, true},
		{504, handoff.CodeVendorTimeout, true},
		{599, handoff.CodeVendorUnavailable, true},
	}
	for _, tc := range tests {
		resp := &rest.Response{Status: tc.status, Header: http.Header{}}
		e := deliveryError("webhook.Deliver", resp, time.Now())
		if e.Code != tc.code || handoff.Retryable(e) != tc.retryable || resendable(resp) != tc.retryable {
			t.Errorf("%d: code %s retryable %v, want %s %v", tc.status, e.Code, handoff.Retryable(e), tc.code, tc.retryable)
		}
	}
}

func TestDeliveryErrorKeepsTheWaitNotTheBody(t *testing.T) {
	resp := &rest.Response{Status: 503, Header: http.Header{"Retry-After": {"30"}}, Body: []byte("internal secret")}
	e := deliveryError("webhook.Deliver", resp, time.Now())
	if e.RetryAfter != 30*time.Second || e.VendorCode != "503" || e.Err != nil {
		t.Errorf("deliveryError = %+v", e)
	}
}
