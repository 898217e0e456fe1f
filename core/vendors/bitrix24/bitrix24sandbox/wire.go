package bitrix24sandbox

import (
	"strings"
)

// The sandbox speaks Bitrix24's wire on its own: these are Bitrix24's names, not the adapter's,
// so an adapter that misspells one fails against the sandbox instead of agreeing with itself.
const (
	methodTransfer   = "imopenlines.bot.session.transfer"
	methodOperator   = "imopenlines.bot.session.operator"
	methodConfigList = "imopenlines.config.list.get"
)

// errorStatus is the HTTP status Bitrix24 documents for a portal error code (system errors,
// _includes/system-errors.md and limits.md; the imopenlines methods' codes are 400), keyed in
// upper case because Bitrix24 mixes QUERY_LIMIT_EXCEEDED and expired_token. A code not listed
// is answered 400.
var errorStatus = map[string]int{
	"WRONG_AUTH_TYPE": 403, "ACCESS_DENIED": 403, "INVALID_CREDENTIALS": 403,
	"INSUFFICIENT_SCOPE": 403, "USER_ACCESS_ERROR": 403,
	"INTERNAL_SERVER_ERROR": 500, "ERROR_UNEXPECTED_ANSWER": 500, "PORTAL_DELETED": 500,
	"QUERY_LIMIT_EXCEEDED": 503, "OVERLOAD_LIMIT": 503, "OPERATION_TIME_LIMIT": 429,
	"ERROR_BATCH_METHOD_NOT_ALLOWED": 405,
	"NO_AUTH_FOUND":                  401, "EXPIRED_TOKEN": 401, "INVALID_TOKEN": 401,
	"ERROR_MANIFEST_IS_NOT_AVAILABLE": 404, "ERROR_METHOD_NOT_FOUND": 404,
}

func statusOf(code string) int {
	if s, ok := errorStatus[strings.ToUpper(code)]; ok {
		return s
	}
	return 400
}
