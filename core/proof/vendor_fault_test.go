package proof_test

import (
	"net/http"
	"testing"
	"time"

	"handoff/core/availability"
	"handoff/core/handoff"
	"handoff/core/vendors/liveperson/livepersonsandbox"
	"handoff/core/vendors/sandbox"
)

// vendorFault is one way a vendor's transfer call fails, and what the caller sees.
type vendorFault struct {
	name string
	// before is played by the sandbox instead of acting; after spoils the answer once it acted.
	before, after sandbox.Kind
	// deadline bounds the invocation; the vendor call gets it less the margin kept for recording.
	deadline time.Duration
	status   int
	code     handoff.Code
}

// short leaves the claim and the vendor call 2 s (the service keeps 2 s of the deadline back to
// record the outcome): the upper bound of a hang, and ample for a claim on a loaded machine.
const short = 4 * time.Second

var vendorFaults = []vendorFault{
	{name: "hangs/504 VENDOR_TIMEOUT", before: sandbox.Hang, deadline: short,
		status: http.StatusGatewayTimeout, code: handoff.CodeVendorTimeout},
	{name: "answers after the deadline/504 VENDOR_TIMEOUT", after: sandbox.Hang, deadline: short,
		status: http.StatusGatewayTimeout, code: handoff.CodeVendorTimeout},
	{name: "500 before acting/503 VENDOR_UNAVAILABLE", before: sandbox.ServerError, deadline: invocation,
		status: http.StatusServiceUnavailable, code: handoff.CodeVendorUnavailable},
	{name: "500 after acting/503 VENDOR_UNAVAILABLE", after: sandbox.ServerError, deadline: invocation,
		status: http.StatusServiceUnavailable, code: handoff.CodeVendorUnavailable},
	{name: "503 before acting/503 VENDOR_UNAVAILABLE", before: sandbox.Unavailable, deadline: invocation,
		status: http.StatusServiceUnavailable, code: handoff.CodeVendorUnavailable},
	{name: "resets before acting/503 VENDOR_UNAVAILABLE", before: sandbox.Reset, deadline: invocation,
		status: http.StatusServiceUnavailable, code: handoff.CodeVendorUnavailable},
	{name: "resets after acting/503 VENDOR_UNAVAILABLE", after: sandbox.Reset, deadline: invocation,
		status: http.StatusServiceUnavailable, code: handoff.CodeVendorUnavailable},
	{name: "undocumented body before acting/502 VENDOR_BAD_RESPONSE", before: sandbox.Malformed, deadline: invocation,
		status: http.StatusBadGateway, code: handoff.CodeVendorProtocol},
	{name: "undocumented body after acting/502 VENDOR_BAD_RESPONSE", after: sandbox.Malformed, deadline: invocation,
		status: http.StatusBadGateway, code: handoff.CodeVendorProtocol},
}

// TestVendorFaults: for every vendor and every way its transfer call can fail, the caller gets
// the error at once (never a transfer recorded as failed that the vendor may have made), the
// call is not re-sent, the key is released as ambiguous (the transfer stays recorded pending,
// its target in doubt, for a retry or the sweep), and the same request again reconciles:
// it transfers exactly once — where the first call already did it, the vendor's "already done"
// answer counts as success (Reconcile reached the adapter), or, for a vendor whose reconcile
// looks (LivePerson: the chat has left the bot's agent session), no second call is made at all;
// nothing is transferred twice. The outcome is then acked once. A vendor that takes any 2xx as
// accepted (Kore.ai) meets no fault in an undocumented body: see acceptedWhateverTheBody.
func TestVendorFaults(t *testing.T) {
	for _, f := range vendorFaults {
		for _, v := range vendorCases {
			t.Run(v.name+"/"+f.name, func(t *testing.T) {
				s := newStack(t)
				s.warm(v.name)
				vs := v.server(s)
				if f.before != "" {
					v.sandbox(s).Inject(sandbox.Fault{Kind: f.before}, 1)
				} else {
					vs.spoilNext(f.after)
				}
				if v.anyBody && f.code == handoff.CodeVendorProtocol {
					s.acceptedWhateverTheBody(v, "k-1", f.after != "")
					return
				}
				before := s.snapshot()

				s.post("k-1", v.body, f.deadline).want(t, f.status, f.code)
				wantDone := 0
				if f.after != "" {
					wantDone = 1
				}
				if calls, done := vs.jobs(); calls != 1 || done != wantDone {
					t.Fatalf("vendor calls = %d, done = %d; want 1 call (not re-sent), done %d", calls, done, wantDone)
				}
				if got := s.transfers(); len(got) != 1 || got[0].Status != handoff.StatusPending || len(got[0].Attempts) != 0 {
					t.Fatalf("after an ambiguous failure: %+v, want the transfer pending, its target in doubt", got)
				}
				if r := s.idem("k-1"); r.status != "released" || !r.ambiguous || r.leased {
					t.Fatalf("key = %+v, want released as ambiguous, no lease", r)
				}
				if s.snapshot() == before {
					t.Fatal("the ambiguous release left no trace for the retry to reconcile")
				}

				s.retryAndSettle(v, "k-1", f.after != "", v.reconcileCalls(f.after != ""))
			})
		}
	}
}

