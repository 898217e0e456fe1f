package transfer_test

import (
	"bytes"
	"log/slog"
	"testing"
	"time"

	"handoff/core/handoff"
	"handoff/core/store/memstore"
	"handoff/core/transfer"
	"handoff/core/vendors"
)

func TestSweepMovesOnFromSilentTargetsThenFails(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	st := memstore.New(clock)
	p := &parser{}
	svc := transfer.New(st, registry{tr: &scripted{async: true}, parser: p}, slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)),
		transfer.WithClock(clock), transfer.WithCallbackTimeout(10*time.Minute))
	req := request()
	req.Bot = &handoff.Bot{Vendor: "webhook"}
	res, err := svc.Start(ctx(t), transfer.Input{Request: req, Key: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Transfer.AwaitUntil == nil || !res.Transfer.AwaitUntil.Equal(now.Add(10*time.Minute)) {
		t.Fatalf("awaitUntil = %v, want start + 10m", res.Transfer.AwaitUntil)
	}
	other := request()
	other.Conversation.ID = "c-2"
	answered, _ := svc.Start(ctx(t), transfer.Input{Request: other, Key: "b"})

	// Before the deadline nothing is swept; a callback ends the second one.
	if n, err := svc.Sweep(ctx(t)); n != 0 || err != nil {
		t.Fatalf("early sweep = %d, %v", n, err)
	}
	p.cb = vendors.Callback{TransferID: answered.Transfer.ID, Outcome: handoff.OutcomeTransferred}
	if _, err := svc.Callback(ctx(t), "acme", callback("t1", "ok")); err != nil {
		t.Fatal(err)
	}

	// Past the deadline the silent agent is given up on and the queue fallback is tried.
	now = now.Add(11 * time.Minute)
	if n, err := svc.Sweep(ctx(t)); n != 1 || err != nil {
		t.Fatalf("sweep = %d, %v, want 1", n, err)
	}
	moved, _ := st.Get(ctx(t), res.Transfer.ID)
	if moved.Status != handoff.StatusPending || len(moved.Attempts) != 3 || moved.Attempts[1].VendorCode != transfer.NoCallbackCode ||
		moved.Attempts[2].Target.ID != "q-1" || !moved.AwaitUntil.Equal(now.Add(10*time.Minute)) {
		t.Fatalf("after the first sweep = %+v, want the queue awaited with a new deadline", moved)
	}
	kept, _ := st.Get(ctx(t), answered.Transfer.ID)
	if kept.Status != handoff.StatusTransferred {
		t.Errorf("a transfer whose callback came was swept: %+v", kept)
	}

	// The queue is silent too: with no fallback left, the transfer fails.
	now = now.Add(11 * time.Minute)
	if n, err := svc.Sweep(ctx(t)); n != 1 || err != nil {
		t.Fatalf("second sweep = %d, %v, want 1", n, err)
	}
	swept, _ := st.Get(ctx(t), res.Transfer.ID)
	if swept.Status != handoff.StatusFailed || swept.Error == nil || swept.Error.VendorCode != transfer.NoCallbackCode ||
		swept.Error.Code != handoff.CodeTargetUnavailable || swept.AwaitUntil != nil || swept.Ack.Status != handoff.AckPending {
		t.Errorf("swept = %+v", swept)
	}
	if n, _ := svc.Sweep(ctx(t)); n != 0 {
		t.Errorf("a third sweep moved %d more", n)
	}
	// A late callback cannot revive a swept transfer.
	p.cb = vendors.Callback{TransferID: res.Transfer.ID, Outcome: handoff.OutcomeTransferred}
	if _, err := svc.Callback(ctx(t), "acme", callback("t1", "ok")); handoff.ErrorCode(err) != handoff.CodeConflict {
		t.Errorf("late callback: err = %v, want CONFLICT", err)
	}
}
