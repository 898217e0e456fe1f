package store_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"handoff/core/handoff"
)

func TestGetUnknownIsNotFound(t *testing.T) {
	f := setup(t)
	_, err := f.store.Get(context.Background(), "nope")
	wantCode(t, err, handoff.CodeNotFound)
}

func TestUpdateMovesForward(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	before := create(t, f, "key-1", "tr-1", nil)

	after := before
	after.Status, after.Ack.Status = handoff.StatusTransferred, handoff.AckPending
	got, err := f.store.Update(ctx, before, after, handoff.Event{Kind: "callback", Status: handoff.StatusTransferred})
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 {
		t.Errorf("Version = %d, want 2", got.Version)
	}
	stored, err := f.store.Get(ctx, "tr-1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(stored, got) {
		t.Errorf("stored %+v\nwant %+v", stored, got)
	}

	// An ack's progress keeps the status: staying put is allowed.
	acked := got
	acked.Ack = handoff.Ack{Status: handoff.AckSent, Attempts: 1, At: f.clock.Now()}
	if got, err = f.store.Update(ctx, got, acked); err != nil {
		t.Fatal(err)
	}
	if got.Version != 3 {
		t.Errorf("Version = %d, want 3", got.Version)
	}
}

func TestUpdateRefusesBackwardsAndStale(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	pending := create(t, f, "key-1", "tr-1", nil)
	transferred := pending
	transferred.Status = handoff.StatusTransferred
	transferred, err := f.store.Update(ctx, pending, transferred)
	if err != nil {
		t.Fatal(err)
	}

	failedBefore := create(t, f, "key-2", "tr-2", nil)
	failed := failedBefore
	failed.Status = handoff.StatusFailed
	failed, err = f.store.Update(ctx, failedBefore, failed)
	if err != nil {
		t.Fatal(err)
	}

	back := transferred
	back.Status = handoff.StatusPending
	revive := failed
	revive.Status = handoff.StatusTransferred
	stale := pending // version 1, stored is 2
	stale.Status = handoff.StatusFailed
	lying := transferred // claims the stored status is pending at the right version
	lying.Status = handoff.StatusPending
	lyingAfter := lying
	lyingAfter.Status = handoff.StatusFailed

	for _, tc := range []struct {
		name          string
		before, after handoff.Transfer
		stored        handoff.Transfer
	}{
		{"transferred to pending", transferred, back, transferred},
		{"failed to transferred", failed, revive, failed},
		{"stale version", pending, stale, transferred},
		{"stale status", lying, lyingAfter, transferred},
	} {
		t.Run(tc.name, func(t *testing.T) {
			timeline, err := f.store.Timeline(ctx, tc.stored.ID)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.store.Update(ctx, tc.before, tc.after, handoff.Event{Kind: "refused"})
			e := wantCode(t, err, handoff.CodeConflict)
			if strings.Contains(e.Error(), "653a06c9aae89c5fbb4e0001") {
				t.Errorf("error shows item contents: %v", e)
			}
			stored, err := f.store.Get(ctx, tc.stored.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(stored, tc.stored) {
				t.Errorf("stored %+v\nwant unchanged %+v", stored, tc.stored)
			}
			after, _ := f.store.Timeline(ctx, tc.stored.ID)
			if !reflect.DeepEqual(after, timeline) {
				t.Errorf("timeline grew: %+v", after)
			}
		})
	}
}

func TestUpdateUnknownIsNotFound(t *testing.T) {
	f := setup(t)
	ghost := transfer(f, "ghost")
	ghost.Version = 1
	after := ghost
	after.Status = handoff.StatusFailed
	_, err := f.store.Update(context.Background(), ghost, after)
	wantCode(t, err, handoff.CodeNotFound)
}

func TestFindByRef(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	want := create(t, f, "key-1", "tr-1", nil)
	got, err := f.store.FindByRef(ctx, "koreai", want.VendorRef)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("FindByRef = %+v\nwant %+v", got, want)
	}
	_, err = f.store.FindByRef(ctx, "liveperson", want.VendorRef)
	wantCode(t, err, handoff.CodeNotFound)
	_, err = f.store.FindByRef(ctx, "koreai", "unknown")
	wantCode(t, err, handoff.CodeNotFound)
}

func TestTimelineIsInOrder(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	t0 := f.clock.Now() // on a whole second: its RFC3339Nano form has no fraction
	ev := func(kind string, at time.Time) handoff.Event { return handoff.Event{At: at, Kind: kind} }
	before := create(t, f, "key-1", "tr-1", []handoff.Event{
		ev("created", t0), ev("attempt", t0), ev("awaiting", t0.Add(500*time.Millisecond)),
	})
	after := before
	after.Status = handoff.StatusTransferred
	_, err := f.store.Update(ctx, before, after,
		ev("callback", t0.Add(time.Second)), ev("transferred", t0.Add(time.Second)), ev("ack", t0.Add(10*time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.store.Timeline(ctx, "tr-1")
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range got {
		kinds = append(kinds, e.Kind)
	}
	if want := "created attempt awaiting callback transferred ack"; strings.Join(kinds, " ") != want {
		t.Errorf("timeline = %q, want %q", kinds, want)
	}
	if !got[0].At.Equal(t0) {
		t.Errorf("first event at %s, want %s", got[0].At, t0)
	}
	if empty, err := f.store.Timeline(ctx, "nope"); err != nil || len(empty) != 0 {
		t.Errorf("Timeline(unknown) = %v, %v; want none", empty, err)
	}
}

func TestEventsWithoutTimeGetTheClock(t *testing.T) {
	f := setup(t)
	create(t, f, "key-1", "tr-1", []handoff.Event{{Kind: "created"}})
	got, err := f.store.Timeline(context.Background(), "tr-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !got[0].At.Equal(f.clock.Now()) {
		t.Errorf("timeline = %+v, want one event at %s", got, f.clock.Now())
	}
}
