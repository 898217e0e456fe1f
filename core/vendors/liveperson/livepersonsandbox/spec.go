package livepersonsandbox

import (
	"fmt"
	"net/http"
	"strings"

	"handoff/core/vendors/sandbox"
)

// Spec registers this sandbox with the local stack, the end-to-end tests and the load generator
// (core/vendors/sandboxes).
var Spec = sandbox.Spec{
	New:        func(sandbox.Options) sandbox.Server { return New(Config{}) },
	DemoSecret: DemoSecret,
	Example:    "LivePerson: a chat to skill 2, then agent 6",
	Load: &sandbox.Load{
		// LivePerson hands a chat over once, and only a chat the bot's agent session holds: each
		// transfer gets one of the held demo chats of its own, from the upper half of the range
		// (DemoChatPrefix+"500" on; the examples and tests use lower ones). A second run against
		// the same sandbox finds them handed over already, which the load generator counts as
		// reconciled, not doubled.
		Transfer: func(_ string, i, _ int) (string, sandbox.Target) {
			return fmt.Sprintf("%s%03d", DemoChatPrefix, 500+i%500), sandbox.Target{Type: "skill", ID: SkillSupportID}
		},
		// Availability needs a chat the bot holds too; asking hands nothing over.
		Availability: func(string, int) (string, *sandbox.Target) {
			return DemoChatPrefix + "499", nil
		},
	},
}

// Counters counts the Transfer a Chat POSTs by chat id.
func (s *Sandbox) Counters() sandbox.Counters {
	return sandbox.CountTransfers(s.Requests(), func(r sandbox.Request) (string, bool) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.Path, "/transfer") {
			return "", false
		}
		parts := strings.Split(r.Path, "/")
		return parts[len(parts)-2], true // …/chat/{chat}/transfer
	})
}

// Close does nothing: the sandbox runs nothing of its own.
func (s *Sandbox) Close() {}
