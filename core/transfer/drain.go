package transfer

import (
	"context"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors"
)

// Drain starts one queued transfer when its vendor's rate allows: it waits for a token while one
// comes within the invocation, moves the transfer queued → pending with a conditional write
// (so a message delivered twice, or a transfer cancelled meanwhile, never reaches the vendor
// twice or at all), and runs its targets as Start does.
//
// An error means "return the message to the queue": no token within the invocation, the
// vendor's 429 before any attempt (the transfer goes back to queued and the bucket is slowed),
// or the store unavailable. Everything else is handled: a transfer no longer queued is skipped,
// a transfer that fails for good is recorded failed, and one left in doubt by a vendor call
// that may have acted stays pending with its deadline, for the sweep to reconcile, as if its
// invocation had died.
func (s *Service) Drain(ctx context.Context, m Message) error {
	const op = "transfer.Drain"
	if s.pacer == nil {
		return handoff.E(handoff.CodeConfiguration, op, "no pacer: this function has no queue", nil)
	}
	for range drainRounds {
		again, err := s.drainOnce(ctx, m)
		if !again {
			return err
		}
		// The vendor's 429 put it back: wait for the slowed bucket within this invocation
		// rather than return the message, which would hold its whole group for the queue's
		// visibility timeout.
	}
	return handoff.E(handoff.CodeRateLimited, op, "the vendor keeps answering 429", nil)
}

// drainRounds bounds how often one invocation tries a transfer the vendor answered 429.
const drainRounds = 3

