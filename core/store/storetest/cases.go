package storetest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"handoff/core/handoff"
)

// The cases of Run, each on an empty store.

func claimRecordsThePendingTransfer(t *testing.T, f *fixture) {
	_, p := f.start(t, "t1", "k")
	got, err := f.st.Get(ctx(t), p.ID)
	if err != nil || got.Status != handoff.StatusPending || got.AwaitUntil == nil || !got.AwaitUntil.Equal(*p.AwaitUntil) ||
		got.Version != p.Version || len(got.Attempts) != 0 {
		t.Fatalf("recorded = %+v, %v; want pending with its deadline, before any vendor call", got, err)
	}
	events, _ := f.st.Timeline(ctx(t), p.ID)
	if len(events) != 1 || events[0].Kind != "created" {
		t.Errorf("timeline = %v, want created", kinds(events))
	}
	if _, err := f.st.Get(ctx(t), "no-such-transfer-at-all-00"); handoff.ErrorCode(err) != handoff.CodeNotFound {
		t.Errorf("unknown id: err = %v, want NOT_FOUND", err)
	}
}

func oneWinnerAmongConcurrentClaims(t *testing.T, f *fixture) {
	var wg sync.WaitGroup
	var won, busy atomic.Int32
	for i := range 8 {
		wg.Go(func() {
			c := f.claim("t1", "storm", fmt.Sprint("owner-", i))
			res, err := f.st.Claim(ctx(t), c, f.pending(c))
			switch {
			case err == nil && res.Completed == nil && !res.Reclaimed:
				won.Add(1)
			case handoff.ErrorCode(err) == handoff.CodeInProgress:
				if e := handoff.AsError(err); e.RetryAfter < time.Second {
					t.Errorf("RetryAfter = %v, want at least 1s", e.RetryAfter)
				}
				busy.Add(1)
			default:
				t.Errorf("claim = %+v, %v", res, err)
			}
		})
	}
	wg.Wait()
	if won.Load() != 1 || busy.Load() != 7 {
		t.Errorf("won = %d, in progress = %d; want 1 and 7", won.Load(), busy.Load())
	}
}

func duplicatesGetTheStoredTransfer(t *testing.T, f *fixture) {
	c, p := f.start(t, "t1", "dup")
	saved := f.done(t, c, p, "")
	again := f.claim("t1", "dup", "other")
	res, err := f.st.Claim(ctx(t), again, f.pending(again))
	if err != nil || res.Completed == nil || res.TransferID != saved.ID || res.Completed.Status != handoff.StatusTransferred {
		t.Fatalf("duplicate = %+v, %v; want the stored transfer", res, err)
	}
	other := f.claim("t1", "dup", "third")
	other.Fingerprint = "another body"
	_, err = f.st.Claim(ctx(t), other, f.pending(other))
	wantCode(t, "same key, other request", err, handoff.CodeIdempotencyKeyReused)
	// Keys are per tenant.
	if res, err := f.st.Claim(ctx(t), f.claim("t2", "dup", "x"), f.pending(f.claim("t2", "dup", "x"))); err != nil || res.Completed != nil || res.TransferID == saved.ID {
		t.Errorf("another tenant's key = %+v, %v; want a new transfer", res, err)
	}
}

func lapsedLeaseIsTakenOverWithItsRecord(t *testing.T, f *fixture) {
	c, p := f.start(t, "t1", "lapse")
	refused := p
	refused.Attempts = []handoff.Attempt{{Target: p.Target, Outcome: handoff.OutcomeUnavailable, At: f.clock.Now().UTC()}}
	refused, err := f.st.Progress(ctx(t), c, refused, handoff.Event{Kind: "attempt"})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Minute) // the owner died; its lease lapsed
	next := f.claim("t1", "lapse", "successor")
	res, err := f.st.Claim(ctx(t), next, f.pending(next))
	if err != nil || !res.Reclaimed || res.TransferID != p.ID || res.Stored == nil || len(res.Stored.Attempts) != 1 {
		t.Fatalf("takeover = %+v, %v; want the same transfer, reclaimed, with its attempt", res, err)
	}
	if res.Stored.AwaitUntil == nil || !res.Stored.AwaitUntil.Equal(next.LeaseUntil) {
		t.Errorf("taken over deadline = %v, want the new lease %v", res.Stored.AwaitUntil, next.LeaseUntil)
	}
	// The late owner can neither record nor release.
	_, err = f.st.Complete(ctx(t), c, refused, nil)
	wantCode(t, "late owner's Complete", err, handoff.CodeConflict)
	wantCode(t, "late owner's Release", f.st.Release(ctx(t), c, false), handoff.CodeConflict)
	next.TransferID = res.TransferID
	got := f.done(t, next, *res.Stored, "")
	if got.Status != handoff.StatusTransferred || len(got.Attempts) != 2 {
		t.Errorf("completed by the successor = %+v", got)
	}
}

