// Package bitrix24 hands a Bitrix24 Open Lines chat from the bot to a person (an operator, an
// open line, or the line's next free operator) and reads the events Bitrix24 posts to the bot.
package bitrix24

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/vendorkit"
)

// Key is this vendor's key in secrets, routes and the registry.
const Key = "bitrix24"

var (
	_ vendors.Transferer          = (*Adapter)(nil)
	_ vendors.AvailabilityChecker = (*Adapter)(nil)
	_ vendors.CallbackParser      = (*Adapter)(nil)
)

// Adapter speaks Bitrix24's REST API for one function instance, for every tenant. It is safe for
// concurrent use.
type Adapter struct {
	deps vendors.Deps
	log  *slog.Logger
	// flight shares one OAuth refresh among concurrent callers of one tenant.
	flight vendorkit.Flight[*session]
	// rotations are refreshed pairs not yet written back.
	rotations rotations
}

// New keeps the dependencies; it does no I/O.
func New(d vendors.Deps) *Adapter {
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Adapter{deps: d, log: log}
}

// Supports reports the targets Bitrix24's bot API can reach: an operator (USER_ID), an open
// line (QUEUE_ID) and the line's next free operator. Bitrix24 has no skills.
func (a *Adapter) Supports(t handoff.TargetType) bool {
	switch t {
	case handoff.TargetAgent, handoff.TargetQueue, handoff.TargetNext:
		return true
	}
	return false
}

// Transfer hands the chat over with imopenlines.bot.session.transfer (agent, queue) or
// imopenlines.bot.session.operator (next). Bitrix24 applies the hand-over before it answers, so
// success is OutcomeTransferred and the chat id is the VendorRef its events name. The request's
// Note is never sent: neither method takes a text, and Bitrix24 documents no way for a bot to
// post a message that the operator sees and the customer does not (docs/vendors/bitrix24.md);
// anything the bot posts in an open-line chat reaches the customer.
func (a *Adapter) Transfer(ctx context.Context, req vendors.TransferRequest) (vendors.TransferResult, error) {
	const op = "bitrix24.Transfer"
	if !a.Supports(req.Target.Type) {
		return vendors.TransferResult{}, &handoff.Error{Code: handoff.CodeUnsupportedTarget, Op: op, Field: "target.type",
			Message: "Bitrix24 transfers to an agent, a queue (open line) or next; not to " + string(req.Target.Type)}
	}
	c, err := transferCall(op, req)
	if err != nil {
		return vendors.TransferResult{}, err
	}
	s, err := a.load(ctx, req.Tenant)
	if err != nil {
		return vendors.TransferResult{}, err
	}
	rep, err := a.invoke(ctx, s, c)
	if v, ok := err.(*vendorError); ok && req.Reconcile && v.rule.AlreadyDone && c.method == alreadyDoneOn {
		a.log.InfoContext(ctx, "bitrix24: an earlier attempt already handed the chat over",
			"tenant", req.Tenant, "transfer", req.TransferID, "vendorCode", v.code)
		return vendors.TransferResult{Outcome: handoff.OutcomeTransferred, VendorRef: req.Conversation.ID, VendorCode: v.code}, nil
	}
	if err != nil {
		return vendors.TransferResult{}, mapped(op, err, req.Reconcile)
	}
	if !isTrue(rep.result) {
		return vendors.TransferResult{}, handoff.E(handoff.CodeVendorProtocol, op, "Bitrix24 answered without result true", nil)
	}
	return vendors.TransferResult{Outcome: handoff.OutcomeTransferred, VendorRef: req.Conversation.ID}, nil
}

// Validate refuses, before anything is written, a request Bitrix24 could never take: its chat,
// user and line ids are integers (see transferCall, which checks them again at each attempt).
func (a *Adapter) Validate(req handoff.Request) error {
	if req.Vendor != Key {
		return nil
	}
	return vendorkit.EachTarget(req, func(t handoff.Target) error {
		_, err := transferCall("bitrix24.Validate", vendors.TransferRequest{Conversation: req.Conversation, Target: t})
		return err
	})
}

// transferCall builds the method call for the target. Bitrix24's chat, user and line ids are
// integers: anything else is refused here, before a secret is read or a call is sent.
func transferCall(op string, req vendors.TransferRequest) (call, error) {
	chatID, ok := positiveInt(req.Conversation.ID)
	if !ok {
		return call{}, &handoff.Error{Code: handoff.CodeInvalidRequest, Op: op, Field: "conversation.id",
			Message: "a Bitrix24 conversation id is the open-line chat id: a positive integer"}
	}
	if req.Target.Type == handoff.TargetNext {
		return call{op: op, method: methodOperator, params: map[string]any{"CHAT_ID": chatID}}, nil
	}
	targetID, ok := positiveInt(req.Target.ID)
	if !ok {
		return call{}, &handoff.Error{Code: handoff.CodeInvalidRequest, Op: op, Field: "target.id",
			Message: "a Bitrix24 " + string(req.Target.Type) + " id is a positive integer"}
	}
	leave := "N" // the bot stays until the operator confirms (Bitrix24's default)
	if req.Leave {
		leave = "Y"
	}
	params := map[string]any{"CHAT_ID": chatID, "LEAVE": leave}
	if req.Target.Type == handoff.TargetAgent {
		params["USER_ID"] = targetID
	} else {
		params["QUEUE_ID"] = targetID // the open line's ID, not its QUEUE (which lists users)
	}
	return call{op: op, method: methodTransfer, params: params, botScoped: true}, nil
}

// positiveInt parses a decimal id in 1..MaxInt64, without signs, spaces or leading zeros.
func positiveInt(s string) (int64, bool) {
	if s == "" || len(s) > 19 || s[0] < '1' || s[0] > '9' {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0
}
