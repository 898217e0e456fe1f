package store

import (
	"context"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"handoff/core/handoff"
)

// Get returns the transfer id with its Version, read consistently; NOT_FOUND when there is none.
func (s *Store) Get(ctx context.Context, id string) (handoff.Transfer, error) {
	const op = "store.Get"
	it, err := s.read(ctx, op, id)
	if err != nil {
		return handoff.Transfer{}, err
	}
	t, err := decodeTransfer(it)
	if err != nil {
		return handoff.Transfer{}, handoff.E(handoff.CodeInternal, op, "unreadable transfer", err)
	}
	return t, nil
}

// Timeline returns the events of transfer id in the order they were recorded; none for an
// unknown transfer.
func (s *Store) Timeline(ctx context.Context, id string) ([]handoff.Event, error) {
	const op = "store.Timeline"
	it, err := s.read(ctx, op, id)
	if handoff.ErrorCode(err) == handoff.CodeNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	events, err := decodeTimeline(it)
	if err != nil {
		return nil, handoff.E(handoff.CodeInternal, op, "unreadable timeline", err)
	}
	return events, nil
}

// read returns transfer id's item, live or archived, read consistently.
func (s *Store) read(ctx context.Context, op, id string) (item, error) {
	slot, ok := slotOf(id)
	if !ok {
		return nil, handoff.E(handoff.CodeNotFound, op, "no such transfer", nil)
	}
	for _, key := range []item{slotKey(slot), archivedKey(slot, id)} {
		out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: key, ConsistentRead: aws.Bool(true)})
		if err != nil {
			return nil, fromAWS(op, err)
		}
		if len(out.Item) == 0 {
			break // no live item: no archived one either
		}
		if getS(out.Item, AttrTransferID) == id {
			return out.Item, nil
		}
	}
	return nil, handoff.E(handoff.CodeNotFound, op, "no such transfer", nil)
}

// FindByRef returns tenant's newest transfer on vendor that the vendor knows as vendorRef;
// NOT_FOUND when there is none. The reference index is eventually consistent (a transfer
// recorded a moment ago may not be found yet); the transfer itself is read consistently.
func (s *Store) FindByRef(ctx context.Context, tenant, vendor, vendorRef string) (handoff.Transfer, error) {
	const op = "store.FindByRef"
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 &s.table,
		IndexName:                 aws.String(IndexRef),
		KeyConditionExpression:    aws.String("#ref = :ref"),
		ExpressionAttributeNames:  map[string]string{"#ref": AttrRef},
		ExpressionAttributeValues: item{":ref": str(refValue(tenant, vendor, vendorRef))},
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(1),
	})
	if err != nil {
		return handoff.Transfer{}, fromAWS(op, err)
	}
	if len(out.Items) == 0 {
		return handoff.Transfer{}, handoff.E(handoff.CodeNotFound, op, "no transfer for this vendor reference", nil)
	}
	id := strings.TrimPrefix(getS(out.Items[0], AttrPK), "TRANSFER#")
	got, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: slotKey(id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return handoff.Transfer{}, fromAWS(op, err)
	}
	t, err := decodeTransfer(got.Item)
	if err != nil || t.Tenant != tenant || t.Vendor != vendor || t.VendorRef != vendorRef {
		return handoff.Transfer{}, handoff.E(handoff.CodeNotFound, op, "no transfer for this vendor reference", nil)
	}
	return t, nil
}

// Progress records the claimed transfer t (as the owner has it, with its Version) before the
// next target is tried, while c.Owner still holds the claim: the target now in doubt is the
// one after t's attempts. events are appended to the timeline. It returns t with its new Version.
func (s *Store) Progress(ctx context.Context, c Claim, t handoff.Transfer, events ...handoff.Event) (handoff.Transfer, error) {
	return s.write(ctx, "store.Progress", claimed(t), t, events, &c, false)
}

// Complete records the outcome of claimed transfer t (as the owner has it, with its Version),
// appends events to its timeline and marks the key completed, in one conditional write that
// holds only while c.Owner still holds the claim. An owner whose lease lapsed and was taken over
// gets CONFLICT and changes nothing. It returns t with its new Version.
func (s *Store) Complete(ctx context.Context, c Claim, t handoff.Transfer, events []handoff.Event) (handoff.Transfer, error) {
	return s.write(ctx, "store.Complete", claimed(t), t, events, &c, true)
}

// claimed is t as stored while claimed: pending, whatever the owner has made of it since.
func claimed(t handoff.Transfer) handoff.Transfer {
	t.Status = handoff.StatusPending
	return t
}

