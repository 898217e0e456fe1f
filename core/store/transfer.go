package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"handoff/core/handoff"
)

// maxTransactItems is DynamoDB's limit on the items of one transaction.
const maxTransactItems = 100

// Get returns the transfer id with its Version, read consistently; NOT_FOUND when there is none.
func (s *Store) Get(ctx context.Context, id string) (handoff.Transfer, error) {
	const op = "store.Get"
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.table, Key: transferKey(id), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return handoff.Transfer{}, fromAWS(op, err)
	}
	if len(out.Item) == 0 {
		return handoff.Transfer{}, handoff.E(handoff.CodeNotFound, op, "no such transfer", nil)
	}
	t, err := decodeTransfer(out.Item)
	if err != nil {
		return handoff.Transfer{}, handoff.E(handoff.CodeInternal, op, "unreadable transfer", err)
	}
	return t, nil
}

// FindByRef returns the transfer a vendor's callback names by its own reference; NOT_FOUND when
// no transfer has it.
func (s *Store) FindByRef(ctx context.Context, vendor, vendorRef string) (handoff.Transfer, error) {
	const op = "store.FindByRef"
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &s.table, Key: refKey(vendor, vendorRef), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return handoff.Transfer{}, fromAWS(op, err)
	}
	id := getS(out.Item, AttrTransferID)
	if id == "" {
		return handoff.Transfer{}, handoff.E(handoff.CodeNotFound, op, "no transfer for this vendor reference", nil)
	}
	return s.Get(ctx, id)
}

// Update replaces the stored before with after and appends events, in one transaction that holds
// only while the stored transfer is still before (same version and status). It refuses, with
// CONFLICT and nothing written, a status that would move backwards or sideways, and a stale
// before. It returns after with its new Version.
func (s *Store) Update(ctx context.Context, before, after handoff.Transfer, events ...handoff.Event) (handoff.Transfer, error) {
	const op = "store.Update"
	if after.ID != before.ID {
		return handoff.Transfer{}, handoff.E(handoff.CodeInternal, op, "before and after are different transfers", nil)
	}
	if after.Status != before.Status && !before.Status.CanMoveTo(after.Status) {
		return handoff.Transfer{}, handoff.E(handoff.CodeConflict, op,
			"a transfer cannot move from "+string(before.Status)+" to "+string(after.Status), nil)
	}
	now := s.now()
	next := before.Version + 1
	doc, err := json.Marshal(after)
	if err != nil {
		return handoff.Transfer{}, handoff.E(handoff.CodeInternal, op, "encoding the transfer", err)
	}
	names := map[string]string{
		"#doc": AttrDoc, "#st": AttrStatus, "#ack": AttrAckStatus, "#v": AttrVersion,
		"#aw": AttrAwaiting, "#awu": AttrAwaitUntil,
	}
	values := item{
		":doc": str(string(doc)), ":st": str(string(after.Status)), ":ack": str(string(after.Ack.Status)),
		":next": num(next), ":v": num(before.Version), ":before": str(string(before.Status)),
	}
	// A transfer stays in the awaiting index only while it awaits a callback.
	update := "SET #doc = :doc, #st = :st, #ack = :ack, #v = :next REMOVE #aw, #awu"
	if until, ok := awaiting(after); ok {
		update = "SET #doc = :doc, #st = :st, #ack = :ack, #v = :next, #aw = :aw, #awu = :awu"
		values[":aw"], values[":awu"] = str(awaitingValue), num(until)
	}
	items := []types.TransactWriteItem{{Update: &types.Update{
		TableName:                           &s.table,
		Key:                                 transferKey(after.ID),
		UpdateExpression:                    aws.String(update),
		ConditionExpression:                 aws.String("#v = :v AND #st = :before"),
		ExpressionAttributeNames:            names,
		ExpressionAttributeValues:           values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}}}
	puts, err := eventPuts(s.table, after.ID, next, events, now, now.Add(s.transferTTL))
	if err != nil {
		return handoff.Transfer{}, handoff.E(handoff.CodeInternal, op, "encoding an event", err)
	}
	err = s.transact(ctx, op, append(items, puts...))
	reasons := cancelReasons(err)
	switch {
	case failedCondition(reasons, 0) && len(reasons[0].Item) == 0:
		return handoff.Transfer{}, handoff.E(handoff.CodeNotFound, op, "no such transfer", cause(err))
	case failedCondition(reasons, 0):
		return handoff.Transfer{}, handoff.E(handoff.CodeConflict, op, "the transfer changed since it was read", cause(err))
	case err != nil:
		return handoff.Transfer{}, err
	}
	after.Version = next
	return after, nil
}

// Timeline returns the events of transfer id, oldest first; none for an unknown transfer.
func (s *Store) Timeline(ctx context.Context, id string) ([]handoff.Event, error) {
	const op = "store.Timeline"
	pages := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName:                 &s.table,
		KeyConditionExpression:    aws.String("#pk = :pk AND begins_with(#sk, :events)"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK, "#sk": AttrSK},
		ExpressionAttributeValues: item{":pk": transferKey(id)[AttrPK], ":events": str(skEventPrefix)},
		ConsistentRead:            aws.Bool(true),
	})
	var events []handoff.Event
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fromAWS(op, err)
		}
		for _, it := range page.Items {
			var e handoff.Event
			if err := json.Unmarshal([]byte(getS(it, AttrDoc)), &e); err != nil {
				return nil, handoff.E(handoff.CodeInternal, op, "unreadable event", err)
			}
			events = append(events, e)
		}
	}
	return events, nil
}

// transact writes items in one transaction. The error is CONFLICT when a condition cancelled
// it (the caller reads cancelReasons to say which), UNAVAILABLE when contention or throttling
// did, and otherwise as fromAWS maps it.
func (s *Store) transact(ctx context.Context, op string, items []types.TransactWriteItem) error {
	if len(items) > maxTransactItems {
		return handoff.E(handoff.CodeInternal, op, "too many events for one write", nil)
	}
	_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if err == nil {
		return nil
	}
	reasons := cancelReasons(err)
	for i, r := range reasons {
		switch {
		case failedCondition(reasons, i):
			return handoff.E(handoff.CodeConflict, op, "a condition of the write failed", err)
		case r.Code != nil && unavailableReasons[*r.Code]:
			return handoff.E(handoff.CodeUnavailable, op, "storage is busy", err)
		}
	}
	return fromAWS(op, err)
}

// Overdue returns at most limit transfers still awaiting a callback whose deadline is past at
// now, oldest deadline first. The index is eventually consistent: a transfer may have moved on
// since; Update's conditions keep a stale read from writing anything.
func (s *Store) Overdue(ctx context.Context, now time.Time, limit int) ([]handoff.Transfer, error) {
	const op = "store.Overdue"
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:              &s.table,
		IndexName:              aws.String(IndexAwaiting),
		KeyConditionExpression: aws.String("#aw = :aw AND #awu <= :now"),
		ExpressionAttributeNames: map[string]string{
			"#aw": AttrAwaiting, "#awu": AttrAwaitUntil,
		},
		ExpressionAttributeValues: item{":aw": str(awaitingValue), ":now": num(now.Unix())},
		Limit:                     aws.Int32(int32(max(1, limit))),
	})
	if err != nil {
		return nil, fromAWS(op, err)
	}
	transfers := make([]handoff.Transfer, 0, len(out.Items))
	for _, it := range out.Items {
		t, err := decodeTransfer(it)
		if err != nil {
			return nil, handoff.E(handoff.CodeInternal, op, "a stored transfer does not decode", err)
		}
		transfers = append(transfers, t)
	}
	return transfers, nil
}
