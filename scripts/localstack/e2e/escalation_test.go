package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"handoff/core/handoff"
	"handoff/core/vendors/bitrix24/bitrix24sandbox"
	"handoff/core/vendors/liveperson/livepersonsandbox"
	"handoff/core/vendors/salesforce/salesforcesandbox"
	"handoff/core/vendors/webhook/webhooksandbox"
	"handoff/scripts/localstack/demo"
	"handoff/scripts/localstack/eventbus"
	"handoff/scripts/localstack/template"
)

// An Escalation Requested event starts a transfer (its event id the idempotency key), which
// reaches its outcome, is acked and published, as one posted to POST /transfers would.
func testEscalation(t *testing.T, e *env) {
	s := e.stack(t)
	t.Run("posted to /_local/events, acked to Salesforce", func(t *testing.T) {
		chat, bot := "H6201348401", salesforcesandbox.DemoSessionIDs[3]
		detail := fmt.Sprintf(`{"tenant":"demo","vendor":"liveperson","conversation":{"id":%q},
			"target":{"type":"skill","id":%q},"note":"Escalated by the bot after two failed intents.",
			"bot":{"vendor":"salesforce","sessionId":%q,"escalationMessageId":%q}}`,
			chat, livepersonsandbox.SkillSupportID, bot, salesforcesandbox.DemoEscalationMessageID)
		entries := mustJSON(t, map[string]any{"Entries": []eventbus.Entry{{
			Source: "com.example.chatbot", DetailType: "Escalation Requested", Detail: compact(t, detail),
			EventBusName: escalationBus(t, e.tmpl),
		}}})
		a := call(t, http.MethodPost, s.URL+"/_local/events", nil, string(entries))
		var put struct {
			FailedEntryCount int
			Entries          []eventbus.Result
		}
		a.decode(t, &put)
		if a.status != http.StatusOK || put.FailedEntryCount != 0 || len(put.Entries) != 1 || put.Entries[0].EventID == "" {
			t.Fatalf("POST /_local/events = %s", a)
		}
		tr := awaitEscalation(t, s.URL, put.Entries[0].EventID, chat, handoff.StatusTransferred, handoff.AckSent)
		if n, to := livePersonTransfers(demo.SandboxOf[*livepersonsandbox.Sandbox](s.Sandboxes, "liveperson"), chat), demo.SandboxOf[*livepersonsandbox.Sandbox](s.Sandboxes, "liveperson").TransferredTo(chat); n != 1 || to != "skill:"+livepersonsandbox.SkillSupportID {
			t.Errorf("LivePerson received %d transfers of %s and moved it to %q, want 1 to skill %s", n, chat, to, livepersonsandbox.SkillSupportID)
		}
		if msgs := salesforceMessages(demo.SandboxOf[*salesforcesandbox.Sandbox](s.Sandboxes, "salesforce"), bot); len(msgs) != 1 || msgs[0].Type != "transferSucceeded" || msgs[0].SequenceID != tr.Ack.SequenceID {
			t.Errorf("the bot session received %+v, want one transferSucceeded with sequenceId %d", msgs, tr.Ack.SequenceID)
		}

		// The event id was the idempotency key: the same request under that key is a replay.
		replay := postTransfer(t, s.URL, put.Entries[0].EventID, detail)
		if got := wantTransfer(t, replay, http.StatusCreated); got.ID != tr.ID || replay.header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("POST with the event id as key = %s, want a replay of %s", replay, tr.ID)
		}
		if n := livePersonTransfers(demo.SandboxOf[*livepersonsandbox.Sandbox](s.Sandboxes, "liveperson"), chat); n != 1 {
			t.Errorf("LivePerson received %d transfers of %s after the replay, want 1", n, chat)
		}
	})
	t.Run("put with the SDK, acked by webhook", func(t *testing.T) {
		chat := "115"
		before := len(bitrixTransfers(demo.SandboxOf[*bitrix24sandbox.Sandbox](s.Sandboxes, "bitrix24"), chat))
		detail := fmt.Sprintf(`{"tenant":"demo","vendor":"bitrix24","conversation":{"id":%q},
			"target":{"type":"queue","id":%q},"bot":{"vendor":"webhook"}}`, chat, bitrix24sandbox.LineID)
		eb := eventbridge.NewFromConfig(e.aws.Config, func(o *eventbridge.Options) { o.BaseEndpoint = aws.String(s.EventBridgeURL) })
		out, err := eb.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
			Source: aws.String("com.example.chatbot"), DetailType: aws.String("Escalation Requested"), Detail: aws.String(compact(t, detail)),
			EventBusName: aws.String(escalationBus(t, e.tmpl)),
		}}})
		if err != nil || out.FailedEntryCount != 0 || len(out.Entries) != 1 || aws.ToString(out.Entries[0].EventId) == "" {
			t.Fatalf("PutEvents = %+v, %v", out, err)
		}
		tr := awaitEscalation(t, s.URL, aws.ToString(out.Entries[0].EventId), chat, handoff.StatusTransferred, handoff.AckSent)
		if calls := bitrixTransfers(demo.SandboxOf[*bitrix24sandbox.Sandbox](s.Sandboxes, "bitrix24"), chat)[before:]; len(calls) != 1 || unquote(calls[0]["QUEUE_ID"]) != bitrix24sandbox.LineID {
			t.Errorf("Bitrix24 received %v for chat %s, want one transfer to line %s", calls, chat, bitrix24sandbox.LineID)
		}
		if acks := webhookAcks(demo.SandboxOf[*webhooksandbox.Sandbox](s.Sandboxes, "webhook"), tr.ID); len(acks) != 1 || acks[0].Status != handoff.StatusTransferred {
			t.Errorf("the webhook bot accepted %+v, want one ack of the transfer", acks)
		}
	})
}

