package bitrix24_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/bitrix24"
	"handoff/core/vendors/bitrix24/bitrix24sandbox"
	"handoff/core/vendors/rest"
	"handoff/core/vendors/sandbox"
)

func transferRequest(target handoff.Target) vendors.TransferRequest {
	return vendors.TransferRequest{
		Tenant: tenant, TransferID: "tr-0001",
		Conversation: handoff.Conversation{ID: bitrix24sandbox.ChatID}, Target: target,
	}
}

var (
	agent = handoff.Target{Type: handoff.TargetAgent, ID: bitrix24sandbox.UserID}
	queue = handoff.Target{Type: handoff.TargetQueue, ID: bitrix24sandbox.LineID}
	next  = handoff.Target{Type: handoff.TargetNext}
)

func demo(t *testing.T, secret []byte) map[string]string {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal(secret, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func asError(t *testing.T, err error, want handoff.Code) *handoff.Error {
	t.Helper()
	var e *handoff.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want a *handoff.Error with code %s", err, want)
	}
	if e.Code != want {
		t.Fatalf("code = %s (%v), want %s", e.Code, err, want)
	}
	return e
}

// TestRequestShapes: a webhook call goes to /rest/{userId}/{code}/{method} with CLIENT_ID and no
// auth; an OAuth call goes to /rest/{method} with the token in the JSON body, never in the URL.
func TestRequestShapes(t *testing.T) {
	hook := demo(t, bitrix24sandbox.DemoWebhookSecret("http://127.0.0.1:1"))
	oauth := demo(t, bitrix24sandbox.DemoSecret("http://127.0.0.1:1"))
	code := strings.Split(strings.TrimSuffix(hook["webhookUrl"], "/"), "/")[5]
	tests := []struct {
		name   string
		mode   mode
		target handoff.Target
		leave  bool
		path   string
		body   map[string]any
	}{
		{"webhook agent", webhookMode, agent, true, "/rest/1/" + code + "/imopenlines.bot.session.transfer",
			map[string]any{"CHAT_ID": 112.0, "USER_ID": 12.0, "LEAVE": "Y", "CLIENT_ID": hook["botClientId"]}},
		{"webhook queue", webhookMode, queue, false, "/rest/1/" + code + "/imopenlines.bot.session.transfer",
			map[string]any{"CHAT_ID": 112.0, "QUEUE_ID": 1.0, "LEAVE": "N", "CLIENT_ID": hook["botClientId"]}},
		{"webhook next", webhookMode, next, false, "/rest/1/" + code + "/imopenlines.bot.session.operator",
			map[string]any{"CHAT_ID": 112.0}},
		{"oauth agent", oauthMode, agent, false, "/rest/imopenlines.bot.session.transfer",
			map[string]any{"CHAT_ID": 112.0, "USER_ID": 12.0, "LEAVE": "N", "auth": oauth["accessToken"]}},
		{"oauth queue", oauthMode, queue, true, "/rest/imopenlines.bot.session.transfer",
			map[string]any{"CHAT_ID": 112.0, "QUEUE_ID": 1.0, "LEAVE": "Y", "auth": oauth["accessToken"]}},
		{"oauth next", oauthMode, next, false, "/rest/imopenlines.bot.session.operator",
			map[string]any{"CHAT_ID": 112.0, "auth": oauth["accessToken"]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.mode, nil)
			req := transferRequest(tt.target)
			req.Leave = tt.leave
			res, err := f.adapter.Transfer(context.Background(), req)
			if err != nil {
				t.Fatalf("Transfer: %v", err)
			}
			if res.Outcome != handoff.OutcomeTransferred || res.VendorRef != bitrix24sandbox.ChatID {
				t.Errorf("result = %+v, want transferred with the chat id as VendorRef", res)
			}
			reqs := f.sandbox.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Method != http.MethodPost || r.Path != tt.path || len(r.Query) != 0 {
				t.Errorf("request = %s %s ?%v, want POST %s without a query", r.Method, r.Path, r.Query, tt.path)
			}
			if r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Accept") != "application/json" {
				t.Errorf("headers = %v, want JSON Content-Type and Accept", r.Header)
			}
			if got := bodyOf(t, r.Body); !reflect.DeepEqual(got, tt.body) {
				t.Errorf("body = %v, want %v", got, tt.body)
			}
			assertNoSecrets(t, f.logs.String())
		})
	}
}

