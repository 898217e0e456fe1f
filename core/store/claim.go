package store

import (
	"context"
	"encoding/json"
	"maps"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"handoff/core/handoff"
)

// The states of a transfer's idempotency claim, in AttrClaim.
const (
	idemInProgress = "in_progress" // an invocation holds the key until its lease lapses
	idemCompleted  = "completed"   // the outcome is recorded; duplicates get the transfer
	idemReleased   = "released"    // the holder gave the key up; the next claim takes it
)

// claimRounds bounds how often Claim writes again when the record changed under it.
const claimRounds = 3

// Claim, ClaimResult and Ref are the domain's: the use cases speak them, the store keeps them.
type (
	Claim       = handoff.Claim
	ClaimResult = handoff.ClaimResult
	Ref         = handoff.Ref
)

// claimRecord is a transfer item's claim, as read back from a failed condition.
type claimRecord struct {
	tenant, key, state, fingerprint, owner, transferID string
	leaseUntil, expiresAt, idemUntil, version          int64 // epoch ms, s, s
	ambiguous, finished                                bool  // finished: see readClaim
}

func readClaim(it item) claimRecord {
	ack := getS(it, AttrAckStatus)
	st := handoff.Status(getS(it, AttrStatus))
	notified := false
	if st.Final() && ack != string(handoff.AckPending) {
		t, err := decodeTransfer(it)
		notified = err == nil && t.NotifiedAt != nil
	}
	return claimRecord{
		tenant: getS(it, AttrTenant), key: getS(it, AttrIdemKey),
		state: getS(it, AttrClaim), fingerprint: getS(it, AttrFingerprint),
		owner: getS(it, AttrLeaseOwner), transferID: getS(it, AttrTransferID),
		leaseUntil: getN(it, AttrLeaseUntil), expiresAt: getN(it, AttrExpiresAt),
		idemUntil: getN(it, AttrIdemUntil), version: getN(it, AttrVersion),
		ambiguous: getBool(it, AttrAmbiguous),
		// finished: final, its bot told and its outcome published; only then may the key start
		// a new transfer after its window, the old one kept read-only.
		finished: notified,
	}
}

// Claim takes c's key and records pending as the key's transfer, in one conditional write when
// the key is new. pending is stored as it is given (status pending, the target about to be
// tried, its deadline in AwaitUntil), under the id the result names. Otherwise the record that
// stopped the write decides: a different fingerprint is IDEMPOTENCY_KEY_REUSED, a completed key
// returns its transfer, a live lease is IN_PROGRESS with RetryAfter, and a lapsed or released
// claim of the same request is taken over with its transfer kept (Stored). A key whose window
// has passed starts a new transfer once the old one is finished; the old one stays readable by
// its id.
func (s *Store) Claim(ctx context.Context, c Claim, pending handoff.Transfer) (ClaimResult, error) {
	const op = "store.Claim"
	for range claimRounds {
		now := s.now()
		old, err := s.putClaim(ctx, c, pending, now, nil)
		if err == nil {
			return ClaimResult{TransferID: transferID(c.Tenant, c.Key, c.TransferID), Version: 1}, nil
		}
		if old == nil {
			return ClaimResult{}, err
		}
		r := readClaim(old)
		if r.tenant != c.Tenant || r.key != c.Key {
			return ClaimResult{}, handoff.E(handoff.CodeInternal, op, "two keys share a slot", nil)
		}
		if r.idemUntil < now.Unix() && r.finished {
			// The window has passed: keep the old transfer readable, then start afresh.
			if err := s.archive(ctx, old); err != nil {
				return ClaimResult{}, err
			}
			if _, err := s.putClaim(ctx, c, pending, now, &r); err == nil {
				return ClaimResult{TransferID: transferID(c.Tenant, c.Key, c.TransferID), Version: 1}, nil
			} else if handoff.ErrorCode(err) != handoff.CodeConflict {
				return ClaimResult{}, err
			}
			continue
		}
		switch {
		case r.fingerprint != c.Fingerprint:
			return ClaimResult{}, handoff.E(handoff.CodeIdempotencyKeyReused, op,
				"this idempotency key was used with a different request", nil)
		case r.state == idemCompleted:
			t, err := decodeTransfer(old)
			if err != nil {
				return ClaimResult{}, handoff.E(handoff.CodeInternal, op, "unreadable stored transfer", err)
			}
			return ClaimResult{TransferID: r.transferID, Completed: &t}, nil
		case r.state == idemInProgress && r.leaseUntil >= now.UnixMilli():
			e := handoff.E(handoff.CodeInProgress, op, "a request with this idempotency key is in progress", nil)
			e.RetryAfter = retryAfter(time.UnixMilli(r.leaseUntil).Sub(now))
			return ClaimResult{}, e
		case r.state == idemInProgress, r.state == idemReleased:
			t, err := decodeTransfer(old)
			if err != nil {
				return ClaimResult{}, handoff.E(handoff.CodeInternal, op, "unreadable stored transfer", err)
			}
			until := c.LeaseUntil
			t.AwaitUntil = &until
			v, err := s.takeOver(ctx, t, r, c.Owner, c.LeaseUntil)
			if handoff.ErrorCode(err) == handoff.CodeConflict {
				continue
			}
			if err != nil {
				return ClaimResult{}, err
			}
			t.Version = v
			return ClaimResult{TransferID: r.transferID, Reclaimed: r.state == idemInProgress || r.ambiguous, Stored: &t, Version: v}, nil
		default:
			return ClaimResult{}, handoff.E(handoff.CodeInternal, op, "idempotency record in an unknown state", nil)
		}
	}
	e := handoff.E(handoff.CodeInProgress, op, "a request with this idempotency key is in progress", nil)
	e.RetryAfter = time.Second
	return ClaimResult{}, e
}

