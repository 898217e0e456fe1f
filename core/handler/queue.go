package handler

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"handoff/core/handoff"
	"handoff/core/telemetry"
	"handoff/core/transfer"
)

// Drain starts the queued transfers of one SQS batch, in order, and names the messages to
// return (ReportBatchItemFailures): one whose transfer could not start yet, and every later one
// of the same message group, so each group keeps its order. A message that does not decode can
// never start: it is dropped, logged, rather than returned until it dead-letters its group.
func (h *Transfer) Drain(ctx context.Context, batch events.SQSEvent) events.SQSEventResponse {
	const op = "handler.Drain"
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	stopped := map[string]bool{}
	for _, rec := range batch.Records {
		group := rec.Attributes["MessageGroupId"]
		if stopped[group] {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
			continue
		}
		var m transfer.Message
		if err := json.Unmarshal([]byte(rec.Body), &m); err != nil || m.TransferID == "" {
			h.log.Error("queued message does not decode; dropped", "op", op, "messageId", rec.MessageId, "group", group)
			continue
		}
		m.Group = group
		if err := h.svc.Drain(ctx, m); err != nil {
			h.log.Info("queued transfer returned to the queue", "op", op, "transfer", m.TransferID, "group", group,
				"code", string(handoff.ErrorCode(err)), "error", err)
			stopped[group] = true
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
		}
	}
	return resp
}

// cancel answers DELETE /transfers/{id}: 200 with the cancelled transfer; 409 CONFLICT when it
// has already ended. A transfer that does not exist is NOT_FOUND; one of a tenant the caller may
// not act for is FORBIDDEN, and nothing changes.
func (h *Transfer) cancel(ctx context.Context, req events.APIGatewayV2HTTPRequest, caller string) events.APIGatewayV2HTTPResponse {
	const op = "handler.CancelTransfer"
	telemetry.Annotate(ctx, telemetry.Transfer(req.PathParameters["id"]))
	t, err := h.svc.Get(ctx, req.PathParameters["id"])
	if err != nil {
		return errorResponse(ctx, h.log, op, err)
	}
	telemetry.Annotate(ctx, telemetry.Tenant(t.Tenant))
	if err := h.access.Caller(ctx, t.Tenant, caller); err != nil {
		return errorResponse(ctx, h.log, op, err)
	}
	done, err := h.svc.Cancel(ctx, t, caller)
	if err != nil {
		return errorResponse(ctx, h.log, op, err)
	}
	return jsonResponse(http.StatusOK, done)
}

// cancelDetail is an Escalation Cancelled event's detail: the tenant and either the transfer's
// id or the idempotency key it was asked with.
type cancelDetail struct {
	Tenant         string `json:"tenant"`
	TransferID     string `json:"transferId"`
	IdempotencyKey string `json:"idempotencyKey"`
}

// CancelEvent carries out an Escalation Cancelled event like DELETE /transfers/{id}. A source
// the tenant does not list, a detail naming nothing, and a transfer not found are dead-lettered with the reason (no retry changes them); one already ended is
// logged and dropped (a late cancel is no fault); a store failure is retried.
func (h *Transfer) CancelEvent(ctx context.Context, ev events.EventBridgeEvent) error {
	const op = "handler.CancelEvent"
	var d cancelDetail
	err := json.Unmarshal(ev.Detail, &d)
	switch {
	case err != nil:
		err = handoff.Invalid("detail", "the detail does not decode")
	case d.Tenant == "" || (d.TransferID == "") == (d.IdempotencyKey == ""):
		err = handoff.Invalid("detail", "tenant and one of transferId or idempotencyKey are required")
	default:
		telemetry.Annotate(ctx, telemetry.Tenant(d.Tenant), telemetry.Caller(eventCaller(ev)))
		err = h.access.Source(ctx, d.Tenant, ev.Source, ev.AccountID)
	}
	var t handoff.Transfer
	if err == nil {
		if d.TransferID != "" {
			t, err = h.svc.Get(ctx, d.TransferID)
			if err == nil && t.Tenant != d.Tenant {
				err = handoff.E(handoff.CodeNotFound, op, "no such transfer", nil)
			}
		} else {
			t, err = h.svc.FindByKey(ctx, d.Tenant, d.IdempotencyKey)
		}
	}
	if err == nil {
		t, err = h.svc.Cancel(ctx, t, eventCaller(ev))
	}
	switch {
	case err == nil:
		h.log.Info("escalation cancelled", "op", op, "id", ev.ID, "transfer", t.ID, "source", ev.Source)
		return nil
	case handoff.ErrorCode(err) == handoff.CodeConflict:
		h.log.Warn("cancel of an ended transfer ignored", "op", op, "id", ev.ID, "transfer", t.ID, "status", string(t.Status))
		return nil
	case handoff.Retryable(err):
		h.log.Warn("cancel will be retried", "op", op, "id", ev.ID, "error", err)
		return err
	}
	telemetry.DeadLettered(ctx, handoff.ErrorCode(err))
	err = deadLetter(err)
	h.log.Error("cancel dead-lettered", "op", op, "id", ev.ID, "source", ev.Source, "tenant", d.Tenant,
		"code", string(handoff.ErrorCode(err)), "error", err)
	return err
}
