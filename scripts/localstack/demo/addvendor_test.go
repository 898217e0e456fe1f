package demo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/all"
	"handoff/core/vendors/rest"
	"handoff/core/vendors/sandboxes"
	"handoff/core/vendors/vendortest"
	"handoff/scripts/loadgen/load"
	"handoff/scripts/localstack/demo"
)

// TestAddingAVendor is docs/adding-a-vendor.md as a test: a vendor (echovendor_test.go: its
// adapter and its sandbox) is registered with one line for the adapter and one for the sandbox,
// and nothing else. The adapter passes the conformance suite through the adapter registry; the
// local stack's sandboxes serve it, seed its demo secret, count its calls; the load generator
// plans transfers to it.
func TestAddingAVendor(t *testing.T) {
	all.Factories[echoKey] = vendors.Adapt(newEcho) // core/vendors/all: the adapter's line
	sandboxes.All[echoKey] = echoSpec               // core/vendors/sandboxes: the sandbox's line
	t.Cleanup(func() { delete(all.Factories, echoKey); delete(sandboxes.All, echoKey) })

	agent := handoff.Target{Type: handoff.TargetAgent, ID: "7"}
	t.Run("conformance", func(t *testing.T) {
		vendortest.Run(t, vendortest.Harness{
			Setup: func(t *testing.T) vendortest.Setup {
				sb := sandboxes.All[echoKey].New(demo.SandboxOptions{})
				srv := httptest.NewServer(sb)
				t.Cleanup(srv.Close)
				logs := &bytes.Buffer{}
				deps := vendors.Deps{
					Secrets: vendortest.NewSecrets("acme", echoKey, sandboxes.All[echoKey].DemoSecret(srv.URL)),
					HTTP:    rest.New(srv.Client(), rest.WithBackoff(5*time.Millisecond)),
					Log:     slog.New(slog.NewTextHandler(logs, nil)), Now: time.Now,
				}
				tr, ok := vendors.NewRegistry(deps, all.Factories).Transferer(echoKey)
				if !ok {
					t.Fatal("the registry has no Echo transferer")
				}
				return vendortest.Setup{Transferer: tr, Sandbox: sb.(vendortest.Sandbox), Logs: logs, Secrets: []string{echoDemoToken}}
			},
			Tenant:       "acme",
			Conversation: handoff.Conversation{ID: "c-1"},
			Targets:      []handoff.Target{agent},
			Unsupported:  []handoff.TargetType{handoff.TargetSkill, handoff.TargetQueue, handoff.TargetNext},
			Errors: []vendortest.ErrorCase{
				{VendorCode: "AGENT_OFFLINE", Want: handoff.CodeTargetUnavailable},
				{VendorCode: "BAD_REQUEST", Want: handoff.CodeVendorRejected},
			},
		})
	})

	t.Run("served, seeded and counted by the local stack", func(t *testing.T) {
		s, err := demo.StartSandboxes()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if !slices.Contains(s.Vendors(), echoKey) || s.URL(echoKey) == "" || s.URLs["SANDBOX_ECHO"] != s.URL(echoKey) {
			t.Fatalf("running sandboxes %v, urls %v: no Echo", s.Vendors(), s.URLs)
		}
		secret := s.DemoSecrets()["demo/echo"]
		var creds echoCredentials
		if err := json.Unmarshal(secret, &creds); err != nil || creds.BaseURL != s.URL(echoKey) {
			t.Fatalf("demo/echo secret %s: want the running sandbox's URL", secret)
		}
		// The adapter, on the seeded secret, reaches the served sandbox; its counters show it.
		deps := vendors.Deps{Secrets: vendortest.NewSecrets("demo", echoKey, secret), HTTP: rest.New(http.DefaultClient)}
		tr, _ := vendors.NewRegistry(deps, all.Factories).Transferer(echoKey)
		if _, err := tr.Transfer(context.Background(), vendors.TransferRequest{Tenant: "demo", Conversation: handoff.Conversation{ID: "c-9"}, Target: agent}); err != nil {
			t.Fatal(err)
		}
		if c := s.Counters()[echoKey]; c.TransferCalls != 1 || c.ByConversation["c-9"] != 1 {
			t.Errorf("Echo counters %+v, want one transfer call for c-9", c)
		}
	})

	t.Run("driven by the load generator", func(t *testing.T) {
		if !slices.Contains(load.Vendors(), echoKey) {
			t.Errorf("load vendors %v: no Echo", load.Vendors())
		}
	})
}