// retryAndSettle sends the request again with the same key, as the caller should after an
// ambiguous failure, and checks the vendor was asked calls times in all and did the job once.
// When the first call acted, the attempt must carry the vendor's "already done" code (for
// LivePerson, CHAT_LEFT_AGENT: what its reconcile concludes from Retrieve Chat Sessions). A vendor
// that confirms by callback is then called back, and every outcome is settled.
func (s *stack) retryAndSettle(v vendorCase, key string, acted bool, calls int) {
	t := s.t
	t.Helper()
	status := http.StatusCreated
	if v.async {
		status = http.StatusAccepted
	}
	got := s.post(key, v.body, invocation).want(t, status, "")
	n, done := v.server(s).jobs()
	if n != calls || done != 1 {
		t.Fatalf("after the retry: vendor calls = %d, done = %d; want %d calls, the job done exactly once", n, done, calls)
	}
	stored := s.only()
	if stored.ID != got.Transfer.ID || len(stored.Attempts) != 1 {
		t.Fatalf("stored %+v, answered %+v: want the one transfer with one attempt", stored, got.Transfer)
	}
	wantCode := ""
	if acted {
		wantCode = v.alreadyDone
	}
	if code := stored.Attempts[0].VendorCode; code != wantCode {
		t.Errorf("attempt vendor code = %q, want %q (the reconcile must see what the first call did)", code, wantCode)
	}
	if r := s.idem(key); r.status != "completed" || r.leased {
		t.Errorf("key = %+v after the retry, want completed", r)
	}
	if read := s.get(stored.ID).want(t, http.StatusOK, ""); read.Transfer.Status != stored.Status {
		t.Errorf("GET /transfers/%s says %s, the table %s", stored.ID, read.Transfer.Status, stored.Status)
	}
	if v.async {
		s.settle() // pending, awaiting Kore's callback, with no lease held
		s.koreCallback(stored.ID, "transferred").want(t, http.StatusOK, "")
		if tr := s.only(); tr.Status != handoff.StatusTransferred {
			t.Fatalf("after Kore's callback the transfer is %s, want transferred", tr.Status)
		}
	}
	s.settle()
}

// acceptedWhateverTheBody posts a transfer whose 2xx answer has an undocumented body, for a
// vendor that takes any 2xx as accepted (Kore.ai): 202 pending, awaiting the callback, one call,
// its key completed; the same request again answers the same transfer with no call. If the
// vendor acted, its callback ends the transfer transferred; if not, no callback comes and the
// sweep ends it at its deadline (failed, NO_CALLBACK). Either way the bot is told once.
func (s *stack) acceptedWhateverTheBody(v vendorCase, key string, acted bool) {
	t := s.t
	t.Helper()
	got := s.post(key, v.body, invocation).want(t, http.StatusAccepted, "")
	wantDone := 0
	if acted {
		wantDone = 1
	}
	if calls, done := v.server(s).jobs(); calls != 1 || done != wantDone {
		t.Fatalf("vendor calls = %d, done = %d; want 1 call, done %d", calls, done, wantDone)
	}
	if stored := s.only(); stored.ID != got.Transfer.ID || stored.Status != handoff.StatusPending {
		t.Fatalf("stored %+v, want the answered transfer pending", stored)
	}
	if again := s.post(key, v.body, invocation).want(t, http.StatusAccepted, ""); again.Transfer.ID != got.Transfer.ID {
		t.Fatalf("the same request answered transfer %s, want %s", again.Transfer.ID, got.Transfer.ID)
	}
	if calls, _ := v.server(s).jobs(); calls != 1 {
		t.Fatalf("the same request again called the vendor (%d calls)", calls)
	}
	s.settle() // pending, awaiting the callback, with no lease held
	s.endAwaiting(got.Transfer.ID, acted)
	s.settle()
}

// endAwaiting ends a Kore.ai transfer awaiting its callback: with the callback if Kore acted,
// else with the sweep once the callback deadline has passed.
func (s *stack) endAwaiting(id string, acted bool) {
	t := s.t
	t.Helper()
	if acted {
		s.koreCallback(id, "transferred").want(t, http.StatusOK, "")
		if tr := s.stored(id); tr.Status != handoff.StatusTransferred {
			t.Fatalf("after Kore's callback the transfer is %s, want transferred", tr.Status)
		}
		return
	}
	s.clock.Advance(time.Hour)
	if moved, err := s.svc.Sweep(s.ctx(invocation)); err != nil || moved != 1 {
		t.Fatalf("sweep after the deadline moved %d (%v), want 1", moved, err)
	}
	if tr := s.stored(id); tr.Status != handoff.StatusFailed || tr.Error == nil || tr.Error.VendorCode != "NO_CALLBACK" {
		t.Fatalf("transfer %+v, want failed with NO_CALLBACK", tr)
	}
}

