package handler_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"handoff/core/handler"
	"handoff/core/handoff"
	"handoff/core/vendors"
)

type callbackCall struct {
	vendor string
	req    vendors.CallbackRequest
}

// fakeCallbacks is a handler.Callbacks that records calls and answers with err, or a transferred
// transfer.
type fakeCallbacks struct {
	err   error
	mu    sync.Mutex
	calls []callbackCall
}

func (f *fakeCallbacks) Callback(_ context.Context, vendor string, req vendors.CallbackRequest) (handoff.Transfer, error) {
	f.mu.Lock()
	f.calls = append(f.calls, callbackCall{vendor, req})
	f.mu.Unlock()
	if f.err != nil {
		return handoff.Transfer{}, f.err
	}
	return handoff.Transfer{ID: "7hq3m9x2c5v8k1n4p6r0t3w5yz", Tenant: req.Tenant, Vendor: vendor, Status: handoff.StatusTransferred}, nil
}

func TestCallbackKoreai(t *testing.T) {
	svc := &fakeCallbacks{}
	resp := call(t, handler.NewCallback(svc, quiet), sampleHTTP(t, "callback-koreai.json"))
	if resp.StatusCode != 200 {
		t.Fatalf("answer %d %s", resp.StatusCode, resp.Body)
	}
	var answer map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &answer); err != nil || len(answer) != 2 ||
		answer["id"] != "7hq3m9x2c5v8k1n4p6r0t3w5yz" || answer["status"] != "transferred" {
		t.Errorf("answer body %s: want only id and status", resp.Body)
	}
	if len(svc.calls) != 1 {
		t.Fatalf("Callback called %d times", len(svc.calls))
	}
	c := svc.calls[0]
	if c.vendor != "koreai" || c.req.Tenant != "demo" {
		t.Errorf("vendor %q tenant %q", c.vendor, c.req.Tenant)
	}
	if c.req.Query.Get("transfer") != "7hq3m9x2c5v8k1n4p6r0t3w5yz" || !strings.HasPrefix(c.req.Query.Get("token"), "3q2-7w") {
		t.Errorf("query %v", c.req.Query)
	}
	if c.req.Header.Get("Content-Type") != "application/json" || c.req.Header.Get("User-Agent") != "axios/1.7.7" {
		t.Errorf("headers %v: want them all, under canonical names", c.req.Header)
	}
	if !strings.Contains(string(c.req.Body), `"sessionId":"653a06c9aae89c5fbb4e0001"`) {
		t.Errorf("body %q", c.req.Body)
	}
}

func TestCallbackBitrix24FormBodyIsDecoded(t *testing.T) {
	svc := &fakeCallbacks{}
	resp := call(t, handler.NewCallback(svc, quiet), sampleHTTP(t, "callback-bitrix24.json"))
	if resp.StatusCode != 200 || len(svc.calls) != 1 {
		t.Fatalf("answer %d %s", resp.StatusCode, resp.Body)
	}
	c := svc.calls[0]
	if !strings.HasPrefix(string(c.req.Body), "event=ONIMBOTMESSAGEADD&") {
		t.Errorf("body %.60q…, want the decoded form", c.req.Body)
	}
	if c.vendor != "bitrix24" || c.req.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		t.Errorf("vendor %q headers %v", c.vendor, c.req.Header)
	}
}

// cbReq is the part of a callback request a refusal case changes.
type cbReq struct{ vendor, query, body string }

func TestCallbackRefused(t *testing.T) {
	cases := []struct {
		name   string
		change func(*cbReq)
		status int
		code   handoff.Code
		field  string
	}{
		{"vendor upper case", func(r *cbReq) { r.vendor = "KoreAI" }, 404, handoff.CodeNotFound, ""},
		{"vendor empty", func(r *cbReq) { r.vendor = "" }, 404, handoff.CodeNotFound, ""},
		{"vendor path", func(r *cbReq) { r.vendor = "../admin" }, 404, handoff.CodeNotFound, ""},
		{"tenant missing", func(r *cbReq) { r.query = "transfer=t1" }, 400, handoff.CodeInvalidRequest, "tenant"},
		{"tenant invalid", func(r *cbReq) { r.query = "tenant=a/b" }, 400, handoff.CodeInvalidRequest, "tenant"},
		{"query malformed", func(r *cbReq) { r.query = "tenant=demo&x=%zz" }, 400, handoff.CodeInvalidRequest, ""},
		{"body too large", func(r *cbReq) { r.body = strings.Repeat("x", handler.MaxCallbackBytes+1) }, 413, handoff.CodeTooLarge, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := cbReq{"koreai", "tenant=demo&transfer=t1", `{}`}
			tc.change(&r)
			req := httpReq("POST", "POST /callbacks/{vendor}", "/callbacks/"+r.vendor, r.body)
			req.PathParameters = map[string]string{"vendor": r.vendor}
			req.RawQueryString = r.query
			svc := &fakeCallbacks{}
			p := wantProblem(t, call(t, handler.NewCallback(svc, quiet), req), tc.status, tc.code)
			if p.Error.Field != tc.field {
				t.Errorf("field %q, want %q", p.Error.Field, tc.field)
			}
			if len(svc.calls) != 0 {
				t.Error("Callback called")
			}
		})
	}
}

