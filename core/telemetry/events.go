package telemetry

import (
	"context"

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

// Acked counts an ack by the status it ended in; a pending one (to be retried) is not counted.
func Acked(ctx context.Context, t handoff.Transfer) {
	name := map[handoff.AckStatus]Name{handoff.AckSent: AcksSent, handoff.AckFailed: AcksFailed,
		handoff.AckUncertain: AcksUncertain}[t.Ack.Status]
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

// DeadLettered counts an escalation the handler dead-letters (it returns the DeadLetter error,
// so Lambda ends it in the escalation dead-letter queue), by the error code that ended it:
// INVALID_REQUEST (the event or its detail does not decode), FORBIDDEN (a source its tenant does
// not list), or the code of a refusal no retry fixes.
func DeadLettered(ctx context.Context, code handoff.Code) {
	Count(ctx, EscalationsDeadLettered, Dims{Code: string(code)})
}
