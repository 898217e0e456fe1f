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
	t, err := s.find(ctx, vendor, cb)
	if err != nil {
		return handoff.Transfer{}, err
	}
	if t.Vendor != vendor || t.Tenant != req.Tenant {
		// The proof was for another tenant or vendor: answer as if the transfer did not exist.
		return handoff.Transfer{}, handoff.E(handoff.CodeNotFound, op, "no such transfer", nil)
	}
	base := s.callbackBase
	if base == "" {
		base = req.BaseURL
	}
	return s.report(ctx, t, cb, base)
}

// report applies one report about t: a vendor's callback, or the sweep's "no answer in time".
func (s *Service) report(ctx context.Context, t handoff.Transfer, cb vendors.Callback, base string) (handoff.Transfer, error) {
	const op = "transfer.report"
	// One re-read on a concurrent change: the other writer may have applied this very outcome.
	for range 2 {
		step, err := s.apply(t, cb)
		if err != nil || len(step.events) == 0 {
			return t, err
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

// step is what applying one report does: the transfer to store, the timeline events, and, when
// the awaited target refused and fallbacks remain, where the chain goes on (next ≥ 0).
type step struct {
	after   handoff.Transfer
	events  []handoff.Event
	next    int
	refused *handoff.Error
}

// apply works out a report's effect without I/O; no events means nothing to write (a replay).
func (s *Service) apply(t handoff.Transfer, cb vendors.Callback) (step, error) {
	now := s.now().UTC()
	note := handoff.Event{At: now, Kind: "callback", Detail: callbackDetail(cb)}
	noted := step{after: t, events: []handoff.Event{note}, next: -1}
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
	after := t
	after.Attempts = append([]handoff.Attempt{}, t.Attempts...)
	after.AwaitUntil = nil
	if err := s.tryFrom(ctx, tr, &after, from, base, false, refused); err != nil {
		finish(&after, handoff.StatusFailed, handoff.AsError(err), s.now().UTC())
	}
	events := attemptEvents(after.Attempts[len(t.Attempts):])
	if after.Status.Final() {
		events = append(events, handoff.Event{At: after.UpdatedAt, Kind: "status", Status: after.Status})
	}
	return s.store.Update(context.WithoutCancel(ctx), t, after, events...)
}

func (s *Service) find(ctx context.Context, vendor string, cb vendors.Callback) (handoff.Transfer, error) {
	if cb.TransferID != "" {
		return s.awaitRecord(ctx, cb.TransferID)
	}
	if cb.VendorRef != "" {
		return s.store.FindByRef(ctx, vendor, cb.VendorRef)
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

// awaitRecord reads transfer id, waiting a little for it to appear: a callback whose proof names
// a transfer we minted can arrive between the vendor's answer and our completion write, and
// vendors are not known to retry a 404. The wait is bounded (earlyCallbackWait), so a transfer
// that is truly unknown still answers NOT_FOUND.
func (s *Service) awaitRecord(ctx context.Context, id string) (handoff.Transfer, error) {
	deadline := s.now().Add(s.earlyCallbackWait)
	pause := 25 * time.Millisecond
	for {
		t, err := s.store.Get(ctx, id)
		if handoff.ErrorCode(err) != handoff.CodeNotFound || !s.now().Add(pause).Before(deadline) {
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
