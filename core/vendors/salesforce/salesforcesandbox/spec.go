package salesforcesandbox

import "handoff/core/vendors/sandbox"

// Spec registers this sandbox with the local stack, the end-to-end tests and the load generator
// (core/vendors/sandboxes).
var Spec = sandbox.Spec{
	New:        func(sandbox.Options) sandbox.Server { return New(Config{}) },
	DemoSecret: DemoSecret,
}

// Counters counts the requests and the ack POSTs.
func (s *Sandbox) Counters() sandbox.Counters {
	return sandbox.Counters{Requests: len(s.Requests()), AckCalls: s.AckCalls()}
}

// Close does nothing: the sandbox runs nothing of its own.
func (s *Sandbox) Close() {}
