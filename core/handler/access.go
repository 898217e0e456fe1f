package handler

import (
	"context"
	"errors"

	"github.com/aws/aws-lambda-go/events"

	"handoff/core/handoff"
)

// Access says who may act for a tenant (core/access implements it over the tenants' access
// records). Each method returns nil when allowed, FORBIDDEN when not, and the store's error when
// it could not tell.
type Access interface {
	// Caller: may this IAM principal ARN use the API for tenant?
	Caller(ctx context.Context, tenant, caller string) error
	// Source: may an EventBridge event with this source, put by this account, escalate for tenant?
	Source(ctx context.Context, tenant, source, account string) error
}

// callerOf is the principal ARN API Gateway's IAM authorizer (AWS_IAM) put in the request
// context; empty when no authorizer saw the request, and then no tenant allows it.
func callerOf(req events.APIGatewayV2HTTPRequest) string {
	if a := req.RequestContext.Authorizer; a != nil && a.IAM != nil {
		return a.IAM.UserARN
	}
	return ""
}

// eventCaller names an EventBridge event's sender on the transfer it starts, as callerOf names an
// API caller: its source and the account that put it.
func eventCaller(ev events.EventBridgeEvent) string {
	return "event:" + ev.Source + "@" + ev.AccountID
}

// DeadLetter is an escalation that ended without a transfer and that no retry can carry out: the
// event does not decode, its detail is not a valid request, its source may not escalate for the
// tenant, or the request was refused. It is returned as the invocation's error, so Lambda, after
// its retries (each refused again, before any vendor call or write), sends the invocation
// record to the function's OnFailure destination, the escalation dead-letter queue; the record's
// responsePayload holds errorType "DeadLetter" and this error's message, the reason.
type DeadLetter struct {
	Reason error
}

func (d *DeadLetter) Error() string { return "escalation dead-lettered: " + d.Reason.Error() }

func (d *DeadLetter) Unwrap() error { return d.Reason }

// deadLetter wraps the reason an escalation cannot be carried out.
func deadLetter(reason error) error { return &DeadLetter{Reason: reason} }

// IsDeadLetter reports whether err is an escalation dead-lettered with its reason.
func IsDeadLetter(err error) bool {
	var d *DeadLetter
	return errors.As(err, &d)
}

// hiddenAsNotFound answers a caller who may not see a transfer exactly as if it did not exist,
// so that transfer ids of other tenants cannot even be confirmed.
func hiddenAsNotFound(op string) error {
	return handoff.E(handoff.CodeNotFound, op, "no such transfer", nil)
}
