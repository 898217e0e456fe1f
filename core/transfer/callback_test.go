package transfer_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"handoff/core/handoff"
	"handoff/core/store/memstore"
	"handoff/core/transfer"
	"handoff/core/vendors"
)

// parser reports what the test says; a request without "proof" is UNAUTHORIZED.
type parser struct{ cb vendors.Callback }

func (p *parser) ParseCallback(_ context.Context, req vendors.CallbackRequest) (vendors.Callback, error) {
	if req.Query.Get("proof") != "ok" {
		return vendors.Callback{}, handoff.E(handoff.CodeUnauthorized, "test", "forged", nil)
	}
	return p.cb, nil
}

func awaiting(t *testing.T) (*transfer.Service, *memstore.Store, *parser, handoff.Transfer) {
	svc, st, p, tr, _ := awaitingWith(t)
	return svc, st, p, tr
}

// awaitingWith is awaiting with the scripted vendor, to count its calls.
func awaitingWith(t *testing.T) (*transfer.Service, *memstore.Store, *parser, handoff.Transfer, *scripted) {
	t.Helper()
	p := &parser{}
	st := memstore.New(nil)
	vendor := &scripted{async: true}
	svc := transfer.New(st, registry{tr: vendor, parser: p}, slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)))
	req := request()
	req.Bot = &handoff.Bot{Vendor: "webhook"}
	res, err := svc.Start(ctx(t), transfer.Input{Request: req})
	if err != nil || res.Transfer.Status != handoff.StatusPending {
		t.Fatalf("start = %+v, %v", res, err)
	}
	return svc, st, p, res.Transfer, vendor
}

func callback(tenant string, proof string) vendors.CallbackRequest {
	return vendors.CallbackRequest{Tenant: tenant, Query: map[string][]string{"proof": {proof}}}
}

func TestCallbackAppliesTheOutcomeOnceAndRecordsReplaysAsNoOps(t *testing.T) {
	svc, st, p, tr := awaiting(t)
	p.cb = vendors.Callback{VendorRef: tr.VendorRef, Outcome: handoff.OutcomeTransferred}
	got, err := svc.Callback(ctx(t), "acme", callback("t1", "ok"))
	if err != nil || got.Status != handoff.StatusTransferred || got.Ack.SequenceID == 0 {
		t.Fatalf("callback = %+v, %v", got, err)
	}
	writes := st.Writes
	if again, err := svc.Callback(ctx(t), "acme", callback("t1", "ok")); err != nil || again.Status != handoff.StatusTransferred {
		t.Fatalf("replay = %+v, %v", again, err)
	}
	if st.Writes != writes {
		t.Errorf("a replay wrote %d times, want none", st.Writes-writes)
	}
	p.cb.Outcome = handoff.OutcomeRejected
	if _, err := svc.Callback(ctx(t), "acme", callback("t1", "ok")); handoff.ErrorCode(err) != handoff.CodeConflict {
		t.Fatalf("backwards callback: err = %v, want CONFLICT", err)
	}
	stored, _ := st.Get(ctx(t), tr.ID)
	if stored.Status != handoff.StatusTransferred || stored.Version != got.Version {
		t.Errorf("stored = %+v after a refused callback, want it unchanged", stored)
	}
}

func TestCallbackRefusesForgedAndForeignCallbacksWithoutChanges(t *testing.T) {
	svc, st, p, tr := awaiting(t)
	p.cb = vendors.Callback{TransferID: tr.ID, Outcome: handoff.OutcomeTransferred}
	cases := []struct {
		name   string
		vendor string
		req    vendors.CallbackRequest
		want   handoff.Code
	}{
		{"forged", "acme", callback("t1", "forged"), handoff.CodeUnauthorized},
		{"other tenant", "acme", callback("t2", "ok"), handoff.CodeNotFound},
		{"unknown vendor", "nobody", callback("t1", "ok"), handoff.CodeNotFound},
	}
	for _, c := range cases {
		if _, err := svc.Callback(ctx(t), c.vendor, c.req); handoff.ErrorCode(err) != c.want {
			t.Errorf("%s: err = %v, want %s", c.name, err, c.want)
		}
	}
	p.cb = vendors.Callback{TransferID: "missing", Outcome: handoff.OutcomeTransferred}
	if _, err := svc.Callback(ctx(t), "acme", callback("t1", "ok")); handoff.ErrorCode(err) != handoff.CodeNotFound {
		t.Errorf("unknown transfer: err = %v, want NOT_FOUND", err)
	}
	stored, _ := st.Get(ctx(t), tr.ID)
	if stored.Status != handoff.StatusPending || stored.Version != tr.Version {
		t.Errorf("stored = %+v, want unchanged", stored)
	}
}

