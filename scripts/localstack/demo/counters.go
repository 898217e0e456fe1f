package demo

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"handoff/core/vendors/sandbox"
)

// CountersPath is where the local gateway serves the sandboxes' counters (GET).
const CountersPath = "/_local/sandboxes"

// Counters are what the sandboxes received so far, as each counts it: what a load test compares
// with the transfers it made. They only grow while the stack runs; compare two readings.
type Counters struct {
	Bitrix24   VendorCounters `json:"bitrix24"`
	LivePerson VendorCounters `json:"liveperson"`
	KoreAI     VendorCounters `json:"koreai"`
	Salesforce AckCounters    `json:"salesforce"`
	Webhook    AckCounters    `json:"webhook"`
}

// VendorCounters count one transfer vendor's requests.
type VendorCounters struct {
	Requests int `json:"requests"` // every request, logins and availability included
	// TransferCalls are the requests that asked for a transfer, refused ones included: Bitrix24's
	// imopenlines.bot.session.transfer and .operator, LivePerson's Transfer a Chat POST, Kore.ai's
	// assign-conversation.
	TransferCalls int `json:"transferCalls"`
	// ByConversation splits TransferCalls by the conversation they named: the Bitrix24 chat id,
	// the LivePerson chat id, the Kore.ai botSessionId.
	ByConversation map[string]int `json:"byConversation"`
	// Callbacks are the outcomes Kore.ai posted to Handoff, and how many of them were not
	// answered 2xx.
	Callbacks       int `json:"callbacks,omitempty"`
	CallbacksFailed int `json:"callbacksFailed,omitempty"`
}

// AckCounters count one bot's acks.
type AckCounters struct {
	Requests int `json:"requests"`
	AckCalls int `json:"ackCalls"` // the POSTs that delivered an ack, repeats included
	// Acks are the acks accepted, one per webhook-id, by transfer id (webhook bots only).
	Acks       int            `json:"acks"`
	ByTransfer map[string]int `json:"byTransfer,omitempty"`
}

// Counters reads every sandbox's record.
func (s *Sandboxes) Counters() Counters {
	c := Counters{
		Bitrix24: count(s.Bitrix24.Requests(), func(r sandbox.Request) (string, bool) {
			if !strings.HasSuffix(strings.TrimSuffix(r.Path, ".json"), "imopenlines.bot.session.transfer") &&
				!strings.HasSuffix(strings.TrimSuffix(r.Path, ".json"), "imopenlines.bot.session.operator") {
				return "", false
			}
			return jsonField(r.Body, "CHAT_ID"), true
		}),
		LivePerson: count(s.LivePerson.Requests(), func(r sandbox.Request) (string, bool) {
			if r.Method != http.MethodPost || !strings.HasSuffix(r.Path, "/transfer") {
				return "", false
			}
			parts := strings.Split(r.Path, "/")
			return parts[len(parts)-2], true // …/chat/{chat}/transfer
		}),
		KoreAI: count(s.KoreAI.Requests(), func(r sandbox.Request) (string, bool) {
			if !strings.HasSuffix(r.Path, "/assign-conversation") {
				return "", false
			}
			return jsonField(r.Body, "botSessionId"), true
		}),
		Salesforce: AckCounters{Requests: len(s.Salesforce.Requests()), AckCalls: s.Salesforce.AckCalls()},
		Webhook:    AckCounters{Requests: len(s.Webhook.Requests()), AckCalls: s.Webhook.AckCalls(), ByTransfer: map[string]int{}},
	}
	for _, d := range s.KoreAI.Deliveries() {
		c.KoreAI.Callbacks++
		if d.Status < 200 || d.Status > 299 {
			c.KoreAI.CallbacksFailed++
		}
	}
	for _, d := range s.Webhook.Deliveries() {
		c.Webhook.Acks++
		c.Webhook.ByTransfer[d.Transfer.ID]++
	}
	return c
}

// CountersHandler answers GET with Counters as JSON.
func (s *Sandboxes) CountersHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			sandbox.WriteJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "GET only"})
			return
		}
		sandbox.WriteJSON(w, http.StatusOK, s.Counters())
	})
}

// count counts requests, and those that conversation recognises as transfer calls by the
// conversation it reads from them.
func count(reqs []sandbox.Request, conversation func(sandbox.Request) (string, bool)) VendorCounters {
	c := VendorCounters{Requests: len(reqs), ByConversation: map[string]int{}}
	for _, r := range reqs {
		if id, ok := conversation(r); ok {
			c.TransferCalls++
			c.ByConversation[id]++
		}
	}
	return c
}

// jsonField reads a top-level field of a JSON object body as text (a string or a number).
func jsonField(body []byte, name string) string {
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil {
		return ""
	}
	raw := bytes.TrimSpace(fields[name])
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}
