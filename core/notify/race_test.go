package notify_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"handoff/core/handoff"
	"handoff/core/notify"
	"handoff/core/store/memstore"
	"handoff/core/testkit"
	"handoff/core/vendors"
)

// conflicting refuses the first `conflicts` updates as if a concurrent delivery had moved the
// transfer, without changing it: the worst case for a notifier that re-reads and tries again.
type conflicting struct {
	*memstore.Store
	conflicts int
}

func (c *conflicting) Update(ctx context.Context, before, after handoff.Transfer, events ...handoff.Event) (handoff.Transfer, error) {
	if c.conflicts > 0 {
		c.conflicts--
		return handoff.Transfer{}, handoff.E(handoff.CodeConflict, "test", "changed", nil)
	}
	return c.Store.Update(ctx, before, after, events...)
}

func TestNotifyAfterConflictsNeverAcksTwiceNorClaimsSuccessUnrecorded(t *testing.T) {
	mem, a, b := memstore.New(nil), &acker{}, &bus{}
	tr := final(t, mem, handoff.StatusTransferred, true)
	st := &conflicting{Store: mem, conflicts: 5}
	n := notify.New(st, ackers{a}, b, discard())
	err := n.Notify(context.Background(), tr.ID)
	got, _ := mem.Get(context.Background(), tr.ID)
	if len(a.calls) != 1 || len(b.events) != 1 {
		t.Errorf("acks = %d, events = %d in one Notify, want 1 and 1", len(a.calls), len(b.events))
	}
	if err == nil && got.Ack.Status == handoff.AckPending {
		t.Errorf("Notify returned success with the ack still pending in the store")
	}
	// Once the conflicts are over, the next delivery records without sending again.
	if err != nil {
		if err := n.Notify(context.Background(), tr.ID); err != nil {
			t.Fatal(err)
		}
	}
	got, _ = mem.Get(context.Background(), tr.ID)
	if got.Ack.Status != handoff.AckSent || got.NotifiedAt == nil {
		t.Errorf("after a clean delivery: ack = %+v, notified = %v", got.Ack, got.NotifiedAt)
	}
}

// slow is an acker that waits for its context to end, like a tenant's webhook that never answers.
type slow struct{ calls int }

func (s *slow) Ack(ctx context.Context, _ handoff.Transfer) (vendors.AckResult, error) {
	s.calls++
	<-ctx.Done()
	return vendors.AckResult{}, handoff.E(handoff.CodeVendorTimeout, "test", "no answer", ctx.Err())
}

type slowAckers struct{ a *slow }

func (r slowAckers) Acker(string) (vendors.Acker, bool) { return r.a, true }

func ackersOf(a *slow) slowAckers { return slowAckers{a} }

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestASlowAckIsBoundedAndRecordedWithAFreshContext(t *testing.T) {
	mem, b := memstore.New(nil), &bus{}
	tr := final(t, mem, handoff.StatusFailed, true)
	a := &slow{}
	n := notify.New(mem, ackersOf(a), b, discard()).WithAckTimeout(50 * time.Millisecond)
	// The invocation has a deadline; the ack may use only part of what is left, and the attempt
	// is recorded even though the ack used its whole share.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Notify(ctx, tr.ID); !handoff.Retryable(err) {
		t.Fatalf("err = %v, want a retryable error", err)
	}
	got, _ := mem.Get(context.Background(), tr.ID)
	if a.calls != 1 || got.Ack.Attempts != 1 || got.Ack.Status != handoff.AckPending {
		t.Errorf("calls = %d, ack = %+v: want one attempt, recorded, still pending", a.calls, got.Ack)
	}
}

func TestRescanResendsAnAckTheStreamLeftPending(t *testing.T) {
	clock := testkit.NewClock(time.Now())
	mem, b := memstore.New(clock.Now), &bus{}
	tr := final(t, mem, handoff.StatusTransferred, true)
	a := &acker{}
	n := notify.New(mem, ackers{a}, b, discard()).WithClock(clock.Now)
	// The stream never delivered (or gave up): nothing is due at once, then the scan sends it.
	if done, err := n.Rescan(context.Background()); done != 0 || err != nil || len(a.calls) != 0 {
		t.Fatalf("rescan right away = %d, %v, acks %d; want nothing yet", done, err, len(a.calls))
	}
	clock.Advance(time.Hour)
	if done, err := n.Rescan(context.Background()); done != 1 || err != nil {
		t.Fatalf("rescan = %d, %v, want 1", done, err)
	}
	if done, _ := n.Rescan(context.Background()); done != 0 || len(a.calls) != 1 {
		t.Errorf("a second scan acked again: %d acks", len(a.calls))
	}
	got, _ := mem.Get(context.Background(), tr.ID)
	if got.Ack.Status != handoff.AckSent || got.NotifiedAt == nil {
		t.Errorf("after the scan: ack %+v, notified %v", got.Ack, got.NotifiedAt)
	}
}

// gone answers every update NOT_FOUND, as for a transfer expired or archived mid-delivery.
type gone struct{ *memstore.Store }

func (gone) Update(context.Context, handoff.Transfer, handoff.Transfer, ...handoff.Event) (handoff.Transfer, error) {
	return handoff.Transfer{}, handoff.E(handoff.CodeNotFound, "test", "gone", nil)
}

func TestNotifyOnATransferGoneMidDeliveryIsNotRetriedForever(t *testing.T) {
	mem, a, b := memstore.New(nil), &acker{}, &bus{}
	tr := final(t, mem, handoff.StatusTransferred, true)
	if err := notify.New(gone{mem}, ackers{a}, b, discard()).Notify(context.Background(), tr.ID); err != nil {
		t.Errorf("err = %v, want nil: a retry cannot bring it back", err)
	}
}