func releaseCleanOrAmbiguous(t *testing.T, f *fixture) {
	c, p := f.start(t, "t1", "clean")
	if err := f.st.Release(ctx(t), c, false); err != nil {
		t.Fatal(err)
	}
	_, err := f.st.Get(ctx(t), p.ID)
	wantCode(t, "after a clean release", err, handoff.CodeNotFound)
	again := f.claim("t1", "clean", "again")
	if res, err := f.st.Claim(ctx(t), again, f.pending(again)); err != nil || res.Reclaimed {
		t.Errorf("claim after a clean release = %+v, %v; want a fresh one", res, err)
	}

	c, p = f.start(t, "t1", "doubt")
	if err := f.st.Release(ctx(t), c, true); err != nil {
		t.Fatal(err)
	}
	if got, err := f.st.Get(ctx(t), p.ID); err != nil || got.Status != handoff.StatusPending {
		t.Errorf("after an ambiguous release = %+v, %v; want the pending record kept", got, err)
	}
	again = f.claim("t1", "doubt", "again")
	if res, err := f.st.Claim(ctx(t), again, f.pending(again)); err != nil || !res.Reclaimed || res.TransferID != p.ID {
		t.Errorf("claim after an ambiguous release = %+v, %v; want the same transfer, to reconcile", res, err)
	}
}

func progressAndCompleteKeepTheTimelineInOrder(t *testing.T, f *fixture) {
	c, p := f.start(t, "t1", "tl")
	at := f.clock.Now().UTC()
	p.Attempts = []handoff.Attempt{{Target: p.Target, Outcome: handoff.OutcomeRejected, At: at}}
	p, err := f.st.Progress(ctx(t), c, p, handoff.Event{At: at, Kind: "attempt", Detail: "first"})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Second)
	if err := f.st.Note(ctx(t), p.ID, handoff.Event{Kind: "callback"}); err != nil {
		t.Fatal(err)
	}
	saved := f.done(t, c, p, "")
	if saved.Version <= p.Version {
		t.Errorf("version %d after completion, want more than %d", saved.Version, p.Version)
	}
	events, _ := f.st.Timeline(ctx(t), p.ID)
	want := []string{"created", "attempt", "callback", "attempt", "status"}
	if fmt.Sprint(kinds(events)) != fmt.Sprint(want) {
		t.Errorf("timeline = %v, want %v", kinds(events), want)
	}
	if len(events) > 2 && (events[1].Detail != "first" || !events[2].At.Equal(f.clock.Now().UTC())) {
		t.Errorf("events = %+v; want details kept and untimed events stamped with the clock", events)
	}
	got, _ := f.st.Get(ctx(t), p.ID)
	if got.Version != saved.Version || got.Status != handoff.StatusTransferred {
		t.Errorf("read back = %+v, want version %d transferred", got, saved.Version)
	}
}

