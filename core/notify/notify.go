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
	// PendingAcks lists final transfers whose ack is still pending some time after its last
	// attempt (core/store.AckRescanAfter).
	PendingAcks(ctx context.Context, now time.Time, limit int) ([]handoff.Transfer, error)
}

// rescanBatch bounds the transfers one Rescan looks at; rescanReserve is the part of its
// invocation it never starts an ack in.
const (
	rescanBatch   = 50
	rescanReserve = 5 * time.Second
)

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
	// ackTimeout caps one ack, so one slow webhook cannot use up the invocation (and stall the
	// stream's shard for every tenant); recordReserve is kept back from the invocation's
	// deadline for recording what happened.
	ackTimeout, recordReserve time.Duration
}

// recordRounds bounds how often Notify re-reads and records again after a concurrent change.
const recordRounds = 4

// New builds a Notifier from ready parts.
func New(store Store, ackers Ackers, publisher Publisher, log *slog.Logger) *Notifier {
	return &Notifier{store: store, ackers: ackers, publisher: publisher, log: log, now: time.Now,
		maxAckAttempts: 5, ackTimeout: 8 * time.Second, recordReserve: 2 * time.Second}
}

// WithClock sets the clock (tests).
func (n *Notifier) WithClock(now func() time.Time) *Notifier { n.now = now; return n }

// WithAckTimeout caps one ack (default 8s); the invocation's remaining time caps it further.
func (n *Notifier) WithAckTimeout(d time.Duration) *Notifier { n.ackTimeout = d; return n }

// Notify acks and publishes the outcome of transfer id. It returns an error only when a retry
// can fix it (the bot's API or the bus was unavailable, or the result could not be recorded).
//
// Each side effect happens at most once per call: the ack and the publication are done on the
// record as read, and their results are then recorded on the freshest record, re-read after a
// concurrent change, without sending anything again. Nil is returned only once recorded.
func (n *Notifier) Notify(ctx context.Context, id string) error {
	t, err := n.store.Get(ctx, id)
	if err != nil {
		if handoff.ErrorCode(err) == handoff.CodeNotFound {
			return nil // expired or never recorded: nothing to tell, and a retry would not help
		}
		return err
	}
	if !t.Status.Final() {
		return nil
	}
	done := n.deliver(ctx, t)
	if len(done.events) == 0 {
		return done.err
	}
	// Record with a context of our own: the invocation's may be nearly spent by a slow ack.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), n.recordReserve+3*time.Second)
	defer cancel()
	for range recordRounds {
		after, events := done.onto(t)
		if len(events) == 0 {
			return done.err
		}
		_, err := n.store.Update(rctx, t, after, events...)
		switch handoff.ErrorCode(err) {
		case "":
			return done.err
		case handoff.CodeNotFound:
			// Expired, or kept read-only since its key was used again: nothing left to record.
			n.log.Warn("outcome not recorded: the transfer is gone", "op", "notify.Notify", "transfer", id)
			return nil
		case handoff.CodeConflict:
		default:
			return err
		}
		// A concurrent delivery of the same record moved it: record onto what it left.
		if t, err = n.store.Get(rctx, id); err != nil {
			return err
		}
	}
	return handoff.E(handoff.CodeUnavailable, "notify.Notify", "the outcome could not be recorded; a retry will", nil)
}

// delivery is what one Notify did: the ack's result (when it acked), whether it published, the
// timeline events to record, and the error a retry should follow.
type delivery struct {
	acked     *handoff.Ack
	published *time.Time
	events    []handoff.Event
	at        time.Time
	err       error
}

// onto applies d to the stored t: the ack is recorded only while t's ack is still pending, the
// publication only while t has none. The events are recorded either way, as they happened.
func (d delivery) onto(t handoff.Transfer) (handoff.Transfer, []handoff.Event) {
	after := t
	if d.acked != nil && t.Ack.Status == handoff.AckPending {
		ack := *d.acked
		ack.Attempts = max(ack.Attempts, t.Ack.Attempts+1)
		after.Ack = ack
	}
	if d.published != nil && t.NotifiedAt == nil {
		after.NotifiedAt = d.published
	}
	if len(d.events) > 0 {
		after.UpdatedAt = d.at
	}
	return after, d.events
}

