package transfer_test

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"handoff/core/handoff"
	"handoff/core/pacing"
	"handoff/core/store/memstore"
	"handoff/core/transfer"
	"handoff/core/vendors"
)

// fakeQueue keeps the messages sent, in order.
type fakeQueue struct {
	mu   sync.Mutex
	sent []transfer.Message
	fail error
}

func (q *fakeQueue) Send(_ context.Context, m transfer.Message) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.fail != nil {
		return q.fail
	}
	q.sent = append(q.sent, m)
	return nil
}

// clock is a hand-moved clock shared by the store, the pacer and the service; sleeping moves it.
type clock struct {
	mu sync.Mutex
	at time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.at }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = c.at.Add(d)
}

// paced is a service whose vendor "acme" allows one call a minute, with a queue bound of bound.
type paced struct {
	svc   *transfer.Service
	st    *memstore.Store
	pace  *memstore.Pacing
	queue *fakeQueue
	clock *clock
	tr    *scripted
}

func setupPaced(t *testing.T, tr *scripted, bound int) *paced {
	t.Helper()
	c := &clock{at: time.Now()}
	limits, err := pacing.ParseLimits("acme=1/m")
	if err != nil {
		t.Fatal(err)
	}
	pace := memstore.NewPacing()
	p := pacing.New(pace, pace, limits, bound, pacing.WithClock(c.now),
		pacing.WithSleep(func(ctx context.Context, d time.Duration) error { c.advance(d); return ctx.Err() }))
	st := memstore.New(c.now)
	q := &fakeQueue{}
	svc := transfer.New(st, registry{tr: tr}, quiet(), transfer.WithClock(c.now), transfer.WithPacing(p, q))
	return &paced{svc: svc, st: st, pace: pace, queue: q, clock: c, tr: tr}
}

// longCtx leaves the drainer minutes to wait for tokens on the hand-moved clock.
func longCtx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	return c
}

func keyed(key string) transfer.Input {
	r := request()
	r.Conversation.ID = "c-" + key
	return transfer.Input{Request: r, Key: key}
}

func timelineHas(t *testing.T, st *memstore.Store, id string, status handoff.Status, detail string) bool {
	t.Helper()
	events, _ := st.Timeline(context.Background(), id)
	for _, e := range events {
		if e.Status == status && strings.Contains(e.Detail, detail) {
			return true
		}
	}
	return false
}

func TestABusyBucketQueuesTheTransferAndADuplicateReturnsIt(t *testing.T) {
	p := setupPaced(t, &scripted{}, 0)
	first, err := p.svc.Start(ctx(t), keyed("k1"))
	if err != nil || first.Transfer.Status != handoff.StatusTransferred {
		t.Fatalf("first = %+v, %v; want transferred at once (the bucket is full)", first.Transfer.Status, err)
	}
	second, err := p.svc.Start(ctx(t), keyed("k2"))
	if err != nil || second.Transfer.Status != handoff.StatusQueued || second.Transfer.ExpectedStartAt == nil {
		t.Fatalf("second = %+v, %v; want queued with an expected start", second.Transfer, err)
	}
	if got, want := *second.Transfer.ExpectedStartAt, p.clock.now().Add(time.Minute); got.Before(want.Add(-time.Second)) || got.After(want.Add(time.Second)) {
		t.Errorf("expected start %v, want about %v (the next token)", got, want)
	}
	if len(p.queue.sent) != 1 {
		t.Fatalf("sent %d messages, want 1", len(p.queue.sent))
	}
	m := p.queue.sent[0]
	if m.TransferID != second.Transfer.ID || m.Group != "t1#acme" || m.DeduplicationID != pacing.DeduplicationID("t1", "k2") {
		t.Errorf("message %+v", m)
	}
	stored, err := p.st.Get(ctx(t), second.Transfer.ID)
	if err != nil || stored.Status != handoff.StatusQueued {
		t.Fatalf("stored = %+v, %v", stored.Status, err)
	}
	if !timelineHas(t, p.st, stored.ID, handoff.StatusQueued, "expected to start") {
		t.Error("the timeline has no queued event")
	}
	dup, err := p.svc.Start(ctx(t), keyed("k2"))
	if err != nil || !dup.Replayed || dup.Transfer.ID != second.Transfer.ID || dup.Transfer.Status != handoff.StatusQueued {
		t.Fatalf("duplicate = %+v, %v; want the queued transfer replayed", dup, err)
	}
	if p.tr.calls.Load() != 1 || len(p.queue.sent) != 1 {
		t.Errorf("vendor calls %d, messages %d: a duplicate must neither call nor queue again", p.tr.calls.Load(), len(p.queue.sent))
	}
}

