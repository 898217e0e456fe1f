package pacing

import (
	"context"
	"fmt"
	"time"

	"handoff/core/handoff"
)

// Backlog counts the transfers waiting in the queue, per tenant (for the bound) and per tenant
// and vendor (for the expected start); core/store and core/store/memstore implement it.
type Backlog interface {
	// Enter counts one more queued transfer for k if fewer than bound of k.Tenant's are queued,
	// and returns how many of k's are queued with it. ok is false, and nothing is counted, at
	// the bound.
	Enter(ctx context.Context, k Key, bound int, now time.Time) (queued int, ok bool, err error)
	// Leave counts n of k's queued transfers out (started, cancelled or given up); it never
	// goes below zero.
	Leave(ctx context.Context, k Key, n int, now time.Time) error
}

// Pacer answers, for a tenant's transfer to a vendor, whether it may call the vendor now, when
// it is expected to start if not, and whether the tenant's queue has room for it.
type Pacer struct {
	buckets Buckets
	backlog Backlog
	limits  Limits
	bound   int
	slowFor time.Duration
	now     func() time.Time
	sleep   func(ctx context.Context, d time.Duration) error
}

// Option changes a Pacer's defaults.
type Option func(*Pacer)

// WithClock sets the clock; tests move it by hand.
func WithClock(now func() time.Time) Option { return func(p *Pacer) { p.now = now } }

// WithSleep sets how WaitUntil waits; tests pass one that moves their clock.
func WithSleep(sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(p *Pacer) { p.sleep = sleep }
}

// WithSlowdown sets how long a bucket runs at half rate after a vendor's 429 (default 1m).
func WithSlowdown(d time.Duration) Option { return func(p *Pacer) { p.slowFor = d } }

// DefaultQueueBound is how many transfers a tenant may have queued, over all its vendors, when
// New is given no bound: at Kore.ai's 60 a minute, about 17 minutes of escalations.
const DefaultQueueBound = 1000

// New returns a Pacer on ready stores. bound is the most transfers a tenant may have queued
// (0: DefaultQueueBound).
func New(buckets Buckets, backlog Backlog, limits Limits, bound int, opts ...Option) *Pacer {
	if bound <= 0 {
		bound = DefaultQueueBound
	}
	p := &Pacer{buckets: buckets, backlog: backlog, limits: limits, bound: bound, slowFor: time.Minute, now: time.Now, sleep: sleep}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Limit is the rate in force for k.
func (p *Pacer) Limit(k Key) Limit { return p.limits.For(k.Tenant, k.Vendor) }

// Take takes a token for k: OK means call the vendor now; otherwise At is when the next token is
// free.
func (p *Pacer) Take(ctx context.Context, k Key) (Grant, error) {
	now := p.now()
	return p.buckets.Take(ctx, k, p.Limit(k), now, now)
}

// Book books the next token for k if it comes by `by`: OK, the vendor may be called at At
// (WaitUntil); not OK, the next token is at At, after by. One write, whether the token is free
// now or later: a drainer books each transfer's token as it reads the transfer, and waits for
// it only when its turn comes.
func (p *Pacer) Book(ctx context.Context, k Key, by time.Time) (Grant, error) {
	now := p.now()
	if by.Before(now) {
		by = now
	}
	return p.buckets.Take(ctx, k, p.Limit(k), now, by)
}

// WaitUntil waits until t, or until ctx ends (its error).
func (p *Pacer) WaitUntil(ctx context.Context, t time.Time) error {
	d := t.Sub(p.now())
	if d <= 0 {
		return ctx.Err()
	}
	return p.sleep(ctx, d)
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Throttled slows k's bucket after the vendor answered 429, honouring its Retry-After (zero when
// it sent none).
func (p *Pacer) Throttled(ctx context.Context, k Key, retryAfter time.Duration) error {
	return p.buckets.Slow(ctx, k, p.now(), retryAfter, p.slowFor)
}

// Queued is the answer to a transfer that goes into the queue.
type Queued struct {
	Ahead int       // transfers of the same tenant and vendor queued before it
	Start time.Time // when it is expected to start
}

// Enqueue counts a transfer for k into the queue and says when it is expected to start, given
// next, when k's next token is free (a refused Take's At). Past the tenant's bound it fails with
// RATE_LIMITED, with a Retry-After of about the time the queue needs to drain.
func (p *Pacer) Enqueue(ctx context.Context, k Key, next time.Time) (Queued, error) {
	now := p.now()
	queued, ok, err := p.backlog.Enter(ctx, k, p.bound, now)
	if err != nil {
		return Queued{}, err
	}
	every := p.Limit(k).Every
	if !ok {
		e := handoff.E(handoff.CodeRateLimited, "pacing.Enqueue",
			fmt.Sprintf("tenant %s has %d transfers queued, the most it may", k.Tenant, p.bound), nil)
		e.RetryAfter = max(MinRetryAfter, next.Sub(now)+time.Duration(max(queued, 1))*every).Round(time.Second)
		return Queued{}, e
	}
	if next.Before(now) {
		next = now
	}
	ahead := max(queued-1, 0)
	return Queued{Ahead: ahead, Start: next.Add(time.Duration(ahead) * every)}, nil
}

// Dequeue counts n transfers for k out of the queue: they started, were cancelled or were
// given up. A drainer counts a batch's started transfers out at once, one write for them all.
func (p *Pacer) Dequeue(ctx context.Context, k Key, n int) error {
	if n <= 0 {
		return nil
	}
	return p.backlog.Leave(ctx, k, n, p.now())
}
