package handler_test

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"handoff/core/handler"
	"handoff/core/handoff"
	"handoff/core/transfer"
)

// denyAll lets nobody act for any tenant.
type denyAll struct{}

func (denyAll) Caller(context.Context, string, string) error {
	return handoff.E(handoff.CodeForbidden, "test", "not for this tenant", nil)
}
func (denyAll) Source(context.Context, string, string, string) error {
	return handoff.E(handoff.CodeForbidden, "test", "not for this tenant", nil)
}

func withStatus(s handoff.Status) handoff.Transfer {
	t := transferred(handoff.Request{Tenant: "acme", Vendor: "koreai"})
	t.Status = s
	return t
}

func TestDeleteTransfer(t *testing.T) {
	cancelled := func(tr handoff.Transfer) (handoff.Transfer, error) {
		tr.Status = handoff.StatusCancelled
		tr.Error = &handoff.Problem{Code: handoff.CodeCancelled, Message: "the transfer was cancelled"}
		return tr, nil
	}
	conflict := func(handoff.Transfer) (handoff.Transfer, error) {
		return handoff.Transfer{}, handoff.E(handoff.CodeConflict, "test", "already transferred", nil)
	}
	cases := []struct {
		name   string
		access handler.Access
		get    func(string) (handoff.Transfer, error)
		cancel func(handoff.Transfer) (handoff.Transfer, error)
		status int
		code   handoff.Code
	}{
		{"queued is cancelled", allowAll{}, func(string) (handoff.Transfer, error) { return withStatus(handoff.StatusQueued), nil }, cancelled, 200, ""},
		{"final is conflict", allowAll{}, func(string) (handoff.Transfer, error) { return withStatus(handoff.StatusTransferred), nil }, conflict, 409, handoff.CodeConflict},
		{"unknown is not found", allowAll{}, nil, nil, 404, handoff.CodeNotFound},
		{"another tenant's is forbidden", denyAll{}, func(string) (handoff.Transfer, error) { return withStatus(handoff.StatusQueued), nil }, nil, 403, handoff.CodeForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			svc := &fakeTransfers{get: tc.get, cancel: tc.cancel}
			req := httpReq("DELETE", "DELETE /transfers/{id}", "/transfers/7hq3m9x2c5v8k1n4p6r0t3w5yz", "")
			req.PathParameters = map[string]string{"id": "7hq3m9x2c5v8k1n4p6r0t3w5yz"}
			resp := call(t, handler.NewTransfer(svc, tc.access, quiet, ""), req)
			if tc.code != "" {
				wantProblem(t, resp, tc.status, tc.code)
				return
			}
			var got handoff.Transfer
			if resp.StatusCode != tc.status || json.Unmarshal([]byte(resp.Body), &got) != nil || got.Status != handoff.StatusCancelled {
				t.Fatalf("DELETE = %d %s", resp.StatusCode, resp.Body)
			}
		})
	}
}

func TestPostAnswersAQueuedTransfer202(t *testing.T) {
	svc := &fakeTransfers{start: func(in transfer.Input) (transfer.Result, error) {
		tr := transferred(in.Request)
		tr.Status = handoff.StatusQueued
		return transfer.Result{Transfer: tr}, nil
	}}
	resp := call(t, handler.NewTransfer(svc, allowAll{}, quiet, ""), sampleHTTP(t, "transfer-post-koreai.json"))
	if resp.StatusCode != 202 {
		t.Fatalf("POST of a queued transfer = %d %s, want 202", resp.StatusCode, resp.Body)
	}
}

func TestEscalationsAskForTheQueue(t *testing.T) {
	svc := &fakeTransfers{}
	if err := handler.NewTransfer(svc, allowAll{}, quiet, "").Escalation(testCtx(t), escalation(t)); err != nil {
		t.Fatal(err)
	}
	if in := svc.started(); len(in) != 1 || !in[0].Queue {
		t.Fatalf("inputs %+v: an escalation must always go through the queue", in)
	}
}

func sqsBatch(groups ...string) []byte {
	var recs []events.SQSMessage
	for i, g := range groups {
		recs = append(recs, events.SQSMessage{
			MessageId: "m" + string(rune('0'+i)), EventSource: "aws:sqs",
			Body:       `{"transferId":"tr-` + string(rune('0'+i)) + `"}`,
			Attributes: map[string]string{"MessageGroupId": g},
		})
	}
	b, _ := json.Marshal(map[string]any{"Records": recs})
	return b
}

