package store_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"handoff/core/awstest"
	"handoff/core/handoff"
	"handoff/core/store"
	"handoff/core/store/storetest"
	"handoff/core/testkit"
)

// The behavioural suite, on moto: the same cases memstore passes.
func TestBehaviour(t *testing.T) {
	storetest.Run(t, func(t *testing.T, clock *testkit.Clock) storetest.Store {
		f := setup(t)
		return store.New(f.db, table, store.WithClock(clock.Now))
	})
}

// create claims key and completes a pending transfer awaiting a callback, returning it.
func create(t *testing.T, f *fixture, key string) (store.Claim, handoff.Transfer) {
	t.Helper()
	c, tr := claimed(t, f, f.store, key)
	tr, err := f.store.Complete(context.Background(), c, tr, []handoff.Event{{Kind: "attempt"}})
	if err != nil {
		t.Fatal(err)
	}
	return c, tr
}

// claimed claims key with st and returns the claim and its transfer as the vendor's answer left
// it, awaiting a callback, ready to complete.
func claimed(t *testing.T, f *fixture, st *store.Store, key string) (store.Claim, handoff.Transfer) {
	t.Helper()
	now := f.clock.Now().UTC()
	c := store.Claim{Tenant: "acme", Key: key, Fingerprint: "fp-1", Owner: "owner-" + key,
		LeaseUntil: now.Add(time.Minute), TransferID: "proposal-" + key}
	until := c.LeaseUntil
	tr := handoff.Transfer{
		Tenant: "acme", Vendor: "koreai", Conversation: handoff.Conversation{ID: "653a06c9aae89c5fbb4e0001"},
		Target: handoff.Target{Type: handoff.TargetAgent, ID: "a-1"}, Status: handoff.StatusPending,
		Attempts: []handoff.Attempt{}, Ack: handoff.Ack{Status: handoff.AckNotRequired}, AwaitUntil: &until,
		Metadata: []byte(`{"orderId":"A-17"}`), CreatedAt: now, UpdatedAt: now,
	}
	won, err := st.Claim(context.Background(), c, tr)
	if err != nil {
		t.Fatal(err)
	}
	c.TransferID, tr.ID, tr.Version = won.TransferID, won.TransferID, won.Version
	tr.Attempts = []handoff.Attempt{{Target: tr.Target, Outcome: handoff.OutcomeAwaiting, At: now}}
	tr.VendorRef = "conv-" + key
	callback := now.Add(15 * time.Minute)
	tr.AwaitUntil = &callback
	return c, tr
}

// TestNewTransferCostsTwoWrites pins the cost of a new transfer: the claim, which records it
// pending, and the completion, written whole over the unchanged claim; no transaction. A duplicate costs one request, a read of the
// transfer one consistent GetItem.
func TestNewTransferCostsTwoWrites(t *testing.T) {
	f := setup(t)
	c, tr := create(t, f, "key-1")
	ops := f.calls.count()
	if writes(ops) != 2 || ops["PutItem"] != 2 || ops["TransactWriteItems"] != 0 {
		t.Errorf("a new transfer cost %v, want two PutItems, no transaction", ops)
	}
	f.calls.reset()
	dup := c
	dup.Owner = "another-container"
	if res, err := f.store.Claim(context.Background(), dup, tr); err != nil || res.Completed == nil {
		t.Fatalf("duplicate = %+v, %v", res, err)
	}
	if ops := f.calls.count(); len(ops) != 1 || ops["PutItem"] != 1 {
		t.Errorf("a duplicate cost %v, want one request", ops)
	}
	f.calls.reset()
	if _, err := f.store.Get(context.Background(), tr.ID); err != nil {
		t.Fatal(err)
	}
	if ops := f.calls.count(); len(ops) != 1 || ops["GetItem"] != 1 || !f.calls.consistent {
		t.Errorf("a read cost %v (consistent %v), want one consistent GetItem", ops, f.calls.consistent)
	}
	out, err := f.db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil || len(out.Items) != 1 {
		t.Errorf("items = %d, %v; want the one transfer item, which is also its key's record", len(out.Items), err)
	}
}

// note records whether a GetItem asked for a consistent read (the caller holds c.mu).
func (c *calls) note(r *http.Request, name string) {
	if name != "GetItem" || r.Body == nil {
		return
	}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	c.consistent = strings.Contains(string(body), `"ConsistentRead":true`)
}

// The outcome written whole (the store that claimed the key completes it) leaves the item
// exactly as the UpdateItem does (another store, which did not claim it, completes it): every
// attribute, the timeline and the document, ids, keys and owners aside.
func TestCompleteWholeLeavesTheItemAsTheUpdateWould(t *testing.T) {
	f := setup(t)
	_, whole := create(t, f, "key-whole")
	c, tr := claimed(t, f, f.store, "key-update")
	f.calls.reset()
	other := store.New(f.db, table, store.WithClock(f.clock.Now)) // another container: no claim of its own
	if _, err := other.Complete(context.Background(), c, tr, []handoff.Event{{Kind: "attempt"}}); err != nil {
		t.Fatal(err)
	}
	if ops := f.calls.count(); ops["UpdateItem"] != 1 || ops["PutItem"] != 0 {
		t.Fatalf("the other store's Complete made %v, want the UpdateItem", ops)
	}
	a, b := rawItem(t, f, whole.ID), rawItem(t, f, tr.ID)
	for _, it := range []map[string]types.AttributeValue{a, b} {
		for _, id := range []string{"pk", "transferId", "idemKey", "ref"} {
			delete(it, id)
		}
	}
	same := strings.NewReplacer(whole.ID, "ID", tr.ID, "ID", "key-whole", "KEY", "key-update", "KEY")
	if ja, jb := same.Replace(awstest.ItemString(a)), same.Replace(awstest.ItemString(b)); ja != jb {
		t.Errorf("written whole:\n%s\nby UpdateItem:\n%s", ja, jb)
	}
}

// rawItem is transfer id's item as stored.
func rawItem(t *testing.T, f *fixture, id string) map[string]types.AttributeValue {
	t.Helper()
	out, err := f.db.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "TRANSFER#" + id[:20]}, "sk": &types.AttributeValueMemberS{Value: "TRANSFER"},
		},
	})
	if err != nil || out.Item == nil {
		t.Fatalf("reading %s: %v", id, err)
	}
	return out.Item
}
