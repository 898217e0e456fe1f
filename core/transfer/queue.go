package transfer

import (
	"context"
	"strconv"
	"time"

	"handoff/core/handoff"
	"handoff/core/pacing"
)

// Pacer spaces the calls to each tenant's account at each vendor and counts the queued
// transfers (pacing.Pacer implements it).
type Pacer interface {
	Take(ctx context.Context, k pacing.Key) (pacing.Grant, error)
	Book(ctx context.Context, k pacing.Key, by time.Time) (pacing.Grant, error)
	WaitUntil(ctx context.Context, t time.Time) error
	Throttled(ctx context.Context, k pacing.Key, retryAfter time.Duration) error
	Enqueue(ctx context.Context, k pacing.Key, next time.Time) (pacing.Queued, error)
	Dequeue(ctx context.Context, k pacing.Key, n int) error
}

// Queue holds the transfers waiting for their vendor's rate (an SQS FIFO queue in production).
type Queue interface {
	Send(ctx context.Context, m Message) error
}

// Message is one queued transfer as the queue carries it: the transfer is read back from the
// store when it is drained, so the message holds only what finds it and what the record lacks.
type Message struct {
	TransferID string `json:"transferId"`
	// CallbackBase is the public base URL the request arrived at, for vendors that call back.
	CallbackBase string `json:"callbackBase,omitempty"`
	// Group is the FIFO message group (tenant and vendor): each keeps its order.
	Group string `json:"-"`
	// SentAt is when the queue took the message (SQS's SentTimestamp); zero when unknown.
	SentAt time.Time `json:"-"`
	// DeduplicationID is derived from the tenant and idempotency key: a message sent twice
	// within five minutes is dropped by the queue.
	DeduplicationID string `json:"-"`
}

// WithPacing paces vendor calls with p and queues, on q, the transfers that cannot start now.
// Without it every transfer starts at once, as if the vendors had no limit.
func WithPacing(p Pacer, q Queue) Option {
	return func(s *Service) { s.pacer, s.queue = p, q }
}

func keyOf(t handoff.Transfer) pacing.Key { return pacing.Key{Tenant: t.Tenant, Vendor: t.Vendor} }

// admit decides, for a newly claimed transfer, whether it starts now: without pacing always;
// an escalation (always) never; otherwise when the bucket has a token, which this call takes
// for the first vendor call. Not now: next is when the next token is free.
func (s *Service) admit(ctx context.Context, t handoff.Transfer, always bool) (now bool, next time.Time, err error) {
	if s.pacer == nil {
		return true, time.Time{}, nil
	}
	if always {
		return false, s.now(), nil
	}
	g, err := s.pacer.Take(ctx, keyOf(t))
	if err != nil {
		return false, time.Time{}, err
	}
	return g.OK, g.At, nil
}

// enqueue records claimed transfer t as queued, completes its key (a duplicate then returns
// it) and sends it to the queue. Past the tenant's bound it is RATE_LIMITED and leaves no trace.
// The record is written before the message, so the drainer always finds it queued; if the send
// fails the transfer ends failed with UNAVAILABLE (the answer a duplicate replays), since a
// queued record that no message names would never start.
func (s *Service) enqueue(ctx context.Context, claim handoff.Claim, t handoff.Transfer, next time.Time, base string) (handoff.Transfer, error) {
	k := keyOf(t)
	q, err := s.pacer.Enqueue(ctx, k, next)
	if err != nil {
		s.release(claim, false, err)
		return handoff.Transfer{}, err
	}
	at := s.now().UTC()
	start := q.Start.UTC()
	queued := t
	queued.Status, queued.AwaitUntil, queued.ExpectedStartAt, queued.UpdatedAt = handoff.StatusQueued, nil, &start, at
	saved, err := s.store.Complete(context.WithoutCancel(ctx), claim, queued, []handoff.Event{{
		At: at, Kind: "status", Status: handoff.StatusQueued,
		Detail: "queued behind " + itoa(q.Ahead) + "; expected to start at " + start.Format(time.RFC3339),
	}})
	if err != nil {
		s.dequeue(k, t.ID)
		s.release(claim, false, err)
		return handoff.Transfer{}, err
	}
	msg := Message{TransferID: saved.ID, CallbackBase: base, Group: pacing.MessageGroup(k),
		DeduplicationID: pacing.DeduplicationID(claim.Tenant, claim.Key)}
	if err := s.queue.Send(ctx, msg); err != nil {
		s.dequeue(k, t.ID)
		cause := handoff.E(handoff.CodeUnavailable, "transfer.enqueue", "the transfer could not be queued", err)
		failed := saved
		finish(&failed, handoff.StatusFailed, cause, s.now().UTC())
		if _, uerr := s.store.Update(context.WithoutCancel(ctx), saved, failed,
			handoff.Event{At: failed.UpdatedAt, Kind: "status", Status: handoff.StatusFailed, Detail: "not queued"}); uerr != nil {
			s.log.Error("a queued transfer has no message", "op", "transfer.enqueue", "transfer", saved.ID, "error", uerr)
		}
		return handoff.Transfer{}, cause
	}
	return saved, nil
}

// dequeue counts a transfer out of its tenant's queue.
func (s *Service) dequeue(k pacing.Key, id string) { s.dequeueN(k, 1, id) }

// dequeueN counts n transfers out of k's queue (about names them in the log); a failure only
// leaves the count high until it idles out, so it is logged, not returned.
func (s *Service) dequeueN(k pacing.Key, n int, about string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.pacer.Dequeue(ctx, k, n); err != nil {
		s.log.Warn("dequeue failed; the tenant's queue count stays high until it idles out",
			"op", "transfer.dequeue", "transfer", about, "count", n, "error", err)
	}
}

func itoa(n int) string {
	if n == 1 {
		return "1 transfer"
	}
	return strconv.Itoa(n) + " transfers"
}
