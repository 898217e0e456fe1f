package vendortest

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/sandbox"
)

// AckSandbox is what the acker suite needs of a bot's sandbox.
type AckSandbox interface {
	// Inject plays f on the next `times` ack deliveries, or on all when times <= 0.
	Inject(f sandbox.Fault, times int)
	// AckCalls counts the requests that reached the bot's ack endpoint.
	AckCalls() int
	// AckKeys returns, oldest first, the identity each ack request carried that lets the bot
	// recognise a repeat (Salesforce: sequenceId and X-Request-ID; a webhook: webhook-id).
	AckKeys() []string
}

// AckSetup is a fresh bot sandbox and an acker configured against it.
type AckSetup struct {
	Acker   vendors.Acker
	Sandbox AckSandbox
	// Secrets are credential values that must never appear in an error or a log line.
	Secrets []string
	// Logs receives the acker's log output (its Deps.Log writes here).
	Logs *bytes.Buffer
}

// AckHarness describes one bot vendor for the acker suite.
type AckHarness struct {
	// Setup starts a fresh sandbox (closed by t.Cleanup) and returns an acker for Tenant.
	Setup  func(t *testing.T) AckSetup
	Tenant string
	// Bot is the originating bot as the sandbox knows it (for Salesforce, a live session).
	Bot handoff.Bot
	// Errors lists every documented error answer of the bot's API and the code it maps to;
	// ErrorCase.Target is not used. At least one must be a 4xx that is not retryable.
	Errors []ErrorCase
	// UnavailableIsUncertain is set when the bot's API documents a 503 as "the bot ran but did
	// not confirm" (Salesforce: its Apex or Flow timed out): the ack must then come back
	// uncertain, without an error, after exactly one request, so it is never sent again.
	UnavailableIsUncertain bool
	// RepliesToFailed is set when the bot answers a failed transfer's ack with messages for the
	// customer (Salesforce after transferFailed): the result must carry them.
	RepliesToFailed bool
}

// ackErr is Ack for the cases that look only at the error.
func ackErr(a vendors.Acker, c context.Context, t handoff.Transfer) error {
	_, err := a.Ack(c, t)
	return err
}

// ackSequence is the first sequence id the suite's transfers carry (the example of the Einstein Bot API docs).
const ackSequence = 1712345678901

