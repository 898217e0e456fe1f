package transfer

import (
	"context"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors"
)

// Callback applies what a vendor's webhook reports. The vendor's parser authenticates it first:
// a webhook that cannot prove its origin changes nothing. A replay of an outcome already applied
// is a no-op; an outcome that would move a final transfer elsewhere is refused (CONFLICT). A
// refusal of the awaited target moves on to the next fallback, as Start would have.
func (s *Service) Callback(ctx context.Context, vendor string, req vendors.CallbackRequest) (handoff.Transfer, error) {
	const op = "transfer.Callback"
	parser, ok := s.vendors.CallbackParser(vendor)
	if !ok {
		return handoff.Transfer{}, handoff.E(handoff.CodeNotFound, op, "no callbacks for vendor "+vendor, nil)
	}
	cb, err := parser.ParseCallback(ctx, req)
	if err != nil {
		return handoff.Transfer{}, err
	}
	tenant, err := callbackTenant(req, cb)
	if err != nil {
		return handoff.Transfer{}, err
	}
	t, err := s.find(ctx, vendor, tenant, cb)
	if err != nil {
		return handoff.Transfer{}, err
	}
	if t.Vendor != vendor || t.Tenant != tenant {
		// The proof was for another tenant or vendor: answer as if the transfer did not exist.
		return handoff.Transfer{}, handoff.E(handoff.CodeNotFound, op, "no such transfer", nil)
	}
	base := s.callbackBase
	if base == "" {
		base = req.BaseURL
	}
	return s.report(ctx, t, cb, base, false)
}

// callbackTenant is the tenant a callback is about: the one its proof names (a token in the
// path carries it; the request then names none), which must agree with the one the request
// was routed under when both are given. A callback that names no tenant at all proved nothing.
func callbackTenant(req vendors.CallbackRequest, cb vendors.Callback) (string, error) {
	const op = "transfer.Callback"
	tenant := req.Tenant
	if cb.Tenant != "" {
		if tenant != "" && tenant != cb.Tenant {
			// As for a transfer of another tenant: nothing is told about either.
			return "", handoff.E(handoff.CodeNotFound, op, "no such transfer", nil)
		}
		tenant = cb.Tenant
	}
	if tenant == "" {
		return "", handoff.E(handoff.CodeUnauthorized, op, "the callback names no tenant", nil)
	}
	return tenant, nil
}

// report applies one report about t: a vendor's callback, or the sweep's "no answer in time"
// (overdue: applied only while t's deadline has passed on the record as read fresh).
func (s *Service) report(ctx context.Context, t handoff.Transfer, cb vendors.Callback, base string, overdue bool) (handoff.Transfer, error) {
	const op = "transfer.report"
	// One re-read on a concurrent change: the other writer may have applied this very outcome.
	for range 2 {
		if overdue && !due(t, s.now()) {
			return t, nil // it moved on, or got a new deadline: nothing to give up on
		}
		step, err := s.apply(t, cb)
		if err != nil || len(step.events) == 0 {
			return t, err
		}
		if step.inform {
			// Information only: appended to the timeline, never a state change, so it cannot
			// make a concurrent transition fail.
			return t, s.store.Note(ctx, t.ID, step.events...)
		}
		saved, err := s.store.Update(ctx, t, step.after, step.events...)
		if err == nil && step.next >= 0 {
			// This write claimed the continuation: no other callback can make the same calls.
			return s.continueChain(ctx, saved, step.next, base, step.refused)
		}
		if handoff.ErrorCode(err) != handoff.CodeConflict {
			return saved, err
		}
		if t, err = s.store.Get(ctx, t.ID); err != nil {
			return handoff.Transfer{}, err
		}
	}
	return handoff.Transfer{}, handoff.E(handoff.CodeConflict, op, "the transfer changed while the callback was applied", nil)
}

// due reports whether pending t's deadline has passed at now.
func due(t handoff.Transfer, now time.Time) bool {
	return t.Status == handoff.StatusPending && t.AwaitUntil != nil && !t.AwaitUntil.After(now)
}