func updateMovesOnlyForwardFromTheVersionRead(t *testing.T, f *fixture) {
	c, p := f.start(t, "t1", "up")
	p.Attempts = []handoff.Attempt{{Target: p.Target, Outcome: handoff.OutcomeAwaiting, At: f.clock.Now().UTC()}}
	p, err := f.st.Complete(ctx(t), c, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	failed := p
	failed.Status = handoff.StatusFailed
	moved, err := f.st.Update(ctx(t), p, failed, handoff.Event{Kind: "status", Status: handoff.StatusFailed})
	if err != nil || moved.Version != p.Version+1 {
		t.Fatalf("update = %+v, %v", moved, err)
	}
	_, err = f.st.Update(ctx(t), p, failed)
	wantCode(t, "a stale before", err, handoff.CodeConflict)
	back := moved
	back.Status = handoff.StatusPending
	_, err = f.st.Update(ctx(t), moved, back)
	wantCode(t, "backwards", err, handoff.CodeConflict)
	ghost := moved
	ghost.ID = "no-such-transfer-at-all-00"
	_, err = f.st.Update(ctx(t), ghost, ghost)
	wantCode(t, "unknown", err, handoff.CodeNotFound)
	if got, _ := f.st.Get(ctx(t), p.ID); got.Status != handoff.StatusFailed || got.Version != moved.Version {
		t.Errorf("stored = %+v, want the one update", got)
	}
}

func notesNeverConflictWithStateChanges(t *testing.T, f *fixture) {
	c, p := f.start(t, "t1", "note")
	p, err := f.st.Complete(ctx(t), c, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.st.Note(ctx(t), p.ID, handoff.Event{Kind: "callback", Detail: "typing"}); err != nil {
		t.Fatal(err)
	}
	after := p
	after.Status = handoff.StatusTransferred
	if _, err := f.st.Update(ctx(t), p, after); err != nil {
		t.Errorf("an update from the version read before a note: %v, want it to hold", err)
	}
	wantCode(t, "note on an unknown transfer", f.st.Note(ctx(t), "no-such-transfer-at-all-00", handoff.Event{Kind: "x"}), handoff.CodeNotFound)
}

func referencesAreScopedByTenant(t *testing.T, f *fixture) {
	ca, a := f.start(t, "tenant-a", "ref")
	a = f.done(t, ca, a, "chat-112")
	cb, b := f.start(t, "tenant-b", "ref")
	b = f.done(t, cb, b, "chat-112")
	for _, want := range []handoff.Transfer{a, b} {
		got, err := f.st.FindByRef(ctx(t), want.Tenant, "acme", "chat-112")
		if err != nil || got.ID != want.ID {
			t.Errorf("%s's chat-112 = %s, %v; want %s", want.Tenant, got.ID, err, want.ID)
		}
	}
	_, err := f.st.FindByRef(ctx(t), "tenant-c", "acme", "chat-112")
	wantCode(t, "a third tenant", err, handoff.CodeNotFound)
	_, err = f.st.FindByRef(ctx(t), "tenant-a", "other-vendor", "chat-112")
	wantCode(t, "another vendor", err, handoff.CodeNotFound)
}

func overdueListsPendingTransfersPastTheirDeadline(t *testing.T, f *fixture) {
	late := func(key string, in time.Duration) handoff.Transfer {
		c, p := f.start(t, "t1", key)
		until := f.clock.Now().Add(in).UTC()
		p.AwaitUntil = &until
		p.Attempts = []handoff.Attempt{{Target: p.Target, Outcome: handoff.OutcomeAwaiting, At: f.clock.Now().UTC()}}
		p, err := f.st.Complete(ctx(t), c, p, nil)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	second := late("second", 2*time.Minute)
	first := late("first", time.Minute)
	late("later", time.Hour)
	cd, d := f.start(t, "t1", "done")
	f.done(t, cd, d, "")
	got, err := f.st.Overdue(ctx(t), f.clock.Now().Add(5*time.Minute), 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, tr := range got {
		ids = append(ids, tr.ID)
	}
	if len(ids) != 2 || ids[0] != first.ID || ids[1] != second.ID {
		t.Errorf("overdue = %v, want [%s %s]", ids, first.ID, second.ID)
	}
	if got, _ := f.st.Overdue(ctx(t), f.clock.Now().Add(5*time.Minute), 1); len(got) != 1 {
		t.Errorf("limit 1 gave %d", len(got))
	}
}

func takeOverHoldsOnlyWhenDueOnTheStoredRecord(t *testing.T, f *fixture) {
	c, p := f.start(t, "t1", "sweep")
	_, _, err := f.st.TakeOver(ctx(t), p, "sweeper", f.clock.Now().Add(time.Minute))
	wantCode(t, "before the deadline", err, handoff.CodeConflict)
	f.clock.Advance(time.Minute)
	stale := p
	stale.Version--
	_, _, err = f.st.TakeOver(ctx(t), stale, "sweeper", f.clock.Now().Add(time.Minute))
	wantCode(t, "from a stale read", err, handoff.CodeConflict)
	held, tr, err := f.st.TakeOver(ctx(t), p, "sweeper", f.clock.Now().Add(time.Minute))
	if err != nil || held.Owner != "sweeper" || held.Key != "sweep" || held.Fingerprint != c.Fingerprint || tr.Version <= p.Version {
		t.Fatalf("takeover = %+v, %+v, %v", held, tr, err)
	}
	_, _, err = f.st.TakeOver(ctx(t), p, "second-sweeper", f.clock.Now().Add(time.Minute))
	wantCode(t, "a second sweep", err, handoff.CodeConflict)
	_, err = f.st.Complete(ctx(t), c, p, nil)
	wantCode(t, "the dead owner's Complete", err, handoff.CodeConflict)
	f.done(t, held, tr, "")
	dup := f.claim("t1", "sweep", "client-retry")
	if res, err := f.st.Claim(ctx(t), dup, f.pending(dup)); err != nil || res.Completed == nil || res.Completed.Status != handoff.StatusTransferred {
		t.Errorf("the client's retry = %+v, %v; want the swept transfer", res, err)
	}
}

func aKeyStartsAfreshAfterItsWindowOnceFinished(t *testing.T, f *fixture) {
	short := f.claim("t1", "derived", "o1")
	short.Window = 5 * time.Minute
	won, err := f.st.Claim(ctx(t), short, f.pending(short))
	if err != nil {
		t.Fatal(err)
	}
	short.TransferID = won.TransferID
	p := f.pending(short)
	p.ID, p.Version = won.TransferID, won.Version
	first := f.done(t, short, p, "")
	f.clock.Advance(6 * time.Minute)
	// Until its outcome is published the old transfer keeps the key.
	early := f.claim("t1", "derived", "o2")
	early.Window = 5 * time.Minute
	if res, err := f.st.Claim(ctx(t), early, f.pending(early)); err != nil || res.Completed == nil || res.TransferID != first.ID {
		t.Fatalf("after the window, unpublished = %+v, %v; want the stored transfer", res, err)
	}
	published := first
	now := f.clock.Now().UTC()
	published.NotifiedAt = &now
	if _, err := f.st.Update(ctx(t), first, published); err != nil {
		t.Fatal(err)
	}
	again := f.claim("t1", "derived", "o2")
	again.Window = 5 * time.Minute
	res, err := f.st.Claim(ctx(t), again, f.pending(again))
	if err != nil || res.Completed != nil || res.Reclaimed || res.TransferID == first.ID {
		t.Fatalf("after the window = %+v, %v; want a new transfer", res, err)
	}
	if old, err := f.st.Get(ctx(t), first.ID); err != nil || old.Status != handoff.StatusTransferred {
		t.Errorf("the earlier transfer = %+v, %v; want it still readable", old, err)
	}
	if now, err := f.st.Get(ctx(t), res.TransferID); err != nil || now.Status != handoff.StatusPending {
		t.Errorf("the new transfer = %+v, %v", now, err)
	}
	// The default window is longer: the same wait still finds the stored transfer.
	c, p2 := f.start(t, "t1", "explicit")
	f.done(t, c, p2, "")
	f.clock.Advance(6 * time.Minute)
	dup := f.claim("t1", "explicit", "o3")
	if res, err := f.st.Claim(ctx(t), dup, f.pending(dup)); err != nil || res.Completed == nil {
		t.Errorf("explicit key after 6m = %+v, %v; want the stored transfer", res, err)
	}
}

func pendingAcksAreListedForTheScan(t *testing.T, f *fixture) {
	c, p := f.start(t, "t1", "ack")
	p.Bot = &handoff.Bot{Vendor: "webhook"}
	p.Ack = handoff.Ack{Status: handoff.AckPending, SequenceID: 1}
	done := f.done(t, c, p, "")
	if got, _ := f.st.PendingAcks(ctx(t), f.clock.Now(), 10); len(got) != 0 {
		t.Errorf("an ack just made pending is listed at once: %d", len(got))
	}
	later := f.clock.Now().Add(10 * time.Minute)
	got, err := f.st.PendingAcks(ctx(t), later, 10)
	if err != nil || len(got) != 1 || got[0].ID != done.ID {
		t.Fatalf("pending acks = %+v, %v; want the transfer", got, err)
	}
	sent := done
	sent.Ack.Status = handoff.AckSent
	if _, err := f.st.Update(ctx(t), done, sent); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.st.PendingAcks(ctx(t), later, 10); len(got) != 0 {
		t.Errorf("a sent ack is still listed")
	}
}

func aReplacedRecordIsAConflictForItsFormerOwner(t *testing.T, f *fixture) {
	c, p := f.start(t, "t1", "gone")
	if err := f.st.Release(ctx(t), c, false); err != nil {
		t.Fatal(err)
	}
	_, err := f.st.Complete(ctx(t), c, p, nil)
	wantCode(t, "Complete after the record is gone", err, handoff.CodeConflict)
	_, err = f.st.Progress(ctx(t), c, p)
	wantCode(t, "Progress after the record is gone", err, handoff.CodeConflict)
}
