package koreai

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

// errorTable maps a Kore.ai answer to our error code.
//
// Kore documents no error status, code or body for assign-conversation or agents/availability
// [U]; only the rate limit and its message are documented [C]. So the table keys on the HTTP
// status, and classify reads the message only for the documented rate-limit text, lower-cased:
// no other text is documented, and matching a guessed one would make the adapter agree with its
// own sandbox rather than with Kore. The message only classifies: it is never copied into our
// errors. Failures to get an answer at all are the shared client's (rest): VENDOR_TIMEOUT for a
// deadline, VENDOR_UNAVAILABLE for a reset or an unreachable host; a transfer is re-sent only
// when the request provably never left (a refused connection). Retryable: Kore refused before
// acting, so sending the same request again is safe. AlreadyDone: the answer means an earlier
// attempt at this transfer did it; it counts as success only when TransferRequest.Reconcile is
// set. What no row matches (1xx, 3xx) is not an answer the API gives: VENDOR_BAD_RESPONSE.
var errorTable = vendorkit.Table{
	"429": {Code: handoff.CodeRateLimited, Retryable: true},
	"401": {Code: handoff.CodeVendorAuthFailed},
	"403": {Code: handoff.CodeVendorAuthFailed},
	"400": {Code: handoff.CodeVendorRejected},
	"404": {Code: handoff.CodeVendorRejected},
	"409": {Code: handoff.CodeVendorRejected, AlreadyDone: true},
	"422": {Code: handoff.CodeVendorRejected},
	"4xx": {Code: handoff.CodeVendorRejected},
	"5xx": {Code: handoff.CodeVendorUnavailable},
}

// errorSources says, for each row of errorTable, why it is so and how sure we are.
var errorSources = map[string]string{
	"429": "[C] 60 requests per minute per account, over it the request fails; the status 429 is [I]. [C] the docs give the message (\"You've exceeded the per-minute rate limit\"), not the status [U]: the message wins on any 4xx",
	"401": "[U] the JWT was refused (client secret rotated, app deleted, clock skew): Transfer refetches the secret and sends once more before this stands",
	"403": "[U] the app lacks the Routing scope or the accountid does not match: refetched and sent once more, like 401",
	"400": "[U] a field Kore refused (orgId, botSessionId, an id of the wrong form)",
	"404": "[U] unknown stream, agent, queue or bot session",
	"409": "[U] a conflict with the conversation's state; on a reconcile, after an ambiguous earlier attempt, most likely our own assignment [I]: its callback (or the await deadline) tells. Kore documents no error texts, so none is read",
	"422": "[U] a request Kore understood and refused",
	"4xx": "[U] any other refusal",
	"5xx": "[U] never re-sent: Kore may have assigned the conversation before failing; the callback (or a reconcile) tells",
}

// defaultRateLimitWait is the wait when a rate-limited answer has no Retry-After: Kore's window
// is one minute [C], so a minute is always enough.
const defaultRateLimitWait = time.Minute

// messages are ours, one per code; the vendor's own text never reaches the caller.
var messages = map[handoff.Code]string{
	handoff.CodeRateLimited:       "Kore.ai's per-minute rate limit was reached",
	handoff.CodeVendorAuthFailed:  "Kore.ai refused the credentials (check clientId, clientSecret, accountId and the app's Routing scope)",
	handoff.CodeVendorRejected:    "Kore.ai refused the request",
	handoff.CodeTargetUnavailable: "the agent or queue cannot take the conversation now",
	handoff.CodeVendorUnavailable: "Kore.ai failed to process the request",
	handoff.CodeVendorProtocol:    "Kore.ai answered with a status its API does not use",
}

// classify finds the row for an answer that is not a success, and the vendor's error code. The
// documented rate-limit message counts as a 429 on any 4xx.
func classify(status int, body []byte) (vendorkit.Row, string) {
	code, message := vendorError(body)
	if status/100 == 4 && isRateLimitMessage(strings.ToLower(message)) {
		status = http.StatusTooManyRequests
	}
	_, row := errorTable.Classify(status, "")
	return row, code
}

// mapError turns a refused answer into our error. The vendor code is Kore's own when its body
// has one, else HTTP_<status>, so the attempt still says what happened.
func mapError(op string, resp *rest.Response, now time.Time) (*handoff.Error, vendorkit.Row) {
	rule, vendorCode := classify(resp.Status, resp.Body)
	if vendorCode == "" {
		vendorCode = fmt.Sprintf("HTTP_%d", resp.Status)
	}
	e := &handoff.Error{
		Code:       rule.Code,
		Op:         op,
		Message:    fmt.Sprintf("%s (HTTP %d)", messages[rule.Code], resp.Status),
		VendorCode: vendorCode,
	}
	if rule.Code == handoff.CodeRateLimited {
		e.RetryAfter = rest.RetryAfter(resp.Header, now)
		if e.RetryAfter == 0 {
			e.RetryAfter = defaultRateLimitWait
		}
	}
	return e, rule
}

// refusedBeforeExecution is the rest.Request.Retry hook: only a rate limit is known to be
// refused before Kore acts, and it is re-sent only when Kore says how long to wait (rest bounds
// that wait); without Retry-After, a quick retry would land in the same one-minute window.
func refusedBeforeExecution(resp *rest.Response) bool {
	rule, _ := classify(resp.Status, resp.Body)
	return rule.Retryable && resp.Header.Get("Retry-After") != ""
}

// vendorError reads a code and a message from an error body of any of the shapes Kore's
// platform APIs are seen to use ({"errors":[{"msg","code"}]}, {"message","code"},
// {"error":{...}} or {"error":"…"}) [I]; whatever it cannot read is left empty.
func vendorError(body []byte) (code, message string) {
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil {
		return "", ""
	}
	var list []map[string]json.RawMessage
	if json.Unmarshal(top["errors"], &list) == nil && len(list) > 0 {
		return cleanCode(scalar(list[0]["code"])), firstOf(scalar(list[0]["msg"]), scalar(list[0]["message"]))
	}
	var nested map[string]json.RawMessage
	if json.Unmarshal(top["error"], &nested) == nil {
		return cleanCode(scalar(nested["code"])), firstOf(scalar(nested["msg"]), scalar(nested["message"]))
	}
	return cleanCode(scalar(top["code"])), firstOf(scalar(top["msg"]), scalar(top["message"]), scalar(top["error"]))
}

// scalar returns a JSON string's or number's text; empty for anything else.
func scalar(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

func firstOf(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// cleanCode keeps a vendor code only if it looks like one, so no free text (which could hold
// anything) travels in VendorCode.
func cleanCode(code string) string { return vendorkit.CleanCode(code, 64, "_.-") }

func isRateLimitMessage(m string) bool {
	return strings.Contains(m, "rate limit") || strings.Contains(m, "too many requests")
}