// step is what applying one report does: the transfer to store, the timeline events, and, when
// the awaited target refused and fallbacks remain, where the chain goes on (next ≥ 0).
type step struct {
	inform  bool // only events to note, no state change
	after   handoff.Transfer
	events  []handoff.Event
	next    int
	refused *handoff.Error
}

// apply works out a report's effect without I/O; no events means nothing to write (a replay).
func (s *Service) apply(t handoff.Transfer, cb vendors.Callback) (step, error) {
	now := s.now().UTC()
	if cb.Unrecognised {
		// A status word the adapter does not know: whatever else it filled in, no outcome is
		// read into it. Recorded, and the transfer keeps waiting for a known answer or its
		// deadline: no fallback is asked on a guess, and the deadline stands.
		cb.Outcome, cb.VendorCode = "", ""
	}
	note := handoff.Event{At: now, Kind: "callback", Detail: callbackDetail(cb)}
	noted := step{inform: true, after: t, events: []handoff.Event{note}, next: -1}
	var next handoff.Status
	switch cb.Outcome {
	case handoff.OutcomeTransferred:
		next = handoff.StatusTransferred
	case handoff.OutcomeRejected, handoff.OutcomeUnavailable:
		next = handoff.StatusFailed
	default:
		return noted, nil // information only: recorded, no status change
	}
	if t.Status == next {
		return step{next: -1}, nil // a replay of the outcome already applied
	}
	if !t.Status.CanMoveTo(next) {
		return step{}, &handoff.Error{Code: handoff.CodeConflict, Op: "transfer.Callback",
			Message: "the transfer is already " + string(t.Status) + "; a callback cannot move it to " + string(next)}
	}
	if aboutEarlierTarget(t, cb) {
		return noted, nil // a late word on a target the chain has left behind
	}
	attempt := handoff.Attempt{Target: lastTarget(t), Outcome: cb.Outcome, VendorCode: cb.VendorCode, At: now}
	if last := t.Attempts[len(t.Attempts)-1]; last.Outcome == attempt.Outcome && last.VendorCode == attempt.VendorCode && last.Target == attempt.Target {
		return step{next: -1}, nil // a replayed refusal, already recorded and acted on
	}
	after := t
	after.Attempts = append(append([]handoff.Attempt{}, t.Attempts...), attempt)
	if next == handoff.StatusTransferred {
		finish(&after, next, nil, now)
		return step{after: after, events: []handoff.Event{note, {At: now, Kind: "status", Status: next}}, next: -1}, nil
	}
	refused := &handoff.Error{Code: handoff.CodeVendorRejected, VendorCode: cb.VendorCode}
	if cb.Outcome == handoff.OutcomeUnavailable {
		refused.Code = handoff.CodeTargetUnavailable
	}
	if n := nextTarget(t); n < len(t.Targets()) {
		// Fallbacks remain: record the refusal first, with a deadline so that a crash before
		// the next target is tried still ends in the sweep, then go on.
		until := now.Add(s.callbackTimeout)
		after.AwaitUntil, after.UpdatedAt = &until, now
		return step{after: after, events: []handoff.Event{note}, next: n, refused: refused}, nil
	}
	finish(&after, handoff.StatusFailed, refused, now)
	return step{after: after, events: []handoff.Event{note, {At: now, Kind: "status", Status: handoff.StatusFailed}}, next: -1}, nil
}

// aboutEarlierTarget reports whether cb names a target the chain tried before the awaited one.
func aboutEarlierTarget(t handoff.Transfer, cb vendors.Callback) bool {
	if cb.Target == nil {
		return false
	}
	awaited := nextTarget(t) - 1
	for i, target := range t.Targets() {
		if i >= awaited {
			return false
		}
		if target == *cb.Target {
			return true
		}
	}
	return false
}

// continueChain tries t's targets from index `from` after the awaited one refused, and records
// the result. A failure that is not the target's (the vendor down) ends the transfer with it:
// unlike Start, there is no caller to retry.
func (s *Service) continueChain(ctx context.Context, t handoff.Transfer, from int, base string, refused *handoff.Error) (handoff.Transfer, error) {
	tr, ok := s.vendors.Transferer(t.Vendor)
	if !ok {
		return t, handoff.E(handoff.CodeInternal, "transfer.continueChain", "no adapter for vendor "+t.Vendor, nil)
	}
	return s.chain(ctx, tr, t, from, base, false, refused)
}

