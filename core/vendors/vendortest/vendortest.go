// Package vendortest is the one conformance suite every transfer adapter must pass against its
// own sandbox: each supported target succeeds, unsupported targets are refused before any call,
// every documented vendor error maps to our code, auth failures recover or fail cleanly, rate
// limits, 5xx, hangs, resets and malformed bodies end with the right code, ambiguous calls are
// never sent twice, and no credential ever reaches an error or a log line.
package vendortest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/sandbox"
)

// Sandbox is what the suite needs of a vendor's sandbox.
type Sandbox interface {
	// Inject plays f on the next `times` transfer calls, or on all when times <= 0.
	Inject(f sandbox.Fault, times int)
	// TransferCalls counts the requests that reached the vendor's transfer endpoint.
	TransferCalls() int
}

// Setup is a fresh sandbox and an adapter configured against it.
type Setup struct {
	Transferer vendors.Transferer
	Sandbox    Sandbox
	// Secrets are credential values that must never appear in an error or a log line.
	Secrets []string
	// Logs receives the adapter's log output (its Deps.Log writes here).
	Logs *bytes.Buffer
}

// ErrorCase is one documented vendor error and the code it must map to.
type ErrorCase struct {
	VendorCode string
	Want       handoff.Code
	// Target to aim at; the harness's first target when nil.
	Target *handoff.Target
}

// Harness describes one vendor for the suite.
type Harness struct {
	// Setup starts a fresh sandbox (closed by t.Cleanup) and returns an adapter for Tenant.
	Setup        func(t *testing.T) Setup
	Tenant       string
	Conversation handoff.Conversation
	// Targets holds one valid target for each supported type (the seeds' ids where they have some).
	Targets     []handoff.Target
	Unsupported []handoff.TargetType
	Errors      []ErrorCase
	// Async is true when the vendor confirms by callback: success is OutcomeAwaiting.
	Async bool
	// AnySuccessBody is true when the vendor's documented success answer is not strict JSON
	// (Kore.ai's sample): a 2xx with a body of another shape is accepted, not
	// VENDOR_BAD_RESPONSE, and the outcome is still awaited by callback.
	AnySuccessBody bool
}

