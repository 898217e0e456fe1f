package e2e_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"handoff/core/handoff"
	"handoff/core/vendors/bitrix24/bitrix24sandbox"
	"handoff/core/vendors/koreai/koreaisandbox"
	"handoff/core/vendors/liveperson/livepersonsandbox"
	"handoff/core/vendors/salesforce/salesforcesandbox"
	"handoff/core/vendors/sandbox"
	"handoff/core/vendors/webhook/webhooksandbox"
)

// What each vendor's sandbox received about one conversation, read from its record of requests.

// bitrixTransfers are the transfer and next-operator calls Bitrix24 received for a chat, as
// their JSON bodies.
func bitrixTransfers(s *bitrix24sandbox.Sandbox, chat string) []map[string]json.RawMessage {
	var out []map[string]json.RawMessage
	for _, r := range s.Requests() {
		if !strings.Contains(r.Path, "imopenlines.bot.session.transfer") && !strings.Contains(r.Path, "imopenlines.bot.session.operator") {
			continue
		}
		var body map[string]json.RawMessage
		if json.Unmarshal(r.Body, &body) == nil && unquote(body["CHAT_ID"]) == chat {
			out = append(out, body)
		}
	}
	return out
}

// unquote reads a JSON number or string as its text.
func unquote(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(bytes.TrimSpace(raw))
}

// livePersonTransfers counts the Transfer a Chat POSTs LivePerson received for a chat.
func livePersonTransfers(s *livepersonsandbox.Sandbox, chat string) int {
	n := 0
	for _, r := range s.Requests() {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/chat/"+chat+"/transfer") {
			n++
		}
	}
	return n
}

// koreAssigns are the assign-conversation bodies Kore.ai received for a bot session.
func koreAssigns(s *koreaisandbox.Sandbox, session string) []map[string]string {
	var out []map[string]string
	for _, r := range s.Requests() {
		if !strings.HasSuffix(r.Path, "/assign-conversation") {
			continue
		}
		var body map[string]string
		if json.Unmarshal(r.Body, &body) == nil && body["botSessionId"] == session {
			out = append(out, body)
		}
	}
	return out
}

// koreDeliveries are the callbacks Kore.ai posted about a bot session.
func koreDeliveries(s *koreaisandbox.Sandbox, session string) []koreaisandbox.Delivery {
	var out []koreaisandbox.Delivery
	for _, d := range s.Deliveries() {
		var body struct {
			SessionID string `json:"sessionId"`
		}
		if json.Unmarshal(d.Body, &body) == nil && body.SessionID == session {
			out = append(out, d)
		}
	}
	return out
}

// salesforceMessage is an ack message the Einstein bot received.
type salesforceMessage struct {
	Type               string `json:"type"`
	SequenceID         int64  `json:"sequenceId"`
	InReplyToMessageID string `json:"inReplyToMessageId"`
	Reason             string `json:"reason"`
}

// salesforceMessages are the messages posted to a bot session.
func salesforceMessages(s *salesforcesandbox.Sandbox, session string) []salesforceMessage {
	var out []salesforceMessage
	for _, r := range s.Requests() {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.Path, "/sessions/"+session+"/messages") {
			continue
		}
		var env struct {
			Message salesforceMessage `json:"message"`
		}
		_ = json.Unmarshal(r.Body, &env)
		out = append(out, env.Message)
	}
	return out
}

// webhookAcks are the acks the webhook bot accepted about a transfer.
func webhookAcks(s *webhooksandbox.Sandbox, id string) []handoff.Transfer {
	var out []handoff.Transfer
	for _, d := range s.Deliveries() {
		if d.Transfer.ID == id {
			out = append(out, d.Transfer)
		}
	}
	return out
}

// requestsTo counts what a sandbox received whose path or body mentions s.
func requestsTo(reqs []sandbox.Request, s string) int {
	n := 0
	for _, r := range reqs {
		if strings.Contains(r.Path, s) || bytes.Contains(r.Body, []byte(s)) {
			n++
		}
	}
	return n
}
