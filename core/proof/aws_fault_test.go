package proof_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"handoff/core/handoff"
	"handoff/core/store"
	"handoff/core/vendors/bitrix24/bitrix24sandbox"
	"handoff/core/vendors/salesforce/salesforcesandbox"
)

// TestDynamoDBThrottlesTheClaim: when DynamoDB throttles the claim (after the SDK's own
// retries), the caller gets 503 UNAVAILABLE before any vendor call, and nothing is stored; the
// same request later transfers once.
func TestDynamoDBThrottlesTheClaim(t *testing.T) {
	for _, fault := range []awsFault{throttled, throttling} {
		t.Run(map[awsFault]string{throttled: "ProvisionedThroughputExceeded", throttling: "Throttling"}[fault], func(t *testing.T) {
			s := newStack(t)
			v := vendorCases[0]
			before := s.snapshot()
			s.dynamo.fail("PutItem", fault, -1)
			s.post("k-1", v.body, invocation).want(t, http.StatusServiceUnavailable, handoff.CodeUnavailable)
			if n := s.dynamo.count("PutItem"); n != 3 {
				t.Errorf("claim sent %d times, want the SDK's 3 attempts", n)
			}
			if calls, _ := v.server(s).jobs(); calls != 0 {
				t.Fatalf("the vendor was called %d times without a claim", calls)
			}
			if s.snapshot() != before {
				t.Fatal("a throttled claim changed the table")
			}
			s.dynamo.heal()
			s.retryAndSettle(v, "k-1", false, 1)
		})
	}
}

// TestDynamoDBThrottlesTheCompletion: the vendor made the transfer, then DynamoDB throttles the
// write that records it. The caller gets 503 UNAVAILABLE; the key stays leased until the
// invocation's deadline (a retry meanwhile is 409 IN_PROGRESS with Retry-After, and calls no
// one); once the lease lapses, the retry reconciles, and where the vendor reports "already done"
// nothing is transferred twice.
func TestDynamoDBThrottlesTheCompletion(t *testing.T) {
	for _, v := range vendorCases {
		t.Run(v.name, func(t *testing.T) {
			s := newStack(t)
			s.throttledCompletion(v, "k-1")
			s.clock.Advance(invocation + time.Second) // the lease lapses
			s.retryAndSettle(v, "k-1", true, v.reconcileCalls(true))
		})
	}
}

// throttledCompletion runs a transfer whose recording DynamoDB throttles, and checks what is
// left: the vendor did the job once, the transfer recorded pending with its target in doubt, the
// key leased, duplicates refused.
func (s *stack) throttledCompletion(v vendorCase, key string) {
	t := s.t
	t.Helper()
	s.dynamo.fail(completion, throttled, -1)
	s.post(key, v.body, invocation).want(t, http.StatusServiceUnavailable, handoff.CodeUnavailable)
	s.dynamo.heal()
	if calls, done := v.server(s).jobs(); calls != 1 || done != 1 {
		t.Fatalf("vendor calls = %d, done = %d, want the transfer made once", calls, done)
	}
	if got := s.transfers(); len(got) != 1 || got[0].Status != handoff.StatusPending || len(got[0].Attempts) != 0 {
		t.Fatalf("transfers recorded: %+v, want the one pending, its target in doubt", got)
	}
	if r := s.idem(key); r.status != "in_progress" || !r.leased {
		t.Fatalf("key = %+v, want still leased by the invocation that made the transfer", r)
	}
	dup := s.post(key, v.body, invocation).want(t, http.StatusConflict, handoff.CodeInProgress)
	if dup.Headers["Retry-After"] == "" {
		t.Error("IN_PROGRESS without Retry-After")
	}
	if calls, _ := v.server(s).jobs(); calls != 1 {
		t.Fatalf("a duplicate during the lease called the vendor (%d calls)", calls)
	}
}

// TestDynamoDBThrottlesTheCompletionWhereTheVendorCannotTell documents the one double transfer
// left: Bitrix24's imopenlines.bot.session.transfer (an operator or an open line) answers a
// repeat exactly like the first call, so when the record of a made transfer is lost, the
// reconciling retry cannot see it was done and hands the chat over again — to the same operator
// or line, so the customer ends where the first call put them. (Its "next operator" method does
// tell, WRONG_CHAT: see TestDynamoDBThrottlesTheCompletion.)
func TestDynamoDBThrottlesTheCompletionWhereTheVendorCannotTell(t *testing.T) {
	s := newStack(t)
	v := vendorCases[0]
	v.body = `{"tenant": "acme", "vendor": "bitrix24", "conversation": {"id": "` + bitrix24sandbox.ChatID + `"},
		"target": {"type": "agent", "id": "` + bitrix24sandbox.UserID + `"}, ` + sfBot(salesforcesandbox.DemoSessionID) + `}`
	s.throttledCompletion(v, "k-1")
	s.clock.Advance(invocation + time.Second)
	s.post("k-1", v.body, invocation).want(t, http.StatusCreated, "")
	if calls, done := s.b24.jobs(); calls != 2 || done != 2 {
		t.Fatalf("vendor calls = %d, done = %d: Bitrix24 cannot tell a repeat, so the reconcile re-sends", calls, done)
	}
	if tr := s.only(); tr.Attempts[0].Target.ID != bitrix24sandbox.UserID || tr.Status != handoff.StatusTransferred {
		t.Fatalf("transfer %+v, want transferred to the same operator", tr)
	}
	s.settle()
}

