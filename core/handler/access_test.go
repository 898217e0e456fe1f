package handler_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"handoff/core/access"
	"handoff/core/handler"
	"handoff/core/handoff"
	"handoff/core/store/memstore"
	"handoff/core/transfer"
)

const (
	callerA = "arn:aws:sts::111122223333:assumed-role/acme-bot/s-1"
	callerB = "arn:aws:iam::444455556666:role/globex-bot"
)

// tenants is the real access rules over two tenants' records: acme's bot and globex's bot, each
// allowed for its own tenant only; nobody for "initech", which has no record.
func tenants(t *testing.T) *access.Checker {
	t.Helper()
	st := memstore.New(nil)
	for _, a := range []handoff.Access{
		{Tenant: "acme", Principals: []string{"arn:aws:sts::111122223333:assumed-role/acme-bot/*"},
			EventSources: []handoff.EventSource{{Source: "com.acme.chatbot", Account: "111122223333"}}},
		{Tenant: "globex", Principals: []string{callerB}},
	} {
		if err := st.PutAccess(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	return access.New(st)
}

// as is req sent by principal, as API Gateway's IAM authorizer puts it in the request context.
func as(principal string, req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPRequest {
	req.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
		IAM: &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{UserARN: principal},
	}
	return req
}

func postFor(tenant string) events.APIGatewayV2HTTPRequest {
	return httpReq("POST", "POST /transfers", "/transfers",
		`{"tenant":"`+tenant+`","vendor":"liveperson","conversation":{"id":"H1"},"target":{"type":"skill","id":"2"}}`)
}

func TestPostTransferOnlyForTheCallersTenant(t *testing.T) {
	cases := []struct {
		name, caller, tenant string
		want                 int
	}{
		{"own tenant", callerA, "acme", 201},
		{"another tenant", callerA, "globex", 403},
		{"the other's own", callerB, "globex", 201},
		{"the other into acme", callerB, "acme", 403},
		{"a tenant without a record", callerA, "initech", 403},
		{"no authorizer context", "", "acme", 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			svc := &fakeTransfers{}
			req := postFor(tc.tenant)
			if tc.caller != "" {
				req = as(tc.caller, req)
			}
			req.Headers["idempotency-key"] = "k-1"
			resp := call(t, handler.NewTransfer(svc, tenants(t), quiet, ""), req)
			started := svc.started()
			if tc.want == 403 {
				p := wantProblem(t, resp, 403, handoff.CodeForbidden)
				if strings.Contains(p.Error.Message, "record") {
					t.Errorf("the refusal tells whether the tenant has a record: %q", p.Error.Message)
				}
				if len(started) != 0 {
					t.Fatalf("Start was called for a refused caller")
				}
				return
			}
			if resp.StatusCode != tc.want || len(started) != 1 || started[0].Caller != tc.caller {
				t.Fatalf("status %d, starts %+v; want %d with caller %q", resp.StatusCode, started, tc.want, tc.caller)
			}
		})
	}
}

// TestGetTransferOfAnotherTenantIsNotFound: the answer for another tenant's transfer is the very
// answer for one that does not exist.
func TestGetTransferOfAnotherTenantIsNotFound(t *testing.T) {
	globexs := handoff.Transfer{ID: "t-globex", Tenant: "globex", Vendor: "liveperson", Note: "secret note", Status: handoff.StatusPending}
	svc := &fakeTransfers{get: func(id string) (handoff.Transfer, error) {
		if id == globexs.ID {
			return globexs, nil
		}
		return handoff.Transfer{}, handoff.E(handoff.CodeNotFound, "store.Get", "no such transfer", nil)
	}}
	h := handler.NewTransfer(svc, tenants(t), quiet, "")
	get := func(caller, id string) events.APIGatewayV2HTTPResponse {
		req := httpReq("GET", "GET /transfers/{id}", "/transfers/"+id, "")
		req.PathParameters = map[string]string{"id": id}
		return call(t, h, as(caller, req))
	}
	if resp := get(callerB, "t-globex"); resp.StatusCode != 200 || !strings.Contains(resp.Body, "secret note") {
		t.Fatalf("own transfer: %d %s", resp.StatusCode, resp.Body)
	}
	hidden, missing := get(callerA, "t-globex"), get(callerA, "t-none")
	wantProblem(t, hidden, 404, handoff.CodeNotFound)
	if hidden.Body != missing.Body || strings.Contains(hidden.Body, "secret") {
		t.Errorf("another tenant's transfer answers %s, a missing one %s: they must be the same", hidden.Body, missing.Body)
	}
	if resp := get("", "t-globex"); resp.StatusCode != 404 {
		t.Errorf("without a caller: %d, want 404", resp.StatusCode)
	}
}

func TestAvailabilityOnlyForTheCallersTenant(t *testing.T) {
	for _, tc := range []struct {
		caller, tenant string
		want           int
	}{{callerA, "acme", 200}, {callerA, "globex", 403}, {callerB, "acme", 403}, {"", "acme", 403}} {
		svc := &fakeAvailability{}
		req := httpReq("GET", "GET /availability", "/availability", "")
		req.RawQueryString = "tenant=" + tc.tenant + "&vendor=liveperson&conversationId=H1"
		resp := call(t, handler.NewAvailability(svc, tenants(t), quiet), as(tc.caller, req))
		if resp.StatusCode != tc.want {
			t.Errorf("%q for %s: %d %s, want %d", tc.caller, tc.tenant, resp.StatusCode, resp.Body, tc.want)
		}
		if tc.want == 403 && len(svc.queries) != 0 {
			t.Errorf("%q for %s: the vendor was asked", tc.caller, tc.tenant)
		}
	}
}

// TestEscalationFromASourceNotAllowedIsDeadLettered: the event's source and account must be
// listed by its tenant; otherwise nothing is started and the reason is in the dead letter.
func TestEscalationFromASourceNotAllowedIsDeadLettered(t *testing.T) {
	detail := json.RawMessage(`{"tenant":"acme","vendor":"liveperson","conversation":{"id":"H1"},"target":{"type":"skill","id":"2"}}`)
	cases := []struct {
		name, source, account string
		detail                json.RawMessage
		allowed               bool
		reason                string
	}{
		{"listed", "com.acme.chatbot", "111122223333", detail, true, ""},
		{"another source", "com.evil", "111122223333", detail, false, `source "com.evil" from account "111122223333" may not escalate for tenant acme`},
		{"another account", "com.acme.chatbot", "999999999999", detail, false, `account "999999999999"`},
		{"tenant without a record", "com.acme.chatbot", "111122223333",
			json.RawMessage(strings.Replace(string(detail), "acme", "initech", 1)), false, "no access record"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			svc := &fakeTransfers{}
			ev := events.EventBridgeEvent{ID: "e-1", DetailType: handler.EscalationDetailType, Source: tc.source,
				AccountID: tc.account, Detail: tc.detail}
			err := handler.NewTransfer(svc, tenants(t), quiet, "").Escalation(testCtx(t), ev)
			if tc.allowed {
				if err != nil || len(svc.started()) != 1 {
					t.Fatalf("err %v, starts %d", err, len(svc.started()))
				}
				return
			}
			if !handler.IsDeadLetter(err) || handoff.ErrorCode(err) != handoff.CodeForbidden || !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("err = %v, want a FORBIDDEN dead letter saying %q", err, tc.reason)
			}
			if len(svc.started()) != 0 {
				t.Error("Start was called for a source not allowed")
			}
		})
	}
}

