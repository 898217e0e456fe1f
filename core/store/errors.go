package store

import (
	"errors"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"handoff/core/handoff"
)

// unavailableCodes are DynamoDB's answers that a later retry of the same request may outlive.
var unavailableCodes = map[string]bool{
	"ProvisionedThroughputExceededException": true,
	"RequestLimitExceeded":                   true,
	"ThrottlingException":                    true,
	"LimitExceededException":                 true,
	"InternalServerError":                    true,
	"ServiceUnavailable":                     true,
	"TransactionConflictException":           true,
	"TransactionInProgressException":         true,
}

// fromAWS maps a DynamoDB failure the caller did not expect (conditional failures are handled
// where they happen) to a handoff.Error: UNAVAILABLE when a retry may succeed, CONFIGURATION for
// a missing table, INTERNAL for a request DynamoDB refused. The cause is kept; messages never
// hold item contents.
func fromAWS(op string, err error) error {
	var api smithy.APIError
	if !errors.As(err, &api) {
		// No answer from DynamoDB: the network, a timeout or a cancelled context.
		return handoff.E(handoff.CodeUnavailable, op, "storage is unreachable", err)
	}
	var missing *types.ResourceNotFoundException
	switch {
	case unavailableCodes[api.ErrorCode()]:
		return handoff.E(handoff.CodeUnavailable, op, "storage is busy", err)
	case errors.As(err, &missing):
		return handoff.E(handoff.CodeConfiguration, op, "the table does not exist", err)
	}
	var resp *awshttp.ResponseError
	if errors.As(err, &resp) && resp.HTTPStatusCode() >= 500 {
		return handoff.E(handoff.CodeUnavailable, op, "storage failed", err)
	}
	return handoff.E(handoff.CodeInternal, op, "storage refused the request", err)
}

// conditionFailed reports whether err is a failed condition of a single-item write, and returns
// the item as it stood when the write asked for it with ReturnValuesOnConditionCheckFailure.
func conditionFailed(err error) (map[string]types.AttributeValue, bool) {
	var cf *types.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		return cf.Item, true
	}
	return nil, false
}
