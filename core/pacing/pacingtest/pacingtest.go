// Package pacingtest is the behaviour every store of pacing's buckets and backlog must have,
// run against core/store/memstore and against core/store on moto, so both keep the same rules.
// It is imported by tests only.
package pacingtest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"handoff/core/pacing"
	"handoff/core/testkit"
)

// Store is what the suite tests: both halves of pacing's storage.
type Store interface {
	pacing.Buckets
	pacing.Backlog
}

// Start is the time every test's clock starts at.
var Start = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// Open returns n handles on one empty store, as n containers would hold: each has its own
// memory (a store's guesses), all share what is stored.
type Open func(t *testing.T, n int) []Store

// containers is how many handles the concurrent tests use, one per goroutine.
const containers = 8

// Run runs the suite, each subtest on a store of its own. Subtests run one after the other
// (moto is reset per store).
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s []Store, clock *testkit.Clock)
	}{
		{"BurstThenRate", burstThenRate},
		{"IdleDoesNotSaveBeyondBurst", idleDoesNotSaveBeyondBurst},
		{"ConcurrentTakersNeverExceedTheRate", concurrentTakers},
		{"KeysAreIndependent", keysAreIndependent},
		{"BookingAheadSpacesTokensAtTheRate", bookingAhead},
		{"ConcurrentBookersNeverExceedTheRate", concurrentBookers},
		{"SlowWaitsAtLeastASecond", slowWaitsAtLeastASecond},
		{"SlowHonoursRetryAfterAndHalvesTheRate", slowHonoursRetryAfter},
		{"SlowNeverShortensAWait", slowNeverShortensAWait},
		{"BacklogBoundPerTenant", backlogBound},
		{"BacklogConcurrentEntersKeepTheBound", backlogConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t, containers), testkit.NewClock(Start))
		})
	}
}

var (
	acmeKore   = pacing.Key{Tenant: "acme", Vendor: "koreai"}
	acmeBitrix = pacing.Key{Tenant: "acme", Vendor: "bitrix24"}
	otherKore  = pacing.Key{Tenant: "other", Vendor: "koreai"}
)

func take(t *testing.T, s Store, k pacing.Key, l pacing.Limit, now time.Time) pacing.Grant {
	t.Helper()
	g, err := s.Take(context.Background(), k, l, now, now)
	if err != nil {
		t.Fatalf("Take(%v): %v", k, err)
	}
	return g
}

// drain takes tokens until refused, and returns how many it got and the refusal.
func drain(t *testing.T, s Store, k pacing.Key, l pacing.Limit, now time.Time) (int, pacing.Grant) {
	t.Helper()
	for n := 0; n < 10000; n++ {
		if g := take(t, s, k, l, now); !g.OK {
			return n, g
		}
	}
	t.Fatal("the bucket never ran out")
	return 0, pacing.Grant{}
}

func wantDrain(t *testing.T, s Store, k pacing.Key, l pacing.Limit, now time.Time, granted int, next time.Time) {
	t.Helper()
	n, g := drain(t, s, k, l, now)
	if n != granted || !g.At.Equal(next) {
		t.Errorf("at +%s: granted %d, next at +%s; want %d, next at +%s",
			now.Sub(Start), n, g.At.Sub(Start), granted, next.Sub(Start))
	}
}

func burstThenRate(t *testing.T, all []Store, c *testkit.Clock) {
	s := all[0]
	l := pacing.Limit{Every: time.Second, Burst: 3}
	wantDrain(t, s, acmeKore, l, c.Now(), 3, Start.Add(time.Second))
	c.Advance(999 * time.Millisecond)
	wantDrain(t, s, acmeKore, l, c.Now(), 0, Start.Add(time.Second))
	c.Advance(time.Millisecond)
	wantDrain(t, s, acmeKore, l, c.Now(), 1, Start.Add(2*time.Second))
	c.Advance(2500 * time.Millisecond) // +3.5s: the tokens of +2s and +3s
	wantDrain(t, s, acmeKore, l, c.Now(), 2, Start.Add(4*time.Second))
}

