// Package handler turns each Lambda trigger — API Gateway HTTP API (payload 2.0), EventBridge,
// the table's DynamoDB stream — into one use-case call, and the answer or error back into what
// the trigger expects. Error codes become HTTP statuses here, in one table.
package handler

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"handoff/core/handoff"
)

// statusOf is THE table from error code to HTTP status.
var statusOf = map[handoff.Code]int{
	handoff.CodeInvalidRequest:       http.StatusBadRequest,
	handoff.CodeTooLarge:             http.StatusRequestEntityTooLarge,
	handoff.CodeUnsupportedTarget:    http.StatusBadRequest,
	handoff.CodeUnknownTenant:        http.StatusNotFound,
	handoff.CodeNotFound:             http.StatusNotFound,
	handoff.CodeConversationNotFound: http.StatusNotFound,
	handoff.CodeInProgress:           http.StatusConflict,
	handoff.CodeConflict:             http.StatusConflict,
	handoff.CodeIdempotencyKeyReused: http.StatusUnprocessableEntity,
	handoff.CodeTargetUnavailable:    http.StatusConflict,
	handoff.CodeVendorRejected:       http.StatusUnprocessableEntity,
	handoff.CodeVendorAuthFailed:     http.StatusBadGateway,
	handoff.CodeVendorUnavailable:    http.StatusServiceUnavailable,
	handoff.CodeVendorTimeout:        http.StatusGatewayTimeout,
	handoff.CodeVendorProtocol:       http.StatusBadGateway,
	handoff.CodeRateLimited:          http.StatusTooManyRequests,
	handoff.CodeCancelled:            http.StatusConflict,
	handoff.CodeUnauthorized:         http.StatusUnauthorized,
	handoff.CodeForbidden:            http.StatusForbidden,
	handoff.CodeConfiguration:        http.StatusInternalServerError,
	handoff.CodeUnavailable:          http.StatusServiceUnavailable,
	handoff.CodeInternal:             http.StatusInternalServerError,
}

// HTTPStatus returns the status for an error code; unknown codes are 500.
func HTTPStatus(code handoff.Code) int {
	if s, ok := statusOf[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// problemBody is the JSON of every error answer.
type problemBody struct {
	Error problemJSON `json:"error"`
	// Transfer is set when the error is the outcome of a recorded transfer (every target failed).
	Transfer *handoff.Transfer `json:"transfer,omitempty"`
}

type problemJSON struct {
	Code       handoff.Code `json:"code"`
	Message    string       `json:"message"`
	Field      string       `json:"field,omitempty"`
	VendorCode string       `json:"vendorCode,omitempty"`
}

// errorResponse answers err as JSON, logging its cause once. Internal details stay in the log:
// a 5xx shows only the code and a generic message unless the message is ours and safe.
func errorResponse(ctx context.Context, log *slog.Logger, op string, err error) events.APIGatewayV2HTTPResponse {
	e := handoff.AsError(err)
	status := HTTPStatus(e.Code)
	msg := e.Message
	if e.Code == handoff.CodeInternal || msg == "" {
		msg = http.StatusText(status)
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	log.Log(ctx, level, "request failed", "op", op, "code", string(e.Code), "status", status, "error", err)
	resp := jsonResponse(status, problemBody{Error: problemJSON{Code: e.Code, Message: msg, Field: e.Field, VendorCode: e.VendorCode}})
	if e.RetryAfter > 0 {
		resp.Headers["Retry-After"] = strconv.Itoa(int((e.RetryAfter + time.Second - 1) / time.Second))
	}
	return resp
}

func jsonResponse(status int, v any) events.APIGatewayV2HTTPResponse {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":{"code":"INTERNAL","message":"response did not encode"}}`)
	}
	return events.APIGatewayV2HTTPResponse{
		StatusCode: status,
		Headers:    map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"},
		Body:       string(body),
	}
}

// requestBody returns the body as sent, decoding API Gateway's base64, refusing more than limit
// bytes before decoding anything large.
func requestBody(req events.APIGatewayV2HTTPRequest, limit int) ([]byte, error) {
	tooLarge := &handoff.Error{Code: handoff.CodeTooLarge, Op: "handler.requestBody",
		Message: "body is larger than " + strconv.Itoa(limit) + " bytes"}
	if !req.IsBase64Encoded {
		if len(req.Body) > limit {
			return nil, tooLarge
		}
		return []byte(req.Body), nil
	}
	if base64.StdEncoding.DecodedLen(len(req.Body)) > limit+3 {
		return nil, tooLarge
	}
	body, err := base64.StdEncoding.DecodeString(req.Body)
	if err != nil {
		return nil, handoff.Invalid("", "body is not valid base64")
	}
	if len(body) > limit {
		return nil, tooLarge
	}
	return body, nil
}

// queryValue returns a query parameter that may be given once. Readers disagree on which of two
// values counts (url.Values.Get takes the first, API Gateway's queryStringParameters joins them
// with a comma), so a repeated one is INVALID_REQUEST rather than a guess.
func queryValue(query url.Values, name string) (string, error) {
	if len(query[name]) > 1 {
		return "", handoff.Invalid(name, name+" is given more than once")
	}
	return query.Get(name), nil
}

// header returns a request header; HTTP API v2 lower-cases header names, so name in lower case
// is found at once, and any other spelling after a search.
func header(req events.APIGatewayV2HTTPRequest, name string) string {
	if v, ok := req.Headers[name]; ok {
		return v
	}
	canonical := http.CanonicalHeaderKey(name)
	for k, v := range req.Headers {
		if http.CanonicalHeaderKey(k) == canonical {
			return v
		}
	}
	return ""
}

// logRequest logs one line per API request: its route, who called and the answer's status, so
// every request can be traced to its principal.
func logRequest(ctx context.Context, log *slog.Logger, req events.APIGatewayV2HTTPRequest, caller string, resp events.APIGatewayV2HTTPResponse) {
	log.LogAttrs(ctx, slog.LevelInfo, "request", slog.String("route", routeOf(req)), slog.String("caller", caller),
		slog.String("requestId", req.RequestContext.RequestID), slog.Int("status", resp.StatusCode))
}

func notFound(ctx context.Context, log *slog.Logger, req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	return errorResponse(ctx, log, "handler.route", handoff.E(handoff.CodeNotFound, "handler.route",
		"no route "+req.RequestContext.HTTP.Method+" "+req.RawPath, nil))
}
