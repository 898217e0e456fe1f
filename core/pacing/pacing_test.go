package pacing_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"handoff/core/handoff"
	"handoff/core/pacing"
	"handoff/core/store/memstore"
	"handoff/core/testkit"
)

var start = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func TestDefaultsAreTheVendorsLimits(t *testing.T) {
	l := pacing.DefaultLimits()
	for vendor, every := range map[string]time.Duration{
		"koreai": time.Second, "bitrix24": 500 * time.Millisecond, "liveperson": 200 * time.Millisecond,
		"unknown": pacing.FallbackLimit.Every,
	} {
		if got := l.For("acme", vendor); got.Every != every || got.Burst != 1 {
			t.Errorf("%s: %+v, want one every %s, burst 1", vendor, got, every)
		}
	}
}

func TestParseLimits(t *testing.T) {
	l, err := pacing.ParseLimits(" koreai=600/m, acme/bitrix24=1/s:2 ,liveperson=3600/h")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		tenant, vendor string
		want           pacing.Limit
	}{
		{"other", "koreai", pacing.Limit{Every: 100 * time.Millisecond, Burst: 1}},
		{"acme", "bitrix24", pacing.Limit{Every: time.Second, Burst: 2}},
		{"other", "bitrix24", pacing.PerSecond(2)}, // the default stays for other tenants
		{"acme", "liveperson", pacing.Limit{Every: time.Second, Burst: 1}},
	} {
		if got := l.For(tc.tenant, tc.vendor); got != tc.want {
			t.Errorf("%s/%s: %+v, want %+v", tc.tenant, tc.vendor, got, tc.want)
		}
	}
	if got, want := l.String(), "acme/bitrix24=1/s:2,koreai=10/s,liveperson=1/s"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	for _, bad := range []string{"koreai", "koreai=60", "koreai=0/m", "koreai=60/d", "=1/s", "/koreai=1/s",
		"koreai=1/s:0", "koreai=2000/s", "koreai=x/s"} {
		if _, err := pacing.ParseLimits(bad); err == nil {
			t.Errorf("ParseLimits(%q) accepted it", bad)
		}
	}
	if l, err := pacing.ParseLimits(""); err != nil || l.For("a", "koreai") != pacing.PerMinute(60) {
		t.Errorf("empty settings: %v, %v", l, err)
	}
}

func newPacer(bound int) (*pacing.Pacer, *testkit.Clock) {
	clock := testkit.NewClock(start)
	limits, _ := pacing.ParseLimits("koreai=60/m")
	return pacing.New(memstore.NewPacing(), memstore.NewPacing(), limits, bound, pacing.WithClock(clock.Now)), clock
}

