package e2e_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"handoff/core/awstest"
	"handoff/core/testkit"
	"handoff/core/vendors/koreai/koreaisandbox"
	"handoff/core/vendors/liveperson/livepersonsandbox"
	"handoff/scripts/localstack/demo"
	"handoff/scripts/localstack/stack"
	"handoff/scripts/localstack/template"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// root is the repository root, where template.yaml and infra/ are.
const root = "../../.."

// TestEndToEnd runs every end-to-end case against one stack, started as `make run` starts it
// with HANDOFF_LOCAL_SECRETS naming a copy of infra/local-secrets.json that adds the tenant
// "acme", whose LivePerson and Kore.ai live on servers of their own. The cases share the stack,
// as users share a deployment: each uses conversations and keys of its own and waits for its
// transfers' outcomes, so none depends on another's state. They run in order, and each can run
// alone (-run TestEndToEnd/Name); RouteAddedToTheTemplate, which closes the shared stack, is
// last. Nothing may end in the dead letters but what a case expects there.
func TestEndToEnd(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		name string
		run  func(*testing.T, *env)
	}{
		{"Availability", testAvailability},
		{"TransferPerVendor", testTransferPerVendor},
		{"KoreAICallback", testKoreAICallback},
		{"SalesforceAck", testSalesforceAck},
		{"FailingChain", testFailingChain},
		{"Escalation", testEscalation},
		{"DuplicateStorm", testDuplicateStorm},
		{"Queue", testQueue},
		{"HostileHTTP", testHostileHTTP},
		{"OtherTenant", testOtherTenant},
		{"TenantAccess", testTenantAccess},
		{"EscalationNotAllowed", testEscalationNotAllowed},
		{"Handoffctl", testHandoffctl},
		{"RouteAddedToTheTemplate", testRouteAddedToTheTemplate},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, e) })
	}
	casesFailed := t.Failed()
	t.Run("Permissions", func(t *testing.T) { e.rec.check(t, casesFailed) })
	if unexpected := e.unexpectedDeadLetters(); unexpected != "" {
		t.Errorf("dead letters (events or stream records never delivered):\n%s", unexpected)
	}
}

// env is what the cases share: moto, the built functions, the shared stack (started on first
// use) and the acme tenant's servers.
type env struct {
	aws      *awstest.Env
	tmpl     *template.Template
	binaries map[string]string
	// acme's servers: a second LivePerson and a second Kore.ai, each a default sandbox.
	acmeLivePerson *livepersonsandbox.Sandbox
	acmeKoreAI     *koreaisandbox.Sandbox
	// pacerKoreAI is the pacer tenant's Kore.ai (queue_test.go): it never calls back, so a
	// transfer to it stays pending until it is cancelled.
	pacerKoreAI *koreaisandbox.Sandbox
	secretsFile string // infra/local-secrets.json plus acme

	running     *demo.Stack
	output      *testkit.Buffer // the functions' output
	deadLetters *testkit.Buffer
	rec         *recording // every AWS call the functions make (permissions_test.go)
	// expected are the ids of events a case dead-letters on purpose.
	expected []string
}

// expectDeadLetter marks the event id as one that must end in the dead letters.
func (e *env) expectDeadLetter(id string) { e.expected = append(e.expected, id) }

