package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"handoff/core/handler"
	"handoff/core/handoff"
	"handoff/core/store"
	"handoff/core/vendors/koreai/koreaisandbox"
	"handoff/functions/internal/fntest"
	"handoff/scripts/localstack/demo"
)

// koreEscalation is the sample escalation, sent to Kore.ai instead.
func koreEscalation(t *testing.T, source string) json.RawMessage {
	t.Helper()
	var ev events.EventBridgeEvent
	if err := json.Unmarshal(fntest.Sample(t, "escalation-requested.json"), &ev); err != nil {
		t.Fatal(err)
	}
	ev.Source = source
	ev.Detail = json.RawMessage(`{"tenant":"demo","vendor":"koreai","conversation":{"id":"653a06c9aae89c5fbb4e0701"},
		"target":{"type":"agent","id":"a-220172c-856e-4db6-a2d1-d4c2dabe0001"},"bot":{"vendor":"webhook"}}`)
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestKoreAIEscalationWithoutCallbackBaseIsRecordedFailed: with the template's default (no
// CallbackBaseUrl), a Kore.ai escalation is not dropped: the transfer is recorded failed with
// CONFIGURATION, caller and ack pending, for bot-ack to tell the bot and publish Transfer Failed.
func TestKoreAIEscalationWithoutCallbackBaseIsRecordedFailed(t *testing.T) {
	env := fntest.New(t, "TransferFunction")
	env.Set(t, "CALLBACK_BASE_URL", "")
	h, err := Main(fntest.Ctx(t), env.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := h.Invoke(fntest.Ctx(t), koreEscalation(t, "com.example.chatbot")); err != nil || out != nil {
		t.Fatalf("Invoke = %v, %v; want the failure recorded, not an error", out, err)
	}
	drain(t, env, h)
	tr := onlyTransfer(t, env)
	if tr.Status != handoff.StatusFailed || tr.Error == nil || tr.Error.Code != handoff.CodeConfiguration ||
		tr.Ack.Status != handoff.AckPending || tr.Caller != "event:com.example.chatbot@123456789012" {
		t.Fatalf("recorded %+v, want failed with CONFIGURATION, the ack pending and the event's caller", tr)
	}
	if n := len(demo.SandboxOf[*koreaisandbox.Sandbox](env.Sandboxes, "koreai").Requests()); n != 0 {
		t.Errorf("Kore.ai received %d requests", n)
	}
}

// TestEscalationFromAnUnlistedSourceIsDeadLettered: the demo tenant lists com.example.chatbot;
// another source is dead-lettered with the reason, and nothing is written or sent.
func TestEscalationFromAnUnlistedSourceIsDeadLettered(t *testing.T) {
	env, h := setup(t)
	before := env.Items(t)
	_, err := h.Invoke(fntest.Ctx(t), koreEscalation(t, "com.evil.chatbot"))
	if !handler.IsDeadLetter(err) || !strings.Contains(err.Error(), `source "com.evil.chatbot" from account "123456789012" may not escalate for tenant demo`) {
		t.Fatalf("Invoke error = %v, want a dead letter naming the source", err)
	}
	if after := env.Items(t); after != before {
		t.Errorf("table went from %d to %d items", before, after)
	}
	if n := len(demo.SandboxOf[*koreaisandbox.Sandbox](env.Sandboxes, "koreai").Requests()); n != 0 {
		t.Errorf("Kore.ai received %d requests", n)
	}
}

// onlyTransfer reads the one transfer in the table.
func onlyTransfer(t *testing.T, env *fntest.Env) handoff.Transfer {
	t.Helper()
	out, err := env.DB.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(env.Table()),
		FilterExpression: aws.String("kind = :k"), ExpressionAttributeValues: map[string]types.AttributeValue{
			":k": &types.AttributeValueMemberS{Value: "transfer"}}})
	if err != nil || len(out.Items) != 1 {
		t.Fatalf("scan: %d transfers, %v; want 1", len(out.Items), err)
	}
	tr, err := env.Store.Get(context.Background(), out.Items[0][store.AttrTransferID].(*types.AttributeValueMemberS).Value)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}