func TestDrainStartsAQueuedTransferOnceInItsTurn(t *testing.T) {
	p := setupPaced(t, &scripted{}, 0)
	if _, err := p.svc.Start(ctx(t), keyed("k1")); err != nil {
		t.Fatal(err)
	}
	queued, err := p.svc.Start(ctx(t), keyed("k2"))
	if err != nil || queued.Transfer.Status != handoff.StatusQueued {
		t.Fatalf("queued = %+v, %v", queued.Transfer.Status, err)
	}
	before := p.clock.now()
	if err := p.svc.Drain(longCtx(t), p.queue.sent[0]); err != nil {
		t.Fatalf("Drain = %v", err)
	}
	if waited := p.clock.now().Sub(before); waited < time.Minute-time.Millisecond {
		t.Errorf("the drainer waited %v for its token, want the minute the rate asks", waited)
	}
	got, _ := p.st.Get(ctx(t), queued.Transfer.ID)
	if got.Status != handoff.StatusTransferred || p.tr.calls.Load() != 2 {
		t.Fatalf("after drain: %s, %d vendor calls", got.Status, p.tr.calls.Load())
	}
	if !timelineHas(t, p.st, got.ID, handoff.StatusPending, "started") {
		t.Error("the timeline has no started event")
	}
	// The same message delivered again: the transfer is no longer queued, the vendor not called.
	if err := p.svc.Drain(longCtx(t), p.queue.sent[0]); err != nil || p.tr.calls.Load() != 2 {
		t.Fatalf("second delivery: %v, %d vendor calls; want nil and still 2", err, p.tr.calls.Load())
	}
	// The queue count went back to zero: the next queued transfer has nobody ahead.
	p.clock.advance(time.Hour)
	if _, err := p.svc.Start(ctx(t), keyed("k3")); err != nil {
		t.Fatal(err)
	}
	next, err := p.svc.Start(ctx(t), keyed("k4"))
	if err != nil || !timelineHas(t, p.st, next.Transfer.ID, handoff.StatusQueued, "behind 0 transfers") {
		t.Errorf("after the drain the queue should be empty: %+v, %v", next.Transfer.Status, err)
	}
}

func TestEscalationsAlwaysGoThroughTheQueue(t *testing.T) {
	p := setupPaced(t, &scripted{}, 0)
	in := keyed("ev-1")
	in.Queue = true
	res, err := p.svc.Start(ctx(t), in)
	if err != nil || res.Transfer.Status != handoff.StatusQueued || p.tr.calls.Load() != 0 {
		t.Fatalf("escalation = %+v, %v, %d calls; want queued, the vendor not called", res.Transfer.Status, err, p.tr.calls.Load())
	}
	if err := p.svc.Drain(longCtx(t), p.queue.sent[0]); err != nil || p.tr.calls.Load() != 1 {
		t.Fatalf("drain = %v, %d calls", err, p.tr.calls.Load())
	}
}

func TestTheQueueBoundRefusesOnlyPastIt(t *testing.T) {
	p := setupPaced(t, &scripted{}, 2)
	for _, k := range []string{"k1", "k2", "k3"} { // k1 starts at once; k2 and k3 fill the bound
		if _, err := p.svc.Start(ctx(t), keyed(k)); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
	}
	_, err := p.svc.Start(ctx(t), keyed("k4"))
	var e *handoff.Error
	if !errors.As(err, &e) || e.Code != handoff.CodeRateLimited || e.RetryAfter <= 0 {
		t.Fatalf("past the bound: %v; want RATE_LIMITED with a Retry-After", err)
	}
	if _, err := p.st.FindByKey(ctx(t), "t1", "k4"); handoff.ErrorCode(err) != handoff.CodeNotFound {
		t.Errorf("a refused transfer must leave no record: %v", err)
	}
	if len(p.queue.sent) != 2 {
		t.Errorf("sent %d, want 2", len(p.queue.sent))
	}
}

