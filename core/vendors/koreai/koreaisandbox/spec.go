package koreaisandbox

import (
	"crypto/rand"
	"encoding/hex"
	"strings"

	"handoff/core/vendors/sandbox"
)

// Spec registers this sandbox with the local stack, the end-to-end tests and the load generator
// (core/vendors/sandboxes).
var Spec = sandbox.Spec{
	New: func(o sandbox.Options) sandbox.Server {
		return New(Config{RatePerMinute: o.RatePerMinute})
	},
	DemoSecret: DemoSecret,
	Example:    "Kore.ai: to an agent, then a queue; the outcome comes by callback, then Salesforce's bot is told",
	Load: &sandbox.Load{
		// Kore.ai assigns a bot session once: each transfer gets a new one (any 24-hex id).
		Transfer: func(string, int, int) (string, sandbox.Target) {
			return sessionID(), sandbox.Target{Type: "agent", ID: AgentID}
		},
		// Kore.ai answers for named agents, queues or skills only.
		Availability: func(string, int) (string, *sandbox.Target) {
			return sessionID(), &sandbox.Target{Type: "agent", ID: AgentID}
		},
	},
}

// sessionID is a new botSessionId: 24 hex digits, as Kore.ai's are.
func sessionID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Counters counts the assign-conversation calls by botSessionId, and the callbacks posted.
func (s *Sandbox) Counters() sandbox.Counters {
	c := sandbox.CountTransfers(s.Requests(), func(r sandbox.Request) (string, bool) {
		if !strings.HasSuffix(r.Path, "/assign-conversation") {
			return "", false
		}
		return sandbox.JSONField(r.Body, "botSessionId"), true
	})
	for _, d := range s.Deliveries() {
		c.Callbacks++
		if d.Status < 200 || d.Status > 299 {
			c.CallbacksFailed++
		}
	}
	return c
}