// Update replaces the stored before with after and appends events, in one write that holds only
// while the stored transfer is still before (same version and status). It refuses, with CONFLICT
// and nothing written, a status that would move backwards or sideways, and a stale before. It
// returns after with its new Version.
func (s *Store) Update(ctx context.Context, before, after handoff.Transfer, events ...handoff.Event) (handoff.Transfer, error) {
	const op = "store.Update"
	if after.ID != before.ID {
		return handoff.Transfer{}, handoff.E(handoff.CodeInternal, op, "before and after are different transfers", nil)
	}
	if after.Status != before.Status && !before.Status.CanMoveTo(after.Status) {
		return handoff.Transfer{}, handoff.E(handoff.CodeConflict, op,
			"a transfer cannot move from "+string(before.Status)+" to "+string(after.Status), nil)
	}
	return s.write(ctx, op, before, after, events, nil, false)
}

// write stores after over before (same version and status; with c, also c.Owner's claim) and
// appends events; complete also marks the claim completed.
func (s *Store) write(ctx context.Context, op string, before, after handoff.Transfer, events []handoff.Event, c *Claim, complete bool) (handoff.Transfer, error) {
	slot, ok := slotOf(before.ID)
	if !ok {
		return handoff.Transfer{}, handoff.E(handoff.CodeNotFound, op, "no such transfer", nil)
	}
	now := s.now()
	next := before.Version + 1
	attrs, err := transferAttrs(after, next)
	if err != nil {
		return handoff.Transfer{}, handoff.E(handoff.CodeInternal, op, "encoding the transfer", err)
	}
	timeline, err := eventList(events, now)
	if err != nil {
		return handoff.Transfer{}, handoff.E(handoff.CodeInternal, op, "encoding an event", err)
	}
	u := newUpdate()
	for _, a := range []string{AttrDoc, AttrStatus, AttrAckStatus, AttrVersion} {
		u.set(a, attrs[a])
	}
	if v, ok := attrs[AttrAwaiting]; ok {
		u.set(AttrAwaiting, v)
		u.set(AttrAwaitUntil, attrs[AttrAwaitUntil])
	} else {
		u.remove(AttrAwaiting, AttrAwaitUntil)
	}
	if after.VendorRef != "" && after.VendorRef != before.VendorRef || after.VendorRef != "" && c != nil {
		u.set(AttrRef, str(refValue(after.Tenant, after.Vendor, after.VendorRef)))
		u.set(AttrRefAt, num(now.UnixMilli()))
	}
	if len(timeline.Value) > 0 {
		u.appendList(AttrTimeline, timeline)
	}
	u.cond("#tid = :tid AND #v = :v AND #st = :before", map[string]string{
		"#tid": AttrTransferID, "#v": AttrVersion, "#st": AttrStatus,
	}, item{":tid": str(before.ID), ":v": num(before.Version), ":before": str(string(before.Status))})
	if c != nil {
		u.cond("#owner = :owner AND #claim = :inprogress", map[string]string{"#owner": AttrLeaseOwner, "#claim": AttrClaim},
			item{":owner": str(c.Owner), ":inprogress": str(idemInProgress)})
	}
	if complete {
		u.set(AttrClaim, str(idemCompleted))
		u.remove(AttrLeaseOwner, AttrLeaseUntil, AttrAmbiguous)
	}
	if c != nil {
		// The usual new transfer: the claim this store wrote, then its outcome. A Progress takes
		// the claimed item out too: the item has changed since.
		if claimed, ok := s.claims.take(before.ID, c.Owner); ok && complete && getN(claimed, AttrVersion) == before.Version {
			done, err := s.putWhole(ctx, u, claimed)
			if err != nil {
				return handoff.Transfer{}, err
			}
			if done {
				after.Version = next
				return after, nil
			}
		}
	}
	in := u.input(s.table, slotKey(slot))
	in.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
	_, err = s.db.UpdateItem(ctx, in)
	if old, ok := conditionFailed(err); ok {
		if c != nil {
			// Whatever stands there now (another claim's record, or none), the key is not ours.
			return handoff.Transfer{}, handoff.E(handoff.CodeConflict, op, "the idempotency key is no longer held for this transfer", err)
		}
		if len(old) == 0 || getS(old, AttrTransferID) != before.ID {
			return handoff.Transfer{}, handoff.E(handoff.CodeNotFound, op, "no such transfer", err)
		}
		return handoff.Transfer{}, handoff.E(handoff.CodeConflict, op, "the transfer changed since it was read", err)
	}
	if err != nil {
		return handoff.Transfer{}, fromAWS(op, err)
	}
	after.Version = next
	return after, nil
}

