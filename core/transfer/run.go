package transfer

import (
	"context"
	"net/url"
	"strings"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors"
)

// run tries the target, then each fallback, and returns the transfer as it should be recorded.
// Target-level refusals move on to the next target; any other failure stops and is returned
// (nothing is recorded then, and the claim is released).
func (s *Service) run(ctx context.Context, tr vendors.Transferer, in Input, claim handoff.Claim, reconcile bool) (handoff.Transfer, *handoff.Ref, error) {
	req := in.Request
	now := s.now().UTC()
	t := handoff.Transfer{
		ID: claim.TransferID, Tenant: req.Tenant, Vendor: req.Vendor,
		Conversation: req.Conversation, Target: req.Target, Fallbacks: req.Fallbacks,
		Note: req.Note, Options: req.Options,
		Status: handoff.StatusPending, Attempts: []handoff.Attempt{}, Bot: req.Bot,
		Metadata: req.Metadata, CreatedAt: now, UpdatedAt: now,
		Ack: handoff.Ack{Status: handoff.AckNotRequired}, Caller: in.Caller,
	}
	if req.Bot != nil {
		t.Ack.Status = handoff.AckPending
	}
	// Keep time back for recording the outcome: a vendor call must not eat the whole lease.
	vctx, cancel := context.WithDeadline(ctx, claim.LeaseUntil.Add(-s.leaseMargin))
	defer cancel()
	if err := s.tryFrom(vctx, tr, &t, 0, in.CallbackBase, reconcile, nil); err != nil {
		return handoff.Transfer{}, nil, err
	}
	return t, refOf(t), nil
}

// tryFrom tries t's targets from index `from` on, recording each attempt in t: it stops at the
// first the vendor accepts (t transferred, or pending with a callback deadline) and ends t failed
// with the last refusal (or `refused`, the refusal that led here) when none does. A failure that
// is not the target's (the vendor down, bad credentials) stops it and is returned, t unfinished.
func (s *Service) tryFrom(ctx context.Context, tr vendors.Transferer, t *handoff.Transfer, from int, base string, reconcile bool, refused *handoff.Error) error {
	lastErr := refused
	for _, target := range t.Targets()[from:] {
		res, err := tr.Transfer(ctx, vendors.TransferRequest{
			Tenant: t.Tenant, TransferID: t.ID, Conversation: t.Conversation,
			Target: target, Note: t.Note, Leave: t.Options.Leave,
			CallbackURL: callbackURL(base, t.Vendor, t.Tenant, t.ID),
			Reconcile:   reconcile,
		})
		at := s.now().UTC()
		if err != nil {
			e := handoff.AsError(err)
			if e.Code == handoff.CodeConfiguration {
				// Our configuration stopped the call (no callback base URL for Kore.ai, a secret
				// missing a field): every target would stop alike, and no retry fixes it. The
				// transfer ends failed and is recorded, so the bot is told and Transfer Failed is
				// published, rather than leaving nothing behind.
				t.Attempts = append(t.Attempts, handoff.Attempt{Target: target, Outcome: handoff.OutcomeError, At: at})
				finish(t, handoff.StatusFailed, e, at)
				return nil
			}
			outcome, next := attemptOutcome(e.Code)
			if !next {
				return err
			}
			s.log.Info("target refused", "op", "transfer.try", "transfer", t.ID, "vendor", t.Vendor,
				"target", string(target.Type), "code", string(e.Code), "vendorCode", e.VendorCode)
			t.Attempts = append(t.Attempts, handoff.Attempt{Target: target, Outcome: outcome, VendorCode: e.VendorCode, At: at})
			lastErr = e
			continue
		}
		t.Attempts = append(t.Attempts, handoff.Attempt{Target: target, Outcome: res.Outcome, VendorCode: res.VendorCode, At: at})
		if res.VendorRef != "" {
			t.VendorRef = res.VendorRef
		}
		t.UpdatedAt = at
		if res.Outcome == handoff.OutcomeAwaiting {
			until := at.Add(s.callbackTimeout)
			t.AwaitUntil = &until
			return nil
		}
		finish(t, handoff.StatusTransferred, nil, at)
		return nil
	}
	finish(t, handoff.StatusFailed, lastErr, s.now().UTC())
	return nil
}

// nextTarget is the index of the target after the one t last tried.
func nextTarget(t handoff.Transfer) int {
	last := lastTarget(t)
	for i, target := range t.Targets() {
		if target == last {
			return i + 1
		}
	}
	return len(t.Targets())
}

// attemptOutcome says what a vendor error means for one target, and whether to try the next.
func attemptOutcome(code handoff.Code) (handoff.Outcome, bool) {
	switch code {
	case handoff.CodeTargetUnavailable:
		return handoff.OutcomeUnavailable, true
	case handoff.CodeVendorRejected:
		return handoff.OutcomeRejected, true
	}
	return handoff.OutcomeError, false
}

// finish moves t to a final status at `at`. The ack's sequence id is fixed now, so every retry of
// the ack reuses it and later transfers in the same bot session get larger ones.
func finish(t *handoff.Transfer, status handoff.Status, cause *handoff.Error, at time.Time) {
	t.Status = status
	t.UpdatedAt = at
	t.AwaitUntil = nil
	if cause != nil {
		t.Error = &handoff.Problem{Code: cause.Code, Message: problemMessage(cause), VendorCode: cause.VendorCode}
	}
	if t.Ack.Status == handoff.AckPending {
		t.Ack.SequenceID = at.UnixMilli()
	}
}

func problemMessage(e *handoff.Error) string {
	switch e.Code {
	case handoff.CodeTargetUnavailable:
		return "no target could take the conversation"
	case handoff.CodeVendorRejected:
		return "the vendor refused the transfer"
	}
	return e.Message
}

func refOf(t handoff.Transfer) *handoff.Ref {
	if t.VendorRef == "" {
		return nil
	}
	return &handoff.Ref{Vendor: t.Vendor, VendorRef: t.VendorRef}
}

// callbackURL is this transfer's callback route on our API; the vendor adapter adds its proof.
func callbackURL(base, vendor, tenant, id string) string {
	if base == "" {
		return ""
	}
	q := url.Values{"tenant": {tenant}, "transfer": {id}}
	return strings.TrimRight(base, "/") + "/callbacks/" + url.PathEscape(vendor) + "?" + q.Encode()
}

// timeline is what a newly recorded transfer's history starts with.
func timeline(t handoff.Transfer) []handoff.Event {
	events := []handoff.Event{{At: t.CreatedAt, Kind: "created", Status: handoff.StatusPending}}
	events = append(events, attemptEvents(t.Attempts)...)
	if t.Status.Final() {
		events = append(events, handoff.Event{At: t.UpdatedAt, Kind: "status", Status: t.Status})
	}
	return events
}

// attemptEvents are the timeline entries of attempts.
func attemptEvents(attempts []handoff.Attempt) []handoff.Event {
	events := make([]handoff.Event, 0, len(attempts))
	for _, a := range attempts {
		detail := string(a.Target.Type) + " " + a.Target.ID + ": " + string(a.Outcome)
		if a.VendorCode != "" {
			detail += " (" + a.VendorCode + ")"
		}
		events = append(events, handoff.Event{At: a.At, Kind: "attempt", Detail: detail})
	}
	return events
}
