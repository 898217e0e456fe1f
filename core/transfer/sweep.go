package transfer

import (
	"context"

	"handoff/core/handoff"
	"handoff/core/telemetry"
	"handoff/core/vendors"
)

// sweepBatch bounds the transfers one sweep gives up on, so one run fits in its invocation.
const sweepBatch = 100

// NoCallbackCode is the vendor code recorded when a vendor never called back in time.
const NoCallbackCode = "NO_CALLBACK"

// Sweep gives up on the targets whose vendor has not called back by the transfer's deadline
// (awaitUntil), so no transfer stays pending forever: it is a report that the awaited target did
// not answer (TARGET_UNAVAILABLE / NO_CALLBACK), applied like a callback's — the next fallback is
// tried, or the transfer fails and the bot hears transferFailed. A callback that lands at the same
// moment wins or loses by the store's conditions; either way the transfer moves on once. It
// returns how many transfers it moved on.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	overdue, err := s.store.Overdue(ctx, s.now(), sweepBatch)
	if err != nil {
		return 0, err
	}
	moved := 0
	for _, t := range overdue {
		if t.Status != handoff.StatusPending {
			continue // the index lags: it already moved on
		}
		silence := vendors.Callback{Outcome: handoff.OutcomeUnavailable, VendorCode: NoCallbackCode,
			Detail: "no callback from " + t.Vendor + " by the deadline"}
		switch _, err := s.report(ctx, t, silence, s.callbackBase); handoff.ErrorCode(err) {
		case "":
			moved++
			telemetry.Count(ctx, telemetry.SweepGiveUps, telemetry.Dims{Vendor: t.Vendor, Tenant: t.Tenant})
			s.log.Info("gave up awaiting a callback", "op", "transfer.Sweep", "transfer", t.ID, "vendor", t.Vendor)
		case handoff.CodeConflict, handoff.CodeNotFound:
			// a callback or another sweep got there first: nothing to do
		default:
			return moved, err
		}
	}
	return moved, nil
}