// A message that cannot start returns, with every later one of its group; other groups go on.
func TestDrainReturnsAFailedMessageAndTheRestOfItsGroup(t *testing.T) {
	var drained []string
	svc := &fakeTransfers{drain: func(m transfer.Message) error {
		drained = append(drained, m.TransferID)
		if m.TransferID == "tr-1" {
			return handoff.E(handoff.CodeRateLimited, "test", "no token", nil)
		}
		return nil
	}}
	out, err := invoke(t, handler.NewTransfer(svc, allowAll{}, quiet, ""), sqsBatch("a#koreai", "a#koreai", "b#koreai", "a#koreai"))
	if err != nil {
		t.Fatal(err)
	}
	resp, ok := out.(events.SQSEventResponse)
	if !ok {
		t.Fatalf("answer %T, want an SQSEventResponse", out)
	}
	var failed []string
	for _, f := range resp.BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	if len(failed) != 2 || failed[0] != "m1" || failed[1] != "m3" {
		t.Errorf("failures %v, want m1 and m3 (the rest of its group)", failed)
	}
	sort.Strings(drained) // groups drain side by side
	if strings.Join(drained, ",") != "tr-0,tr-1,tr-2" {
		t.Errorf("drained %v, want tr-0, tr-1, tr-2 (never tr-3 after its group stopped)", drained)
	}
}

func cancelEvent(detail string) []byte {
	return []byte(`{"version":"0","id":"c-1","detail-type":"Escalation Cancelled","source":"com.example.bot",
		"account":"123456789012","time":"2026-11-21T12:00:00Z","region":"us-east-1","resources":[],"detail":` + detail + `}`)
}

func TestEscalationCancelled(t *testing.T) {
	cancelled := func(tr handoff.Transfer) (handoff.Transfer, error) {
		tr.Status = handoff.StatusCancelled
		return tr, nil
	}
	queued := func(string) (handoff.Transfer, error) { return withStatus(handoff.StatusQueued), nil }
	cases := []struct {
		name       string
		access     handler.Access
		detail     string
		deadLetter bool
	}{
		{"by id", allowAll{}, `{"tenant":"acme","transferId":"7hq3m9x2c5v8k1n4p6r0t3w5yz"}`, false},
		{"another tenant's id", allowAll{}, `{"tenant":"other","transferId":"7hq3m9x2c5v8k1n4p6r0t3w5yz"}`, true},
		{"by unknown key", allowAll{}, `{"tenant":"acme","idempotencyKey":"k"}`, true},
		{"both named", allowAll{}, `{"tenant":"acme","transferId":"x","idempotencyKey":"k"}`, true},
		{"no tenant", allowAll{}, `{"transferId":"x"}`, true},
		{"source not listed", denyAll{}, `{"tenant":"acme","transferId":"7hq3m9x2c5v8k1n4p6r0t3w5yz"}`, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			svc := &fakeTransfers{get: queued, cancel: func(tr handoff.Transfer) (handoff.Transfer, error) { calls++; return cancelled(tr) }}
			_, err := invoke(t, handler.NewTransfer(svc, tc.access, quiet, ""), cancelEvent(tc.detail))
			if tc.deadLetter {
				if !handler.IsDeadLetter(err) || calls != 0 {
					t.Fatalf("err = %v, cancels %d; want a dead letter and no cancel", err, calls)
				}
				return
			}
			if err != nil || calls != 1 {
				t.Fatalf("err = %v, cancels %d", err, calls)
			}
		})
	}
}

// The sample batch of events/ reaches Drain with its transfer, callback base and group.
func TestSampleQueueBatchIsDrained(t *testing.T) {
	var got []transfer.Message
	svc := &fakeTransfers{drain: func(m transfer.Message) error { got = append(got, m); return nil }}
	out, err := invoke(t, handler.NewTransfer(svc, allowAll{}, quiet, ""), sample(t, "sqs-transfer-queue.json"))
	if resp, ok := out.(events.SQSEventResponse); err != nil || !ok || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Invoke = %+v, %v", out, err)
	}
	if len(got) != 1 || got[0].TransferID != "7hq3m9x2c5v8k1n4p6r0t3w5yz" || got[0].Group != "demo#liveperson" || got[0].CallbackBase == "" ||
		got[0].SentAt.IsZero() {
		t.Errorf("drained %+v", got)
	}
}
