package store_test

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"handoff/core/handoff"
	"handoff/core/store"
)

// claim is key's claim by owner for the request fingerprinted "fp-1", holding for a minute.
func claim(f *fixture, key, owner, id string) store.Claim {
	return store.Claim{
		Tenant: "acme", Key: key, Fingerprint: "fp-1", Owner: owner,
		LeaseUntil: f.clock.Now().Add(time.Minute), TransferID: id,
	}
}

// transfer is a new pending transfer with id, as the transfer service builds it.
func transfer(f *fixture, id string) handoff.Transfer {
	now := f.clock.Now()
	return handoff.Transfer{
		ID: id, Tenant: "acme", Vendor: "koreai",
		Conversation: handoff.Conversation{ID: "653a06c9aae89c5fbb4e0001"},
		Target:       handoff.Target{Type: handoff.TargetAgent, ID: "a-1"},
		Status:       handoff.StatusPending,
		Attempts: []handoff.Attempt{{
			Target: handoff.Target{Type: handoff.TargetAgent, ID: "a-1"}, Outcome: handoff.OutcomeAwaiting, At: now,
		}},
		Ack:       handoff.Ack{Status: handoff.AckNotRequired},
		Metadata:  []byte(`{"orderId":"A-17"}`),
		VendorRef: "conv-" + id,
		CreatedAt: now, UpdatedAt: now,
	}
}

// create claims key and completes it with a new pending transfer id, returning what is stored.
func create(t *testing.T, f *fixture, key, id string, events []handoff.Event) handoff.Transfer {
	t.Helper()
	ctx := context.Background()
	c := claim(f, key, "owner-"+id, id)
	if _, err := f.store.Claim(ctx, c); err != nil {
		t.Fatal(err)
	}
	tr := transfer(f, id)
	if err := f.store.Complete(ctx, c, tr, &store.Ref{Vendor: tr.Vendor, VendorRef: tr.VendorRef}, events); err != nil {
		t.Fatal(err)
	}
	tr.Version = 1
	return tr
}

func wantCode(t *testing.T, err error, code handoff.Code) *handoff.Error {
	t.Helper()
	if handoff.ErrorCode(err) != code {
		t.Fatalf("error = %v, want %s", err, code)
	}
	return handoff.AsError(err)
}

func TestOneWinnerAmongConcurrentClaims(t *testing.T) {
	f := setup(t)
	const n = 20
	var wg sync.WaitGroup
	results := make([]store.ClaimResult, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			c := claim(f, "key-1", fmt.Sprint("owner-", i), fmt.Sprint("tr-", i))
			results[i], errs[i] = f.store.Claim(context.Background(), c)
		})
	}
	wg.Wait()
	winners := 0
	for i, err := range errs {
		if err == nil {
			winners++
			if results[i].TransferID != fmt.Sprint("tr-", i) || results[i].Reclaimed || results[i].Completed != nil {
				t.Errorf("winner %d got %+v", i, results[i])
			}
			continue
		}
		if e := wantCode(t, err, handoff.CodeInProgress); e.RetryAfter != time.Minute {
			t.Errorf("loser %d RetryAfter = %s, want 1m", i, e.RetryAfter)
		}
	}
	if winners != 1 {
		t.Errorf("%d winners, want 1", winners)
	}
}

func TestInProgressRetryAfterRoundsUp(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	c := claim(f, "key-1", "owner-1", "tr-1")
	c.LeaseUntil = f.clock.Now().Add(90*time.Second + time.Millisecond)
	if _, err := f.store.Claim(ctx, c); err != nil {
		t.Fatal(err)
	}
	_, err := f.store.Claim(ctx, claim(f, "key-1", "owner-2", "tr-2"))
	if e := wantCode(t, err, handoff.CodeInProgress); e.RetryAfter != 91*time.Second {
		t.Errorf("RetryAfter = %s, want 1m31s", e.RetryAfter)
	}
}

func TestDuplicateAfterCompletionReturnsStoredResult(t *testing.T) {
	f := setup(t)
	stored := create(t, f, "key-1", "tr-1", nil)
	f.calls.reset()

	got, err := f.store.Claim(context.Background(), claim(f, "key-1", "owner-2", "tr-2"))
	if err != nil {
		t.Fatal(err)
	}
	if got.TransferID != "tr-1" || got.Reclaimed || got.Completed == nil {
		t.Fatalf("duplicate got %+v, want tr-1's stored result", got)
	}
	if !reflect.DeepEqual(*got.Completed, stored) {
		t.Errorf("stored result = %+v\nwant %+v", *got.Completed, stored)
	}
	// DynamoDB returns the record that stopped the write (so does moto 5.2): no read follows.
	if ops := f.calls.count(); len(ops) != 1 || ops["PutItem"] != 1 {
		t.Errorf("a duplicate cost %v, want one PutItem", ops)
	}
}

func TestSameKeyDifferentRequestIsRefused(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	if _, err := f.store.Claim(ctx, claim(f, "key-1", "owner-1", "tr-1")); err != nil {
		t.Fatal(err)
	}
	other := claim(f, "key-1", "owner-2", "tr-2")
	other.Fingerprint = "fp-2"
	_, err := f.store.Claim(ctx, other)
	wantCode(t, err, handoff.CodeIdempotencyKeyReused)

	create(t, f, "key-2", "tr-3", nil)
	other.Key = "key-2"
	_, err = f.store.Claim(ctx, other)
	wantCode(t, err, handoff.CodeIdempotencyKeyReused)
}