// deliver does what is left to do for t, once.
func (n *Notifier) deliver(ctx context.Context, t handoff.Transfer) delivery {
	now := n.now().UTC()
	d := delivery{at: now}
	if t.Ack.Status == handoff.AckPending {
		ack, ev, err := n.ack(ctx, t, now)
		if ev.Kind == "" { // not tried: nothing to record
			d.err = err
			return d
		}
		d.acked, d.events = &ack, append(d.events, ev)
		// The outcome event carries the ack as it now stands (its bot's reply included).
		t.Ack = ack
		telemetry.Acked(ctx, t)
		if err != nil {
			d.err = err // retry later; the attempt count is recorded now
			return d
		}
	}
	if t.NotifiedAt == nil {
		detail := DetailSucceeded
		if t.Status != handoff.StatusTransferred { // failed or cancelled
			detail = DetailFailed
		}
		if err := n.publisher.Publish(ctx, detail, outcomeDetail{t, SchemaVersion}); err != nil {
			n.log.Warn("publish failed", "op", "notify.publish", "transfer", t.ID, "error", err)
			d.err = err
			return d
		}
		d.published = &now
		d.events = append(d.events, handoff.Event{At: now, Kind: "published", Detail: detail})
		telemetry.Ended(ctx, t)
	}
	return d
}

// ack tells the bot and returns t's ack as it now stands. It returns an error only when the ack
// should be retried. The ack gets its own deadline: at most ackTimeout, and never past what
// the invocation needs to record it.
func (n *Notifier) ack(ctx context.Context, t handoff.Transfer, now time.Time) (handoff.Ack, handoff.Event, error) {
	ack := t.Ack
	ack.Attempts++
	ack.At = now
	acker, ok := n.ackers.Acker(t.Bot.Vendor)
	if !ok {
		ack.Status, ack.Error = handoff.AckFailed, "no adapter for bot "+t.Bot.Vendor
		return ack, handoff.Event{At: now, Kind: "ack", Detail: "failed: " + ack.Error}, nil
	}
	budget := n.ackTimeout
	if dl, ok := ctx.Deadline(); ok {
		budget = min(budget, time.Until(dl)-n.recordReserve)
	}
	if budget <= 0 {
		// Too little time left to ack and record: leave it to the next delivery or the scan.
		return t.Ack, handoff.Event{}, handoff.E(handoff.CodeUnavailable, "notify.ack", "no time left to ack", nil)
	}
	actx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	res, err := acker.Ack(actx, t)
	switch {
	case err == nil && res.Uncertain != "":
		// The bot may have processed it (Salesforce 503): never re-sent, not by the scan either.
		ack.Status, ack.Error, ack.BotMessages = handoff.AckUncertain, res.Uncertain, res.BotMessages
		n.log.Warn("ack uncertain; not re-sent", "op", "notify.ack", "transfer", t.ID, "reason", res.Uncertain)
		return ack, handoff.Event{At: now, Kind: "ack", Detail: "uncertain: " + res.Uncertain}, nil
	case err == nil:
		ack.Status, ack.Error, ack.BotMessages = handoff.AckSent, "", res.BotMessages
		return ack, handoff.Event{At: now, Kind: "ack", Detail: "sent to " + t.Bot.Vendor}, nil
	case handoff.Retryable(err) && ack.Attempts < n.maxAckAttempts:
		code := string(handoff.ErrorCode(err))
		ack.Error = code
		n.log.Warn("ack will be retried", "op", "notify.ack", "transfer", t.ID, "attempt", ack.Attempts, "error", err)
		return ack, handoff.Event{At: now, Kind: "ack", Detail: "attempt failed: " + code}, err
	default:
		code := string(handoff.ErrorCode(err))
		ack.Status, ack.Error = handoff.AckFailed, code
		n.log.Error("ack failed", "op", "notify.ack", "transfer", t.ID, "attempts", ack.Attempts, "error", err)
		return ack, handoff.Event{At: now, Kind: "ack", Detail: "failed: " + code}, nil
	}
}

// Rescan re-sends the acks left pending: a stream record that ran out of retries or of the
// stream's retention, or an ack retried after a slow webhook, is not left to chance. It notifies
// each final transfer whose ack is still pending a while after its last attempt, stopping
// before its own deadline, and returns how many it settled or advanced. A transfer's ack is
// still tried at most maxAckAttempts times in all.
func (n *Notifier) Rescan(ctx context.Context) (int, error) {
	due, err := n.store.PendingAcks(ctx, n.now(), rescanBatch)
	if err != nil {
		return 0, err
	}
	done := 0
	for _, t := range due {
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < rescanReserve {
			break // the next run takes the rest
		}
		if err := n.Notify(ctx, t.ID); err != nil {
			n.log.Warn("pending ack still not sent", "op", "notify.Rescan", "transfer", t.ID, "error", err)
			continue
		}
		done++
	}
	return done, nil
}