func TestAFailedSendEndsTheTransferUnavailable(t *testing.T) {
	p := setupPaced(t, &scripted{}, 0)
	if _, err := p.svc.Start(ctx(t), keyed("k1")); err != nil {
		t.Fatal(err)
	}
	p.queue.fail = errors.New("queue down")
	if _, err := p.svc.Start(ctx(t), keyed("k2")); handoff.ErrorCode(err) != handoff.CodeUnavailable {
		t.Fatalf("err = %v, want UNAVAILABLE", err)
	}
	got, err := p.st.FindByKey(ctx(t), "t1", "k2")
	if err != nil || got.Status != handoff.StatusFailed || got.Error == nil || got.Error.Code != handoff.CodeUnavailable {
		t.Fatalf("record = %+v, %v; want failed UNAVAILABLE, so no queued record waits forever", got, err)
	}
}

func TestAVendor429RequeuesAndSlowsTheBucket(t *testing.T) {
	limited := &handoff.Error{Code: handoff.CodeRateLimited, Message: "slow down", RetryAfter: 30 * time.Second}
	tr := &scripted{answers: map[string]error{"a-1": limited}}
	p := setupPaced(t, tr, 0)
	in := keyed("k1")
	in.Queue = true
	res, err := p.svc.Start(ctx(t), in)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.svc.Drain(longCtx(t), p.queue.sent[0]); handoff.ErrorCode(err) != handoff.CodeRateLimited {
		t.Fatalf("Drain = %v; want RATE_LIMITED so the message returns", err)
	}
	got, _ := p.st.Get(ctx(t), res.Transfer.ID)
	if got.Status != handoff.StatusQueued || len(got.Attempts) != 0 {
		t.Fatalf("after a 429: %s with %d attempts; want queued again, no attempt", got.Status, len(got.Attempts))
	}
	g, err := p.pace.Take(ctx(t), pacing.Key{Tenant: "t1", Vendor: "acme"}, pacing.PerSecond(100), p.clock.now().Add(10*time.Second), p.clock.now().Add(10*time.Second))
	if err != nil || g.OK {
		t.Errorf("a token 10s after a 429 with Retry-After 30s: %+v, %v; want none", g, err)
	}
	// The retry, once the vendor takes calls again, transfers it.
	tr.mu.Lock()
	tr.answers = nil
	tr.mu.Unlock()
	if err := p.svc.Drain(longCtx(t), p.queue.sent[0]); err != nil {
		t.Fatal(err)
	}
	if got, _ := p.st.Get(ctx(t), res.Transfer.ID); got.Status != handoff.StatusTransferred {
		t.Fatalf("after the retry: %s", got.Status)
	}
}

// limitedOnce answers 429 to its first call, then transfers.
type limitedOnce struct{ scripted }

func (l *limitedOnce) Transfer(ctx context.Context, req vendors.TransferRequest) (vendors.TransferResult, error) {
	if l.calls.Load() == 0 {
		l.calls.Add(1)
		return vendors.TransferResult{}, &handoff.Error{Code: handoff.CodeRateLimited, Message: "slow down", RetryAfter: 2 * time.Second}
	}
	return l.scripted.Transfer(ctx, req)
}

// A single 429 is waited out within the invocation: the message is not returned (which would
// hold its whole group for the queue's visibility timeout).
func TestADrainerWaitsOutASingle429(t *testing.T) {
	vendor := &limitedOnce{}
	c := &clock{at: time.Now()}
	pace := memstore.NewPacing()
	p := pacing.New(pace, pace, pacing.DefaultLimits(), 0, pacing.WithClock(c.now),
		pacing.WithSleep(func(ctx context.Context, d time.Duration) error { c.advance(d); return ctx.Err() }))
	st, q := memstore.New(c.now), &fakeQueue{}
	svc := transfer.New(st, registry{tr: vendor}, quiet(), transfer.WithClock(c.now), transfer.WithPacing(p, q))
	in := keyed("k1")
	in.Queue = true
	res, err := svc.Start(ctx(t), in)
	if err != nil {
		t.Fatal(err)
	}
	before := c.now()
	if err := svc.Drain(longCtx(t), q.sent[0]); err != nil {
		t.Fatalf("Drain = %v, want the 429 waited out", err)
	}
	if got, _ := st.Get(ctx(t), res.Transfer.ID); got.Status != handoff.StatusTransferred || vendor.calls.Load() != 2 {
		t.Fatalf("%s after %d calls", got.Status, vendor.calls.Load())
	}
	if waited := c.now().Sub(before); waited < 2*time.Second {
		t.Errorf("retried after %v, want at least the vendor's Retry-After", waited)
	}
}

