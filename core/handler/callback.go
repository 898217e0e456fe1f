package handler

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/aws/aws-lambda-go/events"

	"handoff/core/handoff"
	"handoff/core/telemetry"
	"handoff/core/vendors"
)

// MaxCallbackBytes bounds a vendor webhook body.
const MaxCallbackBytes = 64 << 10

// Callbacks is what the callback-receiver needs of the transfer use case.
type Callbacks interface {
	Callback(ctx context.Context, vendor string, req vendors.CallbackRequest) (handoff.Transfer, error)
}

// Callback handles POST /callbacks/{vendor} and POST /callbacks/{vendor}/{token}: vendor
// webhooks, authenticated by each vendor's own proof inside the use case.
type Callback struct {
	svc Callbacks
	log *slog.Logger
}

// NewCallback builds the handler from a ready service.
func NewCallback(svc Callbacks, log *slog.Logger) *Callback { return &Callback{svc: svc, log: log} }

// callbackAnswer is what a vendor gets back: enough to see it landed, nothing more.
type callbackAnswer struct {
	ID     string         `json:"id"`
	Status handoff.Status `json:"status"`
}

// HTTP answers one webhook; its error is always nil (every failure is an HTTP answer).
func (h *Callback) HTTP(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return h.answer(ctx, req), nil
}

// answer is HTTP's work; the error result HTTP adds is what aws-lambda-go requires of a handler.
func (h *Callback) answer(ctx context.Context, req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	const op = "handler.Callback"
	// The proof is in the query (?tenant=…&token=…) or is the path's last segment
	// (/callbacks/{vendor}/{token}), which names its tenant itself and survives a platform that
	// drops or re-encodes query strings.
	var token string
	switch routeOf(req) {
	case "POST /callbacks/{vendor}":
	case "POST /callbacks/{vendor}/{token}":
		if token = req.PathParameters["token"]; token == "" {
			return notFound(ctx, h.log, req)
		}
	default:
		return notFound(ctx, h.log, req)
	}
	vendor := req.PathParameters["vendor"]
	if err := handoff.ValidateVendor("vendor", vendor); err != nil {
		return errorResponse(ctx, h.log, op, handoff.E(handoff.CodeNotFound, op, "no callbacks for that vendor", nil))
	}
	query, err := url.ParseQuery(req.RawQueryString)
	if err != nil {
		return errorResponse(ctx, h.log, op, handoff.Invalid("", "malformed query string"))
	}
	tenant, err := queryValue(query, "tenant")
	if err != nil {
		return errorResponse(ctx, h.log, op, err)
	}
	// Without a token in the path the query must name the tenant; with one, a tenant given in
	// the query must be well formed, and the vendor's parser checks it against the token's.
	if token == "" || tenant != "" {
		if err := handoff.ValidateTenant("tenant", tenant); err != nil {
			return errorResponse(ctx, h.log, op, err)
		}
	}
	body, err := requestBody(req, MaxCallbackBytes)
	if err != nil {
		return errorResponse(ctx, h.log, op, err)
	}
	hdr := http.Header{}
	for k, v := range req.Headers {
		hdr.Set(k, v)
	}
	base := ""
	if req.RequestContext.DomainName != "" {
		base = "https://" + req.RequestContext.DomainName
	}
	telemetry.Annotate(ctx, telemetry.Tenant(tenant), telemetry.Transfer(query.Get("transfer")))
	t, err := h.svc.Callback(ctx, vendor, vendors.CallbackRequest{BaseURL: base, Tenant: tenant, Query: query, Header: hdr, Body: body, PathToken: token})
	telemetry.CallbackAnswered(ctx, vendor, err)
	if err != nil {
		return errorResponse(ctx, h.log, op, err)
	}
	telemetry.Annotate(ctx, telemetry.Tenant(t.Tenant), telemetry.Transfer(t.ID))
	h.log.Info("callback applied", "op", op, "vendor", vendor, "transfer", t.ID, "status", string(t.Status))
	return jsonResponse(http.StatusOK, callbackAnswer{ID: t.ID, Status: t.Status})
}