func TestLapsedLeaseIsReclaimedAndTheLateOwnerChangesNothing(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	first := claim(f, "key-1", "owner-1", "tr-1")
	if _, err := f.store.Claim(ctx, first); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(2 * time.Minute)

	second := claim(f, "key-1", "owner-2", "tr-2")
	got, err := f.store.Claim(ctx, second)
	if err != nil {
		t.Fatal(err)
	}
	if got.TransferID != "tr-1" || !got.Reclaimed {
		t.Fatalf("reclaim got %+v, want tr-1, reclaimed", got)
	}
	second.TransferID = got.TransferID

	late := transfer(f, "tr-1")
	late.Target.ID = "late"
	err = f.store.Complete(ctx, first, late, &store.Ref{Vendor: "koreai", VendorRef: "late"}, []handoff.Event{{Kind: "late"}})
	wantCode(t, err, handoff.CodeConflict)
	_, err = f.store.Get(ctx, "tr-1")
	wantCode(t, err, handoff.CodeNotFound)
	_, err = f.store.FindByRef(ctx, "koreai", "late")
	wantCode(t, err, handoff.CodeNotFound)
	wantCode(t, f.store.Release(ctx, first, true), handoff.CodeConflict)

	winner := transfer(f, "tr-1")
	if err := f.store.Complete(ctx, second, winner, nil, nil); err != nil {
		t.Fatal(err)
	}
	wantCode(t, f.store.Complete(ctx, first, late, nil, nil), handoff.CodeConflict)
	stored, err := f.store.Get(ctx, "tr-1")
	if err != nil {
		t.Fatal(err)
	}
	winner.Version = 1
	if !reflect.DeepEqual(stored, winner) {
		t.Errorf("stored %+v\nwant the winner's %+v", stored, winner)
	}
	if events, _ := f.store.Timeline(ctx, "tr-1"); len(events) != 0 {
		t.Errorf("timeline = %+v, want the late owner's events absent", events)
	}
}

// TestConcurrentReclaimsHaveOneWinner: many invocations find the same lapsed lease; one takes it
// over, the others see it live again.
func TestConcurrentReclaimsHaveOneWinner(t *testing.T) {
	f := setup(t)
	if _, err := f.store.Claim(context.Background(), claim(f, "key-1", "owner-0", "tr-0")); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(2 * time.Minute)
	const n = 10
	var wg sync.WaitGroup
	errs := make([]error, n)
	results := make([]store.ClaimResult, n)
	for i := range n {
		wg.Go(func() {
			c := claim(f, "key-1", fmt.Sprint("owner-", i+1), fmt.Sprint("tr-", i+1))
			results[i], errs[i] = f.store.Claim(context.Background(), c)
		})
	}
	wg.Wait()
	winners := 0
	for i, err := range errs {
		if err != nil {
			wantCode(t, err, handoff.CodeInProgress)
			continue
		}
		winners++
		if results[i].TransferID != "tr-0" || !results[i].Reclaimed {
			t.Errorf("winner got %+v, want tr-0, reclaimed", results[i])
		}
	}
	if winners != 1 {
		t.Errorf("%d winners, want 1", winners)
	}
}

func TestCleanReleaseLeavesNoRecord(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	first := claim(f, "key-1", "owner-1", "tr-1")
	if _, err := f.store.Claim(ctx, first); err != nil {
		t.Fatal(err)
	}
	if err := f.store.Release(ctx, first, false); err != nil {
		t.Fatal(err)
	}
	out, err := f.db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	if out.Count != 0 {
		t.Errorf("table holds %d items after a clean release, want none", out.Count)
	}
}

func TestReleaseMakesTheKeyClaimable(t *testing.T) {
	for _, ambiguous := range []bool{false, true} {
		t.Run(fmt.Sprint("ambiguous=", ambiguous), func(t *testing.T) {
			f := setup(t)
			ctx := context.Background()
			first := claim(f, "key-1", "owner-1", "tr-1")
			if _, err := f.store.Claim(ctx, first); err != nil {
				t.Fatal(err)
			}
			if err := f.store.Release(ctx, first, ambiguous); err != nil {
				t.Fatal(err)
			}
			got, err := f.store.Claim(ctx, claim(f, "key-1", "owner-2", "tr-2"))
			if err != nil {
				t.Fatal(err)
			}
			// An ambiguous release keeps the id for reconciling; a clean one leaves no trace.
			want := handoff.ClaimResult{TransferID: "tr-2"}
			if ambiguous {
				want = handoff.ClaimResult{TransferID: "tr-1", Reclaimed: true}
			}
			if got != want {
				t.Errorf("claim after release got %+v, want %+v", got, want)
			}
			wantCode(t, f.store.Release(ctx, first, false), handoff.CodeConflict)
		})
	}
}

func TestExpiredKeyStartsAfresh(t *testing.T) {
	f := setup(t)
	create(t, f, "key-1", "tr-1", nil)
	f.clock.Advance(24*time.Hour + time.Second)
	got, err := f.store.Claim(context.Background(), claim(f, "key-1", "owner-2", "tr-2"))
	if err != nil {
		t.Fatal(err)
	}
	if got.TransferID != "tr-2" || got.Reclaimed || got.Completed != nil {
		t.Errorf("claim of an expired key got %+v, want a fresh tr-2", got)
	}
}

func TestNewTransferCostsTwoWrites(t *testing.T) {
	f := setup(t)
	create(t, f, "key-1", "tr-1", []handoff.Event{{Kind: "created"}, {Kind: "attempt"}})
	ops := f.calls.count()
	if writes(ops) > 2 || ops["PutItem"] != 1 || ops["TransactWriteItems"] != 1 {
		t.Errorf("a new transfer cost %v, want one PutItem and one TransactWriteItems", ops)
	}
}
