package bitrix24_test

import (
	"testing"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/bitrix24"
)

// Ids Bitrix24 could never take are refused before anything is written.
func TestValidateRefusesIdsThatAreNotIntegers(t *testing.T) {
	a := bitrix24.New(vendors.Deps{})
	agent := func(id string) handoff.Target { return handoff.Target{Type: handoff.TargetAgent, ID: id} }
	queue := func(id string) handoff.Target { return handoff.Target{Type: handoff.TargetQueue, ID: id} }
	next := handoff.Target{Type: handoff.TargetNext}
	tests := []struct {
		name      string
		vendor    string
		chat      string
		target    handoff.Target
		fallbacks []handoff.Target
		field     string
	}{
		{"integers", bitrix24.Key, "42", agent("7"), []handoff.Target{queue("3"), next}, ""},
		{"chat not an integer", bitrix24.Key, "chat-42", agent("7"), nil, "conversation.id"},
		{"chat with a leading zero", bitrix24.Key, "042", next, nil, "conversation.id"},
		{"user not an integer", bitrix24.Key, "42", agent("u-7"), nil, "target.id"},
		{"line of a fallback", bitrix24.Key, "42", agent("7"), []handoff.Target{next, queue("line")}, "fallbacks[1].id"},
		{"another vendor's request", "other", "chat-42", agent("u-7"), nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := handoff.Request{Tenant: "acme", Vendor: tt.vendor, Conversation: handoff.Conversation{ID: tt.chat},
				Target: tt.target, Fallbacks: tt.fallbacks}
			err := vendors.Validate(a, req)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if e := handoff.AsError(err); err == nil || e.Code != handoff.CodeInvalidRequest || e.Field != tt.field {
				t.Fatalf("Validate = %v, want INVALID_REQUEST on %s", err, tt.field)
			}
		})
	}
}
