package webhook

import (
	"fmt"
	"strconv"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors/rest"
	"handoff/core/vendors/vendorkit"
)

// deliveryAnswers is what a receiver's status means (Standard Webhooks, "Delivery success and
// failure"): 2xx is delivered; 408, 429 and 5xx are worth another try; 410 says the receiver
// wants no more; 3xx is a failure, not a redirect to follow; any other 4xx is final. 401 and
// 403 are a signature the receiver refused, answered after one look at the current secret.
// Every retryable answer may also be resent at once: receivers drop repeats by webhook-id.
// There is no "already done" answer: a receiver that has a delivery answers it 2xx again.
var deliveryAnswers = vendorkit.Table{
	"401": {Code: handoff.CodeVendorAuthFailed},
	"403": {Code: handoff.CodeVendorAuthFailed},
	"408": {Code: handoff.CodeVendorTimeout, Retryable: true},
	"410": {Code: handoff.CodeVendorRejected},
	"429": {Code: handoff.CodeRateLimited, Retryable: true},
	"504": {Code: handoff.CodeVendorTimeout, Retryable: true},
	"5xx": {Code: handoff.CodeVendorUnavailable, Retryable: true},
	"4xx": {Code: handoff.CodeVendorRejected},
	"3xx": {Code: handoff.CodeVendorRejected},
	"1xx": {Code: handoff.CodeVendorRejected},
}

// answerFor returns the row of a non-2xx status.
func answerFor(status int) vendorkit.Row {
	_, row := deliveryAnswers.Classify(status, "")
	return row
}

// resendable is the rest.Request.Retry of deliveries.
func resendable(r *rest.Response) bool { return answerFor(r.Status).Retryable }

// deliveryError turns a receiver's non-2xx answer into our error. The receiver's body is its
// own text and stays out.
func deliveryError(op string, resp *rest.Response, now time.Time) *handoff.Error {
	return &handoff.Error{
		Code:       answerFor(resp.Status).Code,
		Op:         op,
		Message:    fmt.Sprintf("the bot's webhook answered HTTP %d", resp.Status),
		VendorCode: strconv.Itoa(resp.Status),
		RetryAfter: rest.RetryAfter(resp.Header, now),
	}
}
