package livepersonsandbox

import (
	"net/http"
	"strconv"
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
		// LivePerson hands a chat over once: each transfer gets a chat of its own, which the
		// sandbox's bot holds (any chat id it has not seen).
		Transfer: func(run string, i, _ int) (string, sandbox.Target) {
			return "LOAD-" + run + "-" + strconv.Itoa(i), sandbox.Target{Type: "skill", ID: SkillSupportID}
		},
		Availability: func(run string, q int) (string, *sandbox.Target) {
			return "LOAD-" + run + "-avail-" + strconv.Itoa(q), nil
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
