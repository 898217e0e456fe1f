package webhooksandbox

import "handoff/core/vendors/sandbox"

// Spec registers this sandbox with the local stack, the end-to-end tests and the load generator
// (core/vendors/sandboxes).
var Spec = sandbox.Spec{
	New:        func(sandbox.Options) sandbox.Server { return New(Config{}) },
	DemoSecret: DemoSecret,
}

// Counters counts the requests, the ack POSTs, and the acks accepted by transfer id.
func (s *Sandbox) Counters() sandbox.Counters {
	c := sandbox.Counters{Requests: len(s.Requests()), AckCalls: s.AckCalls(), ByTransfer: map[string]int{}}
	for _, d := range s.Deliveries() {
		c.Acks++
		c.ByTransfer[d.Transfer.ID]++
	}
	return c
}

// Close does nothing: the sandbox runs nothing of its own.
func (s *Sandbox) Close() {}
