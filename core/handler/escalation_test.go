package handler_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"handoff/core/handler"
	"handoff/core/handoff"
	"handoff/core/transfer"
)

func escalation(t *testing.T) events.EventBridgeEvent {
	var ev events.EventBridgeEvent
	if err := json.Unmarshal(sample(t, "escalation-requested.json"), &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// TestEscalation: every escalation ends recorded (nil), retried (a retryable error) or
// dead-lettered with its reason (a DeadLetter error, which no retry fixes); none is dropped.
func TestEscalation(t *testing.T) {
	fail := func(err error) func(transfer.Input) (transfer.Result, error) {
		return func(transfer.Input) (transfer.Result, error) { return transfer.Result{}, err }
	}
	const (
		handled = iota
		retried
		deadLettered
	)
	cases := []struct {
		name      string
		change    func(*events.EventBridgeEvent)
		start     func(transfer.Input) (transfer.Result, error)
		want      int
		wantStart bool
		reason    string // in the dead letter's message
	}{
		{"handled", nil, nil, handled, true, ""},
		{"replayed", nil, func(in transfer.Input) (transfer.Result, error) {
			return transfer.Result{Transfer: transferred(in.Request), Replayed: true}, nil
		}, handled, true, ""},
		{"other detail-type ignored", func(ev *events.EventBridgeEvent) { ev.DetailType = "Transfer Succeeded" }, nil, handled, false, ""},
		{"invalid detail", func(ev *events.EventBridgeEvent) { ev.Detail = json.RawMessage(`{"tenant":"demo"}`) }, nil, deadLettered, false, "vendor is required"},
		{"detail not an object", func(ev *events.EventBridgeEvent) { ev.Detail = json.RawMessage(`"text"`) }, nil, deadLettered, false, "JSON object"},
		{"unknown field", func(ev *events.EventBridgeEvent) {
			ev.Detail = json.RawMessage(strings.Replace(string(ev.Detail), `{`, `{"colour":"red",`, 1))
		}, nil, deadLettered, false, `unknown field "colour"`},
		{"vendor unavailable retried", nil, fail(handoff.E(handoff.CodeVendorUnavailable, "liveperson.Transfer", "down", nil)), retried, true, ""},
		{"vendor timeout retried", nil, fail(handoff.E(handoff.CodeVendorTimeout, "liveperson.Transfer", "slow", nil)), retried, true, ""},
		{"rate limited retried", nil, fail(&handoff.Error{Code: handoff.CodeRateLimited, RetryAfter: time.Minute}), retried, true, ""},
		{"in progress retried", nil, fail(handoff.E(handoff.CodeInProgress, "store.Claim", "running", nil)), retried, true, ""},
		{"our storage down retried", nil, fail(handoff.E(handoff.CodeUnavailable, "store.Claim", "throttled", nil)), retried, true, ""},
		{"unsupported target", nil, fail(handoff.E(handoff.CodeUnsupportedTarget, "transfer.Start", "no", nil)), deadLettered, true, "UNSUPPORTED_TARGET"},
		{"key reused", nil, fail(handoff.E(handoff.CodeIdempotencyKeyReused, "store.Claim", "reused", nil)), deadLettered, true, "IDEMPOTENCY_KEY_REUSED"},
		{"unknown tenant", nil, fail(handoff.E(handoff.CodeUnknownTenant, "secrets.Get", "who", nil)), deadLettered, true, "UNKNOWN_TENANT"},
		{"auth failed", nil, fail(handoff.E(handoff.CodeVendorAuthFailed, "liveperson.login", "bad", nil)), deadLettered, true, "VENDOR_AUTH_FAILED"},
		{"internal", nil, fail(errors.New("boom")), deadLettered, true, "boom"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev := escalation(t)
			if tc.change != nil {
				tc.change(&ev)
			}
			svc := &fakeTransfers{start: tc.start}
			err := handler.NewTransfer(svc, allowAll{}, quiet, "https://hooks.example").Escalation(testCtx(t), ev)
			switch tc.want {
			case handled:
				if err != nil {
					t.Errorf("Escalation = %v, want nil", err)
				}
			case retried:
				if !handoff.Retryable(err) || handler.IsDeadLetter(err) {
					t.Errorf("Escalation = %v, want a retryable error", err)
				}
			case deadLettered:
				if !handler.IsDeadLetter(err) || handoff.Retryable(err) || !strings.Contains(err.Error(), tc.reason) {
					t.Errorf("Escalation = %v, want a dead letter saying %q", err, tc.reason)
				}
			}
			in := svc.started()
			if (len(in) == 1) != tc.wantStart || len(in) > 1 {
				t.Fatalf("Start called %d times, want started %v", len(in), tc.wantStart)
			}
			if tc.wantStart && (in[0].Key != ev.ID || in[0].CallbackBase != "https://hooks.example") {
				t.Errorf("input key %q base %q, want the event id %q", in[0].Key, in[0].CallbackBase, ev.ID)
			}
			if tc.wantStart && in[0].Caller != "event:"+ev.Source+"@"+ev.AccountID {
				t.Errorf("input caller %q, want the event's source and account", in[0].Caller)
			}
		})
	}
}

// The detail's own idempotencyKey reaches the service with the request, which prefers it.
func TestEscalationDetailKey(t *testing.T) {
	ev := escalation(t)
	ev.Detail = json.RawMessage(strings.Replace(string(ev.Detail), `{`, `{"idempotencyKey":"bot-key-1",`, 1))
	svc := &fakeTransfers{}
	if err := handler.NewTransfer(svc, allowAll{}, quiet, "").Escalation(testCtx(t), ev); err != nil {
		t.Fatal(err)
	}
	if in := svc.started(); len(in) != 1 || in[0].Request.IdempotencyKey != "bot-key-1" {
		t.Errorf("inputs %+v", in)
	}
}

func TestScheduledEventRunsTheSweep(t *testing.T) {
	svc := &fakeTransfers{sweep: func() (int, error) { return 2, nil }}
	h := handler.NewTransfer(svc, allowAll{}, quiet, "")
	scheduled := []byte(`{"version":"0","id":"53dc4d37","detail-type":"Scheduled Event","source":"aws.events",
		"account":"123456789012","time":"2026-11-21T12:00:00Z","region":"us-east-1","resources":[],"detail":{}}`)
	if out, err := h.Invoke(testCtx(t), scheduled); out != nil || err != nil {
		t.Fatalf("Invoke = %v, %v", out, err)
	}
	svc.sweep = func() (int, error) { return 0, handoff.E(handoff.CodeUnavailable, "test", "down", nil) }
	// Not an error: Lambda would retry it and then put the Scheduled Event in the function's
	// failure destination, the escalations' dead-letter queue. The next run is the retry.
	if out, err := h.Invoke(testCtx(t), scheduled); out != nil || err != nil {
		t.Errorf("a failed sweep = %v, %v; want it logged, not returned", out, err)
	}
	if svc.sweeps != 2 || len(svc.started()) != 0 {
		t.Errorf("sweeps = %d, starts = %d", svc.sweeps, len(svc.started()))
	}
}

// An escalation event that does not even decode (a time that is not one) is dead-lettered with
// the reason, not dropped, and starts nothing.
func TestUndecodableEscalationIsDeadLettered(t *testing.T) {
	svc := &fakeTransfers{}
	_, err := handler.NewTransfer(svc, allowAll{}, quiet, "").Invoke(testCtx(t),
		[]byte(`{"detail-type":"Escalation Requested","detail":{},"time":"yesterday"}`))
	if !handler.IsDeadLetter(err) || handoff.Retryable(err) || !strings.Contains(err.Error(), "does not decode") {
		t.Fatalf("Invoke error = %v, want a dead letter saying the event does not decode", err)
	}
	if len(svc.started()) != 0 {
		t.Error("Start was called")
	}
}
