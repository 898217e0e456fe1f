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
		Status: handoff.StatusPending, Attempts: []handoff.Attempt{}, Bot: req.Bot,
		Metadata: req.Metadata, CreatedAt: now, UpdatedAt: now,
		Ack: handoff.Ack{Status: handoff.AckNotRequired},
	}
	if req.Bot != nil {
		t.Ack.Status = handoff.AckPending
	}
	// Keep time back for recording the outcome: a vendor call must not eat the whole lease.
	vctx, cancel := context.WithDeadline(ctx, claim.LeaseUntil.Add(-s.leaseMargin))
	defer cancel()

	var lastErr *handoff.Error
	for _, target := range req.Targets() {
		res, err := tr.Transfer(vctx, vendors.TransferRequest{
			Tenant: req.Tenant, TransferID: t.ID, Conversation: req.Conversation,
			Target: target, Note: req.Note, Leave: req.Options.Leave,
			CallbackURL: callbackURL(in.CallbackBase, req.Vendor, req.Tenant, t.ID),
			Reconcile:   reconcile,
		})
		at := s.now().UTC()
		if err != nil {
			e := handoff.AsError(err)
			outcome, next := attemptOutcome(e.Code)
			if !next {
				return handoff.Transfer{}, nil, err
			}
			s.log.Info("target refused", "op", "transfer.run", "transfer", t.ID, "vendor", req.Vendor,
				"target", string(target.Type), "code", string(e.Code), "vendorCode", e.VendorCode)
			t.Attempts = append(t.Attempts, handoff.Attempt{Target: target, Outcome: outcome, VendorCode: e.VendorCode, At: at})
			lastErr = e
			continue
		}
		t.Attempts = append(t.Attempts, handoff.Attempt{Target: target, Outcome: res.Outcome, VendorCode: res.VendorCode, At: at})
		t.VendorRef = res.VendorRef
		t.UpdatedAt = at
		if res.Outcome == handoff.OutcomeAwaiting {
			until := at.Add(s.callbackTimeout)
			t.AwaitUntil = &until
			return t, refOf(t), nil
		}
		finish(&t, handoff.StatusTransferred, nil, at)
		return t, refOf(t), nil
	}
	finish(&t, handoff.StatusFailed, lastErr, s.now().UTC())
	return t, nil, nil
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
	for _, a := range t.Attempts {
		detail := string(a.Target.Type) + " " + a.Target.ID + ": " + string(a.Outcome)
		if a.VendorCode != "" {
			detail += " (" + a.VendorCode + ")"
		}
		events = append(events, handoff.Event{At: a.At, Kind: "attempt", Detail: detail})
	}
	if t.Status.Final() {
		events = append(events, handoff.Event{At: t.UpdatedAt, Kind: "status", Status: t.Status})
	}
	return events
}
