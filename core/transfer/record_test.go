package transfer_test

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"handoff/core/handoff"
	"handoff/core/notify"
	"handoff/core/store/memstore"
	"handoff/core/testkit"
	"handoff/core/transfer"
	"handoff/core/vendors"
)

// dying fails the completion write once, like an invocation killed after the vendor call and
// before any completion write landed.
type dying struct {
	*memstore.Store
	mu    sync.Mutex
	kills int
}

func (d *dying) Complete(ctx context.Context, c handoff.Claim, t handoff.Transfer, events []handoff.Event) (handoff.Transfer, error) {
	d.mu.Lock()
	kill := d.kills > 0
	d.kills--
	d.mu.Unlock()
	if kill {
		return handoff.Transfer{}, handoff.E(handoff.CodeUnavailable, "test", "the function died", context.Canceled)
	}
	return d.Store.Complete(ctx, c, t, events)
}

// watching is a transferer that looks at the store while the vendor is being called.
type watching struct {
	*scripted
	st   *memstore.Store
	seen []handoff.Transfer
}

func (w *watching) Transfer(ctx context.Context, req vendors.TransferRequest) (vendors.TransferResult, error) {
	if t, err := w.st.Get(ctx, req.TransferID); err == nil {
		w.seen = append(w.seen, t)
	}
	return w.scripted.Transfer(ctx, req)
}

type ackCounter struct {
	mu    sync.Mutex
	calls int
}

func (a *ackCounter) Ack(context.Context, handoff.Transfer) (vendors.AckResult, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls++
	return vendors.AckResult{}, nil
}

type botRegistry struct {
	registry
	acker *ackCounter
}

func (r botRegistry) Acker(name string) (vendors.Acker, bool) { return r.acker, name == "webhook" }

type nobus struct{}

func (nobus) Publish(context.Context, string, any) error { return nil }

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)) }

func TestAFunctionKilledAfterTheVendorCallIsResolvedBySweepAndAckedOnce(t *testing.T) {
	clock := testkit.NewClock(time.Now())
	mem := memstore.New(clock.Now)
	st := &dying{Store: mem, kills: 1}
	vendor := &watching{scripted: &scripted{}, st: mem}
	acks := &ackCounter{}
	reg := botRegistry{registry: registry{tr: vendor}, acker: acks}
	svc := transfer.New(st, reg, quiet(), transfer.WithClock(clock.Now))
	req := request()
	req.Bot = &handoff.Bot{Vendor: "webhook"}

	if _, err := svc.Start(ctx(t), transfer.Input{Request: req, Key: "k"}); err == nil {
		t.Fatal("Start succeeded although its completion write failed")
	}
	// The transfer was recorded before the vendor heard of it: pending, with a deadline.
	if len(vendor.seen) != 1 || vendor.seen[0].Status != handoff.StatusPending || vendor.seen[0].AwaitUntil == nil {
		t.Fatalf("record during the vendor call = %+v, want one pending transfer with a deadline", vendor.seen)
	}
	id := vendor.seen[0].ID

	// Before the dead invocation's deadline nothing is swept; after it, the sweep resolves it.
	if n, err := svc.Sweep(ctx(t)); n != 0 || err != nil {
		t.Fatalf("early sweep = %d, %v", n, err)
	}
	clock.Advance(time.Minute)
	if n, err := svc.Sweep(ctx(t)); n != 1 || err != nil {
		t.Fatalf("sweep = %d, %v, want 1", n, err)
	}
	got, _ := mem.Get(ctx(t), id)
	if got.Status != handoff.StatusTransferred || got.Ack.Status != handoff.AckPending || got.AwaitUntil != nil {
		t.Fatalf("resolved = %+v, want transferred with the ack pending", got)
	}
	if r := vendor.reconcile; len(r) != 2 || r[0] || !r[1] {
		t.Errorf("reconcile flags = %v, want [false true]: the sweep asks the vendor to reconcile", r)
	}
	// The stream hands the final transfer to bot-ack, at least once.
	n := notify.New(mem, reg, nobus{}, quiet())
	for range 2 {
		if err := n.Notify(ctx(t), id); err != nil {
			t.Fatal(err)
		}
	}
	if acks.calls != 1 {
		t.Errorf("acks = %d, want 1", acks.calls)
	}
	// The client's retry gets the resolved transfer, with no vendor call.
	res, err := svc.Start(ctx(t), transfer.Input{Request: req, Key: "k"})
	if err != nil || res.Transfer.ID != id || res.Transfer.Status != handoff.StatusTransferred || vendor.calls.Load() != 2 {
		t.Errorf("retry = %+v, %v (vendor calls %d)", res, err, vendor.calls.Load())
	}
}

