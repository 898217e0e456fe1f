package liveperson_test

import (
	"testing"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/liveperson"
)

// Skill and agent ids LivePerson could never take are refused before anything is written.
func TestValidateRefusesIdsThatAreNotNumbers(t *testing.T) {
	a := liveperson.New(vendors.Deps{})
	skill := func(id string) handoff.Target { return handoff.Target{Type: handoff.TargetSkill, ID: id} }
	agent := func(id string) handoff.Target { return handoff.Target{Type: handoff.TargetAgent, ID: id} }
	tests := []struct {
		name      string
		vendor    string
		target    handoff.Target
		fallbacks []handoff.Target
		field     string
	}{
		{"numbers", liveperson.Key, skill("12"), []handoff.Target{agent("34")}, ""},
		{"skill name", liveperson.Key, skill("sales"), nil, "target.id"},
		{"zero", liveperson.Key, agent("0"), nil, "target.id"},
		{"fallback agent name", liveperson.Key, skill("12"), []handoff.Target{agent("bob")}, "fallbacks[0].id"},
		{"another vendor's request", "other", skill("sales"), nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := handoff.Request{Tenant: "acme", Vendor: tt.vendor, Conversation: handoff.Conversation{ID: "c-1"},
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
