package store

import (
	"context"
	"maps"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"handoff/core/handoff"
)

// claimCache keeps the items Claim wrote, until their transfer is completed, released or
// progressed, so that the usual Complete — a claim, one vendor call, the outcome — can write the
// item whole. It is bounded: past claimCacheSize entries (claims never completed here, their
// container cut short) it starts again empty, which costs only the fast path.
type claimCache struct {
	mu    sync.Mutex
	items map[string]claimedItem
}

type claimedItem struct {
	owner string
	item  item
}

const claimCacheSize = 1024

func (c *claimCache) put(id, owner string, it item) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.items == nil || len(c.items) >= claimCacheSize {
		c.items = map[string]claimedItem{}
	}
	c.items[id] = claimedItem{owner: owner, item: it}
}

// take removes and returns id's item as its owner's claim wrote it.
func (c *claimCache) take(id, owner string) (item, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	got, ok := c.items[id]
	delete(c.items, id)
	return got.item, ok && got.owner == owner
}

func (c *claimCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.items, id)
}

// completeWhole is Complete as one PutItem of the whole item, when this store's Claim wrote the
// item and nothing has changed it since: the condition holds only while the item is exactly as
// claimed (version 1, the owner's lease, the claim's timeline and nothing appended to it), and
// the new item is the claimed one with the outcome's attributes, the events appended and the
// lease gone, as the UpdateItem would leave it. ok is false, with nothing written, when the
// item is not as claimed; the caller then makes the UpdateItem, which words the refusal.
//
// Why: DynamoDB charges the two alike, but an UpdateItem's expression (ten SETs, a list_append,
// five REMOVEs, a five-part condition) is the slowest request of a transfer where the
// expression is evaluated, moto included: 11 ms against 7.6 ms for the PutItem.
func (s *Store) completeWhole(ctx context.Context, claimed item, c Claim, before, after handoff.Transfer, attrs item, timeline *types.AttributeValueMemberL) (bool, error) {
	old, ok := claimed[AttrTimeline].(*types.AttributeValueMemberL)
	if !ok || before.Version != 1 {
		return false, nil
	}
	it := maps.Clone(claimed)
	maps.Copy(it, attrs)
	if _, awaiting := attrs[AttrAwaiting]; !awaiting {
		delete(it, AttrAwaiting)
		delete(it, AttrAwaitUntil)
	}
	if after.VendorRef != "" {
		it[AttrRef] = str(refValue(after.Tenant, after.Vendor, after.VendorRef))
		it[AttrRefAt] = num(s.now().UnixMilli())
	}
	it[AttrTimeline] = &types.AttributeValueMemberL{Value: append(slices.Clip(old.Value), timeline.Value...)}
	it[AttrClaim] = str(idemCompleted)
	delete(it, AttrLeaseOwner)
	delete(it, AttrLeaseUntil)
	delete(it, AttrAmbiguous)
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &s.table, Item: it,
		ConditionExpression: aws.String("#tid = :tid AND #v = :v AND #st = :before AND #owner = :owner AND #claim = :inprogress AND size(#tl) = :n"),
		ExpressionAttributeNames: map[string]string{
			"#tid": AttrTransferID, "#v": AttrVersion, "#st": AttrStatus, "#owner": AttrLeaseOwner,
			"#claim": AttrClaim, "#tl": AttrTimeline,
		},
		ExpressionAttributeValues: item{
			":tid": str(before.ID), ":v": num(before.Version), ":before": str(string(before.Status)),
			":owner": str(c.Owner), ":inprogress": str(idemInProgress), ":n": num(int64(len(old.Value))),
		},
	})
	if _, failed := conditionFailed(err); failed {
		return false, nil
	}
	if err != nil {
		return false, fromAWS("store.Complete", err)
	}
	return true, nil
}
