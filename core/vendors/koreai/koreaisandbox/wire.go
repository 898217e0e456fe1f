package koreaisandbox

// The status buckets of agents/availability's answer, in Kore.ai's spelling: the sandbox's own,
// so an adapter that misreads one fails against the sandbox instead of agreeing with itself.
const (
	bucketAvailable = "AVAILABLE"
	bucketBusy      = "BUSY"
	bucketOffline   = "OFFLINE"
	bucketAway      = "AWAY"
)