// drainOnce is one try of Drain; again says the vendor's 429 put the transfer back in the
// queue and it may be tried again now (err then is that 429).
func (s *Service) drainOnce(ctx context.Context, m Message) (again bool, _ error) {
	const op = "transfer.Drain"
	t, err := s.store.Get(ctx, m.TransferID)
	if handoff.ErrorCode(err) == handoff.CodeNotFound {
		s.log.Warn("queued transfer not found; dropped", "op", op, "transfer", m.TransferID)
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if t.Status != handoff.StatusQueued {
		return false, nil // started by an earlier delivery, or cancelled
	}
	tr, ok := s.vendors.Transferer(t.Vendor)
	if !ok {
		return false, handoff.E(handoff.CodeInternal, op, "no adapter for vendor "+t.Vendor, nil)
	}
	k := keyOf(t)
	until := leaseUntil(ctx, s.now()).Add(-s.drainReserve)
	if !s.now().Before(until) {
		// Too little of the invocation is left to record a start and call the vendor: the
		// message goes back rather than have its run cut short mid-call.
		return false, handoff.E(handoff.CodeUnavailable, op, "too little time left in this invocation to start a transfer", nil)
	}
	g, err := s.pacer.Await(ctx, k, until)
	if err != nil {
		return false, err
	}
	if !g.OK {
		e := handoff.E(handoff.CodeRateLimited, op, "no token for "+k.String()+" within this invocation", nil)
		e.RetryAfter = g.At.Sub(s.now())
		return false, e
	}
	now := s.now().UTC()
	lease := leaseUntil(ctx, now)
	started := t
	started.Attempts = append([]handoff.Attempt{}, t.Attempts...)
	started.Status, started.AwaitUntil, started.UpdatedAt = handoff.StatusPending, &lease, now
	cur, err := s.store.Update(ctx, t, started, handoff.Event{At: now, Kind: "status", Status: handoff.StatusPending, Detail: "started"})
	if handoff.ErrorCode(err) == handoff.CodeConflict {
		return false, nil // cancelled, or started by another delivery, since it was read
	}
	if err != nil {
		return false, err
	}
	if _, err := s.drive(ctx, tr, cur, lease, m.CallbackBase); err != nil {
		return handoff.ErrorCode(err) == handoff.CodeRateLimited, err
	}
	s.dequeue(k, t.ID)
	return false, nil
}

// drive runs started transfer cur's targets under its lease, recording each step with a
// conditional update: a cancel in between makes the next write fail, and the chain stops there.
// Its error returns the message to the queue (see Drain).
func (s *Service) drive(ctx context.Context, tr vendors.Transferer, cur handoff.Transfer, lease time.Time, base string) (handoff.Transfer, error) {
	const op = "transfer.Drain"
	vctx, cancel := context.WithDeadline(ctx, lease.Add(-s.leaseMargin))
	defer cancel()
	storeFailed := false
	record := func(next handoff.Transfer) (handoff.Transfer, error) {
		saved, err := s.store.Update(context.WithoutCancel(ctx), cur, next, attemptEvents(next.Attempts[len(cur.Attempts):])...)
		if err != nil {
			storeFailed = true
			return saved, err
		}
		cur = saved
		return saved, nil
	}
	after := cur
	after.Attempts = append([]handoff.Attempt{}, cur.Attempts...)
	err := s.tryFrom(vctx, tr, &after, inDoubt(cur), base, false, nil, record)
	if err != nil && storeFailed {
		// Cancelled meanwhile (CONFLICT), or the store failed: the record, not this run, stands.
		s.log.Info("drained transfer changed under its run; stopped", "op", op, "transfer", cur.ID, "error", err)
		return cur, nil
	}
	if err != nil {
		return s.driveFailed(ctx, cur, after, err)
	}
	events := attemptEvents(after.Attempts[len(cur.Attempts):])
	if after.Status.Final() {
		events = append(events, handoff.Event{At: after.UpdatedAt, Kind: "status", Status: after.Status})
	}
	saved, err := s.store.Update(context.WithoutCancel(ctx), cur, after, events...)
	if handoff.ErrorCode(err) == handoff.CodeConflict {
		s.log.Info("drained transfer changed before its outcome was recorded", "op", op, "transfer", cur.ID)
		return cur, nil
	}
	if err != nil {
		// The vendor acted and the record says pending with its deadline: the sweep reconciles.
		s.log.Warn("outcome not recorded; the sweep will reconcile", "op", op, "transfer", cur.ID, "error", err)
		return cur, nil
	}
	return saved, nil
}

// driveFailed handles a vendor failure that is not a target's refusal. A 429 on the first
// target, before any attempt, means the vendor did nothing: the bucket is slowed and the
// transfer goes back to queued, its message returned. A failure no retry fixes (bad
// credentials) ends the transfer failed. Anything else may have reached the vendor: the
// record stays pending with its deadline and the sweep reconciles it.
func (s *Service) driveFailed(ctx context.Context, cur, after handoff.Transfer, err error) (handoff.Transfer, error) {
	const op = "transfer.Drain"
	e := handoff.AsError(err)
	k := keyOf(cur)
	if e.Code == handoff.CodeRateLimited {
		if terr := s.pacer.Throttled(ctx, k, e.RetryAfter); terr != nil {
			s.log.Warn("could not slow the bucket", "op", op, "transfer", cur.ID, "error", terr)
		}
		if len(cur.Attempts) == 0 {
			back := cur
			back.Status, back.AwaitUntil, back.UpdatedAt = handoff.StatusQueued, nil, s.now().UTC()
			if _, uerr := s.store.Update(context.WithoutCancel(ctx), cur, back,
				handoff.Event{At: back.UpdatedAt, Kind: "status", Status: handoff.StatusQueued, Detail: "requeued after the vendor's 429"}); uerr != nil {
				s.log.Info("not requeued: the transfer changed", "op", op, "transfer", cur.ID, "error", uerr)
				return cur, nil
			}
			return cur, err
		}
	}
	if !handoff.Retryable(e) && e.Code != handoff.CodeVendorProtocol {
		finish(&after, handoff.StatusFailed, e, s.now().UTC())
		events := append(attemptEvents(after.Attempts[len(cur.Attempts):]),
			handoff.Event{At: after.UpdatedAt, Kind: "status", Status: handoff.StatusFailed})
		if saved, uerr := s.store.Update(context.WithoutCancel(ctx), cur, after, events...); uerr == nil {
			return saved, nil
		}
	}
	s.log.Warn("drained transfer left in doubt; the sweep will reconcile", "op", op, "transfer", cur.ID, "code", string(e.Code))
	return cur, nil
}
