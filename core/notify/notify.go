// Package notify is the bot-ack use case: when a transfer reaches its final state, tell the bot
// that asked for it (Salesforce, a signed webhook) and publish Transfer Succeeded / Transfer
// Failed, recording both so a redelivered stream record does neither twice.
package notify

import (
	"context"
	"log/slog"
	"time"

	"handoff/core/handoff"
	"handoff/core/telemetry"
	"handoff/core/vendors"
)

// Event detail types published on the bus.
const (
	DetailSucceeded = "Transfer Succeeded"
	DetailFailed    = "Transfer Failed"
)

// SchemaVersion versions the published detail (docs/schemas/transfer-outcome.json). It changes
// only for a change a reader could trip on; fields may be added within a version.
const SchemaVersion = "1"

// outcomeDetail is the published detail: the transfer resource plus its schema's version.
type outcomeDetail struct {
	handoff.Transfer
	SchemaVersion string `json:"schemaVersion"`
}

// Store is what the notifier needs of storage.
type Store interface {
	Get(ctx context.Context, id string) (handoff.Transfer, error)
	Update(ctx context.Context, before, after handoff.Transfer, events ...handoff.Event) (handoff.Transfer, error)
}

// Ackers finds a bot adapter by bot vendor.
type Ackers interface {
	Acker(name string) (vendors.Acker, bool)
}

// Publisher puts one event on the bus.
type Publisher interface {
	Publish(ctx context.Context, detailType string, detail any) error
}

// Notifier delivers final outcomes. Build it with New.
type Notifier struct {
	store     Store
	ackers    Ackers
	publisher Publisher
	log       *slog.Logger
	now       func() time.Time
	// maxAckAttempts bounds retries of one ack: after that it is recorded as failed, so an
	// outcome is always either acked or recorded as not acked, never retried forever.
	maxAckAttempts int
}

// New builds a Notifier from ready parts.
func New(store Store, ackers Ackers, publisher Publisher, log *slog.Logger) *Notifier {
	return &Notifier{store: store, ackers: ackers, publisher: publisher, log: log, now: time.Now, maxAckAttempts: 5}
}

// WithClock sets the clock (tests).
func (n *Notifier) WithClock(now func() time.Time) *Notifier { n.now = now; return n }

// Notify acks and publishes the outcome of transfer id. It returns an error only when a retry
// can fix it (the bot's API or the bus was unavailable); the progress made is recorded first.
func (n *Notifier) Notify(ctx context.Context, id string) error {
	t, err := n.store.Get(ctx, id)
	if err != nil {
		if handoff.ErrorCode(err) == handoff.CodeNotFound {
			return nil // expired or never recorded: nothing to tell, and a retry would not help
		}
		return err
	}
	for range 2 {
		after, events, retryErr := n.deliver(ctx, t)
		if len(events) == 0 {
			return retryErr
		}
		if _, err := n.store.Update(ctx, t, after, events...); err == nil {
			return retryErr
		} else if handoff.ErrorCode(err) != handoff.CodeConflict {
			return err
		}
		// Someone else (a concurrent delivery of the same record) moved it: look again.
		if t, err = n.store.Get(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// deliver does what is left to do for t and returns t as it should be stored, the events to
// record, and an error when a retry should follow.
func (n *Notifier) deliver(ctx context.Context, t handoff.Transfer) (handoff.Transfer, []handoff.Event, error) {
	if !t.Status.Final() {
		return t, nil, nil
	}
	after := t
	var events []handoff.Event
	now := n.now().UTC()
	if t.Ack.Status == handoff.AckPending {
		ev, err := n.ack(ctx, &after, now)
		telemetry.Acked(ctx, after)
		events = append(events, ev)
		if err != nil {
			return after, events, err // retry later; the attempt count is recorded now
		}
	}
	if t.NotifiedAt == nil {
		detail := DetailSucceeded
		if t.Status == handoff.StatusFailed {
			detail = DetailFailed
		}
		if err := n.publisher.Publish(ctx, detail, outcomeDetail{after, SchemaVersion}); err != nil {
			n.log.Warn("publish failed", "op", "notify.publish", "transfer", t.ID, "error", err)
			return after, events, err
		}
		after.NotifiedAt = &now
		telemetry.Ended(ctx, after)
		events = append(events, handoff.Event{At: now, Kind: "published", Detail: detail})
	}
	if len(events) > 0 {
		after.UpdatedAt = now
	}
	return after, events, nil
}

// ack tells the bot and updates t.Ack. It returns an error only when the ack should be retried.
func (n *Notifier) ack(ctx context.Context, t *handoff.Transfer, now time.Time) (handoff.Event, error) {
	t.Ack.Attempts++
	t.Ack.At = now
	acker, ok := n.ackers.Acker(t.Bot.Vendor)
	if !ok {
		t.Ack.Status, t.Ack.Error = handoff.AckFailed, "no adapter for bot "+t.Bot.Vendor
		return handoff.Event{At: now, Kind: "ack", Detail: "failed: " + t.Ack.Error}, nil
	}
	res, err := acker.Ack(ctx, *t)
	switch {
	case err == nil && res.Uncertain != "":
		t.Ack.Status, t.Ack.Error, t.Ack.BotMessages = handoff.AckUncertain, res.Uncertain, res.BotMessages
		n.log.Warn("ack uncertain; not re-sent", "op", "notify.ack", "transfer", t.ID, "reason", res.Uncertain)
		return handoff.Event{At: now, Kind: "ack", Detail: "uncertain: " + res.Uncertain}, nil
	case err == nil:
		t.Ack.Status, t.Ack.Error, t.Ack.BotMessages = handoff.AckSent, "", res.BotMessages
		return handoff.Event{At: now, Kind: "ack", Detail: "sent to " + t.Bot.Vendor}, nil
	case handoff.Retryable(err) && t.Ack.Attempts < n.maxAckAttempts:
		code := string(handoff.ErrorCode(err))
		t.Ack.Error = code
		n.log.Warn("ack will be retried", "op", "notify.ack", "transfer", t.ID, "attempt", t.Ack.Attempts, "error", err)
		return handoff.Event{At: now, Kind: "ack", Detail: "attempt failed: " + code}, err
	default:
		code := string(handoff.ErrorCode(err))
		t.Ack.Status, t.Ack.Error = handoff.AckFailed, code
		n.log.Error("ack failed", "op", "notify.ack", "transfer", t.ID, "attempts", t.Ack.Attempts, "error", err)
		return handoff.Event{At: now, Kind: "ack", Detail: "failed: " + code}, nil
	}
}