// putClaim writes c's transfer item: on a new slot (or one whose item expired) when over is nil,
// else over exactly the record `over`. When the condition fails it returns the item that stopped
// it, which DynamoDB sends back with the error (moto does too), so no read is needed.
func (s *Store) putClaim(ctx context.Context, c Claim, t handoff.Transfer, now time.Time, over *claimRecord) (item, error) {
	const op = "store.Claim"
	t.ID = transferID(c.Tenant, c.Key, c.TransferID)
	it, err := transferAttrs(t, 1)
	if err != nil {
		return nil, handoff.E(handoff.CodeInternal, op, "encoding the transfer", err)
	}
	timeline, err := eventList([]handoff.Event{{At: t.CreatedAt, Kind: "created", Status: handoff.StatusPending}}, now)
	if err != nil {
		return nil, handoff.E(handoff.CodeInternal, op, "encoding the timeline", err)
	}
	window := c.Window
	if window <= 0 {
		window = s.idemTTL
	}
	for k, v := range slotKey(t.ID[:slotChars]) {
		it[k] = v
	}
	it[AttrTimeline] = timeline
	it[AttrIdemKey] = str(c.Key)
	it[AttrFingerprint] = str(c.Fingerprint)
	it[AttrClaim] = str(idemInProgress)
	it[AttrLeaseOwner] = str(c.Owner)
	it[AttrLeaseUntil] = num(c.LeaseUntil.UnixMilli())
	it[AttrIdemUntil] = num(now.Add(window).Unix())
	it[AttrExpiresAt] = num(now.Add(max(window, s.transferTTL)).Unix())
	in := &dynamodb.PutItemInput{
		TableName:                           &s.table,
		Item:                                it,
		ConditionExpression:                 aws.String("attribute_not_exists(#pk) OR #exp < :now"),
		ExpressionAttributeNames:            map[string]string{"#pk": AttrPK, "#exp": AttrExpiresAt},
		ExpressionAttributeValues:           item{":now": num(now.Unix())},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
	if over != nil {
		in.ConditionExpression = aws.String("#tid = :tid AND #v = :v")
		in.ExpressionAttributeNames = map[string]string{"#tid": AttrTransferID, "#v": AttrVersion}
		in.ExpressionAttributeValues = item{":tid": str(over.transferID), ":v": num(over.version)}
	}
	_, err = s.db.PutItem(ctx, in)
	if err == nil {
		s.claims.put(t.ID, c.Owner, it)
		return nil, nil
	}
	if old, ok := conditionFailed(err); ok {
		if len(old) == 0 {
			return nil, handoff.E(handoff.CodeConflict, op, "the record changed", err)
		}
		return old, handoff.E(handoff.CodeConflict, op, "the key is taken", err)
	}
	return nil, fromAWS(op, err)
}

// archive copies a finished transfer to its own sort key, read-only, before its slot is reused.
func (s *Store) archive(ctx context.Context, live item) error {
	id := getS(live, AttrTransferID)
	slot, ok := slotOf(id)
	if !ok {
		return handoff.E(handoff.CodeInternal, "store.archive", "a stored transfer has a foreign id", nil)
	}
	it := archivedKey(slot, id)
	it[AttrKind] = str(KindArchived)
	for _, a := range []string{AttrTransferID, AttrDoc, AttrTimeline, AttrVersion, AttrExpiresAt} {
		if v, ok := live[a]; ok {
			it[a] = v
		}
	}
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: it}); err != nil {
		return fromAWS("store.archive", err)
	}
	return nil
}

