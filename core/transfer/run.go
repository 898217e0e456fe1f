package transfer

import (
	"context"
	"net/url"
	"strings"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors"
)

// pending is the record of a new transfer before any vendor call: pending, no attempts, its
// first target in doubt until the claim's deadline.
func (s *Service) pending(req handoff.Request, caller string, claim handoff.Claim) handoff.Transfer {
	now := s.now().UTC()
	until := claim.LeaseUntil
	t := handoff.Transfer{
		ID: claim.TransferID, Tenant: req.Tenant, Vendor: req.Vendor,
		Conversation: req.Conversation, Target: req.Target, Fallbacks: req.Fallbacks,
		Note: req.Note, Options: req.Options,
		Status: handoff.StatusPending, Attempts: []handoff.Attempt{}, Bot: req.Bot,
		Metadata: req.Metadata, CreatedAt: now, UpdatedAt: now, AwaitUntil: &until,
		Ack: handoff.Ack{Status: handoff.AckNotRequired}, Caller: caller,
	}
	if req.Bot != nil {
		t.Ack.Status = handoff.AckPending
	}
	return t
}

// run tries t's targets from the one in doubt (the first, for a new transfer) and records the
// outcome with the claim. Before each fallback the attempts so far are recorded, so the record
// always names the one target whose outcome is unknown. Target-level refusals move on to the next
// target; any other failure stops and is returned, with the record left for a retry or the sweep.
// vendorFailed says the error is the vendor's; otherwise recording failed, and the vendor may
// have acted, so the claim must not be released as if nothing happened.
func (s *Service) run(ctx context.Context, tr vendors.Transferer, base string, claim handoff.Claim, t handoff.Transfer, reconcile bool) (_ handoff.Transfer, _ error, vendorFailed bool) {
	// Keep time back for recording the outcome: a vendor call must not eat the whole lease.
	vctx, cancel := context.WithDeadline(ctx, claim.LeaseUntil.Add(-s.leaseMargin))
	defer cancel()
	if t.Status.Final() || awaitingCallback(t) {
		// The earlier attempt's outcome is already recorded: only the key is left to complete.
		saved, err := s.store.Complete(context.WithoutCancel(ctx), claim, t, nil)
		return saved, err, false
	}
	recorded := len(t.Attempts)
	storeFailed := false
	progress := func(cur handoff.Transfer) (handoff.Transfer, error) {
		saved, err := s.store.Progress(context.WithoutCancel(ctx), claim, cur, attemptEvents(cur.Attempts[recorded:])...)
		recorded, storeFailed = len(cur.Attempts), err != nil
		return saved, err
	}
	after := t
	after.Attempts = append([]handoff.Attempt{}, t.Attempts...)
	if err := s.tryFrom(vctx, tr, &after, inDoubt(t), base, reconcile, nil, progress); err != nil {
		return handoff.Transfer{}, err, !storeFailed
	}
	events := attemptEvents(after.Attempts[recorded:])
	if after.Status.Final() {
		events = append(events, handoff.Event{At: after.UpdatedAt, Kind: "status", Status: after.Status})
	}
	saved, err := s.store.Complete(context.WithoutCancel(ctx), claim, after, events)
	return saved, err, false
}

// inDoubt is the index of the target whose outcome t's record does not know: the first when
// nothing was tried, else the one after the last attempted.
func inDoubt(t handoff.Transfer) int {
	if len(t.Attempts) == 0 {
		return 0
	}
	return nextTarget(t)
}

// awaitingCallback reports whether t's last attempt was accepted and awaits the vendor's word.
func awaitingCallback(t handoff.Transfer) bool {
	n := len(t.Attempts)
	return t.Status == handoff.StatusPending && n > 0 && t.Attempts[n-1].Outcome == handoff.OutcomeAwaiting
}

// tryFrom tries t's targets from index `from` on, recording each attempt in t: it stops at the
// first the vendor accepts (t transferred, or pending with a callback deadline) and ends t failed
// with the last refusal (or `refused`, the refusal that led here) when none does. A failure that
// is not the target's (the vendor down, bad credentials) stops it and is returned, t unfinished.
// reconcile applies to the first target only: the one an earlier attempt left in doubt. Before
// each later target, record stores t (and returns it with its new version).
func (s *Service) tryFrom(ctx context.Context, tr vendors.Transferer, t *handoff.Transfer, from int, base string, reconcile bool, refused *handoff.Error, record func(handoff.Transfer) (handoff.Transfer, error)) error {
	lastErr := refused
	for i, target := range t.Targets()[from:] {
		if i > 0 && record != nil {
			saved, err := record(*t)
			if err != nil {
				return err
			}
			*t = saved
		}
		res, err := tr.Transfer(ctx, vendors.TransferRequest{
			Tenant: t.Tenant, TransferID: t.ID, Conversation: t.Conversation,
			Target: target, Note: t.Note, Leave: t.Options.Leave,
			CallbackURL: callbackURL(base, t.Vendor),
			Reconcile:   reconcile && i == 0,
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

// callbackURL is the vendor's callback route on our API, with no query: the vendor adapter adds
// its proof, which names the tenant and the transfer, as a last path segment. A platform that
// drops or re-encodes query strings (some do, and Kore.ai documents nothing either way)
// delivers a path intact.
func callbackURL(base, vendor string) string {
	if base == "" {
		return ""
	}
	return strings.TrimRight(base, "/") + "/callbacks/" + url.PathEscape(vendor)
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
