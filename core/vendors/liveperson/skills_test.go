package liveperson_test

import (
	"reflect"
	"testing"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/liveperson/livepersonsandbox"
)

// The skills answer in every shape we expect from LivePerson's XML-mapped JSON.
func TestSkillsCheckReadsEveryShape(t *testing.T) {
	cases := []struct {
		file, skill string
		code        handoff.Code // "" = transferred
		vendorCode  string
	}{
		{"skills_seed_example.json", "25975313", "", ""},
		{"skills_seed_example.json", "2", handoff.CodeTargetUnavailable, "SKILL_NOT_LISTED"},
		{"skills_single_object.json", "2", "", ""},
		{"skills_numbers.json", "2", "", ""},
		{"skills_numbers.json", "25975313", "", ""}, // "@id" attribute form
		{"skills_offline.json", "2", handoff.CodeTargetUnavailable, "SKILL_OFFLINE"},
		{"skills_offline.json", "25975313", "", ""},
		{"skills_none_empty_string.json", "2", handoff.CodeTargetUnavailable, "SKILL_NOT_LISTED"},
		{"skills_none_empty_object.json", "2", handoff.CodeTargetUnavailable, "SKILL_NOT_LISTED"},
		{"skills_none_empty_list.json", "2", handoff.CodeTargetUnavailable, "SKILL_NOT_LISTED"},
		{"skills_none_null.json", "2", handoff.CodeTargetUnavailable, "SKILL_NOT_LISTED"},
		{"skills_none_skill_empty_string.json", "2", handoff.CodeTargetUnavailable, "SKILL_NOT_LISTED"},
		{"skills_bad_no_transfer.json", "2", handoff.CodeVendorProtocol, ""},
		{"skills_bad_no_id.json", "2", handoff.CodeVendorProtocol, ""},
		{"skills_bad_text_id.json", "2", handoff.CodeVendorProtocol, ""},
		{"skills_bad_count.json", "2", handoff.CodeVendorProtocol, ""},
	}
	for _, c := range cases {
		t.Run(c.file+"/"+c.skill, func(t *testing.T) {
			e := newEnv(t, livepersonsandbox.Config{}, answerSkills(testdata(t, c.file)))
			res, err := e.transfer(t, "chat-1", skillTarget(c.skill))
			if c.code == "" {
				if err != nil || res.Outcome != handoff.OutcomeTransferred {
					t.Fatalf("Transfer = %+v, %v; want transferred", res, err)
				}
				if n := e.sb.TransferCalls(); n != 1 {
					t.Errorf("transfer calls = %d, want 1", n)
				}
				return
			}
			wantCode(t, err, c.code, c.vendorCode)
			if n := e.sb.TransferCalls(); n != 0 {
				t.Errorf("transfer calls = %d, want 0: the skills check must stop the transfer", n)
			}
		})
	}
}

func TestAvailability(t *testing.T) {
	ptr := func(n int) *int { return &n }
	t.Run("all listed skills", func(t *testing.T) {
		e := newEnv(t, livepersonsandbox.Config{}, nil)
		got, err := e.adapter.Availability(testCtx(t), vendors.AvailabilityRequest{Tenant: tenant, ConversationID: livepersonsandbox.DemoChatID})
		if err != nil {
			t.Fatal(err)
		}
		want := []handoff.Availability{
			{Type: handoff.TargetSkill, ID: "2", Name: "Support", Available: true, OnlineAgents: ptr(2)},
			{Type: handoff.TargetSkill, ID: "25975313", Name: "Sales", Available: true, OnlineAgents: ptr(1)},
			{Type: handoff.TargetSkill, ID: "26060413", Name: "Billing", Available: true, OnlineAgents: ptr(1)},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Availability = %s, want %s", mustJSON(t, got), mustJSON(t, want))
		}
	})
	t.Run("targets asked about", func(t *testing.T) {
		e := newEnv(t, livepersonsandbox.Config{}, answerSkills(testdata(t, "skills_offline.json")))
		got, err := e.adapter.Availability(testCtx(t), vendors.AvailabilityRequest{Tenant: tenant, ConversationID: "chat-1",
			Targets: []handoff.Target{skillTarget("25975313"), skillTarget("2"), agentTarget("6"), skillTarget("26060500")}})
		if err != nil {
			t.Fatal(err)
		}
		want := []handoff.Availability{
			{Type: handoff.TargetSkill, ID: "25975313", Name: "Sales", Available: true, OnlineAgents: ptr(1)},
			{Type: handoff.TargetSkill, ID: "2", Name: "Support", Available: false, OnlineAgents: ptr(0)},
			{Type: handoff.TargetSkill, ID: "26060500", Available: false, OnlineAgents: ptr(0)},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Availability = %s, want %s", mustJSON(t, got), mustJSON(t, want))
		}
	})
	t.Run("chat the agent no longer holds", func(t *testing.T) {
		e := newEnv(t, livepersonsandbox.Config{}, nil)
		if _, err := e.transfer(t, "chat-1", agentTarget("6")); err != nil {
			t.Fatal(err)
		}
		_, err := e.adapter.Availability(testCtx(t), vendors.AvailabilityRequest{Tenant: tenant, ConversationID: "chat-1"})
		if e := wantCode(t, err, handoff.CodeConversationNotFound, "CHAT_NOT_HELD"); e.Field != "conversationId" {
			t.Errorf("field = %q, want conversationId", e.Field)
		}
	})
}