// Run runs the whole suite.
func Run(t *testing.T, h Harness) {
	if len(h.Targets) == 0 {
		t.Fatal("vendortest: the harness names no supported target")
	}
	leaks := &leakCheck{}
	run := func(name string, f func(t *testing.T, s Setup)) {
		t.Run(name, func(t *testing.T) {
			s := h.Setup(t)
			if s.Logs == nil {
				t.Fatal("vendortest: Setup must capture the adapter's logs in Logs")
			}
			leaks.watch(s)
			f(t, s)
		})
	}
	first := h.Targets[0]

	for _, target := range h.Targets {
		run("transfer/"+string(target.Type), func(t *testing.T, s Setup) {
			if !s.Transferer.Supports(target.Type) {
				t.Fatalf("Supports(%s) = false for a harness target", target.Type)
			}
			res, err := s.Transferer.Transfer(ctx(t), h.request(target))
			if err != nil {
				t.Fatalf("Transfer to %s: %v", target.Type, err)
			}
			want := handoff.OutcomeTransferred
			if h.Async {
				want = handoff.OutcomeAwaiting
			}
			if res.Outcome != want {
				t.Errorf("outcome = %q, want %q", res.Outcome, want)
			}
			if got := s.Sandbox.TransferCalls(); got != 1 {
				t.Errorf("transfer calls = %d, want 1", got)
			}
		})
	}
	for _, typ := range h.Unsupported {
		run("unsupported/"+string(typ), func(t *testing.T, s Setup) {
			if s.Transferer.Supports(typ) {
				t.Fatalf("Supports(%s) = true, harness says unsupported", typ)
			}
			target := handoff.Target{Type: typ, ID: "42"}
			if typ == handoff.TargetNext {
				target.ID = ""
			}
			_, err := s.Transferer.Transfer(ctx(t), h.request(target))
			wantCode(t, err, handoff.CodeUnsupportedTarget)
			if got := s.Sandbox.TransferCalls(); got != 0 {
				t.Errorf("transfer calls = %d for an unsupported target, want 0", got)
			}
		})
	}
	for _, ec := range h.Errors {
		run("error/"+ec.VendorCode, func(t *testing.T, s Setup) {
			target := first
			if ec.Target != nil {
				target = *ec.Target
			}
			s.Sandbox.Inject(sandbox.Fault{Kind: sandbox.VendorError, VendorCode: ec.VendorCode}, 0)
			_, err := s.Transferer.Transfer(ctx(t), h.request(target))
			e := wantCode(t, err, ec.Want)
			if e != nil && (ec.Want == handoff.CodeVendorRejected || ec.Want == handoff.CodeTargetUnavailable) &&
				!strings.EqualFold(e.VendorCode, ec.VendorCode) {
				t.Errorf("vendor code = %q, want %q", e.VendorCode, ec.VendorCode)
			}
		})
	}
	run("auth/expired-then-recovered", func(t *testing.T, s Setup) {
		s.Sandbox.Inject(sandbox.Fault{Kind: sandbox.AuthExpired}, 1)
		if _, err := s.Transferer.Transfer(ctx(t), h.request(first)); err != nil {
			t.Fatalf("Transfer after one expired credential: %v (the adapter must recover once)", err)
		}
	})
	run("auth/rejected", func(t *testing.T, s Setup) {
		s.Sandbox.Inject(sandbox.Fault{Kind: sandbox.AuthRejected}, 0)
		_, err := s.Transferer.Transfer(ctx(t), h.request(first))
		wantCode(t, err, handoff.CodeVendorAuthFailed)
		if got := s.Sandbox.TransferCalls(); got > 2 {
			t.Errorf("transfer calls = %d with rejected credentials, want at most 2", got)
		}
	})
	run("rate-limited/short-wait-is-retried", func(t *testing.T, s Setup) {
		s.Sandbox.Inject(sandbox.Fault{Kind: sandbox.RateLimited, RetryAfter: time.Second}, 1)
		if _, err := s.Transferer.Transfer(ctx(t), h.request(first)); err != nil {
			t.Fatalf("Transfer after one short rate limit: %v", err)
		}
		if got := s.Sandbox.TransferCalls(); got != 2 {
			t.Errorf("transfer calls = %d, want 2 (the refused call, then the retry)", got)
		}
	})
	run("rate-limited/long-wait-is-returned", func(t *testing.T, s Setup) {
		s.Sandbox.Inject(sandbox.Fault{Kind: sandbox.RateLimited, RetryAfter: 2 * time.Minute}, 0)
		_, err := s.Transferer.Transfer(ctx(t), h.request(first))
		if e := wantCode(t, err, handoff.CodeRateLimited); e != nil && e.RetryAfter < time.Minute {
			t.Errorf("RetryAfter = %v, want the vendor's 2m", e.RetryAfter)
		}
	})
	run("server-error-is-not-resent", func(t *testing.T, s Setup) {
		s.Sandbox.Inject(sandbox.Fault{Kind: sandbox.ServerError}, 0)
		_, err := s.Transferer.Transfer(ctx(t), h.request(first))
		wantCode(t, err, handoff.CodeVendorUnavailable)
		if got := s.Sandbox.TransferCalls(); got != 1 {
			t.Errorf("transfer calls = %d after a 500, want 1: the vendor may have acted", got)
		}
	})
	run("timeout-is-not-resent", func(t *testing.T, s Setup) {
		s.Sandbox.Inject(sandbox.Fault{Kind: sandbox.Hang}, 0)
		c, cancel := context.WithTimeout(ctx(t), 800*time.Millisecond)
		defer cancel()
		_, err := s.Transferer.Transfer(c, h.request(first))
		wantCode(t, err, handoff.CodeVendorTimeout)
		if got := s.Sandbox.TransferCalls(); got != 1 {
			t.Errorf("transfer calls = %d after a timeout, want 1", got)
		}
	})
	run("reset-is-not-resent", func(t *testing.T, s Setup) {
		s.Sandbox.Inject(sandbox.Fault{Kind: sandbox.Reset}, 0)
		_, err := s.Transferer.Transfer(ctx(t), h.request(first))
		if code := handoff.ErrorCode(err); code != handoff.CodeVendorUnavailable && code != handoff.CodeVendorTimeout {
			t.Errorf("code = %q (%v), want VENDOR_UNAVAILABLE or VENDOR_TIMEOUT", code, err)
		}
		if got := s.Sandbox.TransferCalls(); got != 1 {
			t.Errorf("transfer calls = %d after a reset, want 1", got)
		}
	})
	run("malformed-body", func(t *testing.T, s Setup) {
		s.Sandbox.Inject(sandbox.Fault{Kind: sandbox.Malformed}, 0)
		res, err := s.Transferer.Transfer(ctx(t), h.request(first))
		if !h.AnySuccessBody {
			wantCode(t, err, handoff.CodeVendorProtocol)
			return
		}
		if err != nil || res.Outcome != handoff.OutcomeAwaiting {
			rememberError(t, err)
			t.Errorf("Transfer answered 2xx with an odd body = %+v, %v; want accepted, awaiting the callback", res, err)
		}
	})
	run("cancelled-context-sends-nothing", func(t *testing.T, s Setup) {
		c, cancel := context.WithCancel(ctx(t))
		cancel()
		if _, err := s.Transferer.Transfer(c, h.request(first)); err == nil {
			t.Fatal("Transfer with a cancelled context succeeded")
		}
		if got := s.Sandbox.TransferCalls(); got != 0 {
			t.Errorf("transfer calls = %d with a cancelled context, want 0", got)
		}
	})
	t.Run("no-credential-leaks", func(t *testing.T) { leaks.check(t) })
}

