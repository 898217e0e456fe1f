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

// The states of an idempotency record, in AttrStatus.
const (
	idemInProgress = "in_progress" // an invocation holds the key until its lease lapses
	idemCompleted  = "completed"   // the transfer is stored; duplicates get the result
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

// idemRecord is an idempotency record as read back from a failed condition.
type idemRecord struct {
	status, fingerprint, owner, transferID, result string
	leaseUntil, expiresAt                          int64 // epoch ms, epoch s
	ambiguous                                      bool
}

// condition is a condition expression with its names and values.
type condition struct {
	expr   string
	names  map[string]string
	values item
}

// Claim takes the idempotency key for c.Owner until c.LeaseUntil, in one conditional write when
// the key is new or expired. Otherwise the record that stopped the write decides:
// a different fingerprint is IDEMPOTENCY_KEY_REUSED, a completed key returns its result, a live
// lease is IN_PROGRESS with RetryAfter, and a lapsed or released claim of the same request is
// taken over with its transfer id kept.
//
// A takeover is a second conditional write, on the record exactly as the first one returned it:
// one write whose condition also admitted lapsed claims would replace the record's transfer id
// before anyone read it, and an invocation dying right after would leave the next claimer with
// an id the vendor never saw. New keys, duplicates and live leases still cost one request.
func (s *Store) Claim(ctx context.Context, c Claim) (ClaimResult, error) {
	const op = "store.Claim"
	id, reclaimed := c.TransferID, false
	var prior *idemRecord // the record to take over; nil to start afresh
	for range claimRounds {
		now := s.now()
		cond := freshClaim(now)
		if prior != nil {
			cond = takeover(*prior)
		}
		old, err := s.putClaim(ctx, c, id, now, cond)
		if err == nil {
			return ClaimResult{TransferID: id, Reclaimed: reclaimed}, nil
		}
		if old == nil {
			return ClaimResult{}, err
		}
		r := readIdem(old)
		switch {
		case r.expiresAt < now.Unix():
			id, reclaimed, prior = c.TransferID, false, nil
		case r.fingerprint != c.Fingerprint:
			return ClaimResult{}, handoff.E(handoff.CodeIdempotencyKeyReused, op,
				"this idempotency key was used with a different request", nil)
		case r.status == idemCompleted:
			var t handoff.Transfer
			if err := json.Unmarshal([]byte(r.result), &t); err != nil {
				return ClaimResult{}, handoff.E(handoff.CodeInternal, op, "unreadable stored result", err)
			}
			t.Version = 1
			return ClaimResult{TransferID: r.transferID, Completed: &t}, nil
		case r.status == idemInProgress && r.leaseUntil >= now.UnixMilli():
			e := handoff.E(handoff.CodeInProgress, op, "a request with this idempotency key is in progress", nil)
			e.RetryAfter = retryAfter(time.UnixMilli(r.leaseUntil).Sub(now))
			return ClaimResult{}, e
		case r.status == idemInProgress:
			id, reclaimed, prior = r.transferID, true, &r
		case r.status == idemReleased:
			id, reclaimed, prior = r.transferID, r.ambiguous, &r
		default:
			return ClaimResult{}, handoff.E(handoff.CodeInternal, op, "idempotency record in an unknown state", nil)
		}
	}
	e := handoff.E(handoff.CodeInProgress, op, "a request with this idempotency key is in progress", nil)
	e.RetryAfter = time.Second
	return ClaimResult{}, e
}

// freshClaim holds when the key is new or its record has expired (TTL deletes lazily).
func freshClaim(now time.Time) condition {
	return condition{
		expr:   "attribute_not_exists(#pk) OR #exp < :now",
		names:  map[string]string{"#pk": AttrPK, "#exp": AttrExpiresAt},
		values: item{":now": num(now.Unix())},
	}
}

// takeover holds while the record is still exactly r, so of many invocations taking over one
// lapsed or released claim only one succeeds, and the transfer id is never lost on the way.
func takeover(r idemRecord) condition {
	return condition{
		expr:  "#owner = :owner AND #st = :st AND #fp = :fp AND #tid = :tid",
		names: map[string]string{"#owner": AttrLeaseOwner, "#st": AttrStatus, "#fp": AttrFingerprint, "#tid": AttrTransferID},
		values: item{
			":owner": str(r.owner), ":st": str(r.status), ":fp": str(r.fingerprint), ":tid": str(r.transferID),
		},
	}
}

// putClaim writes c's in-progress record for transfer id under cond. When cond fails it returns
// the record that stopped it, which DynamoDB sends back with the error (moto does too), so no
// read is needed.
func (s *Store) putClaim(ctx context.Context, c Claim, id string, now time.Time, cond condition) (item, error) {
	const op = "store.Claim"
	it := idempotencyKey(c.Tenant, c.Key)
	it[AttrKind] = str(KindIdempotency)
	it[AttrStatus] = str(idemInProgress)
	it[AttrFingerprint] = str(c.Fingerprint)
	it[AttrLeaseOwner] = str(c.Owner)
	it[AttrLeaseUntil] = num(c.LeaseUntil.UnixMilli())
	it[AttrTransferID] = str(id)
	it[AttrExpiresAt] = num(now.Add(s.idemTTL).Unix())
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           &s.table,
		Item:                                it,
		ConditionExpression:                 &cond.expr,
		ExpressionAttributeNames:            cond.names,
		ExpressionAttributeValues:           cond.values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return nil, nil
	}
	if old, ok := conditionFailed(err); ok {
		if len(old) == 0 {
			return nil, handoff.E(handoff.CodeInternal, op, "condition failed without the stored record", err)
		}
		return old, err
	}
	return nil, fromAWS(op, err)
}

