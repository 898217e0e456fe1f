package main

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"handoff/core/awstest"
	"handoff/core/handoff"
	"handoff/core/vendors/salesforce/salesforcesandbox"
	"handoff/core/vendors/webhook/webhooksandbox"
	"handoff/functions/internal/fntest"
	"handoff/scripts/localstack/demo"
)

func TestMain(m *testing.M) { awstest.Main(m) }

func setup(t *testing.T) (*fntest.Env, *BotAck) {
	t.Helper()
	env := fntest.New(t, "BotAckFunction")
	h, err := Main(fntest.Ctx(t), env.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	return env, h
}

// streamOf is the sample stream batch, its records pointed at the given transfers.
func streamOf(t *testing.T, ids ...string) events.DynamoDBEvent {
	t.Helper()
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(fntest.Sample(t, "stream-transfer-final.json"), &ev); err != nil {
		t.Fatal(err)
	}
	ev.Records = ev.Records[:len(ids)]
	for i, id := range ids {
		key := events.NewStringAttribute("TRANSFER#" + id)
		ev.Records[i].Change.Keys["pk"] = key
		ev.Records[i].Change.NewImage["pk"] = key
	}
	return ev
}

// start runs a transfer through the transfer function and returns what it recorded.
func start(t *testing.T, env *fntest.Env, event json.RawMessage) handoff.Transfer {
	t.Helper()
	out, err := env.TransferHandler(t).Invoke(fntest.Ctx(t), event)
	if err != nil {
		t.Fatal(err)
	}
	return fntest.Decode(t, out.(events.APIGatewayV2HTTPResponse)).Transfer
}

func published(env *fntest.Env, detailType, id string) int {
	env.Bus.Wait()
	n := 0
	for _, e := range env.Bus.Events() {
		var tr handoff.Transfer
		if e.DetailType == detailType && e.Source == "handoff" && json.Unmarshal(e.Detail, &tr) == nil && tr.ID == id {
			n++
		}
	}
	return n
}

func TestTransferredOutcomeIsAckedToSalesforceOnce(t *testing.T) {
	env, h := setup(t)
	req := fntest.HTTPSample(t, "transfer-post-liveperson.json")
	req.Body = `{"tenant":"demo","vendor":"liveperson","conversation":{"id":"H6201348270"},
		"target":{"type":"skill","id":"2"},"bot":{"vendor":"salesforce",
		"sessionId":"5f0b7a6c-3e1d-4c2b-9a8f-7e6d5c4b3a23","escalationMessageId":"a0a1b2c3-d4e5-4f60-8a1b-2c3d4e5f6a7b"}}`
	tr := start(t, env, fntest.Encode(t, req))
	if tr.Status != handoff.StatusTransferred {
		t.Fatalf("transfer %+v", tr)
	}
	for range 2 { // the stream delivers at least once
		resp, err := h.Batch(fntest.Ctx(t), streamOf(t, tr.ID))
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("Batch = %+v, %v", resp, err)
		}
	}
	if n := demo.SandboxOf[*salesforcesandbox.Sandbox](env.Sandboxes, "salesforce").AckCalls(); n != 1 {
		t.Errorf("Salesforce acks = %d, want 1", n)
	}
	var msg struct {
		Message struct {
			Type       string `json:"type"`
			SequenceID int64  `json:"sequenceId"`
		} `json:"message"`
	}
	for _, r := range demo.SandboxOf[*salesforcesandbox.Sandbox](env.Sandboxes, "salesforce").Requests() {
		if r.Method == "POST" && json.Unmarshal(r.Body, &msg) == nil && msg.Message.Type != "" {
			break
		}
	}
	acked := env.Get(t, tr.ID)
	if msg.Message.Type != "transferSucceeded" || msg.Message.SequenceID != acked.Ack.SequenceID {
		t.Errorf("Salesforce got %+v, want transferSucceeded with sequence %d", msg.Message, acked.Ack.SequenceID)
	}
	if acked.Ack.Status != handoff.AckSent || acked.NotifiedAt == nil {
		t.Errorf("ack %+v notified %v", acked.Ack, acked.NotifiedAt)
	}
	if n := published(env, "Transfer Succeeded", tr.ID); n != 1 {
		t.Errorf("Transfer Succeeded published %d times, want 1", n)
	}
}

