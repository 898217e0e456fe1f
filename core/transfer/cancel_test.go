package transfer_test

import (
	"testing"
	"time"

	"handoff/core/handoff"
	"handoff/core/transfer"
)

func wantCancelled(t *testing.T, got handoff.Transfer) {
	t.Helper()
	if got.Status != handoff.StatusCancelled || got.Error == nil || got.Error.Code != handoff.CodeCancelled {
		t.Fatalf("transfer = %s, error %+v; want cancelled with CANCELLED", got.Status, got.Error)
	}
}

func TestCancelAQueuedTransferKeepsItFromTheVendor(t *testing.T) {
	p := setupPaced(t, &scripted{}, 0)
	in := keyed("k1")
	in.Queue = true
	in.Request.Bot = &handoff.Bot{Vendor: "webhook"}
	res, err := p.svc.Start(ctx(t), in)
	if err != nil {
		t.Fatal(err)
	}
	done, err := p.svc.Cancel(ctx(t), res.Transfer, "tester")
	if err != nil {
		t.Fatal(err)
	}
	wantCancelled(t, done)
	if done.Ack.Status != handoff.AckPending || done.Ack.SequenceID == 0 {
		t.Errorf("ack %+v: the bot must be told, with its sequence fixed", done.Ack)
	}
	if err := p.svc.Drain(longCtx(t), p.queue.sent[0]); err != nil || p.tr.calls.Load() != 0 {
		t.Fatalf("drain of a cancelled transfer: %v, %d vendor calls; want nil and none", err, p.tr.calls.Load())
	}
	stored, _ := p.st.Get(ctx(t), res.Transfer.ID)
	wantCancelled(t, stored)
	if !timelineHas(t, p.st, stored.ID, handoff.StatusCancelled, "by tester") {
		t.Error("no cancelled event on the timeline")
	}
	// Its place in the queue was given back.
	next := keyed("k2")
	next.Queue = true
	r2, err := p.svc.Start(ctx(t), next)
	if err != nil || !timelineHas(t, p.st, r2.Transfer.ID, handoff.StatusQueued, "behind 0 transfers") {
		t.Errorf("after the cancel the queue should be empty: %v", err)
	}
	// A duplicate of the cancelled request returns it, and nothing reaches the vendor.
	if dup, err := p.svc.Start(ctx(t), in); err != nil || dup.Transfer.Status != handoff.StatusCancelled || p.tr.calls.Load() != 0 {
		t.Errorf("duplicate = %+v, %v", dup.Transfer.Status, err)
	}
}

func TestCancelAFinalTransferIsConflict(t *testing.T) {
	svc, st := setup(&scripted{})
	res, err := svc.Start(ctx(t), transfer.Input{Request: request(), Key: "k"})
	if err != nil || res.Transfer.Status != handoff.StatusTransferred {
		t.Fatalf("start = %+v, %v", res.Transfer.Status, err)
	}
	before, _ := st.Get(ctx(t), res.Transfer.ID)
	if _, err := svc.Cancel(ctx(t), before, ""); handoff.ErrorCode(err) != handoff.CodeConflict {
		t.Fatalf("cancel of a transferred transfer = %v, want CONFLICT", err)
	}
	if after, _ := st.Get(ctx(t), res.Transfer.ID); after.Version != before.Version || after.Status != handoff.StatusTransferred {
		t.Errorf("the refused cancel changed the transfer: %+v", after)
	}
}

func TestCancelAPendingTransferAwaitingItsCallback(t *testing.T) {
	svc, st, _, tr := awaiting(t)
	done, err := svc.Cancel(ctx(t), tr, "")
	if err != nil {
		t.Fatal(err)
	}
	wantCancelled(t, done)
	if done.AwaitUntil != nil || done.Ack.Status != handoff.AckPending {
		t.Errorf("cancelled transfer %+v: no deadline left, the bot's ack due", done)
	}
	if overdue, _ := st.Overdue(ctx(t), time.Now().Add(time.Hour), 10); len(overdue) != 0 {
		t.Errorf("the sweep would still look at the cancelled transfer: %d", len(overdue))
	}
}

// A cancel while the first target's call is in flight stops the chain: the fallback is never
// tried, on the queue's path and on the direct one.
func TestCancelAPendingTransferStopsItsChain(t *testing.T) {
	unavailable := &handoff.Error{Code: handoff.CodeTargetUnavailable, Message: "busy"}
	for _, queued := range []bool{true, false} {
		tr := &scripted{answers: map[string]error{"a-1": unavailable}, gate: make(chan struct{})}
		p := setupPaced(t, tr, 0)
		in := keyed("k1")
		in.Queue = queued
		done := make(chan error, 1)
		var res transfer.Result
		if queued {
			r, err := p.svc.Start(ctx(t), in)
			if err != nil {
				t.Fatal(err)
			}
			res = r
			go func() { done <- p.svc.Drain(longCtx(t), p.queue.sent[0]) }()
		} else {
			go func() {
				var err error
				res, err = p.svc.Start(ctx(t), in)
				done <- err
			}()
		}
		for tr.calls.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		cur, err := p.st.FindByKey(ctx(t), "t1", "k1")
		if err != nil || cur.Status != handoff.StatusPending {
			t.Fatalf("queued=%v: in flight: %+v, %v", queued, cur.Status, err)
		}
		if _, err := p.svc.Cancel(ctx(t), cur, ""); err != nil {
			t.Fatalf("queued=%v: cancel: %v", queued, err)
		}
		close(tr.gate)
		if err := <-done; err != nil {
			t.Fatalf("queued=%v: the run ended with %v", queued, err)
		}
		if tr.calls.Load() != 1 {
			t.Errorf("queued=%v: %d vendor calls; the fallback must not be tried after a cancel", queued, tr.calls.Load())
		}
		got, _ := p.st.FindByKey(ctx(t), "t1", "k1")
		wantCancelled(t, got)
		if !queued {
			wantCancelled(t, res.Transfer)
		}
	}
}
