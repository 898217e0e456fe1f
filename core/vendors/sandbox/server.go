package sandbox

import (
	"bytes"
	"encoding/json"
	"net/http"
)

// Server is one running vendor sandbox, as the local stack, the end-to-end tests and the load
// generator use it without knowing the vendor. Each vendor's sandbox type has more (what its
// own tests inspect); this is the part every one has.
type Server interface {
	http.Handler
	// Inject plays f on the next `times` calls of the vendor's main operation (a transfer, or an
	// ack for a bot), or on every one when times <= 0.
	Inject(f Fault, times int)
	// Counters reads what the sandbox received so far.
	Counters() Counters
	// Close stops what the sandbox runs on its own (callbacks it still has to deliver).
	Close()
}

// Options tune every sandbox the same way; the zero value is every vendor as its docs describe it.
type Options struct {
	// RatePerMinute is the per-account request limit of the sandboxes that model one: 0 for the
	// vendor's documented limit, negative for none (load tests: one sandbox is one account,
	// which real tenants each have their own of).
	RatePerMinute int
}

// Spec is one vendor's sandbox as it is registered (core/vendors/sandboxes): how to build one,
// and the tenant secret that works against it.
type Spec struct {
	// New builds the sandbox with its demo people, chats and credentials.
	New func(Options) Server
	// DemoSecret is the tenant secret that works against a sandbox built by New and served at
	// baseURL: what the local stack stores for the demo tenant.
	DemoSecret func(baseURL string) []byte
	// Example, when set, titles the banner's example request for this vendor, built from
	// the sample event transfer-post-{vendor}.json of events/.
	Example string
	// Load, when set, is what the load generator sends this vendor; nil for a bot, which is acked,
	// not transferred to.
	Load *Load
}

// Load is the traffic the demo sandbox of a transfer vendor takes again and again.
type Load struct {
	// Transfer is transfer i of a run (run: the run's id, to make conversation ids unique): the
	// conversation, one of at most `conversations` when the vendor takes a conversation again,
	// and a target the sandbox accepts.
	Transfer func(run string, i, conversations int) (conversation string, target Target)
	// Reuses is true when the vendor takes the same conversation again (each call is a transfer);
	// otherwise it hands a conversation over once and refuses a repeat, which the load generator
	// counts as a reconcile, not a doubled transfer.
	Reuses bool
	// Availability, when set, is availability query q: a conversation and, for vendors that
	// answer only for named targets, the target to ask about.
	Availability func(run string, q int) (conversation string, target *Target)
}

// Target is a transfer target as the API takes it ("agent", "skill", "queue"; the vendor's id).
type Target struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// Counters are what one sandbox received, as it counts it: what a load test compares with the
// transfers it made. They only grow while the sandbox runs; compare two readings.
type Counters struct {
	Requests int `json:"requests"` // every request, logins and availability included
	// TransferCalls are the requests that asked for a transfer, refused ones included.
	TransferCalls int `json:"transferCalls,omitempty"`
	// ByConversation splits TransferCalls by the conversation they named.
	ByConversation map[string]int `json:"byConversation,omitempty"`
	// Callbacks are the outcomes the sandbox posted to Handoff, and how many of them were not
	// answered 2xx.
	Callbacks       int `json:"callbacks,omitempty"`
	CallbacksFailed int `json:"callbacksFailed,omitempty"`
	// AckCalls are the POSTs that delivered an ack to a bot, repeats included.
	AckCalls int `json:"ackCalls,omitempty"`
	// Acks are the acks accepted, one per ack id, by transfer id (bots that name the transfer).
	Acks       int            `json:"acks,omitempty"`
	ByTransfer map[string]int `json:"byTransfer,omitempty"`
}

// CountTransfers counts reqs, and those that conversation recognises as transfer calls by the
// conversation it reads from them.
func CountTransfers(reqs []Request, conversation func(Request) (string, bool)) Counters {
	c := Counters{Requests: len(reqs), ByConversation: map[string]int{}}
	for _, r := range reqs {
		if id, ok := conversation(r); ok {
			c.TransferCalls++
			c.ByConversation[id]++
		}
	}
	return c
}

// JSONField reads a top-level field of a JSON object body as text (a string or a number).
func JSONField(body []byte, name string) string {
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
