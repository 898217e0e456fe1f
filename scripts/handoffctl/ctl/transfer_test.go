package ctl

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"handoff/core/handoff"
	"handoff/core/store"
)

// The timeline reads as "status: detail" where an entry has both (a queued transfer's
// "queued: queued behind …", "pending: started"), and a queued transfer shows its queue times.
func TestTransferShowQueuedTransfer(t *testing.T) {
	env, db := withTable(t)
	ctx := context.Background()
	st := store.New(db, "handoff")
	now := time.Now().UTC().Truncate(time.Millisecond)
	c := store.Claim{Tenant: "acme", Key: "k-1", Fingerprint: "fp", Owner: "o", LeaseUntil: now.Add(time.Minute), TransferID: "proposal"}
	tr := handoff.Transfer{Tenant: "acme", Vendor: "koreai", Conversation: handoff.Conversation{ID: "c-1"},
		Target: handoff.Target{Type: handoff.TargetAgent, ID: "a-1"}, Status: handoff.StatusPending,
		Attempts: []handoff.Attempt{}, Ack: handoff.Ack{Status: handoff.AckNotRequired}, CreatedAt: now, UpdatedAt: now}
	won, err := st.Claim(ctx, c, tr)
	if err != nil {
		t.Fatal(err)
	}
	tr.ID, tr.Version = won.TransferID, won.Version
	c.TransferID = won.TransferID
	start := now.Add(time.Second)
	tr.Status, tr.ExpectedStartAt = handoff.StatusQueued, &start
	queued, err := st.Complete(ctx, c, tr, []handoff.Event{{At: now, Kind: "status", Status: handoff.StatusQueued, Detail: "queued behind 0 transfers"}})
	if err != nil {
		t.Fatal(err)
	}
	started := queued
	started.Status, started.EnqueuedAt, started.StartedAt = handoff.StatusPending, &now, &start
	if _, err := st.Update(ctx, queued, started, handoff.Event{At: start, Kind: "status", Status: handoff.StatusPending, Detail: "started"}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Run(ctx, Config{AWS: env.Config, Table: "handoff", SecretPrefix: "handoff/"}, []string{"transfer", "show", tr.ID}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"queued: queued behind 0 transfers", "pending: started", "created   pending\n",
		"queue    expected to start " + start.Format("2006-01-02T15:04:05.000Z") + ", enqueued " + now.Format("2006-01-02T15:04:05.000Z")} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("transfer show lacks %q:\n%s", want, out.String())
		}
	}
}
