// Package gateway serves a template's HTTP API routes the way API Gateway HTTP APIs do with
// Lambda proxy integrations: each request becomes a payload format 2.0 event
// (events.APIGatewayV2HTTPRequest) for the route's function, and the function's result becomes
// the HTTP response, with API Gateway's rules for results without a statusCode and its
// {"message": …} answers for unknown routes and failed integrations.
//
// The local gateway does not check signatures: a route with the template's AWS_IAM authorizer
// is open, and its events carry a fixed local principal (LocalPrincipal) in
// requestContext.authorizer.iam, as API Gateway's IAM authorizer puts the signer there, or the
// principal a request names in its X-Handoff-Local-Principal header, so a test can act as
// another caller. Routes without an authorizer (NONE) get no authorizer block, header or not.
package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"
)

// Invoker runs a function: Invoke returns its response payload, or an error when it failed.
// *runtimeapi.Function is one.
type Invoker interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

// Route sends METHOD Path to a function. Path may hold {name} variables and end with a greedy
// {name+}; Method ANY takes every method; Path "$default" takes what no other route does.
type Route struct {
	Method   string
	Path     string
	Function Invoker
	// Authorizer is the template's authorizer of the route: AWS_IAM puts the caller's principal
	// in the event; NONE (or empty) puts none.
	Authorizer string
}

// AuthorizerIAM is the template's name of API Gateway's IAM authorizer.
const AuthorizerIAM = "AWS_IAM"

// LocalPrincipal is the caller of every request to an AWS_IAM route that names no other.
const LocalPrincipal = "arn:aws:iam::123456789012:user/local"

// PrincipalHeader names another principal for one request to an AWS_IAM route.
const PrincipalHeader = "X-Handoff-Local-Principal"

// Config configures a Gateway.
type Config struct {
	Routes    []Route
	AccountID string // requestContext.accountId; default 123456789012
	APIID     string // requestContext.apiId; default "local"
	// Timeout is the integration timeout (API Gateway's is 30s); past it the client gets 503.
	Timeout time.Duration
	Log     *slog.Logger // default slog.Default()
}

// maxBody is API Gateway's payload limit (10 MB).
const maxBody = 10 * 1024 * 1024

// Gateway is an http.Handler for the routes.
type Gateway struct {
	cfg    Config
	routes []route
}

// New checks the routes and returns the gateway.
func New(cfg Config) (*Gateway, error) {
	if cfg.AccountID == "" {
		cfg.AccountID = "123456789012"
	}
	if cfg.APIID == "" {
		cfg.APIID = "local"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	g := &Gateway{cfg: cfg}
	seen := map[string]bool{}
	for _, r := range cfg.Routes {
		c, err := compile(r)
		if err != nil {
			return nil, err
		}
		if seen[c.key] {
			return nil, fmt.Errorf("gateway: route %s is defined twice", c.key)
		}
		seen[c.key] = true
		g.routes = append(g.routes, c)
	}
	return g, nil
}

// ServeHTTP routes one request to its function.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, params, ok := g.find(r)
	if !ok {
		writeMessage(w, http.StatusNotFound, "Not Found")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeMessage(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
			return
		}
		writeMessage(w, http.StatusBadRequest, "Bad Request")
		return
	}
	event := g.event(r, rt, params, body)
	payload, _ := json.Marshal(event)
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.Timeout)
	defer cancel()
	out, err := rt.Function.Invoke(ctx, payload)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		g.cfg.Log.Warn("gateway: integration timed out", "route", rt.key, "requestId", event.RequestContext.RequestID)
		writeMessage(w, http.StatusServiceUnavailable, "Service Unavailable")
	case err != nil:
		g.cfg.Log.Warn("gateway: function failed", "route", rt.key, "requestId", event.RequestContext.RequestID, "error", err)
		writeMessage(w, http.StatusInternalServerError, "Internal Server Error")
	default:
		g.respond(w, rt, event.RequestContext.RequestID, out)
	}
}

// find picks the most specific route matching the request.
func (g *Gateway) find(r *http.Request) (route, map[string]string, bool) {
	var best route
	var bestParams map[string]string
	found := false
	for _, rt := range g.routes {
		params, ok := rt.match(r.Method, r.URL.EscapedPath())
		if ok && (!found || rt.outranks(best)) {
			best, bestParams, found = rt, params, true
		}
	}
	return best, bestParams, found
}

// respond writes the function's result, or 500 when API Gateway could not read it either.
func (g *Gateway) respond(w http.ResponseWriter, rt route, requestID string, out []byte) {
	resp, err := decodeResult(out)
	if err != nil {
		g.cfg.Log.Warn("gateway: malformed function response", "route", rt.key, "requestId", requestID, "error", err)
		writeMessage(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	w.Header().Set("Apigw-Requestid", requestID)
	resp.write(w)
}

// writeMessage writes API Gateway's own answers: {"message":"Not Found"} and the like.
func writeMessage(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"message": message})
}
