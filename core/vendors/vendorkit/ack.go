package vendorkit

import "handoff/core/handoff"

// Ackable refuses, before any call, a transfer a bot adapter (vendor key, named name in
// messages) cannot ack: one without a bot, another vendor's bot, or one not yet final. The error
// is INVALID_REQUEST, which bot-ack records as a failed ack and never sends again.
func Ackable(op, key, name string, t handoff.Transfer) error {
	invalid := func(msg string) error { return handoff.E(handoff.CodeInvalidRequest, op, msg, nil) }
	switch {
	case t.Bot == nil:
		return invalid("the transfer names no bot to tell")
	case t.Bot.Vendor != key:
		return invalid("the transfer's bot is not a " + name + " bot")
	case !t.Status.Final():
		return invalid("only a transferred or failed transfer can be acked")
	}
	return nil
}
