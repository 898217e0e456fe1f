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
)

// VendorKey names this adapter in the registry, the bot's vendor and the secret.
const VendorKey = handoff.BotWebhook

// Adapter acks transfers to webhooks. Safe for concurrent use.
type Adapter struct {
	secrets vendors.Secrets
	http    *rest.Client
	log     *slog.Logger
	now     func() time.Time
}

var _ vendors.Acker = (*Adapter)(nil)

// New builds the adapter from the shared dependencies. It does no I/O.
func New(d vendors.Deps) *Adapter {
	a := &Adapter{secrets: d.Secrets, http: d.HTTP, log: d.Log, now: d.Now}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	return a
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
	for attempt := 1; ; attempt++ {
		var creds Credentials
		if err := vendors.LoadCredentials(ctx, a.secrets, t.Tenant, VendorKey, &creds); err != nil {
			return err
		}
		resp, err := a.deliver(ctx, &creds, id, body)
		if err != nil {
			return err
		}
		if resp.OK() {
			a.log.Info("webhook bot told the transfer outcome", "tenant", t.Tenant, "transfer", t.ID,
				"status", t.Status, "webhookId", id)
			return nil
		}
		e := deliveryError(op, resp, a.now())
		if e.Code == handoff.CodeVendorAuthFailed {
			a.secrets.Invalidate(t.Tenant, VendorKey)
			if attempt == 1 {
				continue
			}
		}
		a.log.Warn("webhook bot refused the ack", "tenant", t.Tenant, "transfer", t.ID,
			"webhookId", id, "httpStatus", resp.Status, "code", e.Code)
		return e
	}
}

// deliver sends one delivery, signed afresh before each attempt so that the receiver's replay
// window counts from that attempt (Standard Webhooks: a retry gets a new timestamp and
// signature, never a new webhook-id).
func (a *Adapter) deliver(ctx context.Context, c *Credentials, id string, body []byte) (*rest.Response, error) {
	h := http.Header{}
	h.Set(HeaderID, id)
	h.Set("Content-Type", "application/json")
	return a.http.Do(ctx, rest.Request{
		Op: "webhook.Deliver", Method: http.MethodPost, URL: c.URL, Header: h, Body: body,
		Sign: func(h http.Header) error {
			ts := a.now().Unix()
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

// ackable refuses, before any call, a transfer this adapter cannot ack: the error is final.
func ackable(op string, t handoff.Transfer) error {
	invalid := func(msg string) error { return handoff.E(handoff.CodeInvalidRequest, op, msg, nil) }
	switch {
	case t.Bot == nil:
		return invalid("the transfer names no bot to tell")
	case t.Bot.Vendor != VendorKey:
		return invalid("the transfer's bot is not a webhook bot")
	case !t.Status.Final():
		return invalid("only a transferred or failed transfer can be acked")
	}
	return nil
}

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
