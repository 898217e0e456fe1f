package bitrix24

import (
	"strings"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors/vendorkit"
)

// recovery is what the adapter may do, once, before sending a refused call again.
type recovery int

const (
	recoverNone    recovery = iota
	recoverWait             // a rate limit: rest waits (Retry-After or backoff) and re-sends
	recoverRefresh          // an expired OAuth access token: refresh the pair, re-send
	recoverReread           // credentials refused: drop the cached secret, read it again, re-send
)

// alreadyDoneOn is the method on which a code marked AlreadyDone means, when reconciling an
// attempt that may already have reached Bitrix24, that the attempt did the job. Both methods
// answer the same codes: WRONG_CHAT on operator is a dialog already with a person, on transfer a
// wrong, bot or extranet user.
const alreadyDoneOn = methodOperator

// recoveries says what the adapter may do, once, before sending a refused call again; codes not
// listed are not recovered from.
var recoveries = map[string]recovery{
	"QUERY_LIMIT_EXCEEDED": recoverWait,
	"OPERATION_TIME_LIMIT": recoverWait,
	"NO_AUTH_FOUND":        recoverReread,
	"expired_token":        recoverRefresh,
	"invalid_token":        recoverReread,
}

// portalErrors maps the codes a portal's REST endpoint answers (docs/vendors/bitrix24.md, the
// seed) to ours, keyed by Bitrix24's own spelling. Codes compare case-insensitively (Bitrix24
// mixes QUERY_LIMIT_EXCEEDED and expired_token). Retryable: Bitrix24 refused before executing the
// method, so re-sending cannot do the thing twice (whether it is re-sent is recoveries' say).
var portalErrors = vendorkit.Table{
	// imopenlines.bot.session.transfer / .operator [C].
	"CHAT_ID_EMPTY":     {Status: 400, Code: handoff.CodeVendorRejected, Retryable: true, Message: "Bitrix24 says the chat id is missing"},
	"USER_ID_EMPTY":     {Status: 400, Code: handoff.CodeVendorRejected, Retryable: true, Message: "Bitrix24 says the user id is missing"},
	"QUEUE_ID_EMPTY":    {Status: 400, Code: handoff.CodeVendorRejected, Retryable: true, Message: "Bitrix24 says the open line id is missing"},
	"TRANSFER_ID_EMPTY": {Status: 400, Code: handoff.CodeVendorRejected, Retryable: true, Message: "Bitrix24 says neither a user nor a queue was given"},
	"BOT_ID_ERROR":      {Status: 400, Code: handoff.CodeVendorRejected, Retryable: true, Message: "Bitrix24 found no bot registered by these credentials (check botClientId)"},
	// OPERATOR_WRONG: the user is inactive, a bot or extranet, the line does not exist, or the
	// chat's lock was held by a concurrent operation [C: chat.php]. Transfer makes it ambiguous
	// when reconciling.
	"OPERATOR_WRONG": {Status: 400, Code: handoff.CodeTargetUnavailable, Retryable: true, Message: "Bitrix24 cannot hand the chat to this operator or line now"},
	// WRONG_CHAT on operator: the dialog is already with a person, which is what an earlier
	// attempt of ours would have done [C code + I]. On transfer (seed): a wrong, bot or
	// extranet user.
	"WRONG_CHAT":      {Status: 400, Code: handoff.CodeVendorRejected, Retryable: true, AlreadyDone: true, Message: "Bitrix24 refused the chat: it is not handled by the bot, or the user is not an operator"},
	"WRONG_AUTH_TYPE": {Status: 403, Code: handoff.CodeVendorAuthFailed, Retryable: true, Message: "Bitrix24 refused this kind of authorization for the method"},

	// System errors, any method (_includes/system-errors.md, limits.md) [C].
	"INTERNAL_SERVER_ERROR":   {Status: 500, Code: handoff.CodeVendorUnavailable, Message: "Bitrix24 failed with an internal error"},
	"ERROR_UNEXPECTED_ANSWER": {Status: 500, Code: handoff.CodeVendorUnavailable, Message: "Bitrix24 failed with an unexpected answer"},
	// The leaky bucket refuses before execution: safe to re-send after a pause.
	"QUERY_LIMIT_EXCEEDED": {Status: 503, Code: handoff.CodeRateLimited, Retryable: true, Message: "Bitrix24's request rate limit for the portal is exceeded"},
	// The method's execution-time budget is spent; only worth re-sending after the bucket resets.
	"OPERATION_TIME_LIMIT": {Status: 429, Code: handoff.CodeRateLimited, Retryable: true, Message: "Bitrix24's execution time limit for the method is exceeded"},
	// A manual block by Bitrix24 support: refused, but never re-sent automatically.
	"OVERLOAD_LIMIT":                  {Status: 503, Code: handoff.CodeVendorUnavailable, Retryable: true, Message: "Bitrix24 blocked REST calls from these credentials (overload)"},
	"ERROR_BATCH_METHOD_NOT_ALLOWED":  {Status: 405, Code: handoff.CodeVendorRejected, Retryable: true, Message: "Bitrix24 does not allow this method in a batch"},
	"ERROR_BATCH_LENGTH_EXCEEDED":     {Status: 400, Code: handoff.CodeVendorRejected, Retryable: true, Message: "Bitrix24 batch is too long"},
	"NO_AUTH_FOUND":                   {Status: 401, Code: handoff.CodeVendorAuthFailed, Retryable: true, Message: "Bitrix24 rejected the credentials"},
	"INVALID_REQUEST":                 {Status: 400, Code: handoff.CodeConfiguration, Retryable: true, Message: "Bitrix24 requires https for REST calls"},
	"ACCESS_DENIED":                   {Status: 403, Code: handoff.CodeVendorAuthFailed, Retryable: true, Message: "Bitrix24 denied REST access (the plan, or the bot's CLIENT_ID)"},
	"INVALID_CREDENTIALS":             {Status: 403, Code: handoff.CodeVendorAuthFailed, Retryable: true, Message: "the Bitrix24 user lacks the permission for this method"},
	"ERROR_MANIFEST_IS_NOT_AVAILABLE": {Status: 404, Code: handoff.CodeVendorRejected, Retryable: true, Message: "Bitrix24 manifest is not available"},
	"insufficient_scope":              {Status: 403, Code: handoff.CodeVendorAuthFailed, Retryable: true, Message: "the Bitrix24 credentials lack the imopenlines or imbot scope"},
	"expired_token":                   {Status: 401, Code: handoff.CodeVendorAuthFailed, Retryable: true, Message: "the Bitrix24 access token has expired"},
	// invalid_token's status is undocumented; 401 like expired_token [I].
	"invalid_token":     {Status: 401, Code: handoff.CodeVendorAuthFailed, Retryable: true, Message: "Bitrix24 rejected the access token"},
	"user_access_error": {Status: 403, Code: handoff.CodeVendorAuthFailed, Retryable: true, Message: "the Bitrix24 user has no access to the application"},
	// The portal is gone: no credential will work again until the tenant's secret changes.
	"PORTAL_DELETED":         {Status: 500, Code: handoff.CodeVendorAuthFailed, Retryable: true, Message: "the Bitrix24 portal has been deleted"},
	"ERROR_METHOD_NOT_FOUND": {Status: 404, Code: handoff.CodeVendorRejected, Retryable: true, Message: "Bitrix24 does not know the method (module missing or scope not granted)"},
}

