package transfer

import (
	"context"

	"handoff/core/handoff"
)

// cancelRounds bounds how often Cancel reads again when the transfer moved under it.
const cancelRounds = 3

// Cancel calls transfer t (as read, with its Version) off: a queued one never reaches the
// vendor (the drainer skips it); a pending one stops its chain, since the run's next write is
// refused, so no further fallback is tried; either ends cancelled with error CANCELLED and, when a
// bot asked, its ack due (the bot hears that the transfer failed). A final transfer is CONFLICT.
// A vendor call already in flight is not recalled: what the vendor did then stays on its side.
func (s *Service) Cancel(ctx context.Context, t handoff.Transfer, by string) (handoff.Transfer, error) {
	const op = "transfer.Cancel"
	for range cancelRounds {
		if t.Status.Final() {
			return t, handoff.E(handoff.CodeConflict, op, "the transfer is already "+string(t.Status), nil)
		}
		after := t
		finish(&after, handoff.StatusCancelled, handoff.E(handoff.CodeCancelled, op, "the transfer was cancelled", nil), s.now().UTC())
		detail := "cancelled"
		if by != "" {
			detail += " by " + by
		}
		saved, err := s.store.Update(ctx, t, after, handoff.Event{At: after.UpdatedAt, Kind: "status", Status: handoff.StatusCancelled, Detail: detail})
		if err == nil {
			if t.Status == handoff.StatusQueued && s.pacer != nil {
				s.dequeue(keyOf(t), t.ID)
			}
			s.log.Info("transfer cancelled", "op", op, "transfer", t.ID, "from", string(t.Status), "by", by)
			return saved, nil
		}
		if handoff.ErrorCode(err) != handoff.CodeConflict {
			return handoff.Transfer{}, err
		}
		if t, err = s.store.Get(ctx, t.ID); err != nil {
			return handoff.Transfer{}, err
		}
	}
	return handoff.Transfer{}, handoff.E(handoff.CodeInProgress, op, "the transfer keeps changing; try again", nil)
}

// FindByKey returns tenant's transfer asked for with idempotency key key.
func (s *Service) FindByKey(ctx context.Context, tenant, key string) (handoff.Transfer, error) {
	return s.store.FindByKey(ctx, tenant, key)
}
