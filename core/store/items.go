package store

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"handoff/core/handoff"
)

// item is one DynamoDB item, attribute name to value.
type item = map[string]types.AttributeValue

// The sort keys: the live transfer of a slot, and the prefix of archived ones.
const (
	skTransfer       = "TRANSFER"
	skArchivedPrefix = "T#"
)

// A transfer id is its slot (slotChars, derived from tenant and idempotency key) followed by
// idChars-slotChars random characters. The slot is the item's partition, so one conditional
// write on it both claims the key and records the transfer, and GET /transfers/{id} still finds
// it by id with one consistent read.
const (
	idChars   = 26
	slotChars = 20
)

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// transferID is the id for a transfer claimed under tenant and key; proposal (random) supplies
// the rest, so each transfer of one key has its own id.
func transferID(tenant, key, proposal string) string {
	slot := sha256.Sum256([]byte(tenant + "\x00" + key))
	rest := sha256.Sum256([]byte(proposal))
	return idEncoding.EncodeToString(slot[:])[:slotChars] + idEncoding.EncodeToString(rest[:])[:idChars-slotChars]
}

// slotOf is the slot an id lives in; false when id is not one of ours.
func slotOf(id string) (string, bool) {
	if len(id) != idChars {
		return "", false
	}
	return id[:slotChars], true
}

func slotKey(slot string) item {
	return item{AttrPK: str("TRANSFER#" + slot), AttrSK: str(skTransfer)}
}

func archivedKey(slot, id string) item {
	return item{AttrPK: str("TRANSFER#" + slot), AttrSK: str(skArchivedPrefix + id)}
}

// refValue is the reference index's key: the vendor's handle, scoped by tenant and vendor, so
// two tenants' chats with the same number never meet. The tenant is length-prefixed so no
// tenant name can forge another's prefix.
func refValue(tenant, vendor, vendorRef string) string {
	return strconv.Itoa(len(tenant)) + ":" + tenant + "#" + vendor + "#" + vendorRef
}

// transferAttrs are the attributes that mirror t (for conditions, the stream and the indexes).
func transferAttrs(t handoff.Transfer, version int64) (item, error) {
	doc, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	it := item{
		AttrKind:       str(KindTransfer),
		AttrTransferID: str(t.ID),
		AttrStatus:     str(string(t.Status)),
		AttrAckStatus:  str(string(t.Ack.Status)),
		AttrVersion:    num(version),
		AttrTenant:     str(t.Tenant),
		AttrVendor:     str(t.Vendor),
		AttrDoc:        str(string(doc)),
	}
	if part, until, ok := awaiting(t); ok {
		it[AttrAwaiting] = str(part)
		it[AttrAwaitUntil] = num(until)
	}
	return it, nil
}

// eventList encodes events as timeline entries (JSON strings); events without a time get now.
func eventList(events []handoff.Event, now time.Time) (*types.AttributeValueMemberL, error) {
	l := &types.AttributeValueMemberL{Value: make([]types.AttributeValue, 0, len(events))}
	for _, e := range events {
		if e.At.IsZero() {
			e.At = now
		}
		doc, err := json.Marshal(e)
		if err != nil {
			return nil, err
		}
		l.Value = append(l.Value, str(string(doc)))
	}
	return l, nil
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

// decodeTimeline reads an item's timeline, in the order it was appended.
func decodeTimeline(it item) ([]handoff.Event, error) {
	l, _ := it[AttrTimeline].(*types.AttributeValueMemberL)
	if l == nil {
		return nil, nil
	}
	events := make([]handoff.Event, 0, len(l.Value))
	for _, v := range l.Value {
		s, _ := v.(*types.AttributeValueMemberS)
		if s == nil {
			return nil, fmt.Errorf("a timeline entry is not a string")
		}
		var e handoff.Event
		if err := json.Unmarshal([]byte(s.Value), &e); err != nil {
			return nil, err
		}
		events = append(events, e)
	}
	return events, nil
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

// The partitions of the sparse awaiting index: transfers with a deadline (awaiting a callback, or
// a vendor call whose invocation may have died), and final transfers whose bot is still to be
// acked. Only those carry the attribute, so the index holds exactly what a scan has to look at.
const (
	awaitingValue = "pending"
	ackValue      = "ack"
)

// AckRescanAfter is how long after its last attempt a pending ack is due for the scan that
// re-sends acks the stream left undone.
const AckRescanAfter = 2 * time.Minute

// awaiting says which partition of the awaiting index t belongs in, and from when (unix
// seconds) a scan should look at it.
func awaiting(t handoff.Transfer) (string, int64, bool) {
	switch {
	case t.Status == handoff.StatusPending && t.AwaitUntil != nil:
		return awaitingValue, t.AwaitUntil.Unix(), true
	case t.Status.Final() && t.Ack.Status == handoff.AckPending:
		last := t.UpdatedAt
		if t.Ack.At.After(last) {
			last = t.Ack.At
		}
		return ackValue, last.Add(AckRescanAfter).Unix(), true
	}
	return "", 0, false
}
