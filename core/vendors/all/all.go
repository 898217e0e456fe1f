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
	bitrix24.Key:   vendors.Adapt(bitrix24.New),
	liveperson.Key: vendors.Adapt(liveperson.New),
	koreai.Key:     vendors.Adapt(koreai.New),
	salesforce.Key: vendors.Adapt(salesforce.New),
	webhook.Key:    vendors.Adapt(webhook.New),
}