func TestSweepFailsATransferTheVendorCannotConfirm(t *testing.T) {
	clock := testkit.NewClock(time.Now())
	mem := memstore.New(clock.Now)
	vendor := &scripted{}
	svc := transfer.New(&dying{Store: mem, kills: 1}, registry{tr: vendor}, quiet(), transfer.WithClock(clock.Now))
	req := request()
	req.Bot = &handoff.Bot{Vendor: "webhook"}
	_, _ = svc.Start(ctx(t), transfer.Input{Request: req, Key: "k"})
	vendor.mu.Lock()
	vendor.answers = map[string]error{"a-1": handoff.E(handoff.CodeVendorUnavailable, "test", "down", nil)}
	vendor.mu.Unlock()
	clock.Advance(time.Minute)
	if n, err := svc.Sweep(ctx(t)); n != 1 || err != nil {
		t.Fatalf("sweep = %d, %v", n, err)
	}
	overdue, _ := mem.Overdue(ctx(t), clock.Now().Add(time.Hour), 10)
	acks, _ := mem.PendingAcks(ctx(t), clock.Now().Add(time.Hour), 10)
	if len(overdue) != 0 || len(acks) != 1 {
		t.Fatalf("overdue = %d, pending acks = %d, want 0 and 1", len(overdue), len(acks))
	}
	got := acks[0]
	if got.Status != handoff.StatusFailed || got.Error == nil || got.Error.VendorCode != transfer.UnconfirmedCode ||
		got.Error.Code != handoff.CodeVendorUnavailable {
		t.Errorf("failed = %+v, want FAILED with %s", got.Error, transfer.UnconfirmedCode)
	}
}

func TestARetryReconcilesTheTargetInDoubtNotTheFirst(t *testing.T) {
	vendor := &scripted{answers: map[string]error{
		"a-1": &handoff.Error{Code: handoff.CodeTargetUnavailable, VendorCode: "BUSY"},
		"q-1": &handoff.Error{Code: handoff.CodeVendorTimeout},
	}}
	svc, st := setup(vendor)
	if _, err := svc.Start(ctx(t), transfer.Input{Request: request(), Key: "r"}); handoff.ErrorCode(err) != handoff.CodeVendorTimeout {
		t.Fatalf("err = %v, want VENDOR_TIMEOUT", err)
	}
	vendor.mu.Lock()
	delete(vendor.answers, "q-1")
	vendor.reconcile = nil
	vendor.mu.Unlock()
	res, err := svc.Start(ctx(t), transfer.Input{Request: request(), Key: "r"})
	if err != nil || res.Transfer.Status != handoff.StatusTransferred {
		t.Fatalf("retry = %+v, %v", res, err)
	}
	a := res.Transfer.Attempts
	if len(a) != 2 || a[0].Target.ID != "a-1" || a[0].Outcome != handoff.OutcomeUnavailable || a[1].Target.ID != "q-1" {
		t.Errorf("attempts = %+v, want a-1 refused then q-1", a)
	}
	if r := vendor.reconcile; len(r) != 1 || !r[0] {
		t.Errorf("retry's calls reconcile = %v, want one call, for q-1, reconciling", r)
	}
	events, _ := st.Timeline(ctx(t), res.Transfer.ID)
	var kinds []string
	for _, e := range events {
		kinds = append(kinds, e.Kind+":"+e.Detail)
	}
	if len(events) != 4 || events[0].Kind != "created" || events[1].Kind != "attempt" || events[2].Kind != "attempt" || events[3].Kind != "status" {
		t.Errorf("timeline = %v, want created, both attempts, status", kinds)
	}
}