// A drainer near its invocation's end starts nothing: the message goes back, the transfer stays
// queued and the vendor is not called.
func TestADrainerNearItsDeadlineStartsNothing(t *testing.T) {
	p := setupPaced(t, &scripted{}, 0)
	in := keyed("k1")
	in.Queue = true
	res, err := p.svc.Start(ctx(t), in)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(context.Background(), 2*time.Second) // less than the reserve
	defer cancel()
	if err := p.svc.Drain(short, p.queue.sent[0]); handoff.ErrorCode(err) != handoff.CodeUnavailable {
		t.Fatalf("Drain = %v, want UNAVAILABLE so the message returns", err)
	}
	if got, _ := p.st.Get(ctx(t), res.Transfer.ID); got.Status != handoff.StatusQueued || p.tr.calls.Load() != 0 {
		t.Errorf("%s, %d vendor calls; want still queued, none", got.Status, p.tr.calls.Load())
	}
}

// queueThree has a first transfer take acme's free token, then queues k1, k2 and k3 in that
// order (conversations c-k1…) and returns their ids.
func queueThree(t *testing.T, p *paced) []string {
	t.Helper()
	if _, err := p.svc.Start(ctx(t), keyed("first")); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range []string{"k1", "k2", "k3"} {
		in := keyed(k)
		in.Queue = true
		res, err := p.svc.Start(ctx(t), in)
		if err != nil || res.Transfer.Status != handoff.StatusQueued {
			t.Fatalf("queue %s: %+v, %v", k, res.Transfer.Status, err)
		}
		ids = append(ids, res.Transfer.ID)
	}
	return ids
}

// A group drains in the queue's order, each transfer when its token comes, with the vendor
// calls overlapping: the group is not held to one transfer's round trip. Before DrainGroup the
// drainer awaited each outcome before the next token, and the calls never overlapped.
func TestDrainGroupOverlapsVendorCallsInOrder(t *testing.T) {
	tr := &scripted{}
	p := setupPaced(t, tr, 0)
	ids := queueThree(t, p)
	msgs := append([]transfer.Message{}, p.queue.sent...)
	sent := p.clock.now().Add(-time.Second).Truncate(time.Millisecond)
	for i := range msgs {
		msgs[i].SentAt = sent.Add(time.Duration(i) * time.Millisecond)
	}
	tr.mu.Lock()
	tr.gate, tr.convs = make(chan struct{}), nil
	tr.mu.Unlock()
	writesBefore := p.pace.Writes
	done := make(chan []error)
	go func() { done <- p.svc.DrainGroup(longCtx(t), msgs) }()
	deadline := time.Now().Add(5 * time.Second)
	for tr.calls.Load() < 4 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := tr.calls.Load() - 1; n != 3 {
		t.Fatalf("%d of 3 vendor calls in flight at once; want all three (the calls overlap)", n)
	}
	close(tr.gate)
	for i, err := range <-done {
		if err != nil {
			t.Errorf("message %d returned: %v", i, err)
		}
	}
	// One write per token, and one to count the three out of the queue.
	if n := p.pace.Writes - writesBefore; n != 4 {
		t.Errorf("%d pacing writes to drain three transfers; want 4", n)
	}
	// The hand-moved clock gives every token at once, so the calls go out together, in no set
	// order; the starts, one after the other, keep the queue's.
	calls := append([]string{}, tr.convs...)
	sort.Strings(calls)
	if got := strings.Join(calls, ","); got != "c-k1,c-k2,c-k3" {
		t.Errorf("vendor calls %s; want one for each transfer", got)
	}
	var last time.Time
	for i, id := range ids {
		got, _ := p.st.Get(ctx(t), id)
		if got.Status != handoff.StatusTransferred || got.StartedAt == nil || got.EnqueuedAt == nil ||
			!got.EnqueuedAt.Equal(msgs[i].SentAt) || got.StartedAt.Before(last) {
			t.Fatalf("transfer %d: %s, started %v, enqueued %v; want transferred, started after the one before, enqueued as sent",
				i, got.Status, got.StartedAt, got.EnqueuedAt)
		}
		last = *got.StartedAt
	}
}

// A transfer that cannot start within the invocation returns, with every later one of its group.
func TestDrainGroupReturnsTheRestAfterOneCannotStart(t *testing.T) {
	p := setupPaced(t, &scripted{}, 0)
	queueThree(t, p)
	// A minute a token, and an invocation with 90s left, 10s of it kept in reserve: the first
	// starts after a minute; the second's token would come after the invocation's usable part.
	c, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	errs := p.svc.DrainGroup(c, p.queue.sent)
	if errs[0] != nil || handoff.ErrorCode(errs[1]) != handoff.CodeRateLimited || errs[2] != errs[1] {
		t.Fatalf("errors %v; want the first handled, the second RATE_LIMITED and the third returned with it", errs)
	}
	if got, _ := p.st.Get(ctx(t), p.queue.sent[2].TransferID); got.Status != handoff.StatusQueued {
		t.Errorf("third: %s; want still queued", got.Status)
	}
}