func TestCallbackBodyLimit(t *testing.T) {
	for _, tc := range []struct {
		name   string
		body   string
		base64 bool
		status int
	}{
		{"plain at the limit", strings.Repeat("x", handler.MaxCallbackBytes), false, 200},
		{"base64 at the limit", base64.StdEncoding.EncodeToString([]byte(strings.Repeat("x", handler.MaxCallbackBytes))), true, 200},
		{"base64 over the limit", base64.StdEncoding.EncodeToString([]byte(strings.Repeat("x", handler.MaxCallbackBytes+1))), true, 413},
	} {
		req := httpReq("POST", "POST /callbacks/{vendor}", "/callbacks/koreai", tc.body)
		req.PathParameters = map[string]string{"vendor": "koreai"}
		req.RawQueryString = "tenant=demo"
		req.IsBase64Encoded = tc.base64
		svc := &fakeCallbacks{}
		resp := call(t, handler.NewCallback(svc, quiet), req)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: answer %d %s", tc.name, resp.StatusCode, resp.Body)
		}
		if tc.status == 200 && (len(svc.calls) != 1 || len(svc.calls[0].req.Body) != handler.MaxCallbackBytes) {
			t.Errorf("%s: the body did not reach the service whole", tc.name)
		}
	}
}

func TestCallbackServiceErrors(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
	}{
		{handoff.E(handoff.CodeUnauthorized, "koreai.ParseCallback", "the callback token is not valid", nil), 401},
		{handoff.E(handoff.CodeNotFound, "transfer.Callback", "no such transfer", nil), 404},
		{handoff.E(handoff.CodeConflict, "transfer.Callback", "already failed", nil), 409},
		{handoff.E(handoff.CodeUnavailable, "store.Update", "throttled", nil), 503},
	} {
		svc := &fakeCallbacks{err: tc.err}
		wantProblem(t, call(t, handler.NewCallback(svc, quiet), sampleHTTP(t, "callback-koreai.json")), tc.status, handoff.ErrorCode(tc.err))
	}
}

func TestCallbackWrongRoute(t *testing.T) {
	svc := &fakeCallbacks{}
	req := sampleHTTP(t, "callback-koreai.json")
	req.RouteKey = "GET /callbacks/{vendor}"
	wantProblem(t, call(t, handler.NewCallback(svc, quiet), req), 404, handoff.CodeNotFound)
	if len(svc.calls) != 0 {
		t.Error("Callback called")
	}
}

// pathCallbackReq is a callback by the route whose last segment is the vendor's proof.
func pathCallbackReq(vendor, token, query string) events.APIGatewayV2HTTPRequest {
	req := httpReq("POST", "POST /callbacks/{vendor}/{token}", "/callbacks/"+vendor+"/"+token, `{"status":"transferred"}`)
	req.PathParameters = map[string]string{"vendor": vendor, "token": token}
	req.RawQueryString = query
	return req
}

// The proof in the path names its tenant: no ?tenant is needed, and one that is given is passed
// on for the vendor's parser to check against the proof.
func TestCallbackWithTheTokenInThePath(t *testing.T) {
	for _, tc := range []struct{ query, tenant string }{{"", ""}, {"tenant=demo", "demo"}} {
		svc := &fakeCallbacks{}
		resp := call(t, handler.NewCallback(svc, quiet), pathCallbackReq("koreai", "khc1.abc.def", tc.query))
		if resp.StatusCode != 200 || len(svc.calls) != 1 {
			t.Fatalf("query %q: answer %d %s, calls %d", tc.query, resp.StatusCode, resp.Body, len(svc.calls))
		}
		c := svc.calls[0]
		if c.vendor != "koreai" || c.req.PathToken != "khc1.abc.def" || c.req.Tenant != tc.tenant || string(c.req.Body) != `{"status":"transferred"}` {
			t.Errorf("query %q: service got vendor %q %+v", tc.query, c.vendor, c.req)
		}
	}
}

func TestCallbackWithTheTokenInThePathRefused(t *testing.T) {
	for _, tc := range []struct {
		name, vendor, token, query string
		status                     int
		code                       handoff.Code
	}{
		{"no token", "koreai", "", "", 404, handoff.CodeNotFound},
		{"vendor invalid", "Kore", "khc1.abc.def", "", 404, handoff.CodeNotFound},
		{"tenant invalid", "koreai", "khc1.abc.def", "tenant=a/b", 400, handoff.CodeInvalidRequest},
		{"tenant twice", "koreai", "khc1.abc.def", "tenant=demo&tenant=acme", 400, handoff.CodeInvalidRequest},
	} {
		svc := &fakeCallbacks{}
		wantProblem(t, call(t, handler.NewCallback(svc, quiet), pathCallbackReq(tc.vendor, tc.token, tc.query)), tc.status, tc.code)
		if len(svc.calls) != 0 {
			t.Errorf("%s: Callback called", tc.name)
		}
	}
}