// staleIndex answers Overdue with the snapshots it was given, as an index lagging the table.
type staleIndex struct {
	*memstore.Store
	stale []handoff.Transfer
}

func (s *staleIndex) Overdue(context.Context, time.Time, int) ([]handoff.Transfer, error) {
	return s.stale, nil
}

func TestASweepOnAStaleReadDoesNotGiveUpOnANewDeadline(t *testing.T) {
	clock := testkit.NewClock(time.Now())
	mem := memstore.New(clock.Now)
	st := &staleIndex{Store: mem}
	p := &parser{}
	vendor := &scripted{async: true}
	svc := transfer.New(st, registry{tr: vendor, parser: p}, quiet(), transfer.WithClock(clock.Now),
		transfer.WithCallbackTimeout(10*time.Minute))
	res, err := svc.Start(ctx(t), transfer.Input{Request: request(), Key: "s"})
	if err != nil {
		t.Fatal(err)
	}
	st.stale = []handoff.Transfer{res.Transfer} // a-1 awaited
	// Just past a-1's deadline, the agent refuses by callback: q-1 is asked, with a new deadline.
	clock.Advance(10*time.Minute + time.Second)
	p.cb = vendors.Callback{TransferID: res.Transfer.ID, Outcome: handoff.OutcomeRejected}
	if _, err := svc.Callback(ctx(t), "acme", callback("t1", "ok")); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Sweep(ctx(t)); err != nil {
		t.Fatal(err)
	}
	got, _ := mem.Get(ctx(t), res.Transfer.ID)
	last := got.Attempts[len(got.Attempts)-1]
	if got.Status != handoff.StatusPending || last.Target.ID != "q-1" || last.Outcome != handoff.OutcomeAwaiting {
		t.Errorf("after a stale sweep: %s, last attempt %+v; want q-1 still awaited", got.Status, last)
	}
}

// informing sends an informative callback while the vendor is being asked for the fallback.
type informing struct {
	*scripted
	inform func()
}

func (i *informing) Transfer(ctx context.Context, req vendors.TransferRequest) (vendors.TransferResult, error) {
	if req.Target.ID == "q-1" && i.inform != nil {
		i.inform()
	}
	return i.scripted.Transfer(ctx, req)
}

func TestAnInformativeCallbackDoesNotUndoAFallback(t *testing.T) {
	mem := memstore.New(nil)
	p := &parser{}
	vendor := &informing{scripted: &scripted{async: true}}
	svc := transfer.New(mem, registry{tr: vendor, parser: p}, quiet())
	res, err := svc.Start(ctx(t), transfer.Input{Request: request(), Key: "i"})
	if err != nil {
		t.Fatal(err)
	}
	id := res.Transfer.ID
	vendor.inform = func() {
		vendor.inform = nil
		p.cb = vendors.Callback{TransferID: id, Detail: "the customer typed"}
		if _, err := svc.Callback(ctx(t), "acme", callback("t1", "ok")); err != nil {
			t.Errorf("informative callback: %v", err)
		}
	}
	p.cb = vendors.Callback{TransferID: id, Outcome: handoff.OutcomeRejected, VendorCode: "NO"}
	if _, err := svc.Callback(ctx(t), "acme", callback("t1", "ok")); err != nil {
		t.Fatalf("refusal: %v", err)
	}
	got, _ := mem.Get(ctx(t), id)
	last := got.Attempts[len(got.Attempts)-1]
	if last.Target.ID != "q-1" || last.Outcome != handoff.OutcomeAwaiting {
		t.Errorf("last attempt = %+v, want q-1 awaited: the fallback's write must not lose to a note", last)
	}
	events, _ := mem.Timeline(ctx(t), id)
	found := false
	for _, e := range events {
		found = found || e.Detail == "callback: the customer typed"
	}
	if !found {
		t.Errorf("the informative callback is not in the timeline: %+v", events)
	}
}

