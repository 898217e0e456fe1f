package store_test

import (
	"context"
	"testing"
	"time"

	"handoff/core/handoff"
)

// createAwaiting records a pending transfer whose callback is due at `until`.
func createAwaiting(t *testing.T, f *fixture, key, id string, until time.Time) handoff.Transfer {
	t.Helper()
	c := claim(f, key, "owner-"+id, id)
	if _, err := f.store.Claim(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	tr := transfer(f, id)
	tr.AwaitUntil = &until
	if err := f.store.Complete(context.Background(), c, tr, nil, nil); err != nil {
		t.Fatal(err)
	}
	tr.Version = 1
	return tr
}

func ids(ts []handoff.Transfer) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.ID)
	}
	return out
}

func TestOverdueListsOnlyTransfersAwaitingPastTheirDeadline(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	now := f.clock.Now()
	late := createAwaiting(t, f, "k1", "tr-late", now.Add(-2*time.Minute))
	later := createAwaiting(t, f, "k2", "tr-later", now.Add(-time.Minute))
	createAwaiting(t, f, "k3", "tr-future", now.Add(time.Hour))
	create(t, f, "k4", "tr-no-deadline", nil) // pending without a deadline: not the sweep's

	got, err := f.store.Overdue(ctx, now, 10)
	if err != nil {
		t.Fatal(err)
	}
	if g := ids(got); len(g) != 2 || g[0] != late.ID || g[1] != later.ID {
		t.Fatalf("Overdue = %v, want [tr-late tr-later], oldest deadline first", g)
	}
	if got[0].Version != 1 || got[0].AwaitUntil == nil {
		t.Errorf("decoded %+v, want version and deadline", got[0])
	}

	// Once final, a transfer leaves the index.
	done := late
	done.Status, done.AwaitUntil = handoff.StatusTransferred, nil
	if _, err := f.store.Update(ctx, late, done); err != nil {
		t.Fatal(err)
	}
	got, err = f.store.Overdue(ctx, now, 10)
	if err != nil {
		t.Fatal(err)
	}
	if g := ids(got); len(g) != 1 || g[0] != later.ID {
		t.Errorf("Overdue after one ended = %v, want [tr-later]", g)
	}
	if got, _ := f.store.Overdue(ctx, now, 1); len(got) != 1 {
		t.Errorf("limit 1 gave %d", len(got))
	}
}
