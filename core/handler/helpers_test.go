package handler_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"handoff/core/handoff"
	"handoff/core/transfer"
)

// quiet is a logger for handlers whose log lines the test does not read.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// sample reads one of the sam local invoke events in /events: the shapes Lambda delivers.
func sample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "events", name))
	if err != nil {
		t.Fatalf("sample event: %v", err)
	}
	return b
}

func sampleHTTP(t *testing.T, name string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	var req events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(sample(t, name), &req); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return req
}

// fakeTransfers is a handler.Transfers whose answers the test sets; it records every call.
type fakeTransfers struct {
	start func(transfer.Input) (transfer.Result, error)
	get   func(id string) (handoff.Transfer, error)
	sweep func() (int, error)
	// cancel and drain answer Cancel and Drain; nil: Cancel is unexpected, Drain succeeds.
	cancel func(handoff.Transfer) (handoff.Transfer, error)
	drain  func(transfer.Message) error

	mu     sync.Mutex
	sweeps int
	inputs []transfer.Input
	gets   []string
}

func (f *fakeTransfers) Start(_ context.Context, in transfer.Input) (transfer.Result, error) {
	f.mu.Lock()
	f.inputs = append(f.inputs, in)
	f.mu.Unlock()
	if f.start == nil {
		return transfer.Result{Transfer: transferred(in.Request)}, nil
	}
	return f.start(in)
}

func (f *fakeTransfers) Get(_ context.Context, id string) (handoff.Transfer, error) {
	f.mu.Lock()
	f.gets = append(f.gets, id)
	f.mu.Unlock()
	if f.get == nil {
		return handoff.Transfer{}, handoff.E(handoff.CodeNotFound, "fake.Get", "no such transfer", nil)
	}
	return f.get(id)
}

func (f *fakeTransfers) Sweep(context.Context) (int, error) {
	f.mu.Lock()
	f.sweeps++
	f.mu.Unlock()
	if f.sweep == nil {
		return 0, nil
	}
	return f.sweep()
}

func (f *fakeTransfers) Cancel(_ context.Context, t handoff.Transfer, _ string) (handoff.Transfer, error) {
	if f.cancel == nil {
		return handoff.Transfer{}, handoff.E(handoff.CodeInternal, "fake.Cancel", "not expected", nil)
	}
	return f.cancel(t)
}

func (f *fakeTransfers) FindByKey(_ context.Context, tenant, key string) (handoff.Transfer, error) {
	return handoff.Transfer{}, handoff.E(handoff.CodeNotFound, "fake.FindByKey", "no such transfer", nil)
}

// DrainGroup drains msgs in order, as the service does: the first error returns its message
// and every later one.
func (f *fakeTransfers) DrainGroup(_ context.Context, msgs []transfer.Message) []error {
	errs := make([]error, len(msgs))
	for i, m := range msgs {
		if f.drain == nil {
			continue
		}
		f.mu.Lock()
		err := f.drain(m)
		f.mu.Unlock()
		if err != nil {
			for j := i; j < len(msgs); j++ {
				errs[j] = err
			}
			break
		}
	}
	return errs
}

func (f *fakeTransfers) started() []transfer.Input {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]transfer.Input(nil), f.inputs...)
}

func transferred(r handoff.Request) handoff.Transfer {
	at := time.Date(2026, 11, 21, 9, 14, 5, 0, time.UTC)
	return handoff.Transfer{
		ID: "7hq3m9x2c5v8k1n4p6r0t3w5yz", Tenant: r.Tenant, Vendor: r.Vendor,
		Conversation: r.Conversation, Target: r.Target, Status: handoff.StatusTransferred,
		Attempts: []handoff.Attempt{{Target: r.Target, Outcome: handoff.OutcomeTransferred, At: at}},
		Ack:      handoff.Ack{Status: handoff.AckNotRequired}, CreatedAt: at, UpdatedAt: at,
	}
}

// problem is the error body of every error answer.
type problem struct {
	Error struct {
		Code       handoff.Code `json:"code"`
		Message    string       `json:"message"`
		Field      string       `json:"field"`
		VendorCode string       `json:"vendorCode"`
	} `json:"error"`
	Transfer *handoff.Transfer `json:"transfer"`
}

// wantProblem checks an error answer: its status, JSON content type and code.
func wantProblem(t *testing.T, resp events.APIGatewayV2HTTPResponse, status int, code handoff.Code) problem {
	t.Helper()
	var p problem
	if err := json.Unmarshal([]byte(resp.Body), &p); err != nil {
		t.Fatalf("error body %q is not JSON: %v", resp.Body, err)
	}
	if resp.StatusCode != status || p.Error.Code != code {
		t.Fatalf("answer %d %s, want %d %s (body %s)", resp.StatusCode, p.Error.Code, status, code, resp.Body)
	}
	if ct := resp.Headers["Content-Type"]; ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if p.Error.Message == "" {
		t.Errorf("error without a message: %s", resp.Body)
	}
	return p
}

// httpReq builds an HTTP API v2 request for a route.
func httpReq(method, routeKey, rawPath, body string) events.APIGatewayV2HTTPRequest {
	req := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: routeKey, RawPath: rawPath, Body: body,
		Headers: map[string]string{"content-type": "application/json"},
	}
	req.RequestContext.HTTP.Method = method
	req.RequestContext.HTTP.Path = rawPath
	req.RequestContext.DomainName = "api.example.com"
	return req
}

// httpHandler is what the HTTP handlers share: aws-lambda-go's (response, error) signature.
type httpHandler interface {
	HTTP(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)
}

// call invokes h as Lambda would and fails the test if the handler returned an error: every
// failure must be an HTTP answer.
func call(t *testing.T, h httpHandler, req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	t.Helper()
	resp, err := h.HTTP(testCtx(t), req)
	if err != nil {
		t.Fatalf("handler returned an error instead of an HTTP answer: %v", err)
	}
	return resp
}

// allowAll is a handler.Access that lets everyone act for every tenant: for the tests of
// everything but access (access_test.go uses the real rules).
type allowAll struct{}

func (allowAll) Caller(context.Context, string, string) error         { return nil }
func (allowAll) Source(context.Context, string, string, string) error { return nil }
