package main

import (
	"encoding/json"
	"testing"

	"handoff/core/awstest"
	"handoff/core/handoff"
	"handoff/core/vendors/liveperson/livepersonsandbox"
	"handoff/functions/internal/fntest"
	"handoff/scripts/localstack/demo"
)

func TestMain(m *testing.M) { awstest.Main(m) }

func TestAvailabilitySample(t *testing.T) {
	env := fntest.New(t, "SkillCheckFunction")
	h, err := Main(fntest.Ctx(t), env.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	req := fntest.HTTPSample(t, "availability-get.json")
	for range 3 { // answered from the container's cache after the first
		resp, err := h.HTTP(fntest.Ctx(t), req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("availability: %v %d %s", err, resp.StatusCode, resp.Body)
		}
		var body struct{ Targets []handoff.Availability }
		if err := json.Unmarshal([]byte(resp.Body), &body); err != nil || len(body.Targets) == 0 {
			t.Fatalf("availability body %s", resp.Body)
		}
		for _, target := range body.Targets {
			if target.Type != handoff.TargetSkill || target.ID == "" {
				t.Errorf("target %+v", target)
			}
		}
	}
	skillCalls := 0
	for _, r := range demo.SandboxOf[*livepersonsandbox.Sandbox](env.Sandboxes, "liveperson").Requests() {
		if r.Method == "GET" && len(r.Path) > 9 && r.Path[len(r.Path)-9:] == "/transfer" {
			skillCalls++
		}
	}
	if skillCalls != 1 {
		t.Errorf("Retrieve Available Skills calls = %d, want 1 (then the cache)", skillCalls)
	}

	bad := req
	bad.RawQueryString = "tenant=demo&vendor=liveperson&conversationId=..%2Fx"
	resp, _ := h.HTTP(fntest.Ctx(t), bad)
	if resp.StatusCode != 400 {
		t.Errorf("traversal in conversationId: %d %s", resp.StatusCode, resp.Body)
	}
	bad.RawQueryString = "tenant=ghost&vendor=liveperson&conversationId=c1"
	if resp, _ := h.HTTP(fntest.Ctx(t), bad); resp.StatusCode != 404 {
		t.Errorf("unknown tenant: %d %s", resp.StatusCode, resp.Body)
	}
}

// TestReadsOnlyDeclaredVariables: Main reads no variable its resource in template.yaml does not
// declare, and accepts the ones it does.
func TestReadsOnlyDeclaredVariables(t *testing.T) {
	fntest.CheckConfig(t, "SkillCheckFunction", func(getenv func(string) string) error {
		_, err := Main(fntest.Ctx(t), getenv)
		return err
	})
}