func idleDoesNotSaveBeyondBurst(t *testing.T, all []Store, c *testkit.Clock) {
	s := all[0]
	l := pacing.Limit{Every: time.Second, Burst: 2}
	wantDrain(t, s, acmeKore, l, c.Now(), 2, Start.Add(time.Second))
	c.Advance(time.Hour)
	wantDrain(t, s, acmeKore, l, c.Now(), 2, c.Now().Add(time.Second))
	// Burst 1, as the defaults: after a pause, exactly one.
	one := pacing.PerMinute(60)
	c.Advance(time.Hour)
	wantDrain(t, s, acmeKore, one, c.Now(), 1, c.Now().Add(time.Second))
}

// concurrentTakers: eight takers, as in eight containers, hammer one bucket while the test moves the clock by hand; at
// every step the tokens granted so far are exactly what the rate allows, never more.
func concurrentTakers(t *testing.T, all []Store, c *testkit.Clock) {
	l := pacing.Limit{Every: 200 * time.Millisecond, Burst: 4}
	steps := []time.Duration{0, 200 * time.Millisecond, 50 * time.Millisecond, 150 * time.Millisecond,
		time.Second, 10 * time.Millisecond, 790 * time.Millisecond, 400 * time.Millisecond}
	granted := 0
	for _, step := range steps {
		c.Advance(step)
		now := c.Now()
		granted += len(takeAll(t, all, acmeKore, l, now, now))
		// The first Burst at Start, then one per Every elapsed, but never more than Burst
		// saved up: every step here drains the bucket, so none is saved beyond one step.
		elapsed := now.Sub(Start)
		if allowed := l.Burst + int(elapsed/l.Every); granted > allowed {
			t.Fatalf("at +%s: %d tokens granted, the rate allows %d", elapsed, granted, allowed)
		}
		_, g := drain(t, all[0], acmeKore, l, now)
		if g.At.After(now.Add(l.Every)) {
			t.Errorf("at +%s: next token at +%s, want within %s", elapsed, g.At.Sub(Start), l.Every)
		}
	}
	// Every step drained the bucket, so the total is exact: 4 at +0, then the tokens each step
	// made (steps of 1s and 400ms saved up 4 and 2, within the burst of 4).
	if want := 4 + 1 + 0 + 1 + 4 + 0 + 4 + 2; granted != want {
		t.Errorf("granted %d tokens in all, want %d", granted, want)
	}
}

func keysAreIndependent(t *testing.T, all []Store, c *testkit.Clock) {
	s := all[0]
	l := pacing.PerSecond(1)
	for _, k := range []pacing.Key{acmeKore, acmeBitrix, otherKore} {
		wantDrain(t, s, k, l, c.Now(), 1, Start.Add(time.Second))
	}
}

func slowWaitsAtLeastASecond(t *testing.T, all []Store, c *testkit.Clock) {
	s := all[0]
	l := pacing.Limit{Every: 100 * time.Millisecond, Burst: 5}
	if err := s.Slow(context.Background(), acmeKore, c.Now(), 0, time.Minute); err != nil {
		t.Fatal(err)
	}
	wantDrain(t, s, acmeKore, l, c.Now(), 0, Start.Add(time.Second))
	if other := take(t, s, acmeBitrix, l, c.Now()); !other.OK {
		t.Error("a 429 at one vendor slowed another")
	}
}

func slowHonoursRetryAfter(t *testing.T, all []Store, c *testkit.Clock) {
	s := all[0]
	l := pacing.Limit{Every: 100 * time.Millisecond, Burst: 5}
	if err := s.Slow(context.Background(), acmeKore, c.Now(), 5*time.Second, time.Minute); err != nil {
		t.Fatal(err)
	}
	wantDrain(t, s, acmeKore, l, c.Now(), 0, Start.Add(5*time.Second))
	c.Advance(5 * time.Second)
	// Half the rate, one at a time, while the slowdown lasts.
	wantDrain(t, s, acmeKore, l, c.Now(), 1, c.Now().Add(200*time.Millisecond))
	c.Advance(10 * time.Second)
	wantDrain(t, s, acmeKore, l, c.Now(), 1, c.Now().Add(200*time.Millisecond))
	// After the minute, the configured rate and burst again.
	c.Advance(time.Minute)
	wantDrain(t, s, acmeKore, l, c.Now(), 5, c.Now().Add(100*time.Millisecond))
}

