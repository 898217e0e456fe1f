package transfer

import (
	"context"

	"handoff/core/handoff"
)

// sweepBatch bounds the transfers one sweep gives up on, so one run fits in its invocation.
const sweepBatch = 100

// NoCallbackCode is the vendor code recorded when a vendor never called back in time.
const NoCallbackCode = "NO_CALLBACK"

// Sweep fails the transfers whose vendor has not called back by their deadline (awaitUntil), so
// no transfer stays pending forever: the bot is then told transferFailed (NoAgentAvailable) like
// for any target that could not take the conversation. A callback that lands at the same moment
// wins or loses by the store's conditions; either way the transfer ends once. It returns how
// many transfers it ended.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	overdue, err := s.store.Overdue(ctx, s.now(), sweepBatch)
	if err != nil {
		return 0, err
	}
	ended := 0
	for _, t := range overdue {
		if t.Status != handoff.StatusPending {
			continue // the index lags: it already moved on
		}
		now := s.now().UTC()
		after := t
		after.Attempts = append(append([]handoff.Attempt{}, t.Attempts...), handoff.Attempt{
			Target: lastTarget(t), Outcome: handoff.OutcomeUnavailable, VendorCode: NoCallbackCode, At: now,
		})
		finish(&after, handoff.StatusFailed, &handoff.Error{Code: handoff.CodeTargetUnavailable, VendorCode: NoCallbackCode}, now)
		after.Error.Message = "the vendor did not report an outcome in time"
		events := []handoff.Event{
			{At: now, Kind: "timeout", Detail: "no callback from " + t.Vendor + " by the deadline"},
			{At: now, Kind: "status", Status: handoff.StatusFailed},
		}
		switch _, err := s.store.Update(ctx, t, after, events...); handoff.ErrorCode(err) {
		case "":
			ended++
			s.log.Info("gave up awaiting a callback", "op", "transfer.Sweep", "transfer", t.ID, "vendor", t.Vendor)
		case handoff.CodeConflict, handoff.CodeNotFound:
			// a callback or another sweep got there first: nothing to do
		default:
			return ended, err
		}
	}
	return ended, nil
}
