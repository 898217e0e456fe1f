package handler_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"handoff/core/handler"
	"handoff/core/handoff"
	"handoff/core/transfer"
)

func invoke(t *testing.T, h *handler.Transfer, payload []byte) (any, error) {
	t.Helper()
	return h.Invoke(testCtx(t), json.RawMessage(payload))
}

func TestInvokeHTTPEvent(t *testing.T) {
	svc := &fakeTransfers{}
	out, err := invoke(t, handler.NewTransfer(svc, allowAll{}, quiet, ""), sample(t, "transfer-post-koreai.json"))
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	resp, ok := out.(events.APIGatewayV2HTTPResponse)
	if !ok {
		t.Fatalf("Invoke returned %T, want an HTTP API response", out)
	}
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("status %d: %s", resp.StatusCode, resp.Body)
	}
	in := svc.started()
	if len(in) != 1 {
		t.Fatalf("Start called %d times", len(in))
	}
	r := in[0].Request
	if r.Tenant != "demo" || r.Vendor != "koreai" || r.Conversation.ID != "653a06c9aae89c5fbb4e0001" ||
		r.Target.Type != handoff.TargetAgent || len(r.Fallbacks) != 1 || r.Bot == nil || r.Bot.Vendor != "salesforce" {
		t.Errorf("request %+v", r)
	}
	if in[0].Key != "demo-koreai-653a06c9-0001" {
		t.Errorf("key %q, want the Idempotency-Key header", in[0].Key)
	}
	if in[0].CallbackBase != "https://r4nd0m1d2q.execute-api.us-east-1.amazonaws.com" {
		t.Errorf("callback base %q, want the API's own domain", in[0].CallbackBase)
	}
}

func TestInvokeEventBridgeEvent(t *testing.T) {
	svc := &fakeTransfers{}
	out, err := invoke(t, handler.NewTransfer(svc, allowAll{}, quiet, "https://hooks.example"), sample(t, "escalation-requested.json"))
	if out != nil || err != nil {
		t.Fatalf("Invoke = %v, %v; want nil, nil", out, err)
	}
	in := svc.started()
	if len(in) != 1 {
		t.Fatalf("Start called %d times", len(in))
	}
	if in[0].Key != "6a7e8feb-b491-4cf7-a9f1-bf3703467718" {
		t.Errorf("key %q, want the event id", in[0].Key)
	}
	if in[0].CallbackBase != "https://hooks.example" || in[0].Request.Vendor != "liveperson" {
		t.Errorf("input %+v", in[0])
	}
}

func TestInvokeRefusesOtherShapes(t *testing.T) {
	payloads := map[string][]byte{
		"stream batch":      sample(t, "stream-transfer-final.json"),
		"empty object":      []byte(`{}`),
		"array":             []byte(`[]`),
		"string":            []byte(`"POST /transfers"`),
		"null":              []byte(`null`),
		"REST API v1":       []byte(`{"resource":"/transfers","path":"/transfers","httpMethod":"POST","body":"{}"}`),
		"detail-type wrong": []byte(`{"detail-type":42}`),
	}
	for name, payload := range payloads {
		svc := &fakeTransfers{}
		out, err := invoke(t, handler.NewTransfer(svc, allowAll{}, quiet, ""), payload)
		if err == nil {
			t.Errorf("%s: Invoke = %v, nil; want an error", name, out)
		}
		if len(svc.started()) != 0 {
			t.Errorf("%s: Start was called", name)
		}
	}
}

func TestPostTransferStatuses(t *testing.T) {
	failed := func(p *handoff.Problem) func(transfer.Input) (transfer.Result, error) {
		return func(in transfer.Input) (transfer.Result, error) {
			tr := transferred(in.Request)
			tr.Status, tr.Error = handoff.StatusFailed, p
			tr.Attempts[0].Outcome = handoff.OutcomeRejected
			return transfer.Result{Transfer: tr}, nil
		}
	}
	cases := []struct {
		name     string
		start    func(transfer.Input) (transfer.Result, error)
		status   int
		code     handoff.Code
		replayed bool
	}{
		{"transferred", nil, 201, "", false},
		{"pending", func(in transfer.Input) (transfer.Result, error) {
			tr := transferred(in.Request)
			tr.Status = handoff.StatusPending
			return transfer.Result{Transfer: tr}, nil
		}, 202, "", false},
		{"replayed", func(in transfer.Input) (transfer.Result, error) {
			return transfer.Result{Transfer: transferred(in.Request), Replayed: true}, nil
		}, 201, "", true},
		{"failed, rejected", failed(&handoff.Problem{Code: handoff.CodeVendorRejected, Message: "the vendor refused the transfer", VendorCode: "OPERATOR_WRONG"}), 422, handoff.CodeVendorRejected, false},
		{"failed, unavailable", failed(&handoff.Problem{Code: handoff.CodeTargetUnavailable, Message: "no target could take the conversation"}), 409, handoff.CodeTargetUnavailable, false},
		{"failed, no problem", failed(nil), 409, handoff.CodeTargetUnavailable, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			svc := &fakeTransfers{start: tc.start}
			resp := call(t, handler.NewTransfer(svc, allowAll{}, quiet, ""), sampleHTTP(t, "transfer-post-bitrix24.json"))
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, resp.Body)
			}
			if got := resp.Headers["Location"]; got != "/transfers/7hq3m9x2c5v8k1n4p6r0t3w5yz" {
				t.Errorf("Location %q", got)
			}
			if got, ok := resp.Headers["Idempotent-Replayed"]; ok != tc.replayed || (ok && got != "true") {
				t.Errorf("Idempotent-Replayed %q (present %v), want present %v", got, ok, tc.replayed)
			}
			if tc.code == "" {
				var tr handoff.Transfer
				if err := json.Unmarshal([]byte(resp.Body), &tr); err != nil || tr.ID != "7hq3m9x2c5v8k1n4p6r0t3w5yz" || tr.Vendor != "bitrix24" {
					t.Errorf("body %s (%v): want the transfer", resp.Body, err)
				}
				return
			}
			p := wantProblem(t, resp, tc.status, tc.code)
			if p.Transfer == nil || p.Transfer.ID != "7hq3m9x2c5v8k1n4p6r0t3w5yz" || p.Transfer.Status != handoff.StatusFailed {
				t.Errorf("a failed transfer's error carries the transfer: %s", resp.Body)
			}
			if tc.code == handoff.CodeVendorRejected && p.Error.VendorCode != "OPERATOR_WRONG" {
				t.Errorf("vendorCode %q", p.Error.VendorCode)
			}
		})
	}
}

