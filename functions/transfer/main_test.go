package main

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"handoff/core/awstest"
	"handoff/core/handler"
	"handoff/core/handoff"
	"handoff/core/vendors/bitrix24/bitrix24sandbox"
	"handoff/core/vendors/koreai/koreaisandbox"
	"handoff/core/vendors/liveperson/livepersonsandbox"
	"handoff/functions/internal/fntest"
	"handoff/scripts/localstack/demo"
)

func TestMain(m *testing.M) { awstest.Main(m) }

func setup(t *testing.T) (*fntest.Env, *handler.Transfer) {
	t.Helper()
	env := fntest.New(t, "TransferFunction")
	h, err := Main(fntest.Ctx(t), env.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	return env, h
}

// invoke sends a raw event as Lambda would and decodes the HTTP answer.
func invoke(t *testing.T, h *handler.Transfer, event json.RawMessage) fntest.Answer {
	t.Helper()
	out, err := h.Invoke(fntest.Ctx(t), event)
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	resp, ok := out.(events.APIGatewayV2HTTPResponse)
	if !ok {
		t.Fatalf("Invoke answered %T, want an HTTP response", out)
	}
	return fntest.Decode(t, resp)
}

func TestSamplesTransferOnEveryVendor(t *testing.T) {
	env, h := setup(t)
	cases := []struct {
		sample string
		status int
		want   handoff.Status
		calls  func() int
	}{
		{"transfer-post-bitrix24.json", 201, handoff.StatusTransferred, demo.SandboxOf[*bitrix24sandbox.Sandbox](env.Sandboxes, "bitrix24").TransferCalls},
		{"transfer-post-liveperson.json", 201, handoff.StatusTransferred, demo.SandboxOf[*livepersonsandbox.Sandbox](env.Sandboxes, "liveperson").TransferCalls},
		// Kore.ai confirms by callback: pending until callback-receiver hears it.
		{"transfer-post-koreai.json", 202, handoff.StatusPending, demo.SandboxOf[*koreaisandbox.Sandbox](env.Sandboxes, "koreai").TransferCalls},
	}
	for _, c := range cases {
		a := invoke(t, h, fntest.Sample(t, c.sample))
		if a.Status != c.status || a.Transfer.Status != c.want {
			t.Fatalf("%s: %d %s, want %d %s: %s", c.sample, a.Status, a.Transfer.Status, c.status, c.want, a.Raw)
		}
		if n := c.calls(); n != 1 {
			t.Errorf("%s: vendor transfer calls = %d, want 1", c.sample, n)
		}
		// GET /transfers/{id} shows the same resource.
		get := fntest.HTTPSample(t, "transfer-get.json")
		get.PathParameters = map[string]string{"id": a.Transfer.ID}
		get.RawPath = "/transfers/" + a.Transfer.ID
		got := invoke(t, h, fntest.Encode(t, get))
		if got.Status != 200 || got.Transfer.ID != a.Transfer.ID || got.Transfer.Status != c.want {
			t.Errorf("GET %s: %d %s", a.Transfer.ID, got.Status, got.Raw)
		}
	}
}

func TestEscalationSampleStartsATransferOnce(t *testing.T) {
	env, h := setup(t)
	for range 2 { // EventBridge delivers at least once: the event id keeps it one transfer
		if out, err := h.Invoke(fntest.Ctx(t), fntest.Sample(t, "escalation-requested.json")); err != nil || out != nil {
			t.Fatalf("Invoke = %v, %v; want nil, nil", out, err)
		}
	}
	// An escalation always goes through the queue: the vendor hears of it when it is drained.
	lp := demo.SandboxOf[*livepersonsandbox.Sandbox](env.Sandboxes, "liveperson")
	if n := lp.TransferCalls(); n != 0 {
		t.Errorf("vendor transfer calls before the queue is drained = %d, want 0", n)
	}
	batch := env.Queued(t)
	if len(batch.Records) != 1 {
		t.Fatalf("queued %d messages, want 1", len(batch.Records))
	}
	for range 2 { // SQS delivers at least once too
		drainBatch(t, h, batch)
	}
	if n := lp.TransferCalls(); n != 1 {
		t.Errorf("vendor transfer calls = %d, want 1", n)
	}
	// created: one item, the transfer with its timeline, which is also its key's record
	if n := env.Items(t); n != 1 {
		t.Errorf("table holds %d items, want the transfer recorded in one", n)
	}
}

func TestEveryTargetRefusingEndsFailed(t *testing.T) {
	env, h := setup(t)
	req := fntest.HTTPSample(t, "transfer-post-bitrix24.json")
	req.Body = `{"tenant":"demo","vendor":"bitrix24","conversation":{"id":"113"},
		"target":{"type":"agent","id":"14"},"fallbacks":[{"type":"queue","id":"2"}],"bot":{"vendor":"webhook"}}`
	req.IsBase64Encoded = false
	a := invoke(t, h, fntest.Encode(t, req))
	if a.Status != 409 || a.Error.Code != handoff.CodeTargetUnavailable {
		t.Fatalf("answer %d %s, want 409 TARGET_UNAVAILABLE", a.Status, a.Raw)
	}
	stored := env.Get(t, a.Transfer.ID)
	if stored.Status != handoff.StatusFailed || len(stored.Attempts) != 2 || stored.Ack.Status != handoff.AckPending {
		t.Errorf("stored %+v, want failed after two attempts with an ack to send", stored)
	}
}

func TestDuplicatesReachTheVendorOnce(t *testing.T) {
	env, h := setup(t)
	req := fntest.HTTPSample(t, "transfer-post-liveperson.json")
	req.Headers["idempotency-key"] = "dup-storm-1"
	event := fntest.Encode(t, req)
	var wg sync.WaitGroup
	answers := make(chan fntest.Answer, 20)
	for range 20 {
		wg.Add(1)
		go func() { defer wg.Done(); answers <- invoke(t, h, event) }()
	}
	wg.Wait()
	close(answers)
	ids := map[string]bool{}
	for a := range answers {
		switch {
		case a.Status == 201:
			ids[a.Transfer.ID] = true
		case a.Status == 409 && a.Error.Code == handoff.CodeInProgress && a.Headers["Retry-After"] != "":
		default:
			t.Errorf("answer %d %s, want 201 or 409 IN_PROGRESS with Retry-After", a.Status, a.Raw)
		}
	}
	if len(ids) != 1 {
		t.Errorf("%d distinct transfers, want 1", len(ids))
	}
	if n := demo.SandboxOf[*livepersonsandbox.Sandbox](env.Sandboxes, "liveperson").TransferCalls(); n != 1 {
		t.Errorf("vendor transfer calls = %d, want 1", n)
	}
	again := invoke(t, h, event)
	if again.Status != 201 || again.Headers["Idempotent-Replayed"] != "true" {
		t.Errorf("replay: %d %v", again.Status, again.Headers)
	}
}

func TestBadInputIsA4xxAndChangesNothing(t *testing.T) {
	env, h := setup(t)
	base := fntest.HTTPSample(t, "transfer-post-koreai.json")
	body := func(s string) json.RawMessage {
		req := base
		req.Body, req.IsBase64Encoded = s, false
		return fntest.Encode(t, req)
	}
	cases := map[string]struct {
		event json.RawMessage
		code  handoff.Code
	}{
		"malformed sample": {fntest.Sample(t, "transfer-post-malformed.json"), handoff.CodeInvalidRequest},
		"wrong type":       {body(`{"tenant": 1}`), handoff.CodeInvalidRequest},
		"missing fields":   {body(`{"tenant": "demo"}`), handoff.CodeInvalidRequest},
		"unknown vendor":   {body(`{"tenant":"demo","vendor":"nope","conversation":{"id":"1"},"target":{"type":"agent","id":"1"}}`), handoff.CodeInvalidRequest},
		"unknown tenant":   {body(`{"tenant":"ghost","vendor":"koreai","conversation":{"id":"653a06c9aae89c5fbb4e0009"},"target":{"type":"agent","id":"a-1"}}`), handoff.CodeUnknownTenant},
		"unsupported":      {body(`{"tenant":"demo","vendor":"koreai","conversation":{"id":"1"},"target":{"type":"skill","id":"1"}}`), handoff.CodeUnsupportedTarget},
		"oversized":        {body(`{"note":"` + strings.Repeat("x", handoff.MaxBodyBytes) + `"}`), handoff.CodeTooLarge},
	}
	before := env.Items(t)
	for name, c := range cases {
		a := invoke(t, h, c.event)
		if a.Status < 400 || a.Status >= 500 || a.Error.Code != c.code {
			t.Errorf("%s: %d %s, want a 4xx %s", name, a.Status, a.Raw, c.code)
		}
	}
	if after := env.Items(t); after != before {
		t.Errorf("table went from %d to %d items on refused input", before, after)
	}
	if n := demo.SandboxOf[*koreaisandbox.Sandbox](env.Sandboxes, "koreai").TransferCalls(); n != 0 {
		t.Errorf("vendor calls = %d on refused input", n)
	}
}

func TestScheduledSweepGivesUpOnASilentVendor(t *testing.T) {
	env := fntest.New(t, "TransferFunction")
	env.Set(t, "CALLBACK_TIMEOUT", "1ns") // the callback is due at once
	h, err := Main(fntest.Ctx(t), env.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	a := invoke(t, h, fntest.Sample(t, "transfer-post-koreai.json"))
	if a.Status != 202 || a.Transfer.AwaitUntil == nil {
		t.Fatalf("Kore.ai transfer: %d %s", a.Status, a.Raw)
	}
	scheduled := []byte(`{"version":"0","id":"sweep-1","detail-type":"Scheduled Event","source":"aws.events",
		"account":"123456789012","time":"2026-11-21T12:00:00Z","region":"us-east-1","resources":[],"detail":{}}`)
	if _, err := h.Invoke(fntest.Ctx(t), scheduled); err != nil {
		t.Fatal(err)
	}
	// The silent agent is given up on and the queue fallback tried; the sandbox refuses it (the
	// session is still the agent's), so the transfer ends failed, for the bot to hear.
	swept := env.Get(t, a.Transfer.ID)
	if swept.Status != handoff.StatusFailed || len(swept.Attempts) != 3 || swept.Attempts[1].VendorCode != "NO_CALLBACK" ||
		swept.Attempts[2].Target.Type != handoff.TargetQueue || swept.Ack.Status != handoff.AckPending {
		t.Errorf("after the sweep: %+v", swept)
	}
}

// TestReadsOnlyDeclaredVariables: Main reads no variable its resource in template.yaml does not
// declare, and accepts the ones it does.
func TestReadsOnlyDeclaredVariables(t *testing.T) {
	fntest.CheckConfig(t, "TransferFunction", func(getenv func(string) string) error {
		_, err := Main(fntest.Ctx(t), getenv)
		return err
	})
}

// drain hands what waits in the transfer queue to the function, as Lambda's event source does,
// and fails the test if the function returns any of it.
func drain(t *testing.T, env *fntest.Env, h *handler.Transfer) {
	t.Helper()
	if batch := env.Queued(t); len(batch.Records) > 0 {
		drainBatch(t, h, batch)
	}
}

func drainBatch(t *testing.T, h *handler.Transfer, batch events.SQSEvent) {
	t.Helper()
	out, err := h.Invoke(fntest.Ctx(t), fntest.Encode(t, batch))
	if resp, ok := out.(events.SQSEventResponse); err != nil || !ok || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("drain = %+v, %v; want no failures", out, err)
	}
}