func (h Harness) request(target handoff.Target) vendors.TransferRequest {
	return vendors.TransferRequest{
		Tenant:       h.Tenant,
		TransferID:   "tr-conformance-0001",
		Conversation: h.Conversation,
		Target:       target,
		Note:         "Customer asks about a refund.",
		CallbackURL:  "http://127.0.0.1:3000/callbacks/conformance?tenant=" + h.Tenant + "&transfer=tr-conformance-0001",
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func wantCode(t *testing.T, err error, want handoff.Code) *handoff.Error {
	t.Helper()
	if err == nil {
		t.Errorf("no error, want %s", want)
		return nil
	}
	var e *handoff.Error
	if !errors.As(err, &e) {
		t.Errorf("error %v is not a *handoff.Error, want code %s", err, want)
		return nil
	}
	if e.Code != want {
		t.Errorf("code = %s (%v), want %s", e.Code, err, want)
	}
	rememberError(t, err)
	return e
}

// leakCheck gathers every error and log line of the suite and checks them for credentials.
type leakCheck struct {
	mu      sync.Mutex
	setups  []Setup
	secrets []string
}

var errorsSeen sync.Map // *testing.T → []string

func rememberError(t *testing.T, err error) {
	v, _ := errorsSeen.LoadOrStore(t.Name(), &[]string{})
	list := v.(*[]string)
	*list = append(*list, fmt.Sprintf("%v | %+v", err, err))
}

func (l *leakCheck) watch(s Setup) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.setups = append(l.setups, s)
	for _, secret := range s.Secrets {
		if len(secret) >= 6 { // shorter values (ids like "1") would match by chance
			l.secrets = append(l.secrets, secret)
		}
	}
}

func (l *leakCheck) check(t *testing.T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.secrets) == 0 {
		t.Fatal("vendortest: Setup named no Secrets to check for leaks")
	}
	var texts []string
	for _, s := range l.setups {
		texts = append(texts, s.Logs.String())
	}
	errorsSeen.Range(func(_, v any) bool {
		texts = append(texts, *v.(*[]string)...)
		return true
	})
	for _, text := range texts {
		for _, secret := range l.secrets {
			if strings.Contains(text, secret) {
				t.Errorf("a credential leaked into an error or log line: %.200q", text)
			}
		}
	}
}