// chain tries t's targets from index `from` and records the result with Update. Before each
// later target the attempts so far are recorded, with a deadline, so a crash mid-call leaves
// the sweep the one target in doubt. A failure that is not the target's ends the transfer.
func (s *Service) chain(ctx context.Context, tr vendors.Transferer, t handoff.Transfer, from int, base string, reconcile bool, refused *handoff.Error) (handoff.Transfer, error) {
	wctx := context.WithoutCancel(ctx)
	cur := t
	recorded := len(t.Attempts)
	record := func(next handoff.Transfer) (handoff.Transfer, error) {
		saved, err := s.store.Update(wctx, cur, next, attemptEvents(next.Attempts[recorded:])...)
		if err == nil {
			cur, recorded = saved, len(next.Attempts)
		}
		return saved, err
	}
	after := t
	after.Attempts = append([]handoff.Attempt{}, t.Attempts...)
	if err := s.tryFrom(ctx, tr, &after, from, base, reconcile, refused, record); err != nil {
		if handoff.ErrorCode(err) == handoff.CodeConflict {
			return handoff.Transfer{}, err // someone else moved it on: theirs stands
		}
		finish(&after, handoff.StatusFailed, handoff.AsError(err), s.now().UTC())
	}
	events := attemptEvents(after.Attempts[recorded:])
	if after.Status.Final() {
		events = append(events, handoff.Event{At: after.UpdatedAt, Kind: "status", Status: after.Status})
	}
	return s.store.Update(wctx, cur, after, events...)
}

func (s *Service) find(ctx context.Context, vendor, tenant string, cb vendors.Callback) (handoff.Transfer, error) {
	if cb.TransferID != "" {
		return s.awaitRecord(ctx, func(ctx context.Context) (handoff.Transfer, error) { return s.store.Get(ctx, cb.TransferID) })
	}
	if cb.VendorRef != "" {
		return s.awaitRecord(ctx, func(ctx context.Context) (handoff.Transfer, error) {
			return s.store.FindByRef(ctx, tenant, vendor, cb.VendorRef)
		})
	}
	return handoff.Transfer{}, handoff.E(handoff.CodeNotFound, "transfer.Callback", "the callback names no transfer", nil)
}

// lastTarget is the target the awaited attempt aimed at.
func lastTarget(t handoff.Transfer) handoff.Target {
	if n := len(t.Attempts); n > 0 {
		return t.Attempts[n-1].Target
	}
	return t.Target
}

func callbackDetail(cb vendors.Callback) string {
	d := "callback"
	if cb.Outcome != "" {
		d += ": " + string(cb.Outcome)
	}
	if cb.VendorCode != "" {
		d += " (" + cb.VendorCode + ")"
	}
	if cb.Detail != "" {
		d += ": " + cb.Detail
	}
	return d
}

// Get returns a transfer by id.
func (s *Service) Get(ctx context.Context, id string) (handoff.Transfer, error) {
	if err := handoff.ValidateID("id", id); err != nil {
		return handoff.Transfer{}, err
	}
	return s.store.Get(ctx, id)
}

// awaitRecord reads a transfer, waiting a little for it to settle: a callback whose proof names
// a transfer we minted can arrive between the vendor's answer and our completion write, while
// the record is still pending mid-call (or, by reference, not yet in the eventually consistent
// index), and vendors are not known to retry a 404. The wait is bounded (earlyCallbackWait), so
// a transfer that is truly unknown still answers NOT_FOUND.
func (s *Service) awaitRecord(ctx context.Context, read func(context.Context) (handoff.Transfer, error)) (handoff.Transfer, error) {
	deadline := s.now().Add(s.earlyCallbackWait)
	pause := 25 * time.Millisecond
	for {
		t, err := read(ctx)
		settled := err == nil && (t.Status.Final() || awaitingCallback(t) || len(t.Attempts) > 0)
		if settled || (err != nil && handoff.ErrorCode(err) != handoff.CodeNotFound) || !s.now().Add(pause).Before(deadline) {
			return t, err
		}
		timer := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			timer.Stop()
			return t, err
		case <-timer.C:
		}
		pause *= 2
	}
}