// unreadable is a handler.Access whose records cannot be read.
type unreadable struct{}

func (unreadable) Caller(context.Context, string, string) error {
	return handoff.E(handoff.CodeUnavailable, "store.GetAccess", "storage is busy", nil)
}

func (unreadable) Source(context.Context, string, string, string) error {
	return handoff.E(handoff.CodeUnavailable, "store.GetAccess", "storage is busy", nil)
}

// TestUnreadableAccessIsRetriedNotRefused: when the records cannot be read, nobody is let in,
// and the answer says to try again rather than "forbidden".
func TestUnreadableAccessIsRetriedNotRefused(t *testing.T) {
	svc := &fakeTransfers{}
	h := handler.NewTransfer(svc, unreadable{}, quiet, "")
	wantProblem(t, call(t, h, as(callerA, postFor("acme"))), 503, handoff.CodeUnavailable)
	err := h.Escalation(testCtx(t), events.EventBridgeEvent{ID: "e-1", DetailType: handler.EscalationDetailType,
		Source: "com.acme.chatbot", AccountID: "111122223333", Detail: []byte(postFor("acme").Body)})
	if !handoff.Retryable(err) || handler.IsDeadLetter(err) {
		t.Errorf("escalation: %v, want a retryable error", err)
	}
	if len(svc.started()) != 0 {
		t.Error("Start was called without an access answer")
	}
}

// TestEveryRequestIsLoggedWithItsCaller: audit, one line per request naming the principal,
// refused or not.
func TestEveryRequestIsLoggedWithItsCaller(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	svc := &fakeTransfers{start: func(in transfer.Input) (transfer.Result, error) {
		return transfer.Result{Transfer: transferred(in.Request)}, nil
	}}
	h := handler.NewTransfer(svc, tenants(t), log, "")
	call(t, h, as(callerA, postFor("acme")))
	call(t, h, as(callerB, postFor("acme")))
	var lines []map[string]any
	for _, l := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		var m map[string]any
		if json.Unmarshal(l, &m) == nil && m["msg"] == "request" {
			lines = append(lines, m)
		}
	}
	if len(lines) != 2 || lines[0]["caller"] != callerA || lines[0]["status"] != 201.0 ||
		lines[1]["caller"] != callerB || lines[1]["status"] != 403.0 {
		t.Errorf("request lines %v", lines)
	}
}