// TestIDsAreCheckedBeforeAnyCall: Bitrix24's chat, user and line ids are integers.
func TestIDsAreCheckedBeforeAnyCall(t *testing.T) {
	tests := []struct {
		conversation string
		target       handoff.Target
		field        string
	}{
		{"chat112", agent, "conversation.id"},
		{"0", agent, "conversation.id"},
		{"-112", agent, "conversation.id"},
		{"0112", agent, "conversation.id"},
		{" 112", next, "conversation.id"},
		{"112.0", next, "conversation.id"},
		{"99999999999999999999", agent, "conversation.id"},
		{"112", handoff.Target{Type: handoff.TargetAgent, ID: "twelve"}, "target.id"},
		{"112", handoff.Target{Type: handoff.TargetQueue, ID: "queue1"}, "target.id"},
		{"112", handoff.Target{Type: handoff.TargetQueue, ID: "0"}, "target.id"},
	}
	for _, tt := range tests {
		f := newFixture(t, webhookMode, nil)
		req := transferRequest(tt.target)
		req.Conversation.ID = tt.conversation
		_, err := f.adapter.Transfer(context.Background(), req)
		if e := asError(t, err, handoff.CodeInvalidRequest); e.Field != tt.field {
			t.Errorf("%q/%q: field = %q, want %q", tt.conversation, tt.target.ID, e.Field, tt.field)
		}
		if n := len(f.sandbox.Requests()); n != 0 || f.secrets.Gets != 0 {
			t.Errorf("%q/%q: %d requests and %d secret reads, want none", tt.conversation, tt.target.ID, n, f.secrets.Gets)
		}
	}
}

func TestUnavailableTargets(t *testing.T) {
	tests := []struct {
		name   string
		chat   string
		target handoff.Target
	}{
		{"inactive operator", bitrix24sandbox.ChatID, handoff.Target{Type: handoff.TargetAgent, ID: bitrix24sandbox.InactiveUserID}},
		{"unknown operator", bitrix24sandbox.ChatID, handoff.Target{Type: handoff.TargetAgent, ID: "4040"}},
		{"inactive line", bitrix24sandbox.ChatID, handoff.Target{Type: handoff.TargetQueue, ID: bitrix24sandbox.InactiveLineID}},
		{"unknown chat", "999", agent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, oauthMode, nil)
			req := transferRequest(tt.target)
			req.Conversation.ID = tt.chat
			_, err := f.adapter.Transfer(context.Background(), req)
			if e := asError(t, err, handoff.CodeTargetUnavailable); e.VendorCode != "OPERATOR_WRONG" {
				t.Errorf("vendor code = %q, want OPERATOR_WRONG", e.VendorCode)
			}
			if n := f.sandbox.TransferCalls(); n != 1 {
				t.Errorf("%d calls, want 1", n)
			}
		})
	}
}

// TestReconcile: a second operator call finds the chat with a person (WRONG_CHAT). After an
// ambiguous first attempt that means it worked; otherwise it is a refusal.
func TestReconcile(t *testing.T) {
	f := newFixture(t, webhookMode, nil)
	ctx := context.Background()
	if _, err := f.adapter.Transfer(ctx, transferRequest(next)); err != nil {
		t.Fatalf("first operator call: %v", err)
	}
	_, err := f.adapter.Transfer(ctx, transferRequest(next))
	if e := asError(t, err, handoff.CodeVendorRejected); e.VendorCode != "WRONG_CHAT" {
		t.Errorf("vendor code = %q, want WRONG_CHAT", e.VendorCode)
	}
	req := transferRequest(next)
	req.Reconcile = true
	res, err := f.adapter.Transfer(ctx, req)
	if err != nil || res.Outcome != handoff.OutcomeTransferred || res.VendorCode != "WRONG_CHAT" || res.VendorRef != bitrix24sandbox.ChatID {
		t.Fatalf("reconciling = %+v, %v; want transferred (already done)", res, err)
	}

	t.Run("WRONG_CHAT on transfer is not already done", func(t *testing.T) {
		f := newFixture(t, webhookMode, nil)
		f.sandbox.Inject(sandbox.Fault{Kind: sandbox.VendorError, VendorCode: "WRONG_CHAT"}, 1)
		req := transferRequest(agent)
		req.Reconcile = true
		_, err := f.adapter.Transfer(ctx, req)
		asError(t, err, handoff.CodeVendorRejected)
	})
	t.Run("OPERATOR_WRONG is ambiguous when reconciling", func(t *testing.T) {
		f := newFixture(t, webhookMode, nil)
		req := transferRequest(handoff.Target{Type: handoff.TargetAgent, ID: bitrix24sandbox.InactiveUserID})
		req.Reconcile = true
		_, err := f.adapter.Transfer(ctx, req)
		e := asError(t, err, handoff.CodeVendorUnavailable)
		if e.VendorCode != "OPERATOR_WRONG" || !handoff.Retryable(err) || e.RetryAfter <= 0 {
			t.Errorf("err = %+v, want a retryable OPERATOR_WRONG with a wait", e)
		}
		if n := f.sandbox.TransferCalls(); n != 1 {
			t.Errorf("%d calls, want 1", n)
		}
	})
}

