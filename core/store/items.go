package store

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"handoff/core/handoff"
)

// item is one DynamoDB item, attribute name to value.
type item = map[string]types.AttributeValue

// The sort keys of the singleton items, and the prefix of timeline events.
const (
	skTransfer    = "TRANSFER"
	skRef         = "REF"
	skIdempotency = "IDEM"
	skEventPrefix = "EVENT#"
)

// eventTime formats an event's time for its sort key: RFC 3339 in UTC with all nine fractional
// digits, so that keys sort as times do (RFC3339Nano drops trailing zeros and would not).
const eventTime = "2006-01-02T15:04:05.000000000Z07:00"

func transferKey(id string) item {
	return item{AttrPK: str("TRANSFER#" + id), AttrSK: str(skTransfer)}
}

func refKey(vendor, vendorRef string) item {
	return item{AttrPK: str("REF#" + vendor + "#" + vendorRef), AttrSK: str(skRef)}
}

func idempotencyKey(tenant, key string) item {
	return item{AttrPK: str("IDEM#" + tenant + "#" + key), AttrSK: str(skIdempotency)}
}

// eventSK orders a transfer's events by time, then by the version they were written with, then
// by their place in that write; the version makes keys of two writes distinct even at one time.
func eventSK(at time.Time, version int64, i int) string {
	return fmt.Sprintf("%s%s#%010d.%03d", skEventPrefix, at.UTC().Format(eventTime), version, i)
}

// transferItem is t stored at version, kept until expires.
func transferItem(t handoff.Transfer, version int64, expires time.Time) (item, error) {
	doc, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	it := transferKey(t.ID)
	it[AttrKind] = str(KindTransfer)
	it[AttrStatus] = str(string(t.Status))
	it[AttrAckStatus] = str(string(t.Ack.Status))
	it[AttrVersion] = num(version)
	it[AttrTenant] = str(t.Tenant)
	it[AttrVendor] = str(t.Vendor)
	it[AttrExpiresAt] = num(expires.Unix())
	it[AttrDoc] = str(string(doc))
	if until, ok := awaiting(t); ok {
		it[AttrAwaiting] = str(awaitingValue)
		it[AttrAwaitUntil] = num(until)
	}
	return it, nil
}

// eventPuts are the transaction items appending events to transfer id's timeline. Events
// without a time get now.
func eventPuts(table, id string, version int64, events []handoff.Event, now, expires time.Time) ([]types.TransactWriteItem, error) {
	var puts []types.TransactWriteItem
	for i, e := range events {
		if e.At.IsZero() {
			e.At = now
		}
		doc, err := json.Marshal(e)
		if err != nil {
			return nil, err
		}
		it := item{
			AttrPK:        str("TRANSFER#" + id),
			AttrSK:        str(eventSK(e.At, version, i)),
			AttrKind:      str(KindEvent),
			AttrExpiresAt: num(expires.Unix()),
			AttrDoc:       str(string(doc)),
		}
		puts = append(puts, types.TransactWriteItem{Put: &types.Put{TableName: &table, Item: it}})
	}
	return puts, nil
}

// decodeTransfer reads a transfer item back.
func decodeTransfer(it item) (handoff.Transfer, error) {
	var t handoff.Transfer
	if err := json.Unmarshal([]byte(getS(it, AttrDoc)), &t); err != nil {
		return handoff.Transfer{}, fmt.Errorf("decoding transfer: %w", err)
	}
	t.Version = getN(it, AttrVersion)
	return t, nil
}

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func num(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func boolean(v bool) types.AttributeValue { return &types.AttributeValueMemberBOOL{Value: v} }

// getS returns a string attribute, or "" when it is absent or of another type.
func getS(it item, name string) string {
	if v, ok := it[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// getN returns a whole-number attribute, or 0 when it is absent or not one.
func getN(it item, name string) int64 {
	if v, ok := it[name].(*types.AttributeValueMemberN); ok {
		n, _ := strconv.ParseInt(v.Value, 10, 64)
		return n
	}
	return 0
}

// getBool returns a BOOL attribute, or false when it is absent.
func getBool(it item, name string) bool {
	v, ok := it[name].(*types.AttributeValueMemberBOOL)
	return ok && v.Value
}

// awaitingValue is the one partition of the sparse awaiting index: only transfers awaiting a
// callback carry it, so the index holds exactly the transfers a sweep may have to give up on.
const awaitingValue = "pending"

// awaiting says whether t belongs in the awaiting index, and until when (unix seconds).
func awaiting(t handoff.Transfer) (int64, bool) {
	if t.Status != handoff.StatusPending || t.AwaitUntil == nil {
		return 0, false
	}
	return t.AwaitUntil.Unix(), true
}