// A storm: the first escalation starts at once, the rest queue with start times one token apart;
// past the tenant's bound, RATE_LIMITED with a Retry-After of about the queue's length.
func TestStormQueuesThenRefusesPastTheBound(t *testing.T) {
	ctx := context.Background()
	p, _ := newPacer(3)
	k := pacing.Key{Tenant: "acme", Vendor: "koreai"}
	g, err := p.Take(ctx, k)
	if err != nil || !g.OK {
		t.Fatalf("first take: %+v, %v", g, err)
	}
	for i := range 3 {
		g, err := p.Take(ctx, k)
		if err != nil || g.OK {
			t.Fatalf("take %d: %+v, %v; want refused", i, g, err)
		}
		q, err := p.Enqueue(ctx, k, g.At)
		if err != nil {
			t.Fatal(err)
		}
		if want := start.Add(time.Second + time.Duration(i)*time.Second); q.Ahead != i || !q.Start.Equal(want) {
			t.Errorf("queued %d: %+v, want %d ahead, start %s", i, q, i, want)
		}
	}
	g, _ = p.Take(ctx, k)
	_, err = p.Enqueue(ctx, k, g.At)
	var e *handoff.Error
	if !errors.As(err, &e) || e.Code != handoff.CodeRateLimited || e.RetryAfter != 4*time.Second {
		t.Fatalf("past the bound: %v, want RATE_LIMITED retry after 4s", err)
	}
	// One leaves the queue: there is room again.
	if err := p.Dequeue(ctx, k, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Enqueue(ctx, k, g.At); err != nil {
		t.Errorf("after one left: %v", err)
	}
}

func TestThrottledHonoursRetryAfter(t *testing.T) {
	ctx := context.Background()
	p, clock := newPacer(0)
	k := pacing.Key{Tenant: "acme", Vendor: "koreai"}
	if err := p.Throttled(ctx, k, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	if g, _ := p.Take(ctx, k); g.OK || !g.At.Equal(start.Add(3*time.Second)) {
		t.Fatalf("after a 429: %+v, want refused until +3s", g)
	}
	clock.Advance(3 * time.Second)
	if g, _ := p.Take(ctx, k); !g.OK {
		t.Fatalf("after Retry-After: %+v", g)
	}
	// Half the rate for the slowdown: 2s instead of 1s.
	if g, _ := p.Take(ctx, k); g.OK || !g.At.Equal(start.Add(5*time.Second)) {
		t.Errorf("slowed: %+v, want refused until +5s", g)
	}
}

func TestQueueIDs(t *testing.T) {
	k := pacing.Key{Tenant: "acme", Vendor: "koreai"}
	if got := pacing.MessageGroup(k); got != "acme#koreai" {
		t.Errorf("MessageGroup = %q", got)
	}
	a, b := pacing.DeduplicationID("acme", "key-1"), pacing.DeduplicationID("other", "key-1")
	if a == b || len(a) != 64 || a != pacing.DeduplicationID("acme", "key-1") {
		t.Errorf("DeduplicationID: %q and %q: want 64 hex digits, stable, distinct per tenant", a, b)
	}
	// The separator keeps tenant and key apart: "ab"+"c" is not "a"+"bc".
	if pacing.DeduplicationID("ab", "c") == pacing.DeduplicationID("a", "bc") {
		t.Error("DeduplicationID runs tenant and key together")
	}
}

// Three a second is 333.33…ms apart; kept in whole milliseconds it must round up, or the
// stores would let a little more through than the rate.
func TestIntervalsRoundUpToWholeMilliseconds(t *testing.T) {
	l, err := pacing.ParseLimits("koreai=3/s")
	if err != nil {
		t.Fatal(err)
	}
	if got := l.For("a", "koreai").Every; got != 334*time.Millisecond {
		t.Errorf("3/s: every %s, want 334ms", got)
	}
	if got := pacing.PerSecond(7).Every; got != 143*time.Millisecond {
		t.Errorf("PerSecond(7): every %s, want 143ms", got)
	}
}

// A drainer books its tokens while they come within its invocation and waits for each, and gives
// back the transfer whose token would come too late.
func TestBookAndWaitForTokensWithinTheDeadline(t *testing.T) {
	ctx := context.Background()
	clock := testkit.NewClock(start)
	var slept []time.Duration
	buckets := memstore.NewPacing()
	p := pacing.New(buckets, memstore.NewPacing(), pacing.DefaultLimits(), 0, pacing.WithClock(clock.Now),
		pacing.WithSleep(func(_ context.Context, d time.Duration) error {
			slept = append(slept, d)
			clock.Advance(d)
			return nil
		}))
	k := pacing.Key{Tenant: "acme", Vendor: "koreai"} // one a second
	until := start.Add(2500 * time.Millisecond)
	await := func(p *pacing.Pacer, ctx context.Context) (pacing.Grant, error) {
		g, err := p.Book(ctx, k, until)
		if err != nil || !g.OK {
			return g, err
		}
		return g, p.WaitUntil(ctx, g.At)
	}
	for i := range 3 {
		g, err := await(p, ctx)
		if err != nil || !g.OK || !g.At.Equal(start.Add(time.Duration(i)*time.Second)) {
			t.Fatalf("await %d: %+v, %v; want a token at +%ds", i, g, err, i)
		}
	}
	g, err := await(p, ctx)
	if err != nil || g.OK || !g.At.Equal(start.Add(3*time.Second)) {
		t.Fatalf("past the deadline: %+v, %v; want refused, next at +3s", g, err)
	}
	if want := []time.Duration{time.Second, time.Second}; len(slept) != 2 || slept[0] != want[0] || slept[1] != want[1] {
		t.Errorf("slept %v, want %v", slept, want)
	}
	// Each token is booked with one write, refused or not: no asking again after the wait.
	if buckets.Writes != 4 {
		t.Errorf("%d bucket writes for 3 tokens and a refusal; want 4", buckets.Writes)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	q := pacing.New(memstore.NewPacing(), memstore.NewPacing(), pacing.DefaultLimits(), 0, pacing.WithClock(clock.Now))
	if _, err := q.Take(ctx, k); err != nil {
		t.Fatal(err)
	}
	if g, _ := q.Book(ctx, k, clock.Now().Add(time.Hour)); !g.OK {
		t.Fatalf("booking: %+v", g)
	} else if err := q.WaitUntil(canceled, g.At); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled wait: %v, want context.Canceled", err)
	}
}
