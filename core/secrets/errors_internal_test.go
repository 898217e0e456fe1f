package secrets

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"handoff/core/handoff"
)

// sdkError builds an error shaped as the SDK returns it: operation, response, API error.
func sdkError(code, message string) error {
	return &smithy.OperationError{
		ServiceID: "Secrets Manager", OperationName: "PutSecretValue",
		Err: &awshttp.ResponseError{
			RequestID: "req-1",
			ResponseError: &smithyhttp.ResponseError{
				Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 400}},
				Err:      &smithy.GenericAPIError{Code: code, Message: message},
			},
		},
	}
}

func TestRedactDropsTheMessageKeepsTheCode(t *testing.T) {
	const value = `{"refreshToken":"zqx-s3cret"}`
	err := redact(sdkError("ValidationException", "Value '"+value+"' at 'secretString' failed"))
	if strings.Contains(err.Error(), "zqx-s3cret") {
		t.Errorf("redacted error quotes the request: %v", err)
	}
	for _, want := range []string{"ValidationException", "req-1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("redacted error %q lacks %q", err, want)
		}
	}
	if plain := context.DeadlineExceeded; redact(plain) != plain {
		t.Error("redact changed an error that is not an API error")
	}
}

func TestAWSErrorTable(t *testing.T) {
	for _, c := range []struct {
		err  error
		want handoff.Code
	}{
		{sdkError("ResourceNotFoundException", "not found"), handoff.CodeUnknownTenant},
		{redact(sdkError("ResourceNotFoundException", "not found")), handoff.CodeUnknownTenant},
		{sdkError("InternalServiceError", "boom"), handoff.CodeUnavailable},
		{sdkError("ThrottlingException", "slow down"), handoff.CodeUnavailable},
		{context.DeadlineExceeded, handoff.CodeUnavailable},
	} {
		err := awsError("secrets.Get", "handoff/acme/koreai", "acme", "koreai", c.err)
		if got := handoff.ErrorCode(err); got != c.want {
			t.Errorf("awsError(%v) = %s, want %s", c.err, got, c.want)
		}
		if !errors.Is(err, c.err) {
			t.Errorf("awsError(%v) lost its cause", c.err)
		}
	}
}
