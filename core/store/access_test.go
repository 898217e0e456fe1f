package store_test

import (
	"context"
	"reflect"
	"testing"

	"handoff/core/handoff"
	"handoff/core/store/memstore"
)

// accessStore is what an operator and the functions need of a store's access records.
type accessStore interface {
	PutAccess(ctx context.Context, a handoff.Access) error
	GetAccess(ctx context.Context, tenant string) (handoff.Access, error)
}

// TestAccessRecords: both stores keep one access record per tenant, replace it on a new put,
// answer NOT_FOUND for a tenant without one, and refuse a record that does not validate.
func TestAccessRecords(t *testing.T) {
	stores := map[string]func(t *testing.T) accessStore{
		"dynamodb": func(t *testing.T) accessStore { return setup(t).store },
		"memstore": func(*testing.T) accessStore { return memstore.New(nil) },
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t)
			if _, err := s.GetAccess(ctx, "acme"); handoff.ErrorCode(err) != handoff.CodeNotFound {
				t.Fatalf("GetAccess before any put: err = %v, want NOT_FOUND", err)
			}
			first := handoff.Access{Tenant: "acme", Principals: []string{"arn:aws:iam::111122223333:role/chatbot"},
				EventSources: []handoff.EventSource{{Source: "com.acme.chatbot", Account: "111122223333"}}}
			if err := s.PutAccess(ctx, first); err != nil {
				t.Fatal(err)
			}
			got, err := s.GetAccess(ctx, "acme")
			if err != nil || !reflect.DeepEqual(got, first) {
				t.Fatalf("GetAccess = %+v, %v; want %+v", got, err, first)
			}
			second := handoff.Access{Tenant: "acme", Principals: []string{"arn:aws:sts::111122223333:assumed-role/chatbot/*"}}
			if err := s.PutAccess(ctx, second); err != nil {
				t.Fatal(err)
			}
			if got, _ := s.GetAccess(ctx, "acme"); !reflect.DeepEqual(got, second) {
				t.Errorf("after a second put, GetAccess = %+v, want %+v", got, second)
			}
			if _, err := s.GetAccess(ctx, "acme2"); handoff.ErrorCode(err) != handoff.CodeNotFound {
				t.Errorf("another tenant: err = %v, want NOT_FOUND", err)
			}
			if err := s.PutAccess(ctx, handoff.Access{Tenant: "a#b"}); handoff.ErrorCode(err) != handoff.CodeInvalidRequest {
				t.Errorf("PutAccess of an invalid tenant: err = %v, want INVALID_REQUEST", err)
			}
		})
	}
}
