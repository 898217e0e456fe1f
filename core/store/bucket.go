package store

import (
	"context"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"handoff/core/handoff"
	"handoff/core/pacing"
)

// The pacing items, in the same table (pk / sk: attributes):
//
//	BUCKET#{tenant}#{vendor} / BUCKET   kind, tat, slowUntil, expiresAt
//	QUEUE#{tenant} / QUEUE              kind, queued, queued#{vendor}…, expiresAt
//
// tat and slowUntil are epoch milliseconds (see core/pacing). The kinds are not "transfer", so
// bot-ack's stream filter drops their writes.
const (
	AttrTAT       = "tat"       // N, epoch ms: a bucket's theoretical arrival time
	AttrSlowUntil = "slowUntil" // N, epoch ms: when a bucket's slowdown after a 429 ends
	AttrQueued    = "queued"    // N, a tenant's queued transfers; queued#{vendor}: per vendor

	KindBucket  = "bucket"
	KindBacklog = "backlog"
)

// pacingRounds bounds the writes of one Take or Slow when the bucket changed under it.
const pacingRounds = 4

// pacingTTL is how long an unused bucket or count is kept: long enough to outlive any queue.
const pacingTTL = 7 * 24 * time.Hour

// Pacing keeps pacing's token buckets and queue counts in the table, one item per bucket and
// one per tenant, each changed by conditional writes only. It is safe for concurrent use.
type Pacing struct {
	db    *dynamodb.Client
	table string
	// seen is the last state read of each bucket, to guess which write a Take needs: buckets
	// only move forward, so a stale guess costs one more write, never a wrong answer.
	mu   sync.Mutex
	seen map[pacing.Key]pacing.State
}

// NewPacing returns the pacing store on table, using db as it is. It does no I/O.
func NewPacing(db *dynamodb.Client, table string) *Pacing {
	return &Pacing{db: db, table: table, seen: map[pacing.Key]pacing.State{}}
}

func bucketKey(k pacing.Key) item {
	return item{AttrPK: str("BUCKET#" + k.Tenant + "#" + k.Vendor), AttrSK: str("BUCKET")}
}

func backlogKey(tenant string) item {
	return item{AttrPK: str("QUEUE#" + tenant), AttrSK: str("QUEUE")}
}

// Take books a token of k's bucket, free by `by`, with one conditional UpdateItem when its
// guess of the bucket is right, which it is while one container drains a group. The write is
// one of two, each only under the condition that makes it the rule's (pacing.Decide) step:
//
//	full:  tat <= now                       SET tat = now + T          the token is now's
//	busy:  now < tat <= by + (B-1)·T        SET tat = tat + T          the token is at tat - (B-1)·T
//
// both also conditioned on whether a slowdown is in force (which sets T and B). A refused
// write returns the bucket as it stood, from which the rule says either "no token by `by`,
// the next at At" or which write to make instead.
func (p *Pacing) Take(ctx context.Context, k pacing.Key, l pacing.Limit, now, by time.Time) (pacing.Grant, error) {
	now, by = now.Truncate(time.Millisecond), by.Truncate(time.Millisecond)
	guess := p.guess(k)
	for range pacingRounds {
		before, stored, ok, err := p.takeWrite(ctx, k, guess, l, now, by)
		if err != nil {
			return pacing.Grant{}, err
		}
		p.remember(k, stored)
		if ok {
			_, g := pacing.Decide(before, l, now, by) // the step the write made
			return g, nil
		}
		if _, g := pacing.Decide(stored, l, now, by); !g.OK {
			return g, nil
		}
		guess = stored // a token is free, but the bucket was not as guessed: write again
	}
	return pacing.Grant{}, handoff.E(handoff.CodeUnavailable, "store.Pacing.Take", "the rate limiter is contended", nil)
}