func TestPostTransferServiceError(t *testing.T) {
	svc := &fakeTransfers{start: func(transfer.Input) (transfer.Result, error) {
		return transfer.Result{}, &handoff.Error{Code: handoff.CodeInProgress, Message: "the first request is still running", RetryAfter: 2 * time.Second}
	}}
	resp := call(t, handler.NewTransfer(svc, allowAll{}, quiet, ""), sampleHTTP(t, "transfer-post-liveperson.json"))
	wantProblem(t, resp, 409, handoff.CodeInProgress)
	if resp.Headers["Retry-After"] != "2" {
		t.Errorf("Retry-After %q, want 2", resp.Headers["Retry-After"])
	}
	if _, ok := resp.Headers["Location"]; ok {
		t.Error("Location on an error without a transfer")
	}
}

func TestPostTransferMalformed(t *testing.T) {
	svc := &fakeTransfers{}
	resp := call(t, handler.NewTransfer(svc, allowAll{}, quiet, ""), sampleHTTP(t, "transfer-post-malformed.json"))
	wantProblem(t, resp, 400, handoff.CodeInvalidRequest)
	if len(svc.started()) != 0 {
		t.Error("Start called for a malformed body")
	}
}

func TestIdempotencyKeyHeader(t *testing.T) {
	cases := []struct {
		name    string
		headers map[string]string
		key     string // "" with ok=false: refused
		ok      bool
	}{
		{"lower case", map[string]string{"idempotency-key": "k-1"}, "k-1", true},
		{"canonical", map[string]string{"Idempotency-Key": "k-2"}, "k-2", true},
		{"upper case", map[string]string{"IDEMPOTENCY-KEY": "k-3"}, "k-3", true},
		{"absent", map[string]string{}, "", true},
		{"space", map[string]string{"idempotency-key": "k 1"}, "", false},
		{"non-ASCII", map[string]string{"idempotency-key": "clé"}, "", false},
		{"too long", map[string]string{"idempotency-key": strings.Repeat("k", 256)}, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := sampleHTTP(t, "transfer-post-liveperson.json")
			req.Headers = tc.headers
			svc := &fakeTransfers{}
			resp := call(t, handler.NewTransfer(svc, allowAll{}, quiet, ""), req)
			if !tc.ok {
				p := wantProblem(t, resp, 400, handoff.CodeInvalidRequest)
				if p.Error.Field != "Idempotency-Key" {
					t.Errorf("field %q, want Idempotency-Key", p.Error.Field)
				}
				if len(svc.started()) != 0 {
					t.Error("Start called with an invalid key")
				}
				return
			}
			in := svc.started()
			if resp.StatusCode != 201 || len(in) != 1 || in[0].Key != tc.key {
				t.Errorf("answer %d, inputs %+v; want key %q", resp.StatusCode, in, tc.key)
			}
		})
	}
}

func TestCallbackBase(t *testing.T) {
	for _, tc := range []struct{ configured, domain, want string }{
		{"", "api.example.com", "https://api.example.com"},
		{"https://hooks.example", "api.example.com", "https://hooks.example"},
		{"", "", ""},
	} {
		req := sampleHTTP(t, "transfer-post-liveperson.json")
		req.RequestContext.DomainName = tc.domain
		svc := &fakeTransfers{}
		call(t, handler.NewTransfer(svc, allowAll{}, quiet, tc.configured), req)
		if in := svc.started(); len(in) != 1 || in[0].CallbackBase != tc.want {
			t.Errorf("configured %q, domain %q: inputs %+v, want base %q", tc.configured, tc.domain, in, tc.want)
		}
	}
}

