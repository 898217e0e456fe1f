package handler

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"handoff/core/handoff"
	"handoff/core/telemetry"
	"handoff/core/transfer"
)

// Drain starts the queued transfers of one SQS batch and names the messages to return
// (ReportBatchItemFailures). Each message group (tenant and vendor) drains in order, the groups
// side by side; within a group, a message whose transfer could not start yet is returned with
// every later one of its group, so each group keeps its order. A message that does not decode
// can never start: it is dropped, logged, rather than returned until it dead-letters its group.
func (h *Transfer) Drain(ctx context.Context, batch events.SQSEvent) events.SQSEventResponse {
	const op = "handler.Drain"
	type group struct {
		msgs []transfer.Message
		ids  []string
	}
	var order []string
	groups := map[string]*group{}
	for _, rec := range batch.Records {
		name := rec.Attributes["MessageGroupId"]
		var m transfer.Message
		if err := json.Unmarshal([]byte(rec.Body), &m); err != nil || m.TransferID == "" {
			h.log.Error("queued message does not decode; dropped", "op", op, "messageId", rec.MessageId, "group", name)
			continue
		}
		m.Group, m.SentAt = name, sentAt(rec)
		g := groups[name]
		if g == nil {
			g = &group{}
			groups[name] = g
			order = append(order, name)
		}
		g.msgs, g.ids = append(g.msgs, m), append(g.ids, rec.MessageId)
	}
	failed := make([][]events.SQSBatchItemFailure, len(order))
	var wg sync.WaitGroup
	for gi, name := range order {
		g := groups[name]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, err := range h.svc.DrainGroup(ctx, g.msgs) {
				if err == nil {
					continue
				}
				if len(failed[gi]) == 0 {
					h.log.Info("queued transfer returned to the queue, with the rest of its group", "op", op,
						"transfer", g.msgs[i].TransferID, "group", name, "code", string(handoff.ErrorCode(err)), "error", err)
				}
				failed[gi] = append(failed[gi], events.SQSBatchItemFailure{ItemIdentifier: g.ids[i]})
			}
		}()
	}
	wg.Wait()
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	for _, f := range failed {
		resp.BatchItemFailures = append(resp.BatchItemFailures, f...)
	}
	return resp
}

// sentAt is when the queue took rec (its SentTimestamp, epoch milliseconds); zero if absent.
func sentAt(rec events.SQSMessage) time.Time {
	ms, err := strconv.ParseInt(rec.Attributes["SentTimestamp"], 10, 64)
	if err != nil || ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
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