// escalationBus is the bus the template's escalation rule listens on: Handoff's own.
func escalationBus(t *testing.T, tmpl *template.Template) string {
	t.Helper()
	for _, f := range tmpl.Functions {
		for _, r := range f.Rules {
			if r.Event == "EscalationRequested" {
				return r.EventBusName
			}
		}
	}
	t.Fatal("the template has no EscalationRequested rule")
	return ""
}

// awaitEscalation waits for the event's delivery to the transfer function, finds the transfer
// it started through the outcome published about the conversation, waits for the transfer's
// final state and ack, and returns it.
func awaitEscalation(t *testing.T, base, eventID, conversation string, status handoff.Status, ack handoff.AckStatus) handoff.Transfer {
	t.Helper()
	eventually(t, "delivered to the transfer function", func() (bool, string) {
		for _, e := range events(t, base) {
			if e.ID == eventID {
				return len(e.Deliveries) == 1 && e.Deliveries[0].Status == "delivered" && e.Deliveries[0].Attempts == 1, fmt.Sprintf("%+v", e.Deliveries)
			}
		}
		return false, "no such event"
	})
	detailType := "Transfer Succeeded"
	if status == handoff.StatusFailed {
		detailType = "Transfer Failed"
	}
	var id string
	eventually(t, "published as "+detailType, func() (bool, string) {
		var found []string
		for _, e := range events(t, base) {
			var tr handoff.Transfer
			if e.DetailType == detailType && json.Unmarshal(e.Detail, &tr) == nil && tr.Conversation.ID == conversation {
				found = append(found, tr.ID)
			}
		}
		if len(found) > 1 {
			t.Fatalf("%d %s events about conversation %s (transfers %v), want 1", len(found), detailType, conversation, found)
		}
		if len(found) == 1 {
			id = found[0]
		}
		return id != "", "nothing about " + conversation
	})
	tr := awaitTransfer(t, base, id, "final and acked", final(status, ack))
	awaitPublished(t, base, detailType, tr)
	return tr
}

// compact is a JSON text on one line, as an event's Detail.
func compact(t *testing.T, text string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		t.Fatalf("%v: %s", err, text)
	}
	return string(mustJSON(t, v))
}
