package koreai_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/koreai/koreaisandbox"
	"handoff/core/vendors/sandbox"
)

func TestAvailabilityAgainstTheSandbox(t *testing.T) {
	s := newStack(t, koreaisandbox.Config{NoCallbacks: true})
	targets := []handoff.Target{
		{Type: handoff.TargetQueue, ID: koreaisandbox.QueueID},
		{Type: handoff.TargetAgent, ID: koreaisandbox.AgentID},
		{Type: handoff.TargetAgent, ID: koreaisandbox.BusyAgentID},
		{Type: handoff.TargetAgent, ID: koreaisandbox.OfflineAgentID},
		{Type: handoff.TargetQueue, ID: koreaisandbox.ClosedQueueID},
		{Type: handoff.TargetSkill, ID: koreaisandbox.SkillID},
		{Type: handoff.TargetAgent, ID: "a-00000000-0000-0000-0000-000000000000"},
	}
	got, err := s.adapter.Availability(ctx(t), vendors.AvailabilityRequest{Tenant: tenant, ConversationID: conversation.ID, Targets: targets})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		available bool
		name      string
		online    int // -1: not reported
	}{
		{true, "", 2}, {true, "Jane Doe", -1}, {false, "John Roe", -1}, {false, "Ann Poe", -1},
		{false, "", 0}, {true, "", 2}, {false, "", -1},
	}
	if len(got) != len(targets) {
		t.Fatalf("%d answers for %d targets", len(got), len(targets))
	}
	for i, g := range got {
		w := want[i]
		online := -1
		if g.OnlineAgents != nil {
			online = *g.OnlineAgents
		}
		if g.Type != targets[i].Type || g.ID != targets[i].ID || g.Available != w.available || g.Name != w.name || online != w.online {
			t.Errorf("[%d] = %+v (online %d), want %s %s available=%v name=%q online=%d",
				i, g, online, targets[i].Type, targets[i].ID, w.available, w.name, w.online)
		}
	}
	// Agents in one call, each queue or skill in its own: 1 + 3.
	var calls []map[string][]string
	for _, r := range s.sandbox.Requests() {
		var body map[string][]string
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Fatal(err)
		}
		if r.Header.Get("auth") == "" || r.Header.Get("accountid") != koreaisandbox.AccountID {
			t.Error("an availability call without auth or accountid")
		}
		calls = append(calls, body)
	}
	if len(calls) != 4 || len(calls[0]["agentIds"]) != 4 || len(calls[1]["queueIds"]) != 1 || len(calls[3]["skillIds"]) != 1 {
		t.Errorf("calls = %v, want the agents at once, then one call per queue or skill", calls)
	}
}

func TestAvailabilityNeedsTargetIDs(t *testing.T) {
	s := newStack(t, koreaisandbox.Config{NoCallbacks: true})
	_, err := s.adapter.Availability(ctx(t), vendors.AvailabilityRequest{Tenant: tenant, ConversationID: conversation.ID})
	if e := wantCode(t, err, handoff.CodeInvalidRequest); !strings.Contains(e.Message, "Kore.ai") {
		t.Errorf("message %q does not say Kore needs ids", e.Message)
	}
	_, err = s.adapter.Availability(ctx(t), vendors.AvailabilityRequest{Tenant: tenant, Targets: []handoff.Target{{Type: handoff.TargetNext}}})
	wantCode(t, err, handoff.CodeUnsupportedTarget)
	if n := len(s.sandbox.Requests()); n != 0 {
		t.Errorf("%d calls for questions Kore cannot answer", n)
	}
}

func TestAvailabilityReadsTheDocumentedSample(t *testing.T) {
	adapter, _ := fakeKore(t, http.StatusOK, nil, testdata(t, "availability_response.json"))
	got, err := adapter.Availability(ctx(t), vendors.AvailabilityRequest{Tenant: tenant, Targets: []handoff.Target{
		{Type: handoff.TargetAgent, ID: "a-75b2b7b-674c-49d2-ad7a-8bce77c00001"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !got[0].Available || got[0].Name != "jane doe" {
		t.Errorf("= %+v, want jane doe available", got[0])
	}
}

func TestAvailabilityAnswersThatAreNotTheDocumentedOne(t *testing.T) {
	agents := []handoff.Target{{Type: handoff.TargetAgent, ID: koreaisandbox.AgentID}}
	for _, tc := range []struct {
		name   string
		status int
		body   string
		code   handoff.Code
	}{
		{"no bucket", 200, `{"agents":[]}`, handoff.CodeVendorProtocol},
		{"bucket not a list", 200, `{"AVAILABLE":{}}`, handoff.CodeVendorProtocol},
		{"agent without _id", 200, `{"AVAILABLE":[{"firstName":"x"}]}`, handoff.CodeVendorProtocol},
		{"not JSON", 200, `<html/>`, handoff.CodeVendorProtocol},
		{"refused", 400, `{"errors":[{"msg":"bad","code":"BAD_REQUEST"}]}`, handoff.CodeVendorRejected},
		{"credentials", 401, `{}`, handoff.CodeVendorAuthFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			adapter, _ := fakeKore(t, tc.status, nil, tc.body)
			_, err := adapter.Availability(ctx(t), vendors.AvailabilityRequest{Tenant: tenant, Targets: agents})
			wantCode(t, err, tc.code)
		})
	}
}

func TestAvailabilityIsRetriedWhenKoreIsBrieflyDown(t *testing.T) {
	s := newStack(t, koreaisandbox.Config{NoCallbacks: true})
	s.sandbox.InjectAvailability(sandbox.Fault{Kind: sandbox.Unavailable}, 1)
	got, err := s.adapter.Availability(ctx(t), vendors.AvailabilityRequest{Tenant: tenant, Targets: []handoff.Target{agent}})
	if err != nil || !got[0].Available {
		t.Fatalf("= %+v, %v; a read is safe to send again after a 503", got, err)
	}
	if n := len(s.sandbox.Requests()); n != 2 {
		t.Errorf("calls = %d, want 2", n)
	}
}
