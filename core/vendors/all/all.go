// Package all is where vendors are registered: one line per vendor. Adding a vendor is one new
// package under core/vendors and one line here.
package all

import (
	"handoff/core/vendors"
	"handoff/core/vendors/bitrix24"
	"handoff/core/vendors/koreai"
	"handoff/core/vendors/liveperson"
	"handoff/core/vendors/salesforce"
	"handoff/core/vendors/webhook"
)

// Factories builds each registered vendor's adapter, by vendor key.
var Factories = map[string]vendors.Factory{
	"bitrix24":   vendors.Adapt(bitrix24.New),
	"liveperson": vendors.Adapt(liveperson.New),
	"koreai":     vendors.Adapt(koreai.New),
	"salesforce": vendors.Adapt(salesforce.New),
	"webhook":    vendors.Adapt(webhook.New),
}