// validBody is a valid POST /transfers body of exactly n bytes (white space pads it).
func validBody(t *testing.T, n int) string {
	b := `{"tenant":"demo","vendor":"liveperson","conversation":{"id":"H1"},"target":{"type":"skill","id":"2"}}`
	if n < len(b) {
		t.Fatalf("body of %d bytes is too short", n)
	}
	return b + strings.Repeat(" ", n-len(b))
}

func TestRequestBody(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString
	cases := []struct {
		name   string
		body   string
		base64 bool
		status int
		code   handoff.Code
	}{
		{"plain at the limit", validBody(t, handoff.MaxBodyBytes), false, 201, ""},
		{"plain over the limit", validBody(t, handoff.MaxBodyBytes+1), false, 413, handoff.CodeTooLarge},
		{"base64", b64([]byte(validBody(t, 200))), true, 201, ""},
		{"base64 at the limit", b64([]byte(validBody(t, handoff.MaxBodyBytes))), true, 201, ""},
		{"base64 over the limit once decoded", b64([]byte(validBody(t, handoff.MaxBodyBytes+1))), true, 413, handoff.CodeTooLarge},
		{"base64 over the limit before decoding", b64([]byte(validBody(t, 4*handoff.MaxBodyBytes))), true, 413, handoff.CodeTooLarge},
		// Too large is decided before decoding: garbage that size is refused as too large.
		{"huge invalid base64", strings.Repeat("!", 2*handoff.MaxBodyBytes), true, 413, handoff.CodeTooLarge},
		{"invalid base64", "not base64!", true, 400, handoff.CodeInvalidRequest},
		{"base64 without padding", strings.TrimRight(b64([]byte(validBody(t, 121))), "="), true, 400, handoff.CodeInvalidRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httpReq("POST", "POST /transfers", "/transfers", tc.body)
			req.IsBase64Encoded = tc.base64
			svc := &fakeTransfers{}
			resp := call(t, handler.NewTransfer(svc, allowAll{}, quiet, ""), req)
			if tc.code == "" {
				if resp.StatusCode != tc.status || len(svc.started()) != 1 {
					t.Fatalf("answer %d %s", resp.StatusCode, resp.Body)
				}
				if r := svc.started()[0].Request; r.Conversation.ID != "H1" {
					t.Errorf("request %+v", r)
				}
				return
			}
			wantProblem(t, resp, tc.status, tc.code)
			if len(svc.started()) != 0 {
				t.Error("Start called")
			}
		})
	}
}

func TestGetTransfer(t *testing.T) {
	svc := &fakeTransfers{get: func(id string) (handoff.Transfer, error) {
		if id != "7hq3m9x2c5v8k1n4p6r0t3w5yz" {
			return handoff.Transfer{}, handoff.E(handoff.CodeNotFound, "fake.Get", "no such transfer", nil)
		}
		r := handoff.Request{Tenant: "demo", Vendor: "koreai", Target: handoff.Target{Type: handoff.TargetAgent, ID: "a-1"}}
		tr := transferred(r)
		tr.Status = handoff.StatusPending
		return tr, nil
	}}
	h := handler.NewTransfer(svc, allowAll{}, quiet, "")
	out, err := invoke(t, h, sample(t, "transfer-get.json"))
	if err != nil {
		t.Fatal(err)
	}
	resp := out.(events.APIGatewayV2HTTPResponse)
	var tr handoff.Transfer
	if resp.StatusCode != 200 || json.Unmarshal([]byte(resp.Body), &tr) != nil || tr.ID != "7hq3m9x2c5v8k1n4p6r0t3w5yz" || tr.Status != handoff.StatusPending {
		t.Errorf("answer %d %s", resp.StatusCode, resp.Body)
	}
	if resp.Headers["Content-Type"] != "application/json" {
		t.Errorf("Content-Type %q", resp.Headers["Content-Type"])
	}

	req := httpReq("GET", "GET /transfers/{id}", "/transfers/nope", "")
	req.PathParameters = map[string]string{"id": "nope"}
	wantProblem(t, call(t, h, req), 404, handoff.CodeNotFound)
	if svc.gets[len(svc.gets)-1] != "nope" {
		t.Errorf("Get called with %v", svc.gets)
	}
}

func TestUnknownRoute(t *testing.T) {
	svc := &fakeTransfers{}
	for _, req := range []events.APIGatewayV2HTTPRequest{
		httpReq("DELETE", "DELETE /transfers/{id}", "/transfers/x", ""),
		httpReq("PUT", "$default", "/transfers", ""),
	} {
		wantProblem(t, call(t, handler.NewTransfer(svc, allowAll{}, quiet, ""), req), 404, handoff.CodeNotFound)
	}
	// Behind a $default route the route is rebuilt from the method and path.
	resp := call(t, handler.NewTransfer(svc, allowAll{}, quiet, ""), httpReq("POST", "$default", "/transfers", validBody(t, 120)))
	if resp.StatusCode != 201 {
		t.Errorf("POST /transfers behind $default: %d %s", resp.StatusCode, resp.Body)
	}
}
