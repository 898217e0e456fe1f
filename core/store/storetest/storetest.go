// Package storetest is the behavioural suite every store of Handoff's state passes: the
// DynamoDB store (core/store, on moto) and the in-memory one (core/store/memstore) run the same
// cases, so the use cases' unit tests on memstore mean what they say about production.
package storetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"handoff/core/handoff"
	"handoff/core/testkit"
)

// Store is what the suite exercises: everything the use cases and the scans call.
type Store interface {
	Claim(ctx context.Context, c handoff.Claim, pending handoff.Transfer) (handoff.ClaimResult, error)
	Progress(ctx context.Context, c handoff.Claim, t handoff.Transfer, events ...handoff.Event) (handoff.Transfer, error)
	Complete(ctx context.Context, c handoff.Claim, t handoff.Transfer, events []handoff.Event) (handoff.Transfer, error)
	Release(ctx context.Context, c handoff.Claim, ambiguous bool) error
	TakeOver(ctx context.Context, t handoff.Transfer, owner string, until time.Time) (handoff.Claim, handoff.Transfer, error)
	Get(ctx context.Context, id string) (handoff.Transfer, error)
	FindByRef(ctx context.Context, tenant, vendor, vendorRef string) (handoff.Transfer, error)
	Update(ctx context.Context, before, after handoff.Transfer, events ...handoff.Event) (handoff.Transfer, error)
	Note(ctx context.Context, id string, events ...handoff.Event) error
	Timeline(ctx context.Context, id string) ([]handoff.Event, error)
	Overdue(ctx context.Context, now time.Time, limit int) ([]handoff.Transfer, error)
	PendingAcks(ctx context.Context, now time.Time, limit int) ([]handoff.Transfer, error)
}

// Open returns an empty store whose clock is clock.
type Open func(t *testing.T, clock *testkit.Clock) Store

// Run runs every case on stores from open.
func Run(t *testing.T, open Open) {
	cases := []struct {
		name string
		run  func(*testing.T, *fixture)
	}{
		{"ClaimRecordsThePendingTransfer", claimRecordsThePendingTransfer},
		{"OneWinnerAmongConcurrentClaims", oneWinnerAmongConcurrentClaims},
		{"DuplicatesGetTheStoredTransfer", duplicatesGetTheStoredTransfer},
		{"LapsedLeaseIsTakenOverWithItsRecord", lapsedLeaseIsTakenOverWithItsRecord},
		{"ReleaseCleanOrAmbiguous", releaseCleanOrAmbiguous},
		{"ProgressAndCompleteKeepTheTimelineInOrder", progressAndCompleteKeepTheTimelineInOrder},
		{"UpdateMovesOnlyForwardFromTheVersionRead", updateMovesOnlyForwardFromTheVersionRead},
		{"NotesNeverConflictWithStateChanges", notesNeverConflictWithStateChanges},
		{"ReferencesAreScopedByTenant", referencesAreScopedByTenant},
		{"OverdueListsPendingTransfersPastTheirDeadline", overdueListsPendingTransfersPastTheirDeadline},
		{"TakeOverHoldsOnlyWhenDueOnTheStoredRecord", takeOverHoldsOnlyWhenDueOnTheStoredRecord},
		{"AKeyStartsAfreshAfterItsWindowOnceFinished", aKeyStartsAfreshAfterItsWindowOnceFinished},
		{"PendingAcksAreListedForTheScan", pendingAcksAreListedForTheScan},
		{"AReplacedRecordIsAConflictForItsFormerOwner", aReplacedRecordIsAConflictForItsFormerOwner},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clock := testkit.NewClock(time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC))
			c.run(t, &fixture{st: open(t, clock), clock: clock})
		})
	}
}

type fixture struct {
	st    Store
	clock *testkit.Clock
}

var proposals atomic.Int64

func (f *fixture) claim(tenant, key, owner string) handoff.Claim {
	return handoff.Claim{
		Tenant: tenant, Key: key, Fingerprint: "fp-" + key, Owner: owner,
		LeaseUntil: f.clock.Now().Add(30 * time.Second),
		TransferID: fmt.Sprintf("proposal%018d", proposals.Add(1)),
	}
}

func (f *fixture) pending(c handoff.Claim) handoff.Transfer {
	now := f.clock.Now().UTC()
	until := c.LeaseUntil.UTC()
	return handoff.Transfer{
		Tenant: c.Tenant, Vendor: "acme", Conversation: handoff.Conversation{ID: "c-" + c.Key},
		Target:    handoff.Target{Type: handoff.TargetAgent, ID: "a-1"},
		Fallbacks: []handoff.Target{{Type: handoff.TargetQueue, ID: "q-1"}},
		Status:    handoff.StatusPending, Attempts: []handoff.Attempt{}, AwaitUntil: &until,
		Ack: handoff.Ack{Status: handoff.AckNotRequired}, CreatedAt: now, UpdatedAt: now,
	}
}

// start claims a new key and returns the claim and the recorded transfer.
func (f *fixture) start(t *testing.T, tenant, key string) (handoff.Claim, handoff.Transfer) {
	t.Helper()
	c := f.claim(tenant, key, "owner-"+key)
	p := f.pending(c)
	won, err := f.st.Claim(ctx(t), c, p)
	if err != nil || won.Completed != nil || won.Reclaimed {
		t.Fatalf("claim = %+v, %v; want a new key won", won, err)
	}
	c.TransferID = won.TransferID
	p.ID, p.Version = won.TransferID, won.Version
	return c, p
}

// done completes t transferred after one attempt, with ref as the vendor's reference.
func (f *fixture) done(t *testing.T, c handoff.Claim, tr handoff.Transfer, ref string) handoff.Transfer {
	t.Helper()
	at := f.clock.Now().UTC()
	tr.Attempts = append(tr.Attempts, handoff.Attempt{Target: tr.Target, Outcome: handoff.OutcomeTransferred, At: at})
	tr.Status, tr.AwaitUntil, tr.VendorRef, tr.UpdatedAt = handoff.StatusTransferred, nil, ref, at
	saved, err := f.st.Complete(ctx(t), c, tr, []handoff.Event{{At: at, Kind: "attempt"}, {At: at, Kind: "status", Status: tr.Status}})
	if err != nil {
		t.Fatal(err)
	}
	return saved
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func wantCode(t *testing.T, what string, err error, code handoff.Code) {
	t.Helper()
	if handoff.ErrorCode(err) != code {
		t.Errorf("%s: err = %v, want %s", what, err, code)
	}
}

func kinds(events []handoff.Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.Kind
	}
	return out
}
