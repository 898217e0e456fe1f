package handler

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"handoff/core/handoff"
	"handoff/core/telemetry"
	"handoff/core/transfer"
)

// EscalationDetailType is the EventBridge detail-type that asks for a transfer.
const EscalationDetailType = "Escalation Requested"

// CancelDetailType is the EventBridge detail-type that calls a transfer off.
const CancelDetailType = "Escalation Cancelled"

// ScheduledDetailType is the detail-type of EventBridge's scheduled events: the sweep's clock.
const ScheduledDetailType = "Scheduled Event"

// Transfers is what the transfer function needs of the transfer use case.
type Transfers interface {
	Start(ctx context.Context, in transfer.Input) (transfer.Result, error)
	Get(ctx context.Context, id string) (handoff.Transfer, error)
	Sweep(ctx context.Context) (int, error)
	Cancel(ctx context.Context, t handoff.Transfer, by string) (handoff.Transfer, error)
	FindByKey(ctx context.Context, tenant, key string) (handoff.Transfer, error)
	DrainGroup(ctx context.Context, msgs []transfer.Message) []error
}

// Transfer handles the transfer function's triggers: POST /transfers, GET and DELETE
// /transfers/{id}, Escalation Requested and Escalation Cancelled events, the sweep's schedule,
// and the transfer queue's SQS batches.
type Transfer struct {
	svc    Transfers
	access Access
	log    *slog.Logger
	// callbackBase is the public base URL for vendor callbacks; empty means "the API's own
	// domain", taken from each HTTP request.
	callbackBase string
}

// NewTransfer builds the handler from a ready service and the tenants' access rules.
func NewTransfer(svc Transfers, access Access, log *slog.Logger, callbackBase string) *Transfer {
	return &Transfer{svc: svc, access: access, log: log, callbackBase: callbackBase}
}

// eventShape holds the fields that tell an HTTP API event from an EventBridge one.
type eventShape struct {
	Version    string `json:"version"`
	RouteKey   string `json:"routeKey"`
	DetailType string `json:"detail-type"`
}

