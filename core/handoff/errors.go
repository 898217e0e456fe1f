package handoff

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Code classifies an error for the caller. Each code maps to one HTTP status in one table
// (core/handler/respond.go), and tells asynchronous callers whether to retry.
type Code string

// The error codes of the public API (docs/api.md, "Errors") and the internal ones.
const (
	CodeInvalidRequest       Code = "INVALID_REQUEST"
	CodeTooLarge             Code = "PAYLOAD_TOO_LARGE"
	CodeUnsupportedTarget    Code = "UNSUPPORTED_TARGET"
	CodeUnknownTenant        Code = "UNKNOWN_TENANT"
	CodeNotFound             Code = "NOT_FOUND"
	CodeConversationNotFound Code = "CONVERSATION_NOT_FOUND" // the vendor's agent does not hold it
	CodeInProgress           Code = "IN_PROGRESS"
	CodeConflict             Code = "CONFLICT" // a state change that would go backwards or is stale
	CodeIdempotencyKeyReused Code = "IDEMPOTENCY_KEY_REUSED"
	CodeTargetUnavailable    Code = "TARGET_UNAVAILABLE"
	CodeVendorRejected       Code = "VENDOR_REJECTED"
	CodeVendorAuthFailed     Code = "VENDOR_AUTH_FAILED"
	CodeVendorUnavailable    Code = "VENDOR_UNAVAILABLE"
	CodeVendorTimeout        Code = "VENDOR_TIMEOUT"      // VENDOR_UNAVAILABLE's 504 case: the call timed out
	CodeVendorProtocol       Code = "VENDOR_BAD_RESPONSE" // the vendor answered something its docs do not describe
	CodeRateLimited          Code = "RATE_LIMITED"
	CodeCancelled            Code = "CANCELLED" // the transfer was called off before it ended
	CodeUnauthorized         Code = "UNAUTHORIZED"
	CodeForbidden            Code = "FORBIDDEN"     // a caller acting for a tenant it may not
	CodeConfiguration        Code = "CONFIGURATION" // a secret or setting of ours is wrong
	CodeUnavailable          Code = "UNAVAILABLE"   // one of our own dependencies (AWS) failed
	CodeInternal             Code = "INTERNAL"
)

// Error is the one error type of Handoff: a code for the caller, the operation that failed for
// the log, a message safe to show, and the cause. It never holds a secret's value.
type Error struct {
	Code    Code
	Op      string // the operation, e.g. "store.Claim" or "<vendor>.Transfer"
	Message string // safe to show to the API's caller
	Field   string // the request field at fault, for INVALID_REQUEST
	// VendorCode is the vendor's own error code (cleaned by the adapter: never free text).
	VendorCode string
	// RetryAfter is how long the caller should wait before trying again, when known.
	RetryAfter time.Duration
	Err        error
}

// E builds an Error. Nil causes are allowed.
func E(code Code, op, message string, cause error) *Error {
	return &Error{Code: code, Op: op, Message: message, Err: cause}
}

// Invalid builds an INVALID_REQUEST error for one request field.
func Invalid(field, message string) *Error {
	return &Error{Code: CodeInvalidRequest, Op: "handoff.Validate", Field: field, Message: message}
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	b.WriteString(string(e.Code))
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.VendorCode != "" {
		fmt.Fprintf(&b, " (vendor code %s)", e.VendorCode)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// ErrorCode returns the code of the first *Error in err's chain, or INTERNAL for any other error.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// AsError returns the first *Error in err's chain, or wraps err as INTERNAL.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: CodeInternal, Message: "internal error", Err: err}
}

// Retryable reports whether trying the same thing again later may succeed: the far side was
// down, slow or busy, not wrong.
func Retryable(err error) bool {
	switch ErrorCode(err) {
	case CodeInProgress, CodeVendorUnavailable, CodeVendorTimeout, CodeRateLimited, CodeUnavailable:
		return true
	}
	return false
}