// unexpectedDeadLetters are the dead letters' lines that name no expected event.
func (e *env) unexpectedDeadLetters() string {
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(e.deadLetters.String()), "\n") {
		if line == "" || slices.ContainsFunc(e.expected, func(id string) bool { return strings.Contains(line, `"id":"`+id+`"`) }) {
			continue
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{aws: awstest.New(t), output: &testkit.Buffer{}, deadLetters: &testkit.Buffer{}}
	tmpl, err := template.Load(filepath.Join(root, "template.yaml"), template.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e.tmpl = tmpl
	for _, w := range tmpl.Warnings {
		t.Errorf("the local stack does not run all of template.yaml: %s", w)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	// Built once for every case, into this test's temporary directory.
	if e.binaries, err = stack.Build(ctx, tmpl, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	t.Logf("built the functions in %s", time.Since(start).Round(time.Millisecond))
	e.startAcme(t)
	e.rec = startRecording(t, e.aws.URL)
	t.Cleanup(func() {
		if e.running != nil {
			e.running.Close()
		}
		if t.Failed() {
			t.Logf("function output (last 200 lines):\n%s", tail(e.output, 200))
		}
	})
	return e
}

// startAcme serves acme's vendors and writes the secrets file: the demo tenants of
// infra/local-secrets.json, and acme pointing at its own servers (with a callback secret of
// its own for Kore.ai).
func (e *env) startAcme(t *testing.T) {
	t.Helper()
	e.acmeLivePerson = livepersonsandbox.New(livepersonsandbox.Config{})
	e.acmeKoreAI = koreaisandbox.New(koreaisandbox.Config{})
	e.pacerKoreAI = koreaisandbox.New(koreaisandbox.Config{NoCallbacks: true})
	lp, kore, pacerKore := httptest.NewServer(e.acmeLivePerson), httptest.NewServer(e.acmeKoreAI), httptest.NewServer(e.pacerKoreAI)
	t.Cleanup(func() { e.acmeKoreAI.Close(); e.pacerKoreAI.Close(); pacerKore.Close(); kore.Close(); lp.Close() })

	data, err := os.ReadFile(filepath.Join(root, "infra", "local-secrets.json"))
	if err != nil {
		t.Fatal(err)
	}
	var secrets map[string]json.RawMessage
	if err := json.Unmarshal(data, &secrets); err != nil {
		t.Fatal(err)
	}
	var koreSecret map[string]any
	if err := json.Unmarshal(koreaisandbox.DemoSecret(kore.URL), &koreSecret); err != nil {
		t.Fatal(err)
	}
	koreSecret["callbackSecret"] = acmeCallbackSecret
	secrets["acme/liveperson"] = livepersonsandbox.DemoSecret(lp.URL)
	// pacer: a Kore.ai that never calls back, under a rate of its own (vendorRates), and the
	// demo tenant's webhook bot.
	secrets["pacer/koreai"], secrets["pacer/webhook"] = koreaisandbox.DemoSecret(pacerKore.URL), secrets["demo/webhook"]
	secrets["acme/koreai"] = mustJSON(t, koreSecret)
	e.secretsFile = filepath.Join(t.TempDir(), "secrets.json")
	if err := os.WriteFile(e.secretsFile, mustJSON(t, secrets), 0o600); err != nil {
		t.Fatal(err)
	}
}

// vendorRates are the stack's VendorRates: the demo tenant's vendors fast enough that the
// cases sending it several transfers at once are never queued, acme's LivePerson slower than the
// queue case's small storm (queue_test.go), and the pacer tenant's Kore.ai at one call an hour,
// so its second transfer stays queued until it is cancelled.
const vendorRates = "demo/koreai=50/s:50, demo/bitrix24=50/s:50, demo/liveperson=50/s:50, acme/liveperson=2/s, pacer/koreai=1/h"

// acmeCallbackSecret signs acme's Kore.ai callback URLs: not the demo tenant's.
const acmeCallbackSecret = "acme-callback-secret-0f3c9e2a7b41d865"

// stack returns the shared stack, starting it on first use.
func (e *env) stack(t *testing.T) *demo.Stack {
	t.Helper()
	if e.running == nil {
		e.running = e.start(t, e.tmpl)
	}
	return e.running
}

// start runs the template as `make run` does (demo.Start), with HANDOFF_LOCAL_SECRETS set to
// the env's secrets file and the gateway on a free port.
func (e *env) start(t *testing.T, tmpl *template.Template) *demo.Stack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := demo.Start(ctx, demo.Config{
		Template: tmpl, Binaries: e.binaries, AWS: e.aws.Config, AWSEndpoint: e.rec.gate.URL, Endpoints: e.rec.env(),
		Addr: "127.0.0.1:0", SecretsFile: e.secretsFile, Parameters: map[string]string{"VendorRates": vendorRates},
		DeadLetters: e.deadLetters, Output: e.output, Log: slog.New(slog.NewTextHandler(e.output, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatalf("starting the stack: %v\nfunction output:\n%s", err, tail(e.output, 50))
	}
	e.rec.follow(s)
	return s
}

// stopShared closes the shared stack, for a case that runs a stack of its own on the same moto
// (two stacks would both deliver the table's stream).
func (e *env) stopShared() {
	if e.running != nil {
		e.running.Close()
		e.running = nil
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tail is the last n lines of what b holds.
func tail(b *testkit.Buffer, n int) string {
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