func TestADerivedKeyCoversAShortWindowAndAnExplicitKeyTheFullOne(t *testing.T) {
	clock := testkit.NewClock(time.Now())
	mem := memstore.New(clock.Now)
	vendor := &scripted{answers: map[string]error{
		"a-1": &handoff.Error{Code: handoff.CodeVendorRejected}, "q-1": &handoff.Error{Code: handoff.CodeVendorRejected},
	}}
	svc := transfer.New(mem, registry{tr: vendor}, quiet(), transfer.WithClock(clock.Now))
	derived, _ := svc.Start(ctx(t), transfer.Input{Request: request()})
	keyed, _ := svc.Start(ctx(t), transfer.Input{Request: request(), Key: "explicit"})
	// bot-ack publishes the outcome (a key is taken again only once its transfer is finished).
	if err := notify.New(mem, registry{tr: vendor}, nobus{}, quiet()).Notify(ctx(t), derived.Transfer.ID); err != nil {
		t.Fatal(err)
	}
	// A blind resend within the window is the same transfer.
	if again, _ := svc.Start(ctx(t), transfer.Input{Request: request()}); !again.Replayed || again.Transfer.ID != derived.Transfer.ID {
		t.Fatalf("resend = %+v, want the same transfer replayed", again)
	}
	clock.Advance(transfer.DerivedKeyWindow + time.Second)
	again, err := svc.Start(ctx(t), transfer.Input{Request: request()}) // the same container
	if err != nil || again.Replayed || again.Transfer.ID == derived.Transfer.ID {
		t.Errorf("re-escalation after the window = %+v, %v; want a new transfer", again, err)
	}
	second := again.Transfer.ID
	if err := notify.New(mem, registry{tr: vendor}, nobus{}, quiet()).Notify(ctx(t), second); err != nil {
		t.Fatal(err)
	}
	fresh := transfer.New(mem, registry{tr: vendor}, quiet(), transfer.WithClock(clock.Now)) // another container
	clock.Advance(transfer.DerivedKeyWindow + time.Second)
	again, err = fresh.Start(ctx(t), transfer.Input{Request: request()})
	if err != nil || again.Replayed || again.Transfer.ID == second {
		t.Errorf("re-escalation after the window = %+v, %v; want a new transfer", again, err)
	}
	if old, err := mem.Get(ctx(t), derived.Transfer.ID); err != nil || old.Status != handoff.StatusFailed {
		t.Errorf("the earlier transfer = %+v, %v; want it still readable", old, err)
	}
	if same, err := fresh.Start(ctx(t), transfer.Input{Request: request(), Key: "explicit"}); err != nil || !same.Replayed || same.Transfer.ID != keyed.Transfer.ID {
		t.Errorf("explicit key after 5m = %+v, %v; want the stored transfer", same, err)
	}
}

func TestSweepStartsNothingNearItsOwnDeadline(t *testing.T) {
	clock := testkit.NewClock(time.Now())
	mem := memstore.New(clock.Now)
	svc := transfer.New(&dying{Store: mem, kills: 1}, registry{tr: &scripted{}}, quiet(), transfer.WithClock(clock.Now))
	_, _ = svc.Start(ctx(t), transfer.Input{Request: request(), Key: "k"})
	clock.Advance(time.Minute)
	short, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if n, err := svc.Sweep(short); n != 0 || err != nil {
		t.Errorf("sweep with 2s left = %d, %v, want nothing started", n, err)
	}
	if n, err := svc.Sweep(ctx(t)); n != 1 || err != nil {
		t.Errorf("sweep with time = %d, %v, want 1", n, err)
	}
}
