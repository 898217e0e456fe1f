package runtimeapi

import (
	"encoding/json"
	"fmt"
	"time"
)

// Error is a function error, as Lambda reports it to the invoker: the function's own error,
// a timeout (Sandbox.Timedout), a crash (Runtime.ExitError) or a failed init.
type Error struct {
	Type    string `json:"errorType"`
	Message string `json:"errorMessage"`
	// Payload is the error as the runtime posted it (with stackTrace, say), or nil for errors
	// the Runtime API raised itself; JSON gives the payload an invoker would receive.
	Payload []byte `json:"-"`
}

// Error gives the type and the message, as Lambda's console shows a function error.
func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Type, e.Message) }

// JSON is the error payload an invoker receives: {"errorMessage": …, "errorType": …}.
func (e *Error) JSON() []byte {
	if json.Valid(e.Payload) {
		return e.Payload
	}
	out, _ := json.Marshal(e)
	return out
}

// timeoutError is Lambda's error for an invocation that ran past its deadline.
func timeoutError(requestID string, timeout time.Duration) *Error {
	return &Error{
		Type:    "Sandbox.Timedout",
		Message: fmt.Sprintf("RequestId: %s Error: Task timed out after %.2f seconds", requestID, timeout.Seconds()),
	}
}
