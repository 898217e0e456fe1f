package secrets

import (
	"errors"
	"fmt"

	"github.com/aws/smithy-go"
)

// errorCode returns the AWS error code in err's chain ("ResourceNotFoundException"), if any.
func errorCode(err error) string {
	var coded interface{ ErrorCode() string } // smithy.APIError, or a redactedError
	if errors.As(err, &coded) {
		return coded.ErrorCode()
	}
	return ""
}

// redactedError is an AWS API error with its message dropped: what is left (operation, code,
// request ID) is enough to find it in CloudTrail and cannot quote what we sent.
type redactedError struct {
	code      string
	requestID string
}

func (e *redactedError) Error() string {
	return fmt.Sprintf("PutSecretValue: api error %s (request id %q)", e.code, e.requestID)
}

// ErrorCode lets errorCode see through the redaction.
func (e *redactedError) ErrorCode() string { return e.code }

// redact strips the message from an AWS API error of PutSecretValue: a service's validation
// message may quote the request, and the request holds the secret. Other errors (the network,
// a deadline) carry no request and are kept whole.
func redact(err error) error {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return err
	}
	r := &redactedError{code: apiErr.ErrorCode()}
	var withID interface{ ServiceRequestID() string }
	if errors.As(err, &withID) {
		r.requestID = withID.ServiceRequestID()
	}
	return r
}
