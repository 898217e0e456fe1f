package bitrix24sandbox

import (
	"strings"

	"handoff/core/vendors/sandbox"
)

// Spec registers this sandbox with the local stack, the end-to-end tests and the load generator
// (core/vendors/sandboxes).
var Spec = sandbox.Spec{
	New:        func(sandbox.Options) sandbox.Server { return New(Config{}) },
	DemoSecret: DemoSecret,
	Example:    "Bitrix24: chat 112 to user 12, then open line 1; acked by a signed webhook",
	Load: &sandbox.Load{
		// Bitrix24 re-transfers a known chat to an active operator as often as asked.
		Transfer: func(_ string, i, conversations int) (string, sandbox.Target) {
			chats := ChatIDs[:min(max(conversations, 1), len(ChatIDs))]
			return chats[i%len(chats)], sandbox.Target{Type: "agent", ID: UserID}
		},
		Reuses: true,
	},
}

// Counters counts the transfer calls (imopenlines.bot.session.transfer and .operator) by chat.
func (s *Sandbox) Counters() sandbox.Counters {
	return sandbox.CountTransfers(s.Requests(), func(r sandbox.Request) (string, bool) {
		method := strings.TrimSuffix(r.Path, ".json")
		if !strings.HasSuffix(method, methodTransfer) && !strings.HasSuffix(method, methodOperator) {
			return "", false
		}
		return sandbox.JSONField(r.Body, "CHAT_ID"), true
	})
}

// Close does nothing: the sandbox runs nothing of its own.
func (s *Sandbox) Close() {}