func slowNeverShortensAWait(t *testing.T, all []Store, c *testkit.Clock) {
	s := all[0]
	ctx := context.Background()
	l := pacing.PerSecond(10)
	if err := s.Slow(ctx, acmeKore, c.Now(), 10*time.Second, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.Slow(ctx, acmeKore, c.Now(), 2*time.Second, time.Minute); err != nil {
		t.Fatal(err)
	}
	wantDrain(t, s, acmeKore, l, c.Now(), 0, Start.Add(10*time.Second))
	c.Advance(90 * time.Second) // within the first slowdown's two minutes: still half rate
	wantDrain(t, s, acmeKore, l, c.Now(), 1, c.Now().Add(200*time.Millisecond))
}

func enter(t *testing.T, s Store, k pacing.Key, bound int, now time.Time) (int, bool) {
	t.Helper()
	n, ok, err := s.Enter(context.Background(), k, bound, now)
	if err != nil {
		t.Fatalf("Enter(%v): %v", k, err)
	}
	return n, ok
}

func backlogBound(t *testing.T, all []Store, c *testkit.Clock) {
	s := all[0]
	ctx := context.Background()
	for i := 1; i <= 3; i++ {
		if n, ok := enter(t, s, acmeKore, 5, c.Now()); !ok || n != i {
			t.Fatalf("enter %d: queued %d, ok %v; want %d, true", i, n, ok, i)
		}
	}
	for i := 1; i <= 2; i++ {
		if n, ok := enter(t, s, acmeBitrix, 5, c.Now()); !ok || n != i {
			t.Fatalf("bitrix enter %d: queued %d, ok %v; want %d, true", i, n, ok, i)
		}
	}
	// The bound is the tenant's, over its vendors: the sixth is refused, and not counted.
	if _, ok := enter(t, s, acmeKore, 5, c.Now()); ok {
		t.Fatal("a sixth transfer entered a queue bounded at five")
	}
	if n, ok := enter(t, s, otherKore, 5, c.Now()); !ok || n != 1 {
		t.Fatalf("another tenant: queued %d, ok %v; want 1, true", n, ok)
	}
	if err := s.Leave(ctx, acmeKore, 1, c.Now()); err != nil {
		t.Fatal(err)
	}
	if n, ok := enter(t, s, acmeKore, 5, c.Now()); !ok || n != 3 {
		t.Fatalf("after one left: queued %d, ok %v; want 3, true", n, ok)
	}
	// Leaving more often than entering stops at zero, one at a time or several at once.
	for range 2 {
		if err := s.Leave(ctx, acmeBitrix, 1, c.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Leave(ctx, acmeBitrix, 3, c.Now()); err != nil {
		t.Fatal(err)
	}
	if n, ok := enter(t, s, acmeBitrix, 5, c.Now()); !ok || n != 1 {
		t.Fatalf("after the bitrix queue emptied: queued %d, ok %v; want 1, true", n, ok)
	}
}

func backlogConcurrent(t *testing.T, all []Store, c *testkit.Clock) {
	const bound, tries = 7, 24
	var wg sync.WaitGroup
	var mu sync.Mutex
	admitted, seen := 0, map[int]bool{}
	var firstErr error
	for i := range tries {
		k := acmeKore
		if i%2 == 1 {
			k = acmeBitrix
		}
		s := all[i%len(all)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, ok, err := s.Enter(context.Background(), k, bound, c.Now())
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				firstErr = errors.Join(firstErr, err)
				return
			}
			if ok {
				admitted++
				seen[n*10+len(k.Vendor)] = true // positions are distinct within a vendor
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	if admitted != bound || len(seen) != bound {
		t.Errorf("admitted %d with %d distinct positions, want %d of each", admitted, len(seen), bound)
	}
}

// book books a token of k free by `by`.
func book(t *testing.T, s Store, k pacing.Key, l pacing.Limit, now, by time.Time) pacing.Grant {
	t.Helper()
	g, err := s.Take(context.Background(), k, l, now, by)
	if err != nil {
		t.Fatalf("Take(%v, by +%s): %v", k, by.Sub(Start), err)
	}
	return g
}

// bookingAhead: a drainer books the tokens of its batch at once, each one write; the tokens
// are spaced as taking them one by one would have been, the first burst at once, and none is
// booked past `by`. A token booked ahead is spent: a taker at that time finds none.
func bookingAhead(t *testing.T, all []Store, c *testkit.Clock) {
	s := all[0]
	l := pacing.Limit{Every: 100 * time.Millisecond, Burst: 2}
	by := c.Now().Add(450 * time.Millisecond)
	want := []time.Duration{0, 0, 100, 200, 300, 400}
	for i, w := range want {
		g := book(t, s, acmeKore, l, c.Now(), by)
		if !g.OK || !g.At.Equal(Start.Add(w*time.Millisecond)) {
			t.Fatalf("booking %d: %+v; want a token at +%dms", i, g, w)
		}
	}
	if g := book(t, s, acmeKore, l, c.Now(), by); g.OK || !g.At.Equal(Start.Add(500*time.Millisecond)) {
		t.Fatalf("past by: %+v; want refused, next at +500ms", g)
	}
	c.Advance(300 * time.Millisecond)
	if g := take(t, s, acmeKore, l, c.Now()); g.OK {
		t.Errorf("at +300ms, every token to +400ms booked: %+v granted", g)
	}
	// A slowdown spaces bookings at half the rate, one at a time.
	if err := s.Slow(context.Background(), acmeKore, c.Now(), time.Second, time.Minute); err != nil {
		t.Fatal(err)
	}
	resume := c.Now().Add(time.Second)
	for i := range 3 {
		g := book(t, s, acmeKore, l, c.Now(), c.Now().Add(2*time.Second))
		if at := resume.Add(time.Duration(i) * 200 * time.Millisecond); !g.OK || !g.At.Equal(at) {
			t.Fatalf("slowed booking %d: %+v; want a token at +%s", i, g, at.Sub(Start))
		}
	}
}

// concurrentBookers: eight containers book ahead on one bucket at once; the tokens they hold
// are all different times, spaced at least T apart after the burst, none past by.
func concurrentBookers(t *testing.T, all []Store, c *testkit.Clock) {
	l := pacing.Limit{Every: 50 * time.Millisecond, Burst: 1}
	now := c.Now()
	by := now.Add(time.Second)
	got := takeAll(t, all, acmeKore, l, now, by)
	if len(got) != 21 { // +0ms to +1000ms, every 50ms
		t.Errorf("%d tokens booked by +1s; want 21", len(got))
	}
	seen := map[time.Time]bool{}
	for _, at := range got {
		if seen[at] || at.After(by) || at.Before(now) || at.Sub(now)%l.Every != 0 {
			t.Errorf("token at +%s: booked twice, out of range or off the rate's grid", at.Sub(now))
		}
		seen[at] = true
	}
}

// takeAll has every store take tokens of k, by `by`, at once until refused, as containers
// would side by side, and returns the tokens' times.
func takeAll(t *testing.T, all []Store, k pacing.Key, l pacing.Limit, now, by time.Time) []time.Time {
	t.Helper()
	var mu sync.Mutex
	var got []time.Time
	var wg sync.WaitGroup
	for _, s := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				g, err := s.Take(context.Background(), k, l, now, by)
				if err != nil {
					t.Error(err)
					return
				}
				if !g.OK {
					return
				}
				mu.Lock()
				got = append(got, g.At)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return got
}
