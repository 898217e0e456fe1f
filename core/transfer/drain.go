package transfer

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"handoff/core/handoff"
	"handoff/core/pacing"
	"handoff/core/vendors"
)

// DrainGroup starts the queued transfers of one message group (one tenant and vendor), in the
// queue's order, each when its vendor's rate allows, and lets their vendor calls and records
// overlap: a group drains at its vendor's rate, not at one transfer's round trip. It returns,
// for each message, nil (handled) or the error that returns it to the queue; once one cannot
// start, neither does any after it, so the group keeps its order.
//
// The transfers are read ahead of their turn (side by side) and their tokens booked ahead (one
// write each, in the queue's order); each is moved queued → pending when its token is due, so
// a cancel until then keeps it from the vendor, and the start writes themselves overlap, so
// nothing but the tokens spaces two starts. A vendor's 429 slows the bucket: the next transfer
// starts only after the refused one has been retried within the invocation (see drain), so it
// keeps its place, and the tokens booked before the 429 are given up for new ones at the slower
// rate.
func (s *Service) DrainGroup(ctx context.Context, msgs []Message) []error {
	errs := make([]error, len(msgs))
	if s.pacer == nil {
		for i := range errs {
			errs[i] = errNoQueue()
		}
		return errs
	}
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	var noBooking atomic.Bool // tokens booked from now on would be given up: book no more
	aheads := s.readAhead(readCtx, msgs, &noBooking)
	var runs sync.WaitGroup
	var throttled atomic.Bool
	rebook := false                       // a 429 made the tokens booked ahead too early
	var startFailed atomic.Pointer[error] // a start write failed: no later transfer starts
	var started atomic.Int32              // counted out of the queue together, one write for the batch
	var k pacing.Key
	defer func() {
		runs.Wait()
		s.dequeueN(k, int(started.Load()), "a batch of "+k.String())
	}()
	for i, m := range msgs {
		if throttled.Load() {
			runs.Wait() // the refused transfer is retried first: it keeps its place
			throttled.Store(false)
			rebook = true
			noBooking.Store(true)
		}
		a := <-aheads[i]
		if a.err == nil && a.t.ID == "" {
			continue // not found, or no longer queued: handled
		}
		err := a.err
		if failed := startFailed.Load(); err == nil && failed != nil {
			err = *failed
		}
		var at time.Time
		if err == nil {
			token := &a.token
			if rebook {
				token = nil
			}
			at, err = s.awaitTurn(ctx, a.t, token)
		}
		if err != nil {
			noBooking.Store(true)
			stopReading()
			for j := i; j < len(msgs); j++ {
				errs[j] = err
			}
			break
		}
		k = keyOf(a.t)
		runs.Add(1)
		go func() {
			defer runs.Done()
			left, again, err := s.runQueued(ctx, a.t, m, at)
			switch {
			case again:
				throttled.Store(true)
				left, err = s.drain(ctx, m, drainTries-1, err)
			case err != nil:
				startFailed.CompareAndSwap(nil, &err)
			}
			if left {
				started.Add(1)
			}
			errs[i] = err
		}()
	}
	return errs
}

// errNoQueue is the error of a drainer without a pacer: a function deployed without its queue.
func errNoQueue() error {
	return handoff.E(handoff.CodeConfiguration, "transfer.Drain", "no pacer: this function has no queue", nil)
}

// ahead is a queued transfer read, and its token booked, ahead of its turn: the zero Transfer
// with no error when there is nothing to start.
type ahead struct {
	t     handoff.Transfer
	token pacing.Grant // not OK: no token before the invocation's usable part ends
	err   error
}

// readAhead reads msgs' transfers side by side, and books their tokens one after the other in
// msgs' order (so their times follow the queue's), each result into its own channel. After a
// refusal it books no more (the later ones would come later still), nor once stop is set (the
// drainer would give the tokens up: after a 429, or once the rest of the group goes back).
func (s *Service) readAhead(ctx context.Context, msgs []Message, stop *atomic.Bool) []chan ahead {
	type read struct {
		t   handoff.Transfer
		err error
	}
	reads := make([]chan read, len(msgs))
	out := make([]chan ahead, len(msgs))
	for i, m := range msgs {
		reads[i], out[i] = make(chan read, 1), make(chan ahead, 1)
		go func() {
			t, err := s.queued(ctx, m)
			reads[i] <- read{t, err}
		}()
	}
	go func() {
		var refused *pacing.Grant
		for i := range msgs {
			r := <-reads[i]
			a := ahead{t: r.t, err: r.err}
			switch {
			case r.err != nil || r.t.ID == "", stop.Load():
			case refused != nil:
				a.token = *refused
			default:
				a.token, a.err = s.pacer.Book(ctx, keyOf(r.t), s.drainUntil(ctx))
				if a.err == nil && !a.token.OK {
					refused = &a.token
				}
			}
			out[i] <- a
		}
	}()
	return out
}

// drainUntil is when a drainer must have started its last transfer: its invocation's deadline
// less the reserve kept for a transfer's vendor calls and records.
func (s *Service) drainUntil(ctx context.Context) time.Time {
	return leaseUntil(ctx, s.now()).Add(-s.drainReserve)
}