// TestDynamoDBLosesTheCompletionAnswer: the record was written but its answer lost. The caller
// gets 503 UNAVAILABLE; the retry is answered from the record, with no vendor call.
func TestDynamoDBLosesTheCompletionAnswer(t *testing.T) {
	s := newStack(t)
	v := vendorCases[0]
	s.dynamo.fail(completion, lostAnswer, -1)
	s.post("k-1", v.body, invocation).want(t, http.StatusServiceUnavailable, handoff.CodeUnavailable)
	s.dynamo.heal()
	again := s.post("k-1", v.body, invocation).want(t, http.StatusCreated, "")
	if again.Headers["Idempotent-Replayed"] != "true" || again.Transfer.ID != s.only().ID {
		t.Fatalf("retry answered %+v, want the recorded transfer, replayed", again.Headers)
	}
	if calls, done := v.server(s).jobs(); calls != 1 || done != 1 {
		t.Fatalf("vendor calls = %d, done = %d, want 1", calls, done)
	}
	s.settle()
}

// TestSecretsManagerDown: with Secrets Manager unreachable, the caller gets 503 UNAVAILABLE,
// no vendor is called and nothing is stored; once it is back the same request transfers once.
func TestSecretsManagerDown(t *testing.T) {
	for _, v := range vendorCases {
		t.Run(v.name, func(t *testing.T) {
			s := newStack(t)
			before := s.snapshot()
			s.sm.fail("GetSecretValue", down, -1)
			s.post("k-1", v.body, invocation).want(t, http.StatusServiceUnavailable, handoff.CodeUnavailable)
			if calls, _ := v.server(s).jobs(); calls != 0 {
				t.Fatalf("the vendor was called %d times without credentials", calls)
			}
			if s.snapshot() != before {
				t.Fatal("the table changed")
			}
			s.sm.heal()
			s.retryAndSettle(v, "k-1", false, 1)
		})
	}
}

// dyingStore is the store as seen by a function that dies right after the vendor call: the
// write that would record the outcome never happens.
type dyingStore struct{ *store.Store }

func (d dyingStore) Complete(context.Context, handoff.Claim, handoff.Transfer, []handoff.Event) (handoff.Transfer, error) {
	return handoff.Transfer{}, handoff.E(handoff.CodeUnavailable, "proof.dyingStore", "the function died", context.Canceled)
}

// TestFunctionDiesAfterTheVendorCall: an Escalation Requested event's function made the
// transfer and died before recording it. EventBridge redelivers the event: while the dead
// invocation's lease runs, the redelivery fails (IN_PROGRESS, so Lambda retries it) without a
// vendor call; after it lapses, the redelivery reclaims the key, reconciles, and records exactly
// one transfer with no second vendor transfer; later redeliveries change nothing.
func TestFunctionDiesAfterTheVendorCall(t *testing.T) {
	for _, v := range vendorCases {
		t.Run(v.name, func(t *testing.T) {
			s := newStack(t)
			const event = "6a7e8feb-b491-4cf7-a9f1-bf3703467718"
			detail := strings.TrimSpace(v.body)
			_ = s.escalate(s.newContainer(dyingStore{s.store}).transfer, event, detail, invocation)
			if calls, done := v.server(s).jobs(); calls != 1 || done != 1 {
				t.Fatalf("vendor calls = %d, done = %d, want the transfer made once", calls, done)
			}
			if r := s.idem(event); r.status != "in_progress" || !r.leased || len(s.transfers()) != 1 ||
				s.only().Status != handoff.StatusPending || len(s.only().Attempts) != 0 {
				t.Fatalf("key = %+v, transfers %+v: want a leased key and the transfer recorded pending, its target in doubt", r, s.transfers())
			}

			err := s.escalate(s.transfer, event, detail, invocation)
			if handoff.ErrorCode(err) != handoff.CodeInProgress {
				t.Fatalf("redelivery during the lease: %v, want IN_PROGRESS for Lambda to retry", err)
			}
			s.clock.Advance(invocation + time.Second)
			if err := s.escalate(s.transfer, event, detail, invocation); err != nil {
				t.Fatalf("redelivery after the lease: %v", err)
			}
			stored := s.only()
			if calls, done := v.server(s).jobs(); calls != v.reconcileCalls(true) || done != 1 {
				t.Fatalf("vendor calls = %d, done = %d: want one reconciling call (none where it looks) and the job done once", calls, done)
			}
			if code := stored.Attempts[0].VendorCode; code != v.alreadyDone {
				t.Errorf("attempt vendor code = %q, want %q: the redelivery must reconcile", code, v.alreadyDone)
			}
			if err := s.escalate(s.transfer, event, detail, invocation); err != nil {
				t.Fatal(err)
			}
			if calls, _ := v.server(s).jobs(); calls != v.reconcileCalls(true) || len(s.transfers()) != 1 {
				t.Fatalf("a later redelivery called the vendor or recorded again (%d calls)", calls)
			}
			if v.async {
				s.settle()
				s.koreCallback(stored.ID, "transferred").want(t, http.StatusOK, "")
			}
			s.settle()
		})
	}
}