func TestCallbackWithoutOutcomeIsRecordedOnly(t *testing.T) {
	svc, st, p, tr := awaiting(t)
	p.cb = vendors.Callback{VendorRef: tr.VendorRef, Detail: "unknown shape: keys foo, bar"}
	got, err := svc.Callback(ctx(t), "acme", callback("t1", "ok"))
	if err != nil || got.Status != handoff.StatusPending {
		t.Fatalf("callback = %+v, %v", got, err)
	}
	events, _ := st.Timeline(ctx(t), tr.ID)
	last := events[len(events)-1]
	if last.Kind != "callback" || last.Detail != "callback: unknown shape: keys foo, bar" {
		t.Errorf("last event = %+v, want the callback recorded", last)
	}
}

func TestARefusalByCallbackMovesOnToTheNextFallbackOnce(t *testing.T) {
	svc, _, p, tr, vendor := awaitingWith(t)
	p.cb = vendors.Callback{TransferID: tr.ID, Outcome: handoff.OutcomeRejected, VendorCode: "rejected",
		Target: &handoff.Target{Type: handoff.TargetAgent, ID: "a-1"}}
	got, err := svc.Callback(ctx(t), "acme", callback("t1", "ok"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != handoff.StatusPending || len(got.Attempts) != 3 || got.Attempts[2].Target.ID != "q-1" ||
		got.Attempts[2].Outcome != handoff.OutcomeAwaiting || got.AwaitUntil == nil {
		t.Fatalf("after the refusal: %+v, want the queue fallback awaited", got)
	}
	// The same refusal again (a replay) and a late word about the agent change nothing.
	for _, cb := range []vendors.Callback{p.cb, {TransferID: tr.ID, Outcome: handoff.OutcomeUnavailable,
		Target: &handoff.Target{Type: handoff.TargetAgent, ID: "a-1"}}} {
		p.cb = cb
		again, err := svc.Callback(ctx(t), "acme", callback("t1", "ok"))
		if err != nil || again.Status != handoff.StatusPending || len(again.Attempts) != 3 {
			t.Fatalf("replay %+v: %+v, %v", cb, again, err)
		}
	}
	if n := vendor.calls.Load(); n != 2 {
		t.Errorf("vendor calls = %d, want 2: the agent, then the queue once", n)
	}
	p.cb = vendors.Callback{TransferID: tr.ID, Outcome: handoff.OutcomeTransferred, Target: &handoff.Target{Type: handoff.TargetQueue, ID: "q-1"}}
	done, err := svc.Callback(ctx(t), "acme", callback("t1", "ok"))
	if err != nil || done.Status != handoff.StatusTransferred {
		t.Fatalf("queue accepted: %+v, %v", done, err)
	}
}

func TestConcurrentDuplicateRefusalsTryTheFallbackOnce(t *testing.T) {
	svc, _, p, tr, vendor := awaitingWith(t)
	p.cb = vendors.Callback{TransferID: tr.ID, Outcome: handoff.OutcomeRejected, VendorCode: "rejected"}
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { _, _ = svc.Callback(ctx(t), "acme", callback("t1", "ok")) })
	}
	wg.Wait()
	if n := vendor.calls.Load(); n != 2 {
		t.Errorf("vendor calls = %d, want 2: the agent, then the queue once", n)
	}
}

// lateStore hides transfers from the first `hidden` reads: the completion write has not landed
// yet when the vendor's callback arrives.
type lateStore struct {
	*memstore.Store
	mu     sync.Mutex
	hidden int
}

func (s *lateStore) Get(ctx context.Context, id string) (handoff.Transfer, error) {
	s.mu.Lock()
	hide := s.hidden > 0
	s.hidden--
	s.mu.Unlock()
	if hide {
		return handoff.Transfer{}, handoff.E(handoff.CodeNotFound, "test", "not yet", nil)
	}
	return s.Store.Get(ctx, id)
}

func TestACallbackAheadOfTheRecordWaitsForIt(t *testing.T) {
	p := &parser{}
	late := &lateStore{Store: memstore.New(nil)}
	svc := transfer.New(late, registry{tr: &scripted{async: true}, parser: p}, slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)))
	res, err := svc.Start(ctx(t), transfer.Input{Request: request()})
	if err != nil {
		t.Fatal(err)
	}
	late.hidden = 2
	p.cb = vendors.Callback{TransferID: res.Transfer.ID, Outcome: handoff.OutcomeTransferred}
	got, err := svc.Callback(ctx(t), "acme", callback("t1", "ok"))
	if err != nil || got.Status != handoff.StatusTransferred {
		t.Fatalf("early callback = %+v, %v; want it applied once the record appears", got, err)
	}

	// A transfer that never appears is still NOT_FOUND, after the bounded wait.
	quick := transfer.New(late, registry{tr: &scripted{async: true}, parser: p}, slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)),
		transfer.WithEarlyCallbackWait(100*time.Millisecond))
	p.cb = vendors.Callback{TransferID: "never-recorded", Outcome: handoff.OutcomeTransferred}
	if _, err := quick.Callback(ctx(t), "acme", callback("t1", "ok")); handoff.ErrorCode(err) != handoff.CodeNotFound {
		t.Fatalf("unknown transfer: err = %v, want NOT_FOUND", err)
	}
}