// takeOver gives the claim on t to owner until `until`, while the record is still exactly r;
// t's deadline becomes the new lease, so the sweep leaves it alone while the owner works.
func (s *Store) takeOver(ctx context.Context, t handoff.Transfer, r claimRecord, owner string, until time.Time) (int64, error) {
	const op = "store.takeOver"
	next := r.version + 1
	_, err := s.lease(ctx, op, t, owner, until, next, "#tid = :tid AND #v = :v AND #claim = :state",
		map[string]string{"#tid": AttrTransferID},
		item{":tid": str(t.ID), ":v": num(r.version), ":state": str(r.state)}, types.ReturnValueNone)
	if _, ok := conditionFailed(err); ok {
		return 0, handoff.E(handoff.CodeConflict, op, "the claim changed", err)
	}
	if err != nil {
		return 0, err
	}
	return next, nil
}

// TakeOver gives the claim on pending transfer t (as read, with its Version) to owner until
// `until`, for the sweep resolving a transfer whose invocation died. It holds only while t is
// unchanged and its deadline has passed on the stored record, so a stale index read, a live
// owner or a concurrent sweep gets CONFLICT and changes nothing. The returned claim completes
// the transfer with Complete; t's Version is the new one.
func (s *Store) TakeOver(ctx context.Context, t handoff.Transfer, owner string, until time.Time) (Claim, handoff.Transfer, error) {
	const op = "store.TakeOver"
	if _, ok := slotOf(t.ID); !ok {
		return Claim{}, t, handoff.E(handoff.CodeNotFound, op, "no such transfer", nil)
	}
	next := t.Version + 1
	after := t
	after.AwaitUntil = &until
	out, err := s.lease(ctx, op, after, owner, until, next, "#tid = :tid AND #v = :v AND #st = :pending AND #awu <= :now",
		map[string]string{"#tid": AttrTransferID, "#st": AttrStatus},
		item{":tid": str(t.ID), ":v": num(t.Version), ":pending": str(string(handoff.StatusPending)),
			":now": num(s.now().Unix())}, types.ReturnValueAllNew)
	if _, ok := conditionFailed(err); ok {
		return Claim{}, t, handoff.E(handoff.CodeConflict, op, "the transfer changed or is not due", err)
	}
	if err != nil {
		return Claim{}, t, err
	}
	r := readClaim(out.Attributes)
	after.Version = next
	return Claim{Tenant: t.Tenant, Key: r.key, Fingerprint: r.fingerprint, Owner: owner, LeaseUntil: until, TransferID: t.ID}, after, nil
}

// lease is the one write that hands a transfer's claim to owner until `until`: in progress, the
// new owner and lease, the next version, t as the doc, and t's deadline in the awaiting index
// (so the sweep leaves it alone while the owner works), when cond holds. A failed condition is
// returned as DynamoDB's error for the caller to name; any other error is already a Handoff one.
func (s *Store) lease(ctx context.Context, op string, t handoff.Transfer, owner string, until time.Time, next int64,
	cond string, names map[string]string, values item, ret types.ReturnValue) (*dynamodb.UpdateItemOutput, error) {
	doc, err := json.Marshal(t)
	if err != nil {
		return nil, handoff.E(handoff.CodeInternal, op, "encoding the transfer", err)
	}
	names = maps.Clone(names)
	maps.Copy(names, map[string]string{
		"#claim": AttrClaim, "#owner": AttrLeaseOwner, "#lease": AttrLeaseUntil, "#v": AttrVersion,
		"#aw": AttrAwaiting, "#awu": AttrAwaitUntil, "#amb": AttrAmbiguous, "#doc": AttrDoc,
	})
	values = maps.Clone(values)
	maps.Copy(values, item{
		":inprogress": str(idemInProgress), ":owner": str(owner), ":lease": num(until.UnixMilli()),
		":next": num(next), ":aw": str(awaitingValue), ":awu": num(until.Unix()), ":doc": str(string(doc)),
	})
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: slotKey(t.ID[:slotChars]),
		UpdateExpression: aws.String("SET #claim = :inprogress, #owner = :owner, #lease = :lease, #v = :next, " +
			"#aw = :aw, #awu = :awu, #doc = :doc REMOVE #amb"),
		ConditionExpression: aws.String(cond), ExpressionAttributeNames: names, ExpressionAttributeValues: values,
		ReturnValues: ret,
	})
	if _, ok := conditionFailed(err); ok || err == nil {
		return out, err
	}
	return nil, fromAWS(op, err)
}

// retryAfter rounds the rest of a lease up to whole seconds, at least one.
func retryAfter(rest time.Duration) time.Duration {
	d := (rest + time.Second - 1).Truncate(time.Second)
	return max(d, time.Second)
}