// trigger is an HTTP API event and an EventBridge event in one struct (they share only
// "version"), so a well-formed event of either kind is decoded in one pass: a first pass for
// the shape alone would scan the whole payload again, and the payload is most of the
// function's own work.
type trigger struct {
	events.APIGatewayV2HTTPRequest
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	AccountID  string          `json:"account"`
	Time       time.Time       `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
	// Records is an SQS batch's (the transfer queue).
	Records []events.SQSMessage `json:"Records"`
}

func (t trigger) eventBridge() events.EventBridgeEvent {
	return events.EventBridgeEvent{
		Version: t.Version, ID: t.ID, DetailType: t.DetailType, Source: t.Source, AccountID: t.AccountID,
		Time: t.Time, Region: t.Region, Resources: t.Resources, Detail: t.Detail,
	}
}

// Invoke is the Lambda entry point: it tells the trigger by the event's shape and hands over.
func (h *Transfer) Invoke(ctx context.Context, payload json.RawMessage) (any, error) {
	var ev trigger
	if !decodeHTTPEvent(payload, &ev.APIGatewayV2HTTPRequest) {
		ev = trigger{} // what the fast path left half-done
		if json.Unmarshal(payload, &ev) != nil {
			return h.malformed(ctx, payload)
		}
	}
	switch {
	case len(ev.Records) > 0 && ev.Records[0].EventSource == "aws:sqs":
		return h.Drain(ctx, events.SQSEvent{Records: ev.Records}), nil
	case ev.DetailType == ScheduledDetailType:
		return nil, h.Sweep(ctx)
	case ev.DetailType == CancelDetailType:
		return nil, h.CancelEvent(ctx, ev.eventBridge())
	case ev.DetailType != "":
		return nil, h.Escalation(ctx, ev.eventBridge())
	case ev.RouteKey != "" || ev.Version == "2.0":
		return h.HTTP(ctx, ev.APIGatewayV2HTTPRequest)
	}
	return nil, errUnrecognised
}

var errUnrecognised = errors.New("transfer: unrecognised event: neither an HTTP API request nor an EventBridge event")

// malformed answers an event that did not decode whole, the way its trigger expects: its shape
// alone says which trigger it came from.
func (h *Transfer) malformed(ctx context.Context, payload json.RawMessage) (any, error) {
	var shape eventShape
	if err := json.Unmarshal(payload, &shape); err != nil {
		return nil, errors.New("transfer: the event is not a JSON object")
	}
	switch {
	case shape.DetailType == ScheduledDetailType:
		return nil, h.Sweep(ctx) // the sweep needs nothing from its event
	case shape.DetailType != "":
		err := deadLetter(handoff.Invalid("", "the event does not decode"))
		telemetry.DeadLettered(ctx, handoff.CodeInvalidRequest)
		h.log.Error("escalation dead-lettered", "op", "handler.Escalation", "detailType", shape.DetailType, "error", err)
		return nil, err
	case shape.RouteKey != "" || shape.Version == "2.0":
		return jsonResponse(http.StatusBadRequest, problemBody{Error: problemJSON{Code: handoff.CodeInvalidRequest, Message: "malformed HTTP event"}}), nil
	}
	return nil, errUnrecognised
}

// HTTP answers POST /transfers and GET /transfers/{id}; its error is always nil (every failure
// is an HTTP answer).
func (h *Transfer) HTTP(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	caller := callerOf(req)
	telemetry.Annotate(ctx, telemetry.Caller(caller))
	resp := h.answer(ctx, req, caller)
	logRequest(ctx, h.log, req, caller, resp)
	return resp, nil
}

// answer is HTTP's work; the error result HTTP adds is what aws-lambda-go requires of a handler.
func (h *Transfer) answer(ctx context.Context, req events.APIGatewayV2HTTPRequest, caller string) events.APIGatewayV2HTTPResponse {
	switch routeOf(req) {
	case "POST /transfers":
		return h.post(ctx, req, caller)
	case "GET /transfers/{id}":
		return h.get(ctx, req, caller)
	case "DELETE /transfers/{id}":
		return h.cancel(ctx, req, caller)
	}
	return notFound(ctx, h.log, req)
}

// get answers GET /transfers/{id}: a transfer of a tenant the caller may not use is NOT_FOUND,
// word for word as one that does not exist.
func (h *Transfer) get(ctx context.Context, req events.APIGatewayV2HTTPRequest, caller string) events.APIGatewayV2HTTPResponse {
	const op = "handler.GetTransfer"
	telemetry.Annotate(ctx, telemetry.Transfer(req.PathParameters["id"]))
	t, err := h.svc.Get(ctx, req.PathParameters["id"])
	if err != nil {
		return errorResponse(ctx, h.log, op, err)
	}
	if err := h.access.Caller(ctx, t.Tenant, caller); err != nil {
		if handoff.ErrorCode(err) == handoff.CodeForbidden {
			err = hiddenAsNotFound(op)
		}
		return errorResponse(ctx, h.log, op, err)
	}
	return jsonResponse(http.StatusOK, t)
}

func (h *Transfer) post(ctx context.Context, req events.APIGatewayV2HTTPRequest, caller string) events.APIGatewayV2HTTPResponse {
	const op = "handler.PostTransfer"
	body, err := requestBody(req, handoff.MaxBodyBytes)
	if err != nil {
		return errorResponse(ctx, h.log, op, err)
	}
	r, err := handoff.DecodeRequest(body)
	if err != nil {
		return errorResponse(ctx, h.log, op, err)
	}
	telemetry.Annotate(ctx, telemetry.Tenant(r.Tenant))
	// Before the idempotency key is even looked at: a refused caller learns nothing of the
	// tenant's earlier transfers, and nothing is claimed, written or sent to a vendor.
	if err := h.access.Caller(ctx, r.Tenant, caller); err != nil {
		return errorResponse(ctx, h.log, op, err)
	}
	key := header(req, "idempotency-key") // as API Gateway spells it: found without a search
	if key != "" {
		if err := handoff.ValidateKey("Idempotency-Key", key); err != nil {
			return errorResponse(ctx, h.log, op, err)
		}
	}
	base := h.callbackBase
	if base == "" && req.RequestContext.DomainName != "" {
		base = "https://" + req.RequestContext.DomainName
	}
	// The key and the caller are slices of the whole event (decodeHTTPEvent): copied, so a
	// transfer the container remembers does not keep the event's bytes alive with it.
	in := transfer.Input{Request: r, Key: strings.Clone(key), CallbackBase: base, Caller: strings.Clone(caller)}
	res, err := h.svc.Start(ctx, in)
	if err != nil {
		return errorResponse(ctx, h.log, op, err)
	}
	telemetry.Started(ctx, res.Transfer, res.Replayed)
	resp := transferResponse(res.Transfer)
	resp.Headers["Location"] = "/transfers/" + res.Transfer.ID
	if res.Replayed {
		resp.Headers["Idempotent-Replayed"] = "true"
	}
	return resp
}

// transferResponse is 201 for a confirmed transfer, 202 while it waits in the queue or for a
// callback, and the error of the last target (with the transfer) when every target failed, or
// CANCELLED (409) when it was called off.
func transferResponse(t handoff.Transfer) events.APIGatewayV2HTTPResponse {
	switch t.Status {
	case handoff.StatusTransferred:
		return jsonResponse(http.StatusCreated, t)
	case handoff.StatusPending, handoff.StatusQueued:
		return jsonResponse(http.StatusAccepted, t)
	}
	p := problemJSON{Code: handoff.CodeTargetUnavailable, Message: "no target could take the conversation"}
	if t.Error != nil {
		p = problemJSON{Code: t.Error.Code, Message: t.Error.Message, VendorCode: t.Error.VendorCode}
	}
	return jsonResponse(HTTPStatus(p.Code), problemBody{Error: p, Transfer: &t})
}

// Escalation runs an Escalation Requested event. The event id is the idempotency key unless the
// detail has one. Every escalation ends in one of three ways: a recorded transfer (nil, whatever
// its outcome); an error a retry can fix, which Lambda retries and the dead-letter queue keeps if
// it never succeeds (a vendor answer we could not read is one: the vendor may have made the
// transfer, and only the retry, which reconciles, can record it and have the bot told); or a
// DeadLetter error with the reason, for what no retry can fix. Nothing is dropped.
//
// The event's source and account are checked against the tenant's access record before
// anything else is done for it: a source the tenant does not list is dead-lettered, no vendor
// called, nothing written.
func (h *Transfer) Escalation(ctx context.Context, ev events.EventBridgeEvent) error {
	const op = "handler.Escalation"
	if ev.DetailType != EscalationDetailType {
		h.log.Warn("ignored event", "op", op, "detailType", ev.DetailType, "id", ev.ID)
		return nil
	}
	r, err := handoff.DecodeRequest(ev.Detail)
	telemetry.Annotate(ctx, telemetry.Tenant(r.Tenant), telemetry.Caller(eventCaller(ev)))
	if err == nil {
		err = h.access.Source(ctx, r.Tenant, ev.Source, ev.AccountID)
	}
	var res transfer.Result
	if err == nil {
		// Always through the queue: a storm of escalations never reaches the vendor faster than
		// its rate.
		res, err = h.svc.Start(ctx, transfer.Input{Request: r, Key: ev.ID, CallbackBase: h.callbackBase, Caller: eventCaller(ev), Queue: true})
	}
	switch {
	case err == nil:
		telemetry.Started(ctx, res.Transfer, res.Replayed)
		h.log.Info("escalation handled", "op", op, "id", ev.ID, "source", ev.Source, "account", ev.AccountID,
			"transfer", res.Transfer.ID, "status", string(res.Transfer.Status), "replayed", res.Replayed)
		return nil
	case handoff.Retryable(err) || handoff.ErrorCode(err) == handoff.CodeVendorProtocol:
		h.log.Warn("escalation will be retried", "op", op, "id", ev.ID, "source", ev.Source, "account", ev.AccountID, "error", err)
		return err
	}
	telemetry.DeadLettered(ctx, handoff.ErrorCode(err))
	err = deadLetter(err)
	h.log.Error("escalation dead-lettered", "op", op, "id", ev.ID, "source", ev.Source, "account", ev.AccountID,
		"tenant", r.Tenant, "code", string(handoff.ErrorCode(err)), "error", err)
	return err
}

// Sweep gives up on transfers whose vendor did not call back in time. A failure (the table was
// unavailable) is logged, not returned: the next scheduled run, a minute later, is the retry,
// and a returned error would land the Scheduled Event in the function's failure destination,
// the escalations' dead-letter queue, where nothing can be done with it.
func (h *Transfer) Sweep(ctx context.Context) error {
	n, err := h.svc.Sweep(ctx)
	if err != nil {
		h.log.Error("sweep failed; the next run retries", "op", "handler.Sweep", "error", err)
		return nil
	}
	if n > 0 {
		h.log.Info("sweep ended overdue transfers", "op", "handler.Sweep", "count", n)
	}
	return nil
}

// routeOf returns the route key; behind a $default route it is rebuilt from the method and path.
func routeOf(req events.APIGatewayV2HTTPRequest) string {
	if req.RouteKey != "" && req.RouteKey != "$default" {
		return req.RouteKey
	}
	return req.RequestContext.HTTP.Method + " " + req.RawPath
}