// warm fetches the vendor's secret and, for LivePerson, logs in, as an earlier transfer of the
// same container would have: a short deadline then bounds the transfer call alone.
func (s *stack) warm(vendor string) {
	s.t.Helper()
	if _, err := s.secrets.Get(s.ctx(invocation), tenant, vendor); err != nil {
		s.t.Fatal(err)
	}
	if _, err := s.secrets.Get(s.ctx(invocation), tenant, "salesforce"); err != nil {
		s.t.Fatal(err)
	}
	if vendor == "liveperson" {
		svc := availability.New(s.vendors, 0)
		if _, err := svc.Check(s.ctx(invocation), availability.Query{Tenant: tenant, Vendor: vendor, ConversationID: livepersonsandbox.DemoChatID}); err != nil {
			s.t.Fatal(err)
		}
	}
}

// TestVendorRateLimits: a rate limit with a short Retry-After is waited out inside the call (the
// caller just sees the transfer); a long one is handed to the caller as 429 RATE_LIMITED with the
// vendor's Retry-After, the key released cleanly (the vendor refused before acting) and the table
// as it was; the request then transfers once.
func TestVendorRateLimits(t *testing.T) {
	for _, v := range vendorCases {
		t.Run(v.name+"/short wait is retried inside the call", func(t *testing.T) {
			s := newStack(t)
			v.sandbox(s).Inject(sandbox.Fault{Kind: sandbox.RateLimited, RetryAfter: time.Second}, 1)
			s.retryAndSettle(v, "k-1", false, 2)
		})
		t.Run(v.name+"/long wait goes to the caller", func(t *testing.T) {
			s := newStack(t)
			before := s.snapshot()
			v.sandbox(s).Inject(sandbox.Fault{Kind: sandbox.RateLimited, RetryAfter: 2 * time.Minute}, 1)
			a := s.post("k-1", v.body, invocation).want(t, http.StatusTooManyRequests, handoff.CodeRateLimited)
			if got := a.Headers["Retry-After"]; got != "120" {
				t.Errorf("Retry-After = %q, want the vendor's 120", got)
			}
			if calls, _ := v.server(s).jobs(); calls != 1 {
				t.Fatalf("vendor calls = %d, want 1: a long wait is not waited out", calls)
			}
			if s.snapshot() != before {
				t.Fatal("a refused transfer left the table changed")
			}
			s.retryAndSettle(v, "k-1", false, 2)
		})
	}
}

// TestEscalationVendorFaults: the same faults, after the vendor acted, on an Escalation Requested
// event. Nobody is waiting for an answer, so the function returns the error for Lambda to retry
// (and, failing that, the dead-letter queue to keep); the retry reconciles and records the one
// transfer the vendor made, and the bot is told.
func TestEscalationVendorFaults(t *testing.T) {
	const event = "0b5e8f6a-2c1d-4e3f-9a8b-7c6d5e4f3a2b"
	for _, f := range vendorFaults {
		if f.after == "" {
			continue
		}
		for _, v := range vendorCases {
			t.Run(v.name+"/"+f.name, func(t *testing.T) {
				s := newStack(t)
				s.warm(v.name)
				v.server(s).spoilNext(f.after)
				err := s.escalate(s.transfer, event, v.body, f.deadline)
				if v.anyBody && f.code == handoff.CodeVendorProtocol {
					// Accepted: recorded pending, nothing for Lambda to retry; a redelivery calls no one.
					if err != nil {
						t.Fatalf("the function returned %v, want the transfer accepted", err)
					}
					if err := s.escalate(s.transfer, event, v.body, invocation); err != nil {
						t.Fatalf("a redelivery: %v", err)
					}
					if calls, done := v.server(s).jobs(); calls != 1 || done != 1 || s.only().Status != handoff.StatusPending {
						t.Fatalf("vendor calls = %d, done = %d, transfer %s; want 1, 1, pending", calls, done, s.only().Status)
					}
					s.settle()
					s.endAwaiting(s.only().ID, true)
					s.settle()
					return
				}
				if handoff.ErrorCode(err) != f.code || !retried(err) {
					t.Fatalf("the function returned %v, want %s for Lambda to retry", err, f.code)
				}
				if err := s.escalate(s.transfer, event, v.body, invocation); err != nil {
					t.Fatalf("the retry: %v", err)
				}
				if calls, done := v.server(s).jobs(); calls != v.reconcileCalls(true) || done != 1 {
					t.Fatalf("vendor calls = %d, done = %d; want the reconcile and the job done once", calls, done)
				}
				if code := s.only().Attempts[0].VendorCode; code != v.alreadyDone {
					t.Errorf("attempt vendor code = %q, want %q", code, v.alreadyDone)
				}
				if v.async {
					s.settle()
					s.koreCallback(s.only().ID, "transferred").want(t, http.StatusOK, "")
				}
				s.settle()
			})
		}
	}
}

// retried reports whether Lambda retries an invocation that returned err: any error does; the
// handler returns one only for what a retry can fix.
func retried(err error) bool { return err != nil }