// Drain starts one queued transfer when its vendor's rate allows: DrainGroup with a group of one.
//
// An error means "return the message to the queue": no token within the invocation, the
// vendor's 429 before any attempt (the transfer goes back to queued and the bucket is slowed)
// three times over, or the store unavailable. Everything else is handled: a transfer no longer
// queued is skipped, a transfer that fails for good is recorded failed, and one left in doubt
// by a vendor call that may have acted stays pending with its deadline, for the sweep to
// reconcile, as if its invocation had died.
func (s *Service) Drain(ctx context.Context, m Message) error {
	return s.DrainGroup(ctx, []Message{m})[0]
}

// drain tries m up to rounds times while the vendor answers 429 (last: the 429 before them, if
// any): waiting for the slowed bucket within this invocation beats returning the message, which
// would hold its whole group for the queue's visibility timeout. left says m's transfer left
// the queue (its caller counts it out).
func (s *Service) drain(ctx context.Context, m Message, rounds int, last error) (left bool, _ error) {
	for range rounds {
		t, err := s.queued(ctx, m)
		if err != nil || t.ID == "" {
			return false, err
		}
		at, err := s.awaitTurn(ctx, t, nil)
		if err != nil {
			return false, err
		}
		left, again, err := s.runQueued(ctx, t, m, at)
		if !again {
			return left, err
		}
		last = err
	}
	if last == nil {
		last = handoff.E(handoff.CodeRateLimited, "transfer.Drain", "the vendor keeps answering 429", nil)
	}
	return false, last
}

// drainTries bounds how often one invocation tries a transfer the vendor answered 429.
const drainTries = 3

// queued reads m's transfer: the zero Transfer when there is nothing to start (not found, or
// no longer queued: started by an earlier delivery, or cancelled).
func (s *Service) queued(ctx context.Context, m Message) (handoff.Transfer, error) {
	t, err := s.store.Get(ctx, m.TransferID)
	if handoff.ErrorCode(err) == handoff.CodeNotFound {
		s.log.Warn("queued transfer not found; dropped", "op", "transfer.Drain", "transfer", m.TransferID)
		return handoff.Transfer{}, nil
	}
	if err != nil || t.Status != handoff.StatusQueued {
		return handoff.Transfer{}, err
	}
	return t, nil
}

// awaitTurn waits for queued transfer t's token — booked ahead (token), else booked now — and
// returns when it came. RATE_LIMITED when none comes within the invocation's usable part.
func (s *Service) awaitTurn(ctx context.Context, t handoff.Transfer, token *pacing.Grant) (time.Time, error) {
	const op = "transfer.Drain"
	if _, ok := s.vendors.Transferer(t.Vendor); !ok {
		return time.Time{}, handoff.E(handoff.CodeInternal, op, "no adapter for vendor "+t.Vendor, nil)
	}
	k := keyOf(t)
	until := s.drainUntil(ctx)
	if !s.now().Before(until) {
		// Too little of the invocation is left to record a start and call the vendor: the
		// message goes back rather than have its run cut short mid-call.
		return time.Time{}, handoff.E(handoff.CodeUnavailable, op, "too little time left in this invocation to start a transfer", nil)
	}
	var g pacing.Grant
	if token != nil {
		g = *token
	} else {
		var err error
		if g, err = s.pacer.Book(ctx, k, until); err != nil {
			return time.Time{}, err
		}
	}
	if !g.OK {
		e := handoff.E(handoff.CodeRateLimited, op, "no token for "+k.String()+" within this invocation", nil)
		e.RetryAfter = g.At.Sub(s.now())
		return time.Time{}, e
	}
	if err := s.pacer.WaitUntil(ctx, g.At); err != nil {
		return time.Time{}, err
	}
	return s.now().UTC(), nil
}

// runQueued moves t queued → pending at `at` with a conditional write (so a message delivered
// twice, or a transfer cancelled meanwhile, never reaches the vendor twice or at all), then
// runs its targets as Start does. left says t left the queue; again, that the vendor's 429
// before any attempt put it back in the queue (err is that 429). Any other error is the start
// write's: nothing was sent.
func (s *Service) runQueued(ctx context.Context, t handoff.Transfer, m Message, at time.Time) (left, again bool, _ error) {
	tr, _ := s.vendors.Transferer(t.Vendor) // awaitTurn has checked it
	lease := leaseUntil(ctx, at)
	started := t
	started.Attempts = append([]handoff.Attempt{}, t.Attempts...)
	started.Status, started.AwaitUntil, started.UpdatedAt, started.StartedAt = handoff.StatusPending, &lease, at, &at
	if !m.SentAt.IsZero() {
		sent := m.SentAt.UTC()
		started.EnqueuedAt = &sent
	}
	cur, err := s.store.Update(ctx, t, started, handoff.Event{At: at, Kind: "status", Status: handoff.StatusPending, Detail: "started"})
	if handoff.ErrorCode(err) == handoff.CodeConflict {
		return false, false, nil // cancelled, or started by another delivery, since it was read
	}
	if err != nil {
		return false, false, err
	}
	if _, err := s.drive(ctx, tr, cur, lease, m.CallbackBase); err != nil {
		return false, handoff.ErrorCode(err) == handoff.CodeRateLimited, err
	}
	return true, false, nil
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