// failingStart is a store whose start write (queued → pending) of one transfer fails as an
// unavailable store does.
type failingStart struct {
	*memstore.Store
	id string
}

func (f failingStart) Update(ctx context.Context, before, after handoff.Transfer, events ...handoff.Event) (handoff.Transfer, error) {
	if before.ID == f.id && before.Status == handoff.StatusQueued && after.Status == handoff.StatusPending {
		return handoff.Transfer{}, handoff.E(handoff.CodeUnavailable, "test", "the store is unavailable", nil)
	}
	return f.Store.Update(ctx, before, after, events...)
}

// A start write that fails returns its message; whatever the overlap let run besides, every
// message is either handled (its transfer left the queue, the vendor called once) or returned
// (its transfer still queued, the vendor never called), and the one that failed is returned.
func TestDrainGroupAFailedStartReturnsItsMessageAndLosesNothing(t *testing.T) {
	tr := &scripted{}
	p := setupPaced(t, tr, 0)
	queueThree(t, p)
	msgs := p.queue.sent
	limits, _ := pacing.ParseLimits("acme=1/m")
	pacer := pacing.New(p.pace, p.pace, limits, 0, pacing.WithClock(p.clock.now),
		pacing.WithSleep(func(ctx context.Context, d time.Duration) error { p.clock.advance(d); return ctx.Err() }))
	svc := transfer.New(failingStart{p.st, msgs[1].TransferID}, registry{tr: tr}, quiet(),
		transfer.WithClock(p.clock.now), transfer.WithPacing(pacer, p.queue))
	tr.mu.Lock()
	tr.convs = nil
	tr.mu.Unlock()
	errs := svc.DrainGroup(longCtx(t), msgs)
	if handoff.ErrorCode(errs[1]) != handoff.CodeUnavailable {
		t.Fatalf("errors %v; want the second UNAVAILABLE", errs)
	}
	calls := map[string]int{}
	for _, c := range tr.convs {
		calls[c]++
	}
	for i, m := range msgs {
		got, _ := p.st.Get(ctx(t), m.TransferID)
		conv := got.Conversation.ID
		switch {
		case errs[i] == nil && (got.Status != handoff.StatusTransferred || calls[conv] != 1):
			t.Errorf("message %d handled: %s after %d calls; want transferred after one", i, got.Status, calls[conv])
		case errs[i] != nil && (got.Status != handoff.StatusQueued || calls[conv] != 0):
			t.Errorf("message %d returned: %s after %d calls; want still queued, never called", i, got.Status, calls[conv])
		}
	}
}

// A vendor's 429 in the middle of a group: the refused transfer goes back to queued, the
// bucket slows, and it is tried again within the invocation; every transfer of the group ends
// transferred, the refused one after two calls, the others after one, and no message returns.
func TestDrainGroupRetriesA429WithinTheInvocation(t *testing.T) {
	tr := &scripted{}
	p := setupPaced(t, tr, 0)
	queueThree(t, p)
	limited := handoff.E(handoff.CodeRateLimited, "test", "429", nil)
	limited.RetryAfter = 30 * time.Second
	tr.mu.Lock()
	tr.convs, tr.first = nil, map[string]error{"c-k2": limited}
	tr.mu.Unlock()
	for i, err := range p.svc.DrainGroup(longCtx(t), p.queue.sent) {
		if err != nil {
			t.Errorf("message %d returned: %v", i, err)
		}
	}
	calls := map[string]int{}
	for _, c := range tr.convs {
		calls[c]++
	}
	if calls["c-k1"] != 1 || calls["c-k2"] != 2 || calls["c-k3"] != 1 {
		t.Errorf("vendor calls %v; want k2 twice (its 429, then its retry), the others once", calls)
	}
	for i, m := range p.queue.sent {
		if got, _ := p.st.Get(ctx(t), m.TransferID); got.Status != handoff.StatusTransferred {
			t.Errorf("transfer %d: %s, want transferred", i, got.Status)
		}
		if i == 1 && !timelineHas(t, p.st, m.TransferID, handoff.StatusQueued, "429") {
			t.Errorf("the refused transfer's timeline does not show it requeued after the 429")
		}
	}
}
