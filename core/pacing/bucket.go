// Package pacing spaces the calls Handoff makes to each vendor account, so that a storm of
// escalations reaches the vendor no faster than its documented rate and the rest wait their
// turn instead of being refused.
//
// Each tenant and vendor has a token bucket, shared by every container through the store. The
// bucket is kept as one number, its theoretical arrival time (TAT, the generic cell rate
// algorithm): the time at which the bucket would be full again had nobody taken a token since.
// With one token every T and room for B at once, a token is free at now exactly when
// TAT <= now + (B-1)·T, which is the classic bucket's "tokens >= 1 after refill"; taking it moves
// TAT to max(TAT, now) + T. One number lets a store grant a token with one conditional write
// whose condition is a range, not an equality, so many containers taking at once all succeed
// while tokens last, and none is granted twice.
//
// A vendor's 429 slows the bucket: no token before the vendor's Retry-After (at least a second),
// then half the rate, one at a time, for a while (see Slowed).
package pacing

import (
	"context"
	"time"
)

// Key names one bucket: a tenant's account at one vendor. Its String is also the message group
// of the tenant's queued transfers to that vendor.
type Key struct {
	Tenant string
	Vendor string
}

// String is "tenant#vendor"; neither part can hold '#' (see handoff.ValidateTenant).
func (k Key) String() string { return k.Tenant + "#" + k.Vendor }

// Limit is a bucket's rate: one token every Every, at most Burst taken at once after a pause.
type Limit struct {
	Every time.Duration
	Burst int
}

// PerSecond is a limit of n calls a second, one at a time.
func PerSecond(n int) Limit { return Limit{Every: Interval(time.Second, n), Burst: 1} }

// PerMinute is a limit of n calls a minute, one at a time.
func PerMinute(n int) Limit { return Limit{Every: Interval(time.Minute, n), Burst: 1} }

// Interval is the spacing of n calls per period in whole milliseconds, rounded up: the stores
// keep times in milliseconds, and rounding down would let a little more through than the rate.
func Interval(period time.Duration, n int) time.Duration {
	return RoundUp(period / time.Duration(max(n, 1)))
}

// RoundUp rounds d up to a whole millisecond, at least one.
func RoundUp(d time.Duration) time.Duration {
	return max(time.Millisecond, (d + time.Millisecond - 1).Truncate(time.Millisecond))
}

// State is a bucket as the stores keep it. The zero State is a full bucket.
type State struct {
	// TAT is the theoretical arrival time: when the bucket is full again. It only moves forward.
	TAT time.Time
	// SlowUntil is when the slowdown a vendor's 429 caused ends; zero or past: none.
	SlowUntil time.Time
}

// Grant is a bucket's answer. OK: the caller holds a token and may call the vendor at At, now
// or, for a booking ahead (see Decide), later. Not OK: the next token is free at At, so the
// caller can tell its client when the transfer is expected to start.
type Grant struct {
	OK bool
	At time.Time
}

// shape is the bucket's spacing and tolerance at now: T and (B-1)·T, or, while a slowdown
// lasts, 2T and 0 (half the rate, no bursts).
func (l Limit) shape(s State, now time.Time) (every, tolerance time.Duration) {
	unit := RoundUp(l.Every) // as the stores keep it
	if now.Before(s.SlowUntil) {
		return 2 * unit, 0
	}
	return unit, time.Duration(max(l.Burst, 1)-1) * unit
}

// Decide is the rule every store applies, in one atomic step: book the next token if it is
// free by `by` (at or after now), and return the bucket's new state and the token's time, now
// or when it comes; otherwise leave the bucket as it is and say when the next token will be.
//
// A token booked ahead is spent at its time, as if taken then: a drainer books its batch's
// tokens one write each and calls the vendor as each comes, instead of asking again and being
// refused until it does. A booked token its holder does not use is lost, which only slows the
// bucket, never lets more through.
func Decide(s State, l Limit, now, by time.Time) (State, Grant) {
	every, tolerance := l.shape(s, now)
	free := s.TAT.Add(-tolerance)
	if by.Before(free) {
		return s, Grant{At: free}
	}
	at := free
	if at.Before(now) {
		at = now
	}
	base := s.TAT
	if base.Before(now) {
		base = now // the bucket filled up while idle: unused time is not saved beyond Burst
	}
	s.TAT = base.Add(every)
	return s, Grant{OK: true, At: at}
}

// MinRetryAfter is the least a bucket waits after a vendor's 429, whatever the vendor said:
// LivePerson asks for at least a second, and the others do not ask for less.
const MinRetryAfter = time.Second

// Slowed is s after the vendor answered 429 at now: no token before now+wait (wait as the vendor
// said in Retry-After, at least MinRetryAfter), then half the rate, one at a time, until
// now+period. Neither time moves back, so concurrent 429s keep the longest wait.
func Slowed(s State, now time.Time, wait, period time.Duration) State {
	wait = max(wait, MinRetryAfter)
	if resume := now.Add(wait); s.TAT.Before(resume) {
		s.TAT = resume
	}
	if until := now.Add(period); s.SlowUntil.Before(until) {
		s.SlowUntil = until
	}
	return s
}

// Buckets keeps the buckets, shared by every container; core/store and core/store/memstore
// implement it. Both apply Decide and Slowed atomically per key.
type Buckets interface {
	// Take books a token of k's bucket under limit l if one is free by `by` (at or after
	// now), as Decide.
	Take(ctx context.Context, k Key, l Limit, now, by time.Time) (Grant, error)
	// Slow applies Slowed to k's bucket.
	Slow(ctx context.Context, k Key, now time.Time, wait, period time.Duration) error
}