// TestFunctionDiesAndNoRetryComes: the function made the transfer and died before recording
// it, and nobody sends the request again. The transfer was recorded pending before the vendor
// call, so the sweep finds it once the dead invocation's deadline has passed, asks the vendor
// again for the target in doubt with reconcile, and records the outcome; the vendor's "already
// done" answer counts, nothing is transferred twice, and the bot is acked once.
func TestFunctionDiesAndNoRetryComes(t *testing.T) {
	for _, v := range vendorCases {
		t.Run(v.name, func(t *testing.T) {
			s := newStack(t)
			detail := strings.TrimSpace(v.body)
			_ = s.escalate(s.newContainer(dyingStore{s.store}).transfer, "7b8f9a0c-1d2e-4f3a-8b4c-5d6e7f8a9b0c", detail, invocation)
			if calls, done := v.server(s).jobs(); calls != 1 || done != 1 {
				t.Fatalf("vendor calls = %d, done = %d, want the transfer made once", calls, done)
			}
			if moved, err := s.svc.Sweep(s.ctx(invocation)); err != nil || moved != 0 {
				t.Fatalf("sweep during the dead invocation's lease moved %d (%v), want none", moved, err)
			}
			s.clock.Advance(invocation + time.Second)
			if moved, err := s.svc.Sweep(s.ctx(invocation)); err != nil || moved != 1 {
				t.Fatalf("sweep after the lease moved %d (%v), want 1", moved, err)
			}
			stored := s.only()
			if calls, done := v.server(s).jobs(); calls != v.reconcileCalls(true) || done != 1 {
				t.Fatalf("vendor calls = %d, done = %d: want one reconciling call (none where it looks) and the job done once", calls, done)
			}
			if len(stored.Attempts) != 1 || stored.Attempts[0].VendorCode != v.alreadyDone {
				t.Errorf("attempts = %+v, want one with %q: the sweep must reconcile", stored.Attempts, v.alreadyDone)
			}
			if v.async {
				s.settle()
				s.koreCallback(stored.ID, "transferred").want(t, http.StatusOK, "")
			} else if stored.Status != handoff.StatusTransferred {
				t.Errorf("status = %s, want transferred", stored.Status)
			}
			s.settle()
		})
	}
}

// TestKoreCallbackNeverComes: Kore.ai accepted the transfer and never called back. The transfer
// is pending with no lease held; at its callback deadline the sweep ends it (no fallback left:
// failed, NO_CALLBACK), and the bot hears transferFailed once.
func TestKoreCallbackNeverComes(t *testing.T) {
	s := newStack(t)
	v := vendorCases[2]
	s.post("k-1", v.body, invocation).want(t, http.StatusAccepted, "")
	s.settle() // pending, awaiting the callback, its key completed
	if moved, err := s.svc.Sweep(s.ctx(invocation)); err != nil || moved != 0 {
		t.Fatalf("sweep before the deadline moved %d (%v), want none", moved, err)
	}
	s.clock.Advance(time.Hour)
	if moved, err := s.svc.Sweep(s.ctx(invocation)); err != nil || moved != 1 {
		t.Fatalf("sweep after the deadline moved %d (%v), want 1", moved, err)
	}
	tr := s.only()
	if tr.Status != handoff.StatusFailed || tr.Error == nil || tr.Error.VendorCode != "NO_CALLBACK" {
		t.Fatalf("transfer %+v, want failed with NO_CALLBACK", tr)
	}
	s.settle()
	if got, _ := s.store.Get(s.ctx(invocation), tr.ID); got.Ack.Status != handoff.AckSent {
		t.Errorf("ack %s, want the bot told transferFailed", got.Ack.Status)
	}
}
