package handler

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"handoff/core/availability"
	"handoff/core/handoff"
	"handoff/core/telemetry"
)

// Availabilities is what skill-check needs of the availability use case.
type Availabilities interface {
	Check(ctx context.Context, q availability.Query) ([]handoff.Availability, error)
}

// Availability handles GET /availability?tenant=…&vendor=…&conversationId=…[&target=type:id…].
type Availability struct {
	svc    Availabilities
	access Access
	log    *slog.Logger
}

// NewAvailability builds the handler from a ready service and the tenants' access rules.
func NewAvailability(svc Availabilities, access Access, log *slog.Logger) *Availability {
	return &Availability{svc: svc, access: access, log: log}
}

type availabilityAnswer struct {
	Targets []handoff.Availability `json:"targets"`
}

// HTTP answers one availability question; its error is always nil (every failure is an HTTP answer).
func (h *Availability) HTTP(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	caller := callerOf(req)
	telemetry.Annotate(ctx, telemetry.Caller(caller))
	resp := h.answer(ctx, req, caller)
	logRequest(ctx, h.log, req, caller, resp)
	return resp, nil
}

// answer is HTTP's work; the error result HTTP adds is what aws-lambda-go requires of a handler.
func (h *Availability) answer(ctx context.Context, req events.APIGatewayV2HTTPRequest, caller string) events.APIGatewayV2HTTPResponse {
	const op = "handler.Availability"
	if routeOf(req) != "GET /availability" {
		return notFound(ctx, h.log, req)
	}
	query, err := url.ParseQuery(req.RawQueryString)
	if err != nil {
		return errorResponse(ctx, h.log, op, handoff.Invalid("", "malformed query string"))
	}
	var q availability.Query
	for _, p := range []struct {
		name string
		into *string
	}{{"tenant", &q.Tenant}, {"vendor", &q.Vendor}, {"conversationId", &q.ConversationID}} {
		if *p.into, err = queryValue(query, p.name); err != nil {
			return errorResponse(ctx, h.log, op, err)
		}
	}
	// The tenant's form first (it is a storage key), then whether the caller may use it: before
	// any vendor is asked, with the tenant's credentials, about its conversations.
	if err := handoff.ValidateTenant("tenant", q.Tenant); err != nil {
		return errorResponse(ctx, h.log, op, err)
	}
	if err := h.access.Caller(ctx, q.Tenant, caller); err != nil {
		return errorResponse(ctx, h.log, op, err)
	}
	for _, raw := range query["target"] {
		typ, id, _ := strings.Cut(raw, ":")
		q.Targets = append(q.Targets, handoff.Target{Type: handoff.TargetType(typ), ID: id})
	}
	telemetry.Annotate(ctx, telemetry.Tenant(q.Tenant))
	targets, err := h.svc.Check(ctx, q)
	if err != nil {
		return errorResponse(ctx, h.log, op, err)
	}
	if targets == nil {
		targets = []handoff.Availability{} // the answer is a list, even an empty one, never null
	}
	return jsonResponse(http.StatusOK, availabilityAnswer{Targets: targets})
}