func readIdem(it item) idemRecord {
	return idemRecord{
		status:      getS(it, AttrStatus),
		fingerprint: getS(it, AttrFingerprint),
		owner:       getS(it, AttrLeaseOwner),
		transferID:  getS(it, AttrTransferID),
		result:      getS(it, AttrResult),
		leaseUntil:  getN(it, AttrLeaseUntil),
		expiresAt:   getN(it, AttrExpiresAt),
		ambiguous:   getBool(it, AttrAmbiguous),
	}
}

// retryAfter rounds the rest of a lease up to whole seconds, at least one.
func retryAfter(rest time.Duration) time.Duration {
	d := (rest + time.Second - 1).Truncate(time.Second)
	return max(d, time.Second)
}

// Complete stores the new transfer t as version 1 with its events and vendor reference, and marks
// c's key completed with t as its result, all in one transaction that holds only while c.Owner
// still holds the key for t.ID. An owner whose lease lapsed and was taken over gets CONFLICT and
// changes nothing.
func (s *Store) Complete(ctx context.Context, c Claim, t handoff.Transfer, ref *Ref, events []handoff.Event) error {
	const op = "store.Complete"
	now := s.now()
	expires := now.Add(s.transferTTL)
	tr, err := transferItem(t, 1, expires)
	if err != nil {
		return handoff.E(handoff.CodeInternal, op, "encoding the transfer", err)
	}
	items := []types.TransactWriteItem{
		{Update: &types.Update{
			TableName:           &s.table,
			Key:                 idempotencyKey(c.Tenant, c.Key),
			UpdateExpression:    aws.String("SET #st = :completed, #result = :result REMOVE #owner, #lease"),
			ConditionExpression: aws.String("#owner = :owner AND #st = :inprogress AND #tid = :tid"),
			ExpressionAttributeNames: map[string]string{
				"#st": AttrStatus, "#result": AttrResult, "#owner": AttrLeaseOwner, "#lease": AttrLeaseUntil, "#tid": AttrTransferID,
			},
			ExpressionAttributeValues: item{
				":completed": str(idemCompleted), ":result": tr[AttrDoc], ":owner": str(c.Owner),
				":inprogress": str(idemInProgress), ":tid": str(t.ID),
			},
		}},
		{Put: &types.Put{
			TableName:                &s.table,
			Item:                     tr,
			ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
			ExpressionAttributeNames: map[string]string{"#pk": AttrPK},
		}},
	}
	if ref != nil {
		it := refKey(ref.Vendor, ref.VendorRef)
		it[AttrKind] = str(KindRef)
		it[AttrTransferID] = str(t.ID)
		it[AttrTenant] = str(t.Tenant)
		it[AttrExpiresAt] = num(expires.Unix())
		items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: it}})
	}
	puts, err := eventPuts(s.table, t.ID, 1, events, now, expires)
	if err != nil {
		return handoff.E(handoff.CodeInternal, op, "encoding an event", err)
	}
	err = s.transact(ctx, op, append(items, puts...))
	reasons := cancelReasons(err)
	switch {
	case failedCondition(reasons, 0):
		return handoff.E(handoff.CodeConflict, op, "the idempotency key is no longer held for this transfer", cause(err))
	case failedCondition(reasons, 1):
		return handoff.E(handoff.CodeConflict, op, "the transfer is already stored", cause(err))
	}
	return err
}

// Release gives c's key up. When the vendor surely did nothing (ambiguous false), the claim is
// deleted: the request left no trace, and the next claim starts afresh. When the vendor may have
// acted on the call in flight, the record stays, marked released, so the next claim of the same
// request keeps the transfer id and sees Reclaimed, and reconciles first. Once the key is no
// longer c.Owner's, Release is CONFLICT and changes nothing.
func (s *Store) Release(ctx context.Context, c Claim, ambiguous bool) error {
	const op = "store.Release"
	names := map[string]string{"#st": AttrStatus, "#owner": AttrLeaseOwner}
	values := item{":owner": str(c.Owner), ":inprogress": str(idemInProgress)}
	cond := aws.String("#owner = :owner AND #st = :inprogress")
	var err error
	if ambiguous {
		names["#amb"], names["#lease"] = AttrAmbiguous, AttrLeaseUntil
		values[":released"], values[":amb"] = str(idemReleased), boolean(true)
		_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: &s.table, Key: idempotencyKey(c.Tenant, c.Key),
			UpdateExpression:    aws.String("SET #st = :released, #amb = :amb REMOVE #lease"),
			ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values,
		})
	} else {
		_, err = s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName: &s.table, Key: idempotencyKey(c.Tenant, c.Key),
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
