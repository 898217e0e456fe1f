package transfer

import (
	"context"
	"time"

	"handoff/core/handoff"
	"handoff/core/telemetry"
	"handoff/core/vendors"
)

// sweepBatch bounds the transfers one sweep looks at, so one run fits in its invocation.
const sweepBatch = 100

// NoCallbackCode is the vendor code recorded when a vendor never called back in time.
const NoCallbackCode = "NO_CALLBACK"

// UnconfirmedCode is the vendor code a transfer fails with when its invocation died during a
// vendor call and the vendor could not confirm what that call did.
const UnconfirmedCode = "UNCONFIRMED"

// Sweep resolves every pending transfer whose deadline has passed, so no transfer stays pending
// forever and every bot hears how its transfer ended:
//
//   - awaiting a callback: it is a report that the awaited target did not answer
//     (TARGET_UNAVAILABLE / NO_CALLBACK), applied like a callback's: the next fallback is tried,
//     or the transfer fails;
//   - left mid-call by an invocation that died (or released after a vendor call in doubt): the
//     sweep takes the claim over and asks the vendor again for the target in doubt, with
//     reconcile set, so a vendor that already acted says so and it counts as done. When the
//     vendor cannot tell, the transfer fails with UnconfirmedCode.
//
// The index it reads is eventually consistent: each transfer is read again, and given up on
// only when its deadline has passed on that fresh read (and, for a takeover, on the stored
// record itself). It stops starting work sweepReserve before its own deadline. It returns how
// many transfers it moved on.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	overdue, err := s.store.Overdue(ctx, s.now(), sweepBatch)
	if err != nil {
		return 0, err
	}
	moved := 0
	for _, stale := range overdue {
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < s.sweepReserve {
			break // the rest waits for the next run, rather than dying mid-call
		}
		t, err := s.store.Get(ctx, stale.ID)
		if handoff.ErrorCode(err) == handoff.CodeNotFound {
			continue
		}
		if err != nil {
			return moved, err
		}
		if !due(t, s.now()) {
			continue // the index lags: it moved on, or got a new deadline
		}
		if awaitingCallback(t) {
			silence := vendors.Callback{Outcome: handoff.OutcomeUnavailable, VendorCode: NoCallbackCode,
				Detail: "no callback from " + t.Vendor + " by the deadline"}
			_, err = s.report(ctx, t, silence, s.callbackBase, true)
		} else {
			_, err = s.resolve(ctx, t)
		}
		switch handoff.ErrorCode(err) {
		case "":
			moved++
			telemetry.Count(ctx, telemetry.SweepGiveUps, telemetry.Dims{Vendor: t.Vendor, Tenant: t.Tenant})
			s.log.Info("resolved an overdue transfer", "op", "transfer.Sweep", "transfer", t.ID, "vendor", t.Vendor)
		case handoff.CodeConflict, handoff.CodeNotFound, handoff.CodeInProgress:
			// a callback, a retry of the request or another sweep got there first
		default:
			return moved, err
		}
	}
	return moved, nil
}

// resolve finishes pending t, whose invocation left the target in doubt: it takes the claim
// over, asks the vendor again with reconcile for that target (then any fallbacks), and records
// the outcome; a failure that is not the target's fails the transfer with UnconfirmedCode.
func (s *Service) resolve(ctx context.Context, t handoff.Transfer) (handoff.Transfer, error) {
	tr, ok := s.vendors.Transferer(t.Vendor)
	if !ok {
		return t, handoff.E(handoff.CodeInternal, "transfer.resolve", "no adapter for vendor "+t.Vendor, nil)
	}
	// The sweep's own lease: what its invocation has left, at most a minute.
	hold := time.Minute
	if dl, ok := ctx.Deadline(); ok {
		hold = min(hold, time.Until(dl))
	}
	until := s.now().Add(hold)
	claim, held, err := s.store.TakeOver(ctx, t, newID(), until)
	if err != nil {
		return t, err
	}
	saved, err, _ := s.run(ctx, tr, s.callbackBase, claim, held, true)
	if err == nil {
		return saved, nil
	}
	if handoff.ErrorCode(err) == handoff.CodeConflict {
		return t, err
	}
	// The vendor cannot tell (down, or it answered nothing we can read): end it, so the bot
	// hears. The record names the target that stayed in doubt.
	cause := handoff.AsError(err)
	failed, rerr := s.store.Get(context.WithoutCancel(ctx), t.ID)
	if rerr != nil {
		return t, rerr
	}
	at := s.now().UTC()
	finish(&failed, handoff.StatusFailed, nil, at)
	failed.Error = &handoff.Problem{Code: cause.Code, VendorCode: UnconfirmedCode,
		Message: "the vendor call was interrupted and the vendor could not confirm its outcome"}
	s.log.Warn("failed an unconfirmed transfer", "op", "transfer.resolve", "transfer", t.ID, "code", string(cause.Code))
	return s.store.Complete(context.WithoutCancel(ctx), claim, failed,
		[]handoff.Event{{At: at, Kind: "status", Status: handoff.StatusFailed, Detail: "unconfirmed: " + string(cause.Code)}})
}