// RunAcker runs the acker suite: both final outcomes are delivered, 5xx, 429, hangs and resets
// end with a retryable error, 4xx with a final one, an expired credential is recovered from
// once, a retried ack carries the same identity as the first try (so the bot can drop the
// repeat) while another ack does not, and no credential reaches an error or a log line.
func RunAcker(t *testing.T, h AckHarness) {
	if !hasFinalRejection(h.Errors) {
		t.Fatal("vendortest: the harness names no 4xx error that maps to a final (non-retryable) code")
	}
	leaks := &leakCheck{}
	run := func(name string, f func(t *testing.T, s AckSetup)) {
		t.Run(name, func(t *testing.T) {
			s := h.Setup(t)
			if s.Logs == nil {
				t.Fatal("vendortest: Setup must capture the acker's logs in Logs")
			}
			leaks.watch(Setup{Secrets: s.Secrets, Logs: s.Logs})
			f(t, s)
		})
	}

	for _, status := range []handoff.Status{handoff.StatusTransferred, handoff.StatusFailed} {
		run("ack/"+string(status), func(t *testing.T, s AckSetup) {
			res, err := s.Acker.Ack(ctx(t), h.transfer("tr-ack-0001", status, ackSequence))
			if err != nil {
				rememberError(t, err)
				t.Fatalf("Ack of a %s transfer: %v", status, err)
			}
			if got := s.Sandbox.AckCalls(); got != 1 {
				t.Errorf("ack calls = %d, want 1", got)
			}
			if res.Uncertain != "" {
				t.Errorf("a confirmed ack came back uncertain: %q", res.Uncertain)
			}
			if status == handoff.StatusFailed && h.RepliesToFailed && len(res.BotMessages) == 0 {
				t.Error("the bot answered the failed transfer's ack with messages, and the result has none")
			}
			for _, m := range res.BotMessages {
				if m.Type == "" {
					t.Errorf("a bot message without a type: %+v", m)
				}
			}
		})
	}
	run("retry-reuses-the-identity", func(t *testing.T, s AckSetup) {
		first := h.transfer("tr-ack-0001", handoff.StatusFailed, ackSequence)
		s.Sandbox.Inject(sandbox.Fault{Kind: sandbox.Hang}, 1)
		c, cancel := context.WithTimeout(ctx(t), 800*time.Millisecond)
		defer cancel()
		wantRetryable(t, ackErr(s.Acker, c, first), handoff.CodeVendorTimeout)
		if err := ackErr(s.Acker, ctx(t), first); err != nil {
			rememberError(t, err)
			t.Fatalf("retry of the ack: %v", err)
		}
		keys := s.Sandbox.AckKeys()
		if len(keys) < 2 {
			t.Fatalf("ack keys = %q, want one per delivery (at least 2)", keys)
		}
		for _, k := range keys[1:] {
			if k != keys[0] {
				t.Errorf("a retry carried identity %q, the first try %q: the bot cannot drop the repeat", k, keys[0])
			}
		}
		other := h.transfer("tr-ack-0002", handoff.StatusTransferred, ackSequence+1)
		if err := ackErr(s.Acker, ctx(t), other); err != nil {
			rememberError(t, err)
			t.Fatalf("Ack of another transfer: %v", err)
		}
		if keys := s.Sandbox.AckKeys(); keys[len(keys)-1] == keys[0] {
			t.Errorf("two different acks carried the same identity %q: the bot would drop the second", keys[0])
		}
	})
	retryable := []struct {
		name  string
		fault sandbox.Fault
		want  handoff.Code
	}{
		{"server-error", sandbox.Fault{Kind: sandbox.ServerError}, handoff.CodeVendorUnavailable},
		{"rate-limited-long", sandbox.Fault{Kind: sandbox.RateLimited, RetryAfter: 2 * time.Minute}, handoff.CodeRateLimited},
	}
	for _, rc := range retryable {
		run("retryable/"+rc.name, func(t *testing.T, s AckSetup) {
			s.Sandbox.Inject(rc.fault, 0)
			e := wantRetryable(t, ackErr(s.Acker, ctx(t), h.transfer("tr-ack-0001", handoff.StatusTransferred, ackSequence)), rc.want)
			if e != nil && rc.fault.Kind == sandbox.RateLimited && e.RetryAfter < time.Minute {
				t.Errorf("RetryAfter = %v, want the bot's 2m", e.RetryAfter)
			}
		})
	}
	run("unavailable", func(t *testing.T, s AckSetup) {
		s.Sandbox.Inject(sandbox.Fault{Kind: sandbox.Unavailable}, 0)
		res, err := s.Acker.Ack(ctx(t), h.transfer("tr-ack-0001", handoff.StatusTransferred, ackSequence))
		if !h.UnavailableIsUncertain {
			wantRetryable(t, err, handoff.CodeVendorUnavailable)
			return
		}
		if err != nil {
			rememberError(t, err)
			t.Fatalf("Ack answered 503 = %v, want no error (an error is retried, and the bot already ran)", err)
		}
		if res.Uncertain == "" {
			t.Error("Ack answered 503 is not uncertain: it would be recorded as sent")
		}
		if got := s.Sandbox.AckCalls(); got != 1 {
			t.Errorf("ack calls = %d after a 503, want 1: the bot already ran, a resend acks twice", got)
		}
	})
	run("retryable/hang", func(t *testing.T, s AckSetup) {
		s.Sandbox.Inject(sandbox.Fault{Kind: sandbox.Hang}, 0)
		c, cancel := context.WithTimeout(ctx(t), 800*time.Millisecond)
		defer cancel()
		wantRetryable(t, ackErr(s.Acker, c, h.transfer("tr-ack-0001", handoff.StatusTransferred, ackSequence)), handoff.CodeVendorTimeout)
	})
	run("retryable/reset", func(t *testing.T, s AckSetup) {
		s.Sandbox.Inject(sandbox.Fault{Kind: sandbox.Reset}, 0)
		err := ackErr(s.Acker, ctx(t), h.transfer("tr-ack-0001", handoff.StatusTransferred, ackSequence))
		rememberError(t, err)
		if code := handoff.ErrorCode(err); code != handoff.CodeVendorUnavailable && code != handoff.CodeVendorTimeout {
			t.Errorf("code = %q (%v), want VENDOR_UNAVAILABLE or VENDOR_TIMEOUT", code, err)
		}
		if !handoff.Retryable(err) {
			t.Errorf("a reset is not retryable (%v): the ack would be lost", err)
		}
	})
	run("rate-limited/short-wait-is-retried", func(t *testing.T, s AckSetup) {
		s.Sandbox.Inject(sandbox.Fault{Kind: sandbox.RateLimited, RetryAfter: time.Second}, 1)
		if err := ackErr(s.Acker, ctx(t), h.transfer("tr-ack-0001", handoff.StatusTransferred, ackSequence)); err != nil {
			rememberError(t, err)
			t.Fatalf("Ack after one short rate limit: %v", err)
		}
		if got := s.Sandbox.AckCalls(); got != 2 {
			t.Errorf("ack calls = %d, want 2 (the refused call, then the retry)", got)
		}
	})
	for _, ec := range h.Errors {
		run("error/"+ec.VendorCode, func(t *testing.T, s AckSetup) {
			s.Sandbox.Inject(sandbox.Fault{Kind: sandbox.VendorError, VendorCode: ec.VendorCode}, 0)
			err := ackErr(s.Acker, ctx(t), h.transfer("tr-ack-0001", handoff.StatusTransferred, ackSequence))
			e := wantCode(t, err, ec.Want)
			if want := handoff.Retryable(&handoff.Error{Code: ec.Want}); e != nil && handoff.Retryable(err) != want {
				t.Errorf("Retryable = %v for %s, want %v", !want, ec.VendorCode, want)
			}
			if e != nil && ec.Want == handoff.CodeVendorRejected && !strings.EqualFold(e.VendorCode, ec.VendorCode) {
				t.Errorf("vendor code = %q, want %q", e.VendorCode, ec.VendorCode)
			}
		})
	}
	run("auth/expired-then-recovered", func(t *testing.T, s AckSetup) {
		s.Sandbox.Inject(sandbox.Fault{Kind: sandbox.AuthExpired}, 1)
		if err := ackErr(s.Acker, ctx(t), h.transfer("tr-ack-0001", handoff.StatusTransferred, ackSequence)); err != nil {
			rememberError(t, err)
			t.Fatalf("Ack after one expired credential: %v (the acker must recover once)", err)
		}
	})
	run("auth/rejected", func(t *testing.T, s AckSetup) {
		s.Sandbox.Inject(sandbox.Fault{Kind: sandbox.AuthRejected}, 0)
		err := ackErr(s.Acker, ctx(t), h.transfer("tr-ack-0001", handoff.StatusTransferred, ackSequence))
		wantCode(t, err, handoff.CodeVendorAuthFailed)
		if handoff.Retryable(err) {
			t.Errorf("rejected credentials are retryable (%v): they will not get better", err)
		}
		if got := s.Sandbox.AckCalls(); got > 2 {
			t.Errorf("ack calls = %d with rejected credentials, want at most 2", got)
		}
	})
	run("cancelled-context-sends-nothing", func(t *testing.T, s AckSetup) {
		c, cancel := context.WithCancel(ctx(t))
		cancel()
		err := ackErr(s.Acker, c, h.transfer("tr-ack-0001", handoff.StatusTransferred, ackSequence))
		rememberError(t, err)
		if err == nil {
			t.Fatal("Ack with a cancelled context succeeded")
		}
		if got := s.Sandbox.AckCalls(); got != 0 {
			t.Errorf("ack calls = %d with a cancelled context, want 0", got)
		}
	})
	run("transfer-without-bot-is-refused", func(t *testing.T, s AckSetup) {
		tr := h.transfer("tr-ack-0001", handoff.StatusTransferred, ackSequence)
		tr.Bot = nil
		err := ackErr(s.Acker, ctx(t), tr)
		rememberError(t, err)
		if err == nil || handoff.Retryable(err) {
			t.Errorf("Ack of a transfer with no bot = %v, want a final error", err)
		}
		if got := s.Sandbox.AckCalls(); got != 0 {
			t.Errorf("ack calls = %d for a transfer with no bot, want 0", got)
		}
	})
	t.Run("no-credential-leaks", func(t *testing.T) { leaks.check(t) })
}