// takeWrite makes the write for a bucket in guess's case (full or busy, slowed or not), under
// the conditions that hold exactly when the stored bucket is in that case and a token is free
// by `by`. When guess has no such token it makes the busy write, which then fails and so reads
// the bucket. After a grant it returns the bucket as it was before the write (its TAT
// recovered from the new one: the busy write adds T) and as stored; after a refusal, the
// bucket as it stood.
func (p *Pacing) takeWrite(ctx context.Context, k pacing.Key, guess pacing.State, l pacing.Limit, now, by time.Time) (before, stored pacing.State, ok bool, _ error) {
	slow := now.Before(guess.SlowUntil)
	unit := pacing.RoundUp(l.Every) // the item holds milliseconds
	every, tolerance := unit, time.Duration(max(l.Burst, 1)-1)*unit
	if slow {
		every, tolerance = 2*unit, 0
	}
	names := map[string]string{"#tat": AttrTAT, "#su": AttrSlowUntil, "#kind": AttrKind, "#exp": AttrExpiresAt}
	values := item{":now": millis(now), ":kind": str(KindBucket), ":exp": num(now.Add(pacingTTL).Unix())}
	var cond, update string
	full := !guess.TAT.After(now)
	if full {
		cond = "(attribute_not_exists(#tat) OR #tat <= :now)"
		update = "SET #tat = :tat, #kind = :kind, #exp = :exp"
		values[":tat"] = millis(now.Add(every))
	} else {
		cond = "#tat > :now AND #tat <= :limit"
		update = "SET #tat = #tat + :every, #kind = :kind, #exp = :exp"
		values[":limit"] = millis(by.Add(tolerance))
		values[":every"] = num(every.Milliseconds())
	}
	if slow {
		cond += " AND #su > :now"
	} else {
		cond += " AND (attribute_not_exists(#su) OR #su <= :now)"
	}
	out, err := p.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(p.table), Key: bucketKey(k),
		ConditionExpression: aws.String(cond), UpdateExpression: aws.String(update),
		ExpressionAttributeNames: names, ExpressionAttributeValues: values,
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		stored = readBucket(out.Attributes)
		before = stored
		if full {
			before.TAT = time.Time{} // a full bucket: the token is now's
		} else {
			before.TAT = stored.TAT.Add(-every)
		}
		return before, stored, true, nil
	}
	if old, ok := conditionFailed(err); ok {
		stored = readBucket(old) // no item: a full bucket
		return stored, stored, false, nil
	}
	return pacing.State{}, pacing.State{}, false, fromAWS("store.Pacing.Take", err)
}

// Slow applies pacing.Slowed to k's bucket: a write conditioned on the bucket being exactly as
// last read, repeated on the state a refused write returns. 429s are rare; this is not the
// hot path.
func (p *Pacing) Slow(ctx context.Context, k pacing.Key, now time.Time, wait, period time.Duration) error {
	const op = "store.Pacing.Slow"
	now = now.Truncate(time.Millisecond)
	before := p.guess(k)
	for range pacingRounds {
		after := pacing.Slowed(before, now, wait, period)
		names := map[string]string{"#tat": AttrTAT, "#su": AttrSlowUntil, "#kind": AttrKind, "#exp": AttrExpiresAt}
		values := item{
			":tat": millis(after.TAT), ":su": millis(after.SlowUntil),
			":kind": str(KindBucket), ":exp": num(now.Add(pacingTTL).Unix()),
		}
		cond := unchanged("#tat", ":oldTat", before.TAT, values) + " AND " + unchanged("#su", ":oldSu", before.SlowUntil, values)
		_, err := p.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: aws.String(p.table), Key: bucketKey(k),
			ConditionExpression:      aws.String(cond),
			UpdateExpression:         aws.String("SET #tat = :tat, #su = :su, #kind = :kind, #exp = :exp"),
			ExpressionAttributeNames: names, ExpressionAttributeValues: values,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		if err == nil {
			p.remember(k, after)
			return nil
		}
		old, ok := conditionFailed(err)
		if !ok {
			return fromAWS(op, err)
		}
		before = readBucket(old)
	}
	return handoff.E(handoff.CodeUnavailable, op, "the rate limiter is contended", nil)
}

