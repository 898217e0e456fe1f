package transfer

import (
	"context"

	"handoff/core/handoff"
	"handoff/core/vendors"
)

// Callback applies what a vendor's webhook reports. The vendor's parser authenticates it first:
// a webhook that cannot prove its origin changes nothing. A replay of an outcome already applied
// is a no-op; an outcome that would move a final transfer elsewhere is refused (CONFLICT).
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
	// One re-read on a concurrent change: the other writer may have applied this very outcome.
	for range 2 {
		after, events, err := s.apply(t, cb)
		if err != nil || len(events) == 0 {
			return t, err
		}
		saved, err := s.store.Update(ctx, t, after, events...)
		if handoff.ErrorCode(err) != handoff.CodeConflict {
			return saved, err
		}
		if t, err = s.store.Get(ctx, t.ID); err != nil {
			return handoff.Transfer{}, err
		}
	}
	return handoff.Transfer{}, handoff.E(handoff.CodeConflict, op, "the transfer changed while the callback was applied", nil)
}

func (s *Service) find(ctx context.Context, vendor string, cb vendors.Callback) (handoff.Transfer, error) {
	if cb.TransferID != "" {
		return s.store.Get(ctx, cb.TransferID)
	}
	if cb.VendorRef != "" {
		return s.store.FindByRef(ctx, vendor, cb.VendorRef)
	}
	return handoff.Transfer{}, handoff.E(handoff.CodeNotFound, "transfer.Callback", "the callback names no transfer", nil)
}

// apply returns the transfer after the callback and the timeline events to record; no events
// means there is nothing to write (a replay).
func (s *Service) apply(t handoff.Transfer, cb vendors.Callback) (handoff.Transfer, []handoff.Event, error) {
	now := s.now().UTC()
	note := handoff.Event{At: now, Kind: "callback", Detail: callbackDetail(cb)}
	var next handoff.Status
	switch cb.Outcome {
	case "":
		return t, []handoff.Event{note}, nil // information only: recorded, no status change
	case handoff.OutcomeTransferred:
		next = handoff.StatusTransferred
	case handoff.OutcomeRejected, handoff.OutcomeUnavailable:
		next = handoff.StatusFailed
	default:
		return t, []handoff.Event{note}, nil
	}
	if t.Status == next {
		return t, nil, nil // a replay of the outcome already applied
	}
	if !t.Status.CanMoveTo(next) {
		return t, nil, &handoff.Error{Code: handoff.CodeConflict, Op: "transfer.Callback",
			Message: "the transfer is already " + string(t.Status) + "; a callback cannot move it to " + string(next)}
	}
	after := t
	after.Attempts = append(append([]handoff.Attempt{}, t.Attempts...), handoff.Attempt{
		Target: lastTarget(t), Outcome: cb.Outcome, VendorCode: cb.VendorCode, At: now,
	})
	var cause *handoff.Error
	if next == handoff.StatusFailed {
		code := handoff.CodeVendorRejected
		if cb.Outcome == handoff.OutcomeUnavailable {
			code = handoff.CodeTargetUnavailable
		}
		cause = &handoff.Error{Code: code, VendorCode: cb.VendorCode}
	}
	finish(&after, next, cause, now)
	return after, []handoff.Event{note, {At: now, Kind: "status", Status: next}}, nil
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