// oauthErrors maps the authorization server's codes (settings/oauth/error-codes.md). Every
// one means the pair cannot be renewed without the tenant re-authorizing. Separate from the
// portal's table because invalid_request here and INVALID_REQUEST there differ only in case.
var oauthErrors = vendorkit.Table{
	"invalid_request":    {Status: 400, Code: handoff.CodeVendorAuthFailed, Message: "Bitrix24's OAuth server refused the refresh request"},
	"invalid_client":     {Status: 401, Code: handoff.CodeVendorAuthFailed, Message: "Bitrix24's OAuth server does not know the application (appClientId, appClientSecret)"},
	"invalid_grant":      {Status: 400, Code: handoff.CodeVendorAuthFailed, Message: "the Bitrix24 refresh token is expired or was already used: the application must be authorized again"},
	"insufficient_scope": {Status: 400, Code: handoff.CodeVendorAuthFailed, Message: "Bitrix24's OAuth server refused the scope"},
	"invalid_scope":      {Status: 400, Code: handoff.CodeVendorAuthFailed, Message: "Bitrix24's OAuth server refused the scope"},
	"PAYMENT_REQUIRED":   {Status: 402, Code: handoff.CodeVendorAuthFailed, Message: "the Bitrix24 application's subscription has lapsed"},
}