// unchanged is the condition that attribute name still holds v (absent for the zero time).
func unchanged(name, placeholder string, v time.Time, values item) string {
	if v.IsZero() {
		return "attribute_not_exists(" + name + ")"
	}
	values[placeholder] = millis(v)
	return name + " = " + placeholder
}

func (p *Pacing) guess(k pacing.Key) pacing.State {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seen[k]
}

// remember keeps the latest of what was seen: concurrent Takes of one container may come back
// in any order, and an older answer must not make the guess go back.
func (p *Pacing) remember(k pacing.Key, s pacing.State) {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.seen[k]
	if s.TAT.Before(old.TAT) {
		s.TAT = old.TAT
	}
	if s.SlowUntil.Before(old.SlowUntil) {
		s.SlowUntil = old.SlowUntil
	}
	p.seen[k] = s
}

// readBucket decodes a bucket item; an absent item is a full bucket.
func readBucket(it item) pacing.State {
	var s pacing.State
	if ms := getN(it, AttrTAT); ms != 0 {
		s.TAT = time.UnixMilli(ms).UTC()
	}
	if ms := getN(it, AttrSlowUntil); ms != 0 {
		s.SlowUntil = time.UnixMilli(ms).UTC()
	}
	return s
}

func millis(t time.Time) types.AttributeValue { return num(t.UnixMilli()) }

// Enter counts a queued transfer for k, in one conditional UpdateItem on the tenant's item that
// holds while the tenant has fewer than bound queued; it returns k's count with it.
func (p *Pacing) Enter(ctx context.Context, k pacing.Key, bound int, now time.Time) (int, bool, error) {
	const op = "store.Pacing.Enter"
	perVendor := AttrQueued + "#" + k.Vendor
	out, err := p.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(p.table), Key: backlogKey(k.Tenant),
		ConditionExpression: aws.String("attribute_not_exists(#n) OR #n < :bound"),
		UpdateExpression:    aws.String("ADD #n :one, #nv :one SET #kind = :kind, #exp = :exp"),
		ExpressionAttributeNames: map[string]string{
			"#n": AttrQueued, "#nv": perVendor, "#kind": AttrKind, "#exp": AttrExpiresAt,
		},
		ExpressionAttributeValues: item{
			":bound": num(int64(bound)), ":one": num(1),
			":kind": str(KindBacklog), ":exp": num(now.Add(pacingTTL).Unix()),
		},
		ReturnValues:                        types.ReturnValueUpdatedNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err != nil {
		if old, ok := conditionFailed(err); ok {
			return int(getN(old, perVendor)), false, nil
		}
		return 0, false, fromAWS(op, err)
	}
	return int(getN(out.Attributes, perVendor)), true, nil
}

// Leave counts n of k's queued transfers out with one conditional UpdateItem that holds while
// both counts are at least n; when one is lower (a count that drifted), it takes out what is
// there, so neither goes below zero.
func (p *Pacing) Leave(ctx context.Context, k pacing.Key, n int, now time.Time) error {
	perVendor := AttrQueued + "#" + k.Vendor
	for range pacingRounds {
		if n <= 0 {
			return nil
		}
		_, err := p.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: aws.String(p.table), Key: backlogKey(k.Tenant),
			ConditionExpression: aws.String("#nv >= :n AND #n >= :n"),
			UpdateExpression:    aws.String("ADD #n :minus, #nv :minus SET #exp = :exp"),
			ExpressionAttributeNames: map[string]string{
				"#n": AttrQueued, "#nv": perVendor, "#exp": AttrExpiresAt,
			},
			ExpressionAttributeValues: item{
				":n": num(int64(n)), ":minus": num(int64(-n)), ":exp": num(now.Add(pacingTTL).Unix()),
			},
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		old, failed := conditionFailed(err)
		if !failed {
			if err != nil {
				return fromAWS("store.Pacing.Leave", err)
			}
			return nil
		}
		n = int(min(int64(n), getN(old, perVendor), getN(old, AttrQueued)))
	}
	return handoff.E(handoff.CodeUnavailable, "store.Pacing.Leave", "the queue count is contended", nil)
}