// Note appends events to transfer id's timeline and changes nothing else: no version, no
// status. It conflicts with no state change, so a callback that only informs never makes a
// concurrent transition fail; NOT_FOUND when there is no such transfer.
func (s *Store) Note(ctx context.Context, id string, events ...handoff.Event) error {
	const op = "store.Note"
	slot, ok := slotOf(id)
	if !ok {
		return handoff.E(handoff.CodeNotFound, op, "no such transfer", nil)
	}
	timeline, err := eventList(events, s.now())
	if err != nil {
		return handoff.E(handoff.CodeInternal, op, "encoding an event", err)
	}
	if len(timeline.Value) == 0 {
		return nil
	}
	u := newUpdate()
	u.appendList(AttrTimeline, timeline)
	u.cond("#tid = :tid", map[string]string{"#tid": AttrTransferID}, item{":tid": str(id)})
	_, err = s.db.UpdateItem(ctx, u.input(s.table, slotKey(slot)))
	if _, ok := conditionFailed(err); ok {
		return handoff.E(handoff.CodeNotFound, op, "no such transfer", err)
	}
	if err != nil {
		return fromAWS(op, err)
	}
	return nil
}

// Release gives c's key up. When the vendor surely did nothing (ambiguous false), the record is
// deleted: the request left no trace, and the next claim starts afresh. When the vendor may have
// acted on the call in flight, the record stays, marked released with its deadline, so the next
// claim of the same request keeps the transfer and sees Reclaimed, and reconciles first; and if
// none comes, the sweep resolves it. Once the key is no longer c.Owner's, Release is CONFLICT and
// changes nothing.
func (s *Store) Release(ctx context.Context, c Claim, ambiguous bool) error {
	const op = "store.Release"
	s.claims.forget(transferID(c.Tenant, c.Key, c.TransferID))
	slot := transferID(c.Tenant, c.Key, c.TransferID)[:slotChars]
	names := map[string]string{"#claim": AttrClaim, "#owner": AttrLeaseOwner}
	values := item{":owner": str(c.Owner), ":inprogress": str(idemInProgress)}
	cond := aws.String("#owner = :owner AND #claim = :inprogress")
	var err error
	if ambiguous {
		names["#amb"], names["#lease"] = AttrAmbiguous, AttrLeaseUntil
		values[":released"], values[":amb"] = str(idemReleased), boolean(true)
		_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: &s.table, Key: slotKey(slot),
			UpdateExpression:    aws.String("SET #claim = :released, #amb = :amb REMOVE #lease"),
			ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values,
		})
	} else {
		_, err = s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName: &s.table, Key: slotKey(slot),
			ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values,
		})
	}
	if _, ok := conditionFailed(err); ok {
		return handoff.E(handoff.CodeConflict, op, "the idempotency key is no longer held by this invocation", err)
	}
	if err != nil {
		return fromAWS(op, err)
	}
	return nil
}

// Overdue returns at most limit pending transfers whose deadline is past at now, oldest deadline
// first: awaiting a callback, or left by an invocation that died mid-call. The index is
// eventually consistent: a transfer may have moved on since; the writes' conditions keep a
// stale read from writing anything.
func (s *Store) Overdue(ctx context.Context, now time.Time, limit int) ([]handoff.Transfer, error) {
	return s.due(ctx, "store.Overdue", awaitingValue, now, limit)
}

// PendingAcks returns at most limit final transfers whose bot is still to be told, last tried
// AckRescanAfter before now or earlier. Eventually consistent, like Overdue.
func (s *Store) PendingAcks(ctx context.Context, now time.Time, limit int) ([]handoff.Transfer, error) {
	return s.due(ctx, "store.PendingAcks", ackValue, now, limit)
}

func (s *Store) due(ctx context.Context, op, partition string, now time.Time, limit int) ([]handoff.Transfer, error) {
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 &s.table,
		IndexName:                 aws.String(IndexAwaiting),
		KeyConditionExpression:    aws.String("#aw = :aw AND #awu <= :now"),
		ExpressionAttributeNames:  map[string]string{"#aw": AttrAwaiting, "#awu": AttrAwaitUntil},
		ExpressionAttributeValues: item{":aw": str(partition), ":now": num(now.Unix())},
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

// FindByKey returns tenant's live transfer claimed under idempotency key key (a cancel names a
// transfer by the key it was asked with); NOT_FOUND when there is none. The key's slot is
// derived from tenant and key, so it is one consistent read.
func (s *Store) FindByKey(ctx context.Context, tenant, key string) (handoff.Transfer, error) {
	const op = "store.FindByKey"
	slot := transferID(tenant, key, "")[:slotChars]
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: slotKey(slot), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return handoff.Transfer{}, fromAWS(op, err)
	}
	if r := readClaim(out.Item); len(out.Item) == 0 || r.tenant != tenant || r.key != key {
		return handoff.Transfer{}, handoff.E(handoff.CodeNotFound, op, "no transfer with this idempotency key", nil)
	}
	t, err := decodeTransfer(out.Item)
	if err != nil {
		return handoff.Transfer{}, handoff.E(handoff.CodeInternal, op, "unreadable transfer", err)
	}
	return t, nil
}
