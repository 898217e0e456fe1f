// Package salesforce tells an Einstein bot how the transfer it escalated ended
// (transferSucceeded or transferFailed over the Bot Runtime API v5), because the bot only hands
// the conversation over and must hear from us whether a person took it.
package salesforce

import (
	"context"
	"log/slog"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/rest"
	"handoff/core/vendors/vendorkit"
)

// Key names this adapter in the registry, the bot's vendor and the secret.
const Key = "salesforce"

// Adapter acks transfers to Einstein bots. Safe for concurrent use.
type Adapter struct {
	secrets  vendors.Secrets
	http     *rest.Client
	log      *slog.Logger
	now      func() time.Time
	tokens   *vendorkit.Cache[token]
	sessions *sessionMemory
}

var _ vendors.Acker = (*Adapter)(nil)

// New builds the adapter from the shared dependencies. It does no I/O.
func New(d vendors.Deps) *Adapter {
	a := &Adapter{secrets: d.Secrets, http: d.HTTP, log: d.Log, now: d.Now, sessions: newSessionMemory()}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.tokens = newTokenCache(a.now)
	return a
}

// Ack sends the bot transferSucceeded or transferFailed for t, then, after a success and
// unless the secret says otherwise, ends the bot session with reason Transfer. A retry of the
// same ack sends the same sequenceId and X-Request-ID, so the bot can tell it is a repeat. The
// bot's reply messages come back in the result. A 503 means the bot's Apex or Flow timed out
// after the bot ran (the v5 spec's ServiceUnavailable): the ack is then uncertain and is never
// sent again.
func (a *Adapter) Ack(ctx context.Context, t handoff.Transfer) (vendors.AckResult, error) {
	const op = "salesforce.Ack"
	if err := ackable(op, t); err != nil {
		return vendors.AckResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return vendors.AckResult{}, handoff.E(handoff.CodeVendorTimeout, op, "the ack was cancelled before it was sent", err)
	}
	seq, err := sequenceID(op, t)
	if err != nil {
		return vendors.AckResult{}, err
	}
	var creds Credentials
	if err := vendors.LoadCredentials(ctx, a.secrets, t.Tenant, Key, &creds); err != nil {
		return vendors.AckResult{}, err
	}
	m := newAckMessage(t, seq)
	var res vendors.AckResult
	if a.sessions.processed(creds.OrgID, m.session, seq) {
		a.log.Info("salesforce ack already confirmed by the bot; not sent again",
			"tenant", t.Tenant, "transfer", t.ID, "sequenceId", seq)
	} else if res, err = a.sendMessage(ctx, t.Tenant, &creds, m); err != nil {
		return vendors.AckResult{}, err
	}
	if t.Status == handoff.StatusTransferred && creds.EndSession() {
		if err := a.endSession(ctx, t.Tenant, &creds, m); err != nil {
			if res.Uncertain == "" {
				return vendors.AckResult{}, err
			}
			// An error now would make bot-ack retry, and a retry would send the message again.
			a.log.Warn("salesforce bot session not ended after an uncertain ack; it will time out",
				"tenant", t.Tenant, "transfer", t.ID, "code", handoff.ErrorCode(err))
		}
	}
	a.log.Info("salesforce bot told the transfer outcome", "tenant", t.Tenant, "transfer", t.ID,
		"message", m.kind, "sequenceId", seq, "uncertain", res.Uncertain != "", "botMessages", len(res.BotMessages))
	return res, nil
}

// Validate refuses, before anything is written, a request whose Salesforce bot could not be
// acked: the runtime addresses a bot by its session, so bot.sessionId is required.
func (a *Adapter) Validate(req handoff.Request) error {
	if req.Bot == nil || req.Bot.Vendor != Key {
		return nil
	}
	return handoff.ValidateID("bot.sessionId", req.Bot.SessionID)
}

// ackable refuses, before any call, a transfer this adapter cannot ack: the error is final.
func ackable(op string, t handoff.Transfer) error {
	if err := vendorkit.Ackable(op, Key, "Salesforce", t); err != nil {
		return err
	}
	if t.Bot.SessionID == "" {
		return handoff.E(handoff.CodeInvalidRequest, op, "the transfer names no bot session (bot.sessionId)", nil)
	}
	return nil
}

// sequenceID is the message's sequenceId: the channel's own counter when the request gave one
// (bot.sequenceId), else the one bot-ack fixed for this ack, which every retry reuses. A
// transfer recorded without either falls back to its last change, in milliseconds (the SDK's
// own clock-based choice), which is stable across retries too.
func sequenceID(op string, t handoff.Transfer) (int64, error) {
	switch {
	case t.Bot != nil && t.Bot.SequenceID > 0:
		return t.Bot.SequenceID, nil
	case t.Ack.SequenceID > 0:
		return t.Ack.SequenceID, nil
	case !t.UpdatedAt.IsZero():
		return t.UpdatedAt.UnixMilli(), nil
	}
	return 0, handoff.E(handoff.CodeInvalidRequest, op, "the transfer has neither ack.sequenceId nor updatedAt", nil)
}
