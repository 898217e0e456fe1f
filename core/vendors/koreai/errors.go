package koreai

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors/rest"
)

// errorRule is one row of the table from a Kore.ai answer to our error code.
//
// Kore documents no error status, code or body for assign-conversation or agents/availability
// [U]; only the rate limit and its message are documented [C]. So the table keys on the HTTP
// status, and on the message only for the documented rate-limit text, lower-cased: no other
// text is documented, and matching a guessed one would make the adapter agree with its own
// sandbox rather than with Kore. The message only classifies: it is never copied into our
// errors. Failures to get an answer at all are the shared client's (rest): VENDOR_TIMEOUT
// for a deadline, VENDOR_UNAVAILABLE for a reset or an unreachable host; a transfer is re-sent
// only when the request provably never left (a refused connection).
type errorRule struct {
	status  string            // "429", or a class: "4xx", "5xx"
	message func(string) bool // matches the vendor's message; nil matches any
	code    handoff.Code
	// retryable: Kore refused before acting, so sending the same request again is safe.
	retryable bool
	// alreadyDone: the error means an earlier attempt at this transfer did it; it counts as
	// success only when TransferRequest.Reconcile is set.
	alreadyDone bool
	why         string
}

// errorTable is read top to bottom; the first matching row wins.
var errorTable = []errorRule{
	{status: "429", code: handoff.CodeRateLimited, retryable: true,
		why: "[C] 60 requests per minute per account, over it the request fails; the status 429 is [I]"},
	{status: "4xx", message: isRateLimitMessage, code: handoff.CodeRateLimited, retryable: true,
		why: "[C] the docs give the message (\"You've exceeded the per-minute rate limit\"), not the status [U]: the message wins on any 4xx"},
	{status: "401", code: handoff.CodeVendorAuthFailed,
		why: "[U] the JWT was refused (client secret rotated, app deleted, clock skew): Transfer refetches the secret and sends once more before this stands"},
	{status: "403", code: handoff.CodeVendorAuthFailed,
		why: "[U] the app lacks the Routing scope or the accountid does not match: refetched and sent once more, like 401"},
	{status: "400", code: handoff.CodeVendorRejected,
		why: "[U] a field Kore refused (orgId, botSessionId, an id of the wrong form)"},
	{status: "404", code: handoff.CodeVendorRejected,
		why: "[U] unknown stream, agent, queue or bot session"},
	{status: "409", code: handoff.CodeVendorRejected, alreadyDone: true,
		why: "[U] a conflict with the conversation's state; on a reconcile, after an ambiguous earlier attempt, most likely our own assignment [I]: its callback (or the await deadline) tells. Kore documents no error texts, so none is read"},
	{status: "422", code: handoff.CodeVendorRejected,
		why: "[U] a request Kore understood and refused"},
	{status: "4xx", code: handoff.CodeVendorRejected,
		why: "[U] any other refusal"},
	{status: "5xx", code: handoff.CodeVendorUnavailable,
		why: "[U] never re-sent: Kore may have assigned the conversation before failing; the callback (or a reconcile) tells"},
}

// unexpectedStatus is the rule for what no row matches (1xx, 3xx): not an answer the API gives.
var unexpectedStatus = errorRule{code: handoff.CodeVendorProtocol, why: "not an answer the API gives"}

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

// classify finds the row for an answer that is not a success, and the vendor's error code.
func classify(status int, body []byte) (errorRule, string) {
	code, message := vendorError(body)
	message = strings.ToLower(message)
	for _, rule := range errorTable {
		if rule.matchesStatus(status) && (rule.message == nil || rule.message(message)) {
			return rule, code
		}
	}
	return unexpectedStatus, code
}

func (r errorRule) matchesStatus(status int) bool {
	if class, ok := strings.CutSuffix(r.status, "xx"); ok {
		return strconv.Itoa(status/100) == class
	}
	return strconv.Itoa(status) == r.status
}

// mapError turns a refused answer into our error. The vendor code is Kore's own when its body
// has one, else HTTP_<status>, so the attempt still says what happened.
func mapError(op string, resp *rest.Response, now time.Time) (*handoff.Error, errorRule) {
	rule, vendorCode := classify(resp.Status, resp.Body)
	if vendorCode == "" {
		vendorCode = fmt.Sprintf("HTTP_%d", resp.Status)
	}
	e := &handoff.Error{
		Code:       rule.code,
		Op:         op,
		Message:    fmt.Sprintf("%s (HTTP %d)", messages[rule.code], resp.Status),
		VendorCode: vendorCode,
	}
	if rule.code == handoff.CodeRateLimited {
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
	return rule.retryable && resp.Header.Get("Retry-After") != ""
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

var codePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// cleanCode keeps a vendor code only if it looks like one, so no free text (which could hold
// anything) travels in VendorCode.
func cleanCode(code string) string {
	if codePattern.MatchString(code) {
		return code
	}
	return ""
}

func isRateLimitMessage(m string) bool {
	return strings.Contains(m, "rate limit") || strings.Contains(m, "too many requests")
}