func TestFailedOutcomeIsAckedByWebhookAndPublished(t *testing.T) {
	env, h := setup(t)
	req := fntest.HTTPSample(t, "transfer-post-bitrix24.json")
	req.Body = `{"tenant":"demo","vendor":"bitrix24","conversation":{"id":"114"},
		"target":{"type":"agent","id":"14"},"fallbacks":[{"type":"queue","id":"2"}],"bot":{"vendor":"webhook"}}`
	req.IsBase64Encoded = false
	tr := start(t, env, fntest.Encode(t, req))
	if tr.Status != handoff.StatusFailed {
		t.Fatalf("transfer %+v", tr)
	}
	resp, err := h.Batch(fntest.Ctx(t), streamOf(t, tr.ID))
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Batch = %+v, %v", resp, err)
	}
	deliveries := demo.SandboxOf[*webhooksandbox.Sandbox](env.Sandboxes, "webhook").Deliveries()
	if len(deliveries) != 1 || deliveries[0].Transfer.ID != tr.ID || deliveries[0].Transfer.Status != handoff.StatusFailed {
		t.Fatalf("webhook deliveries %+v, want one failed transfer", deliveries)
	}
	if n := published(env, "Transfer Failed", tr.ID); n != 1 {
		t.Errorf("Transfer Failed published %d times, want 1", n)
	}
}

func TestAnUnknownTransferInTheStreamIsSkipped(t *testing.T) {
	env, h := setup(t)
	resp, err := h.Batch(fntest.Ctx(t), streamOf(t, "00000000000000000000000000"))
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Batch = %+v, %v: a record of a transfer that is gone cannot be retried into existence", resp, err)
	}
	if demo.SandboxOf[*salesforcesandbox.Sandbox](env.Sandboxes, "salesforce").AckCalls()+demo.SandboxOf[*webhooksandbox.Sandbox](env.Sandboxes, "webhook").AckCalls() != 0 {
		t.Error("an ack was sent for a transfer that does not exist")
	}
}

// TestReadsOnlyDeclaredVariables: Main reads no variable its resource in template.yaml does not
// declare, and accepts the ones it does.
func TestReadsOnlyDeclaredVariables(t *testing.T) {
	fntest.CheckConfig(t, "BotAckFunction", func(getenv func(string) string) error {
		_, err := Main(fntest.Ctx(t), getenv)
		return err
	})
}

func TestHandleTellsTheScheduleFromTheStream(t *testing.T) {
	env, h := setup(t)
	req := fntest.HTTPSample(t, "transfer-post-bitrix24.json")
	req.Body = `{"tenant":"demo","vendor":"bitrix24","conversation":{"id":"114"},
		"target":{"type":"agent","id":"14"},"fallbacks":[{"type":"queue","id":"2"}],"bot":{"vendor":"webhook"}}`
	req.IsBase64Encoded = false
	tr := start(t, env, fntest.Encode(t, req))
	tick := json.RawMessage(`{"version":"0","id":"x","detail-type":"Scheduled Event","source":"aws.events","detail":{}}`)
	// The schedule re-sends only acks left pending for a while: this one is fresh.
	if out, err := h.Handle(fntest.Ctx(t), tick); out != nil || err != nil {
		t.Fatalf("tick = %v, %v; want nil, nil", out, err)
	}
	if n := demo.SandboxOf[*webhooksandbox.Sandbox](env.Sandboxes, "webhook").AckCalls(); n != 0 {
		t.Fatalf("a fresh ack was re-sent by the scan (%d)", n)
	}
	batch, _ := json.Marshal(streamOf(t, tr.ID))
	out, err := h.Handle(fntest.Ctx(t), batch)
	if resp, ok := out.(events.DynamoDBEventResponse); err != nil || !ok || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("stream batch = %+v, %v", out, err)
	}
	if n := demo.SandboxOf[*webhooksandbox.Sandbox](env.Sandboxes, "webhook").AckCalls(); n != 1 {
		t.Errorf("webhook acks = %d, want 1", n)
	}
}
