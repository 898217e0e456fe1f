package store

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"handoff/core/handoff"
)

// Access records share the table with the items listed in store.go:
//
//	ACCESS#{tenant} / ACCESS    kind, tenant, doc (a handoff.Access)
//
// A tenant name holds no '#' (handoff.ValidateTenant), so ACCESS#{tenant} never meets another
// kind's key. Access records never expire: no expiresAt. An operator writes them (PutAccess,
// DeleteAccess; scripts/handoffctl tenant access); the functions only read them (GetAccess), so the API can never
// grant itself access.

// KindAccess is the kind of a tenant's access record.
const KindAccess = "access"

const skAccess = "ACCESS"

func accessKey(tenant string) item {
	return item{AttrPK: str("ACCESS#" + tenant), AttrSK: str(skAccess)}
}

// PutAccess writes a tenant's access record, replacing the one before. It is the operator's
// write; no function calls it.
func (s *Store) PutAccess(ctx context.Context, a handoff.Access) error {
	const op = "store.PutAccess"
	if err := a.Validate(); err != nil {
		return err
	}
	doc, err := json.Marshal(a)
	if err != nil {
		return handoff.E(handoff.CodeInternal, op, "access record does not encode", err)
	}
	it := accessKey(a.Tenant)
	it[AttrKind] = str(KindAccess)
	it[AttrTenant] = str(a.Tenant)
	it[AttrDoc] = str(string(doc))
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: it}); err != nil {
		return fromAWS(op, err)
	}
	return nil
}

// DeleteAccess removes a tenant's access record: then nobody may act for it. Removing a record
// that does not exist is not an error. It is the operator's write; no function calls it.
func (s *Store) DeleteAccess(ctx context.Context, tenant string) error {
	if _, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.table, Key: accessKey(tenant)}); err != nil {
		return fromAWS("store.DeleteAccess", err)
	}
	return nil
}

// GetAccess returns a tenant's access record; NOT_FOUND when the tenant has none (then nobody
// may act for it). The read is eventually consistent: the callers cache records for a minute
// anyway, so a change takes effect within about that.
func (s *Store) GetAccess(ctx context.Context, tenant string) (handoff.Access, error) {
	const op = "store.GetAccess"
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: accessKey(tenant)})
	if err != nil {
		return handoff.Access{}, fromAWS(op, err)
	}
	if len(out.Item) == 0 {
		return handoff.Access{}, handoff.E(handoff.CodeNotFound, op, "no access record for the tenant", nil)
	}
	var a handoff.Access
	if err := json.Unmarshal([]byte(getS(out.Item, AttrDoc)), &a); err != nil || a.Tenant != tenant {
		return handoff.Access{}, handoff.E(handoff.CodeInternal, op, "unreadable access record", err)
	}
	return a, nil
}
