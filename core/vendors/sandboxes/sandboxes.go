// Package sandboxes is where vendor sandboxes are registered: one line per vendor, beside its
// adapter's line in core/vendors/all. The local stack serves, seeds, counts and prints every
// sandbox registered here, and the load generator drives those that have a load plan. No
// function may import this package (functions/deps_test.go checks it).
package sandboxes

import (
	"handoff/core/vendors/bitrix24/bitrix24sandbox"
	"handoff/core/vendors/koreai/koreaisandbox"
	"handoff/core/vendors/liveperson/livepersonsandbox"
	"handoff/core/vendors/salesforce/salesforcesandbox"
	"handoff/core/vendors/sandbox"
	"handoff/core/vendors/webhook/webhooksandbox"
)

// All holds each registered vendor's sandbox, by vendor key (the key of core/vendors/all).
var All = map[string]sandbox.Spec{
	"bitrix24":   bitrix24sandbox.Spec,
	"liveperson": livepersonsandbox.Spec,
	"koreai":     koreaisandbox.Spec,
	"salesforce": salesforcesandbox.Spec,
	"webhook":    webhooksandbox.Spec,
}