// TestResultMustBeTrue: a 200 without "result": true is not a confirmation.
func TestResultMustBeTrue(t *testing.T) {
	for _, body := range []string{`{"result":false,"time":{}}`, `{"time":{}}`, `{"result":"true"}`, `[]`, `true`} {
		f := newFixture(t, oauthMode, func(sb *bitrix24sandbox.Sandbox) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, "transfer") {
					w.Header().Set("Content-Type", "application/json")
					_, _ = w.Write([]byte(body))
					return
				}
				sb.ServeHTTP(w, r)
			})
		})
		_, err := f.adapter.Transfer(context.Background(), transferRequest(agent))
		if code := handoff.ErrorCode(err); code != handoff.CodeVendorProtocol {
			t.Errorf("%s: code = %s (%v), want VENDOR_BAD_RESPONSE", body, code, err)
		}
	}
}

func TestRateLimits(t *testing.T) {
	ctx := context.Background()
	t.Run("QUERY_LIMIT_EXCEEDED is re-sent, then RATE_LIMITED", func(t *testing.T) {
		f := newFixture(t, oauthMode, nil)
		f.sandbox.Inject(sandbox.Fault{Kind: sandbox.VendorError, VendorCode: "QUERY_LIMIT_EXCEEDED"}, 0)
		_, err := f.adapter.Transfer(ctx, transferRequest(agent))
		if e := asError(t, err, handoff.CodeRateLimited); e.RetryAfter <= 0 {
			t.Errorf("RetryAfter = %v, want a wait", e.RetryAfter)
		}
		if n := f.sandbox.TransferCalls(); n != rest.DefaultAttempts {
			t.Errorf("%d calls, want %d: refused before execution, so re-sent", n, rest.DefaultAttempts)
		}
	})
	t.Run("OPERATION_TIME_LIMIT without a reset time is not re-sent", func(t *testing.T) {
		f := newFixture(t, oauthMode, nil)
		f.sandbox.Inject(sandbox.Fault{Kind: sandbox.VendorError, VendorCode: "OPERATION_TIME_LIMIT"}, 0)
		_, err := f.adapter.Transfer(ctx, transferRequest(agent))
		if e := asError(t, err, handoff.CodeRateLimited); e.RetryAfter < 30*time.Second {
			t.Errorf("RetryAfter = %v, want the bucket's minute", e.RetryAfter)
		}
		if n := f.sandbox.TransferCalls(); n != 1 {
			t.Errorf("%d calls, want 1", n)
		}
	})
	t.Run("OPERATION_TIME_LIMIT with Retry-After is re-sent after it", func(t *testing.T) {
		f := newFixture(t, oauthMode, nil)
		f.sandbox.Inject(sandbox.Fault{Kind: sandbox.VendorError, VendorCode: "OPERATION_TIME_LIMIT", RetryAfter: time.Second}, 1)
		if _, err := f.adapter.Transfer(ctx, transferRequest(agent)); err != nil {
			t.Fatalf("Transfer: %v", err)
		}
		if n := f.sandbox.TransferCalls(); n != 2 {
			t.Errorf("%d calls, want 2", n)
		}
	})
	t.Run("OPERATION_TIME_LIMIT waits for the bucket's reset", func(t *testing.T) {
		now := time.Unix(1772000000, 0)
		f := newFixture(t, oauthMode, func(sb *bitrix24sandbox.Sandbox) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusTooManyRequests)
				_, _ = fmt.Fprintf(w, `{"error":"OPERATION_TIME_LIMIT","error_description":"Method is blocked due to operation time limit.","time":{"operating":480.2,"operating_reset_at":%d}}`, now.Unix()+90)
			})
		})
		d := f.deps(f.secrets)
		d.Now = func() time.Time { return now }
		_, err := bitrix24.New(d).Transfer(ctx, transferRequest(agent))
		if e := asError(t, err, handoff.CodeRateLimited); e.RetryAfter != 90*time.Second {
			t.Errorf("RetryAfter = %v, want the 90s until operating_reset_at", e.RetryAfter)
		}
	})
	t.Run("OVERLOAD_LIMIT is never re-sent", func(t *testing.T) {
		f := newFixture(t, oauthMode, nil)
		f.sandbox.Inject(sandbox.Fault{Kind: sandbox.VendorError, VendorCode: "OVERLOAD_LIMIT", RetryAfter: time.Second}, 0)
		_, err := f.adapter.Transfer(ctx, transferRequest(agent))
		asError(t, err, handoff.CodeVendorUnavailable)
		if n := f.sandbox.TransferCalls(); n != 1 {
			t.Errorf("%d calls, want 1", n)
		}
	})
}
