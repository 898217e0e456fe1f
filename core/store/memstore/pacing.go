package memstore

import (
	"context"
	"sync"
	"time"

	"handoff/core/pacing"
)

// Pacing keeps pacing's token buckets and queue counts in memory, with the rules of the
// DynamoDB store (pacing.Decide and pacing.Slowed, applied atomically per call). It is separate
// from Store so that the two can be used and replaced independently.
type Pacing struct {
	mu      sync.Mutex
	buckets map[pacing.Key]pacing.State
	total   map[string]int     // queued transfers per tenant
	queued  map[pacing.Key]int // queued transfers per tenant and vendor
	// Writes counts write requests, as the DynamoDB store would make them at least.
	Writes int
}

// NewPacing returns empty buckets and counts.
func NewPacing() *Pacing {
	return &Pacing{buckets: map[pacing.Key]pacing.State{}, total: map[string]int{}, queued: map[pacing.Key]int{}}
}

// Take books a token of k's bucket if one is free by `by`.
func (p *Pacing) Take(_ context.Context, k pacing.Key, l pacing.Limit, now, by time.Time) (pacing.Grant, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.Writes++
	s, g := pacing.Decide(p.buckets[k], l, now, by)
	p.buckets[k] = s
	return g, nil
}

// Slow slows k's bucket after a vendor's 429.
func (p *Pacing) Slow(_ context.Context, k pacing.Key, now time.Time, wait, period time.Duration) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.Writes++
	p.buckets[k] = pacing.Slowed(p.buckets[k], now, wait, period)
	return nil
}

// Enter counts a queued transfer for k while k.Tenant has fewer than bound queued.
func (p *Pacing) Enter(_ context.Context, k pacing.Key, bound int, _ time.Time) (int, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.Writes++
	if p.total[k.Tenant] >= bound {
		return p.queued[k], false, nil
	}
	p.total[k.Tenant]++
	p.queued[k]++
	return p.queued[k], true, nil
}

// Leave counts n of k's queued transfers out, never below zero.
func (p *Pacing) Leave(_ context.Context, k pacing.Key, n int, _ time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.Writes++
	n = min(n, p.queued[k], p.total[k.Tenant])
	p.queued[k] -= n
	p.total[k.Tenant] -= n
	return nil
}
