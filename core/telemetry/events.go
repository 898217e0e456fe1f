package telemetry

import (
	"context"

	"github.com/aws/aws-lambda-go/events"

	"handoff/core/handoff"
)

// These helpers keep each call site to one line: the use cases and handlers say what happened,
// and which metric that is stays here.

// Started counts a POST /transfers or an escalation that the service answered: a new transfer,
// or a replay of an earlier one under the same idempotency key.
func Started(ctx context.Context, t handoff.Transfer, replayed bool) {
	Annotate(ctx, Transfer(t.ID))
	if replayed {
		Count(ctx, IdempotentReplays, Dims{Vendor: t.Vendor, Tenant: t.Tenant})
		return
	}
	Count(ctx, TransfersStarted, Dims{Vendor: t.Vendor, Tenant: t.Tenant})
}

// Ended counts a transfer that reached its final status, with the error code of a failure.
// Cancelled transfers are neither succeeded nor failed.
func Ended(ctx context.Context, t handoff.Transfer) {
	d := Dims{Vendor: t.Vendor, Tenant: t.Tenant}
	switch t.Status {
	case handoff.StatusTransferred:
		Count(ctx, TransfersSucceeded, d)
	case handoff.StatusFailed:
		if t.Error != nil {
			d.Code = string(t.Error.Code)
		}
		Count(ctx, TransfersFailed, d)
	}
}

// ackUncertain is the status of an ack the bot's platform may have processed without confirming
// it (the contract's "uncertain"); named here until core/handoff declares it.
const ackUncertain handoff.AckStatus = "uncertain"

// Acked counts an ack by the status it ended in; a pending one (to be retried) is not counted.
func Acked(ctx context.Context, t handoff.Transfer) {
	name := map[handoff.AckStatus]Name{handoff.AckSent: AcksSent, handoff.AckFailed: AcksFailed,
		ackUncertain: AcksUncertain}[t.Ack.Status]
	if name != "" && t.Bot != nil {
		Count(ctx, name, Dims{Vendor: t.Bot.Vendor, Tenant: t.Tenant})
	}
}

// CallbackAnswered counts a webhook refused because it could not prove it came from the vendor.
func CallbackAnswered(ctx context.Context, vendor string, err error) {
	if handoff.ErrorCode(err) == handoff.CodeUnauthorized {
		Count(ctx, CallbacksRefused, Dims{Vendor: vendor})
	}
}

// Reasons an escalation is dropped (EscalationsDropped's Reason dimension).
const (
	ReasonUndecodable = "undecodable" // the event or its detail is not a request
	ReasonFailed      = "failed"      // a failure no retry can fix
)

// Dropped counts an escalation the handler gives up on without a retry.
func Dropped(ctx context.Context, reason string) {
	Count(ctx, EscalationsDropped, Dims{Reason: reason})
}

// HTTPCaller is the principal API Gateway's IAM authorizer names, or "" (unsigned routes).
func HTTPCaller(req events.APIGatewayV2HTTPRequest) string {
	if a := req.RequestContext.Authorizer; a != nil && a.IAM != nil {
		return a.IAM.UserARN
	}
	return ""
}
