package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

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
	ctx := context.Background()
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
	won, err := f.store.Claim(ctx, c, tr)
	if err != nil {
		t.Fatal(err)
	}
	c.TransferID, tr.ID, tr.Version = won.TransferID, won.TransferID, won.Version
	tr.Attempts = []handoff.Attempt{{Target: tr.Target, Outcome: handoff.OutcomeAwaiting, At: now}}
	tr.VendorRef = "conv-" + key
	callback := now.Add(15 * time.Minute)
	tr.AwaitUntil = &callback
	tr, err = f.store.Complete(ctx, c, tr, []handoff.Event{{Kind: "attempt"}})
	if err != nil {
		t.Fatal(err)
	}
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
// attribute, the timeline and the stream's view of it, ids, owners and times aside.
func TestCompleteWholeLeavesTheItemAsTheUpdateWould(t *testing.T) {
	f := setup(t)
	_, whole := create(t, f, "key-whole")
	ctx := context.Background()
	now := f.clock.Now().UTC()
	c := store.Claim{Tenant: "acme", Key: "key-update", Fingerprint: "fp-1", Owner: "owner-key-update",
		LeaseUntil: now.Add(time.Minute), TransferID: "proposal-key-update"}
	until := c.LeaseUntil
	tr := handoff.Transfer{
		Tenant: "acme", Vendor: "koreai", Conversation: handoff.Conversation{ID: "653a06c9aae89c5fbb4e0001"},
		Target: handoff.Target{Type: handoff.TargetAgent, ID: "a-1"}, Status: handoff.StatusPending,
		Attempts: []handoff.Attempt{}, Ack: handoff.Ack{Status: handoff.AckNotRequired}, AwaitUntil: &until,
		Metadata: []byte(`{"orderId":"A-17"}`), CreatedAt: now, UpdatedAt: now,
	}
	won, err := f.store.Claim(ctx, c, tr)
	if err != nil {
		t.Fatal(err)
	}
	c.TransferID, tr.ID, tr.Version = won.TransferID, won.TransferID, won.Version
	tr.Attempts = []handoff.Attempt{{Target: tr.Target, Outcome: handoff.OutcomeAwaiting, At: now}}
	tr.VendorRef = "conv-key-whole" // as create's, so the two items differ only in ids
	callback := now.Add(15 * time.Minute)
	tr.AwaitUntil = &callback
	f.calls.reset()
	other := store.New(f.db, table, store.WithClock(f.clock.Now)) // another container: no claim of its own
	if _, err := other.Complete(ctx, c, tr, []handoff.Event{{Kind: "attempt"}}); err != nil {
		t.Fatal(err)
	}
	if ops := f.calls.count(); ops["UpdateItem"] != 1 || ops["PutItem"] != 0 {
		t.Fatalf("the other store's Complete made %v, want the UpdateItem", ops)
	}
	a, b := rawItem(t, f, whole.ID), rawItem(t, f, tr.ID)
	for _, id := range []string{"transferId", "pk", "sk", "idemKey", "doc", "ref"} {
		delete(a, id)
		delete(b, id)
	}
	ja, jb := fmt.Sprint(sortedAttrs(a)), fmt.Sprint(sortedAttrs(b))
	ja = strings.NewReplacer(whole.ID, "ID", "key-whole", "KEY").Replace(ja)
	jb = strings.NewReplacer(tr.ID, "ID", "key-update", "KEY").Replace(jb)
	if ja != jb {
		t.Errorf("written whole:\n%s\nby UpdateItem:\n%s", ja, jb)
	}
	docA, docB := rawItem(t, f, whole.ID)["doc"], rawItem(t, f, tr.ID)["doc"]
	var ta, tb handoff.Transfer
	json.Unmarshal([]byte(docA.(*types.AttributeValueMemberS).Value), &ta)
	json.Unmarshal([]byte(docB.(*types.AttributeValueMemberS).Value), &tb)
	ta.ID, tb.ID = "", ""
	if fmt.Sprint(ta) != fmt.Sprint(tb) {
		t.Errorf("the documents differ:\n%+v\n%+v", ta, tb)
	}
}

// rawItem is transfer id's item as stored.
func rawItem(t *testing.T, f *fixture, id string) map[string]types.AttributeValue {
	t.Helper()
	out, err := f.db.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "TRANSFER#" + id[:20]}, "sk": &types.AttributeValueMemberS{Value: "TRANSFER"}},
	})
	if err != nil || out.Item == nil {
		t.Fatalf("reading %s: %v", id, err)
	}
	return out.Item
}

// sortedAttrs lists an item's attributes as name=value, by name.
func sortedAttrs(it map[string]types.AttributeValue) []string {
	var out []string
	for k, v := range it {
		out = append(out, k+"="+attrString(v))
	}
	sort.Strings(out)
	return out
}

func attrString(v types.AttributeValue) string {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return "S:" + v.Value
	case *types.AttributeValueMemberN:
		return "N:" + v.Value
	case *types.AttributeValueMemberBOOL:
		return fmt.Sprint("BOOL:", v.Value)
	case *types.AttributeValueMemberL:
		var parts []string
		for _, e := range v.Value {
			parts = append(parts, attrString(e))
		}
		return "L:[" + strings.Join(parts, ",") + "]"
	}
	return fmt.Sprintf("%T", v)
}
