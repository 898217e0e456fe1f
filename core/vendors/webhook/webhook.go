// Package webhook tells a caller's own bot how a transfer ended by a signed POST of the transfer
// resource (Standard Webhooks), so that any bot with an HTTP endpoint can hear the outcome and
// prove it came from us.
package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/rest"
	"handoff/core/vendors/vendorkit"
)

// Key names this adapter in the registry, the bot's vendor and the secret.
const Key = "webhook"

// Adapter acks transfers to webhooks. Safe for concurrent use.
type Adapter struct {
	deps vendors.Deps // Log and Now set
}

var _ vendors.Acker = (*Adapter)(nil)

// New builds the adapter from the shared dependencies. It does no I/O.
func New(d vendors.Deps) *Adapter {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Adapter{deps: d}
}

// Ack POSTs t, as the API shows it, to the tenant's webhook URL, signed (under both secrets
// during a rotation, signingSecretPrevious set). Every retry of this ack
// carries the same webhook-id (so the receiver can drop repeats) with a fresh timestamp and
// signature. A refused signature is tried once more with the secret as it is now, in case it
// was rotated since it was cached.
func (a *Adapter) Ack(ctx context.Context, t handoff.Transfer) (vendors.AckResult, error) {
	return vendors.AckResult{}, a.ack(ctx, t)
}

func (a *Adapter) ack(ctx context.Context, t handoff.Transfer) error {
	const op = "webhook.Ack"
	if err := ackable(op, t); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return handoff.E(handoff.CodeVendorTimeout, op, "the ack was cancelled before it was sent", err)
	}
	body, err := json.Marshal(t)
	if err != nil {
		return handoff.E(handoff.CodeInternal, op, "the transfer does not marshal", err)
	}
	id := deliveryID(t)
	resp, err := vendors.WithCredentials(ctx, a.deps, t.Tenant, Key,
		func(c *Credentials) (*rest.Response, error) { return a.deliver(ctx, c, id, body) },
		func(r *rest.Response) bool { return answerFor(r.Status).Code == handoff.CodeVendorAuthFailed })
	if err != nil {
		return err
	}
	if resp.OK() {
		a.deps.Log.Info("webhook bot told the transfer outcome", "tenant", t.Tenant, "transfer", t.ID,
			"status", t.Status, "webhookId", id)
		return nil
	}
	e := deliveryError(op, resp, a.deps.Now())
	a.deps.Log.Warn("webhook bot refused the ack", "tenant", t.Tenant, "transfer", t.ID,
		"webhookId", id, "httpStatus", resp.Status, "code", e.Code)
	return e
}

// deliver sends one delivery, signed afresh before each attempt so that the receiver's replay
// window counts from that attempt (Standard Webhooks: a retry gets a new timestamp and
// signature, never a new webhook-id).
func (a *Adapter) deliver(ctx context.Context, c *Credentials, id string, body []byte) (*rest.Response, error) {
	h := http.Header{}
	h.Set(HeaderID, id)
	h.Set("Content-Type", "application/json")
	return a.deps.HTTP.Do(ctx, rest.Request{
		Op: "webhook.Deliver", Method: http.MethodPost, URL: c.URL, Header: h, Body: body,
		Sign: func(h http.Header) error {
			ts := a.deps.Now().Unix()
			// Validate checked the secrets; the id is ours. During a rotation, one signature
			// under each secret.
			sig, err := signAll(c.signingSecrets(), id, ts, body)
			h.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
			h.Set(HeaderSignature, sig)
			return err
		},
		// The receiver drops repeats by webhook-id, so a resend after a timeout is safe.
		Idempotent: true,
		Retry:      resendable,
	})
}

// Validate refuses, before anything is written, a webhook bot with a sequence id: the
// delivery's id is ours (see deliveryID), and a number the receiver would never see is a
// mistake the caller should hear of.
func (a *Adapter) Validate(req handoff.Request) error {
	if req.Bot != nil && req.Bot.Vendor == Key && req.Bot.SequenceID != 0 {
		return handoff.Invalid("bot.sequenceId", "bot.sequenceId is not used by webhook bots")
	}
	return nil
}

// ackable refuses, before any call, a transfer this adapter cannot ack: the error is final.
func ackable(op string, t handoff.Transfer) error { return vendorkit.Ackable(op, Key, "webhook", t) }

// deliveryID is the webhook-id of t's ack: the same for every retry of this ack, another for
// any other. Its sequence is the one bot-ack fixed (or the transfer's last change). Hex keeps
// it free of the '.' that delimits the signed content.
func deliveryID(t handoff.Transfer) string {
	seq := t.Ack.SequenceID
	if seq == 0 {
		seq = t.UpdatedAt.UnixMilli()
	}
	sum := sha256.Sum256([]byte(t.Tenant + "\x00" + t.ID + "\x00" + strconv.FormatInt(seq, 10)))
	return "msg_" + hex.EncodeToString(sum[:16])
}