// transfer builds a final transfer from the harness's bot, as bot-ack receives it.
func (h AckHarness) transfer(id string, status handoff.Status, sequence int64) handoff.Transfer {
	at := time.Date(2024, 4, 5, 19, 34, 38, 901e6, time.UTC)
	target := handoff.Target{Type: handoff.TargetQueue, ID: "qu-b5d3bb4-a1ac-4caa-9be6-55a5abc30001"}
	bot := h.Bot
	t := handoff.Transfer{
		ID: id, Tenant: h.Tenant, Vendor: "koreai",
		Conversation: handoff.Conversation{ID: "653a06c9aae89c5fbb4e0001"},
		Target:       target,
		Status:       status,
		Attempts:     []handoff.Attempt{{Target: target, Outcome: handoff.OutcomeTransferred, At: at}},
		Ack:          handoff.Ack{Status: handoff.AckPending, SequenceID: sequence},
		Bot:          &bot,
		CreatedAt:    at.Add(-time.Minute),
		UpdatedAt:    at,
	}
	if status == handoff.StatusFailed {
		t.Attempts[0].Outcome = handoff.OutcomeUnavailable
		t.Error = &handoff.Problem{Code: handoff.CodeTargetUnavailable, Message: "no target could take the conversation"}
	}
	return t
}

func hasFinalRejection(cases []ErrorCase) bool {
	for _, ec := range cases {
		if ec.Want == handoff.CodeVendorRejected {
			return true
		}
	}
	return false
}

// wantRetryable checks that err has code want and that handoff.Retryable says to try again.
func wantRetryable(t *testing.T, err error, want handoff.Code) *handoff.Error {
	t.Helper()
	e := wantCode(t, err, want)
	if err != nil && !handoff.Retryable(err) {
		t.Errorf("%v is not retryable: the ack would be recorded as failed", err)
	}
	return e
}
