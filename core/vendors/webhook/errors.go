package webhook

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors/rest"
)

// deliveryCodes is what a receiver's status means (Standard Webhooks, "Delivery success and
// failure"): 2xx is delivered; 408, 429 and 5xx are worth another try; 410 says the receiver
// wants no more; 3xx is a failure, not a redirect to follow; any other 4xx is final. 401 and
// 403 are a signature the receiver refused, answered after one look at the current secret.
// Every retryable answer may also be resent at once: receivers drop repeats by webhook-id.
// There is no "already done" answer: a receiver that has a delivery answers it 2xx again.
var deliveryCodes = map[int]handoff.Code{
	http.StatusUnauthorized:        handoff.CodeVendorAuthFailed,
	http.StatusForbidden:           handoff.CodeVendorAuthFailed,
	http.StatusRequestTimeout:      handoff.CodeVendorTimeout,
	http.StatusGone:                handoff.CodeVendorRejected,
	http.StatusTooManyRequests:     handoff.CodeRateLimited,
	http.StatusInternalServerError: handoff.CodeVendorUnavailable,
	http.StatusBadGateway:          handoff.CodeVendorUnavailable,
	http.StatusServiceUnavailable:  handoff.CodeVendorUnavailable,
	http.StatusGatewayTimeout:      handoff.CodeVendorTimeout,
}

// codeFor returns the code of a non-2xx status; statuses outside the table fall back by class.
func codeFor(status int) handoff.Code {
	if c, ok := deliveryCodes[status]; ok {
		return c
	}
	if status >= 500 {
		return handoff.CodeVendorUnavailable
	}
	return handoff.CodeVendorRejected // other 4xx, and 3xx
}

// resendable is the rest.Request.Retry of deliveries.
func resendable(r *rest.Response) bool {
	return handoff.Retryable(&handoff.Error{Code: codeFor(r.Status)})
}

// deliveryError turns a receiver's non-2xx answer into our error. The receiver's body is its
// own text and stays out.
func deliveryError(op string, resp *rest.Response, now time.Time) *handoff.Error {
	return &handoff.Error{
		Code:       codeFor(resp.Status),
		Op:         op,
		Message:    fmt.Sprintf("the bot's webhook answered HTTP %d", resp.Status),
		VendorCode: strconv.Itoa(resp.Status),
		RetryAfter: rest.RetryAfter(resp.Header, now),
	}
}