// A status the vendor's adapter does not know is recorded and changes nothing: no state change,
// no fallback asked on a guess, the same deadline. Core holds this itself, whatever else the
// adapter filled in, so that no adapter can turn an unknown word into a refusal.
func TestAnUnrecognisedStatusIsRecordedAndTheTransferKeepsWaiting(t *testing.T) {
	for name, cb := range map[string]vendors.Callback{
		"no outcome": {Unrecognised: true},
		"an outcome beside it": {Unrecognised: true, Outcome: handoff.OutcomeRejected, VendorCode: "declined",
			Target: &handoff.Target{Type: handoff.TargetAgent, ID: "a-1"}},
	} {
		t.Run(name, func(t *testing.T) {
			svc, st, p, tr, vendor := awaitingWith(t)
			before, _ := st.Get(ctx(t), tr.ID)
			p.cb = cb
			p.cb.TransferID, p.cb.Detail = tr.ID, "Kore.ai callback with a status Handoff does not know: on_hold"
			got, err := svc.Callback(ctx(t), "acme", callback("t1", "ok"))
			if err != nil || got.Status != handoff.StatusPending {
				t.Fatalf("callback = %+v, %v; want the pending transfer", got, err)
			}
			after, _ := st.Get(ctx(t), tr.ID)
			if after.Status != handoff.StatusPending || after.Version != before.Version ||
				len(after.Attempts) != len(before.Attempts) || after.AwaitUntil == nil || !after.AwaitUntil.Equal(*before.AwaitUntil) {
				t.Errorf("stored after = %+v\nbefore = %+v; want it unchanged", after, before)
			}
			if n := vendor.calls.Load(); n != 1 {
				t.Errorf("vendor calls = %d, want 1: no fallback on an unknown word", n)
			}
			events, _ := st.Timeline(ctx(t), tr.ID)
			if last := events[len(events)-1]; last.Kind != "callback" || !strings.Contains(last.Detail, "on_hold") {
				t.Errorf("last event = %+v, want the unknown status recorded", last)
			}
		})
	}
}

// The callback URL a vendor is handed has no query: the adapter puts its proof in the path,
// where a platform that drops or re-encodes query strings cannot lose it.
func TestTheCallbackURLCarriesNoQuery(t *testing.T) {
	vendor := &scripted{async: true}
	svc := transfer.New(memstore.New(nil), registry{tr: vendor}, slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)))
	if _, err := svc.Start(ctx(t), transfer.Input{Request: request(), CallbackBase: "https://api.example.com/"}); err != nil {
		t.Fatal(err)
	}
	if len(vendor.urls) != 1 || vendor.urls[0] != "https://api.example.com/callbacks/acme" {
		t.Errorf("callback URLs = %q, want [https://api.example.com/callbacks/acme]", vendor.urls)
	}
}

// pathCallback is a callback that came by the path-token route: no tenant in the request, the
// tenant named by the proof the parser read.
func pathCallback() vendors.CallbackRequest {
	return vendors.CallbackRequest{PathToken: "token", Query: map[string][]string{"proof": {"ok"}}}
}

func TestACallbackWithItsProofInThePathIsCheckedAgainstTheTenantTheProofNames(t *testing.T) {
	svc, st, p, tr := awaiting(t)
	cases := []struct {
		name   string
		req    vendors.CallbackRequest
		tenant string // the tenant the proof names
		want   handoff.Code
	}{
		{"the proof names another tenant", pathCallback(), "t2", handoff.CodeNotFound},
		{"the request and the proof disagree", func() vendors.CallbackRequest { r := pathCallback(); r.Tenant = "t1"; return r }(), "t2", handoff.CodeNotFound},
		{"no tenant anywhere", pathCallback(), "", handoff.CodeUnauthorized},
	}
	for _, c := range cases {
		p.cb = vendors.Callback{TransferID: tr.ID, Tenant: c.tenant, Outcome: handoff.OutcomeTransferred}
		if _, err := svc.Callback(ctx(t), "acme", c.req); handoff.ErrorCode(err) != c.want {
			t.Errorf("%s: err = %v, want %s", c.name, err, c.want)
		}
	}
	if stored, _ := st.Get(ctx(t), tr.ID); stored.Version != tr.Version {
		t.Fatalf("refused callbacks changed the transfer: %+v", stored)
	}
	p.cb = vendors.Callback{TransferID: tr.ID, Tenant: "t1", Outcome: handoff.OutcomeTransferred}
	got, err := svc.Callback(ctx(t), "acme", pathCallback())
	if err != nil || got.Status != handoff.StatusTransferred {
		t.Fatalf("genuine path callback = %+v, %v; want it applied", got, err)
	}
}