// statusErrors classifies an error whose code is unknown (or absent) by its HTTP status; what
// no row matches is an answer the documentation does not describe (VENDOR_BAD_RESPONSE).
var statusErrors = vendorkit.Table{
	"401": {Code: handoff.CodeVendorAuthFailed, Message: "Bitrix24 refused the credentials"},
	"403": {Code: handoff.CodeVendorAuthFailed, Message: "Bitrix24 refused the credentials"},
	"429": {Code: handoff.CodeRateLimited, Message: "Bitrix24 asked us to slow down"},
	"5xx": {Code: handoff.CodeVendorUnavailable, Message: "Bitrix24 failed"},
	"4xx": {Code: handoff.CodeVendorRejected, Message: "Bitrix24 refused the request"},
}

// byStatus is the row of an unknown code, by its answer's HTTP status.
func byStatus(status int) vendorkit.Row {
	_, r := statusErrors.Classify(status, "")
	if r.Message == "" {
		r.Message = "Bitrix24 answered with an error its documentation does not describe"
	}
	r.Status = status
	return r
}

// vendorError is an error answer from Bitrix24, before it is mapped to ours.
type vendorError struct {
	status     int
	code       string        // the table's spelling when known, else as received (bounded)
	rule       vendorkit.Row // what the table (or the status class) says about it
	retryAfter time.Duration // from Retry-After or the envelope's time.operating_reset_at
}

// Default waits when Bitrix24 names no reset time [I]: the leaky bucket drains 2-5 requests a
// second; the execution-time budget is counted in one-minute buckets (limits.md).
const (
	queryLimitWait     = time.Second
	operationLimitWait = time.Minute
)

// toError maps a vendor error to ours. Reconcile only matters for codes that are ambiguous
// when an earlier attempt may already have reached Bitrix24.
func (v vendorError) toError(op string, reconcile bool) *handoff.Error {
	e := &handoff.Error{Code: v.rule.Code, Op: op, Message: v.rule.Message, VendorCode: v.code}
	switch strings.ToUpper(v.code) {
	case "QUERY_LIMIT_EXCEEDED":
		e.RetryAfter = orDefault(v.retryAfter, queryLimitWait)
	case "OPERATION_TIME_LIMIT":
		e.RetryAfter = orDefault(v.retryAfter, operationLimitWait)
	case "OPERATOR_WRONG":
		if reconcile {
			// Our own earlier attempt may still hold the chat's lock, or may have done the
			// job: moving on to a fallback could hand the chat over twice. Try again later.
			e.Code = handoff.CodeVendorUnavailable
			e.Message = "Bitrix24 refused the operator while an earlier attempt may still be running; try again"
			e.RetryAfter = 5 * time.Second
		}
	}
	if e.Code == handoff.CodeRateLimited && e.RetryAfter == 0 {
		e.RetryAfter = orDefault(v.retryAfter, queryLimitWait)
	}
	return e
}

func orDefault(d, fallback time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return fallback
}
