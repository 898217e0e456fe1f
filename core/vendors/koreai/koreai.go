// Package koreai hands conversations to Kore.ai Agent AI agents and queues (assign-conversation)
// and reads the outcome Kore posts back, because Kore confirms a transfer only by callback.
package koreai

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/rest"
)

// Vendor is the vendor key: the secret's name suffix and the callback route's {vendor}.
const Vendor = "koreai"

// Adapter speaks Kore.ai's Agent AI public APIs for one set of shared dependencies; each call
// loads its tenant's credentials.
type Adapter struct {
	deps vendors.Deps
}

// The parts of the vendor contract Kore.ai's API allows (no Acker: Kore is not the bot here).
var (
	_ vendors.Transferer          = (*Adapter)(nil)
	_ vendors.CallbackParser      = (*Adapter)(nil)
	_ vendors.AvailabilityChecker = (*Adapter)(nil)
)

// New keeps d; it does no I/O.
func New(d vendors.Deps) *Adapter {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &Adapter{deps: d}
}

// Supports reports agent and queue. Kore's assign-conversation documents an agent (aId) and a
// queue (transferredType QUEUE + queueId) only; other transferredType values are undocumented
// [U], so skills and "next" are refused before any call rather than guessed.
func (a *Adapter) Supports(t handoff.TargetType) bool {
	return t == handoff.TargetAgent || t == handoff.TargetQueue
}

// assignRequest is assign-conversation's body [C]. The docs' table marks every field required
// but the samples send the agent fields or the queue fields, never both [I].
type assignRequest struct {
	CallbackURL     string `json:"callbackUrl"`
	OrgID           string `json:"orgId"`
	BotSessionID    string `json:"botSessionId"`
	AID             string `json:"aId,omitempty"`
	TransferredType string `json:"transferredType,omitempty"`
	QueueID         string `json:"queueId,omitempty"`
}

// Transfer asks Kore to assign the conversation (Kore's botSessionId) to the target. Kore reports
// the outcome to the callback URL, so a 2xx answer is OutcomeAwaiting.
func (a *Adapter) Transfer(ctx context.Context, req vendors.TransferRequest) (vendors.TransferResult, error) {
	const op = "koreai.Transfer"
	if !a.Supports(req.Target.Type) {
		return vendors.TransferResult{}, handoff.E(handoff.CodeUnsupportedTarget, op,
			"Kore.ai transfers to an agent or a queue only", nil)
	}
	if err := handoff.ValidateID("target.id", req.Target.ID); err != nil {
		return vendors.TransferResult{}, err
	}
	build := func(creds Credentials) (rest.Request, error) {
		callback, err := signedCallbackURL(creds, req)
		if err != nil {
			return rest.Request{}, err
		}
		body := assignRequest{CallbackURL: callback, OrgID: creds.OrgID, BotSessionID: req.Conversation.ID}
		if req.Target.Type == handoff.TargetAgent {
			body.AID = req.Target.ID
		} else {
			body.TransferredType, body.QueueID = "QUEUE", req.Target.ID
		}
		raw, err := json.Marshal(body)
		if err != nil {
			return rest.Request{}, handoff.E(handoff.CodeInternal, op, "could not encode the request", err)
		}
		return rest.Request{
			Op:     op,
			Method: http.MethodPost,
			URL:    rest.JoinURL(creds.BaseURL, "agentassist", "api", "v1", "public", creds.StreamID, "assign-conversation"),
			Body:   raw,
			// Never Idempotent: a transfer re-sent after a timeout could assign twice.
			Retry: refusedBeforeExecution,
		}, nil
	}
	resp, err := a.send(ctx, req.Tenant, build)
	if err != nil {
		return vendors.TransferResult{}, err
	}
	log := a.deps.Log.With("tenant", req.Tenant, "transfer", req.TransferID, "target", req.Target.Type, "status", resp.Status)
	if !resp.OK() {
		e, rule := mapError(op, resp, a.deps.Now())
		if rule.alreadyDone && req.Reconcile {
			log.Info("koreai: conversation already assigned by an earlier attempt; awaiting its callback", "vendorCode", e.VendorCode)
			return vendors.TransferResult{Outcome: handoff.OutcomeAwaiting, VendorRef: req.Conversation.ID, VendorCode: e.VendorCode}, nil
		}
		log.Warn("koreai: transfer refused", "code", e.Code, "vendorCode", e.VendorCode)
		return vendors.TransferResult{}, e
	}
	res, err := acceptedTransfer(op, resp.Body, req.Conversation.ID)
	if err != nil {
		log.Warn("koreai: transfer answer not usable", "code", handoff.ErrorCode(err))
		return vendors.TransferResult{}, err
	}
	log.Info("koreai: transfer accepted; outcome awaited by callback")
	return res, nil
}

// acceptedTransfer reads a 2xx answer. The docs show one body ({sessionId, agentId|queueId,
// status: "transferred", requestCompletedAt}) without saying whether it is this synchronous
// answer or what Kore posts to callbackUrl [U]. Either way the docs say the outcome is posted to
// the callback, so a 2xx is OutcomeAwaiting even when it says "transferred": were it final, a
// later failure callback could no longer move the transfer (status only moves forward). A body
// that already says the transfer failed is taken at its word [I]. Only a JSON object is
// accepted; its fields are all optional, since which of them this answer carries is [U].
func acceptedTransfer(op string, body []byte, conversationID string) (vendors.TransferResult, error) {
	fields, ok := jsonObject(body)
	if !ok {
		return vendors.TransferResult{}, handoff.E(handoff.CodeVendorProtocol, op,
			"Kore.ai accepted the transfer with a body that is not a JSON object", nil)
	}
	p := readPayload(fields)
	if outcome, known := statusOutcome(p.status); known && outcome != handoff.OutcomeTransferred {
		code := handoff.CodeVendorRejected
		if outcome == handoff.OutcomeUnavailable {
			code = handoff.CodeTargetUnavailable
		}
		return vendors.TransferResult{}, &handoff.Error{Code: code, Op: op, VendorCode: normalStatus(p.status),
			Message: messages[code] + " (Kore.ai reported " + normalStatus(p.status) + ")"}
	}
	ref := p.sessionID
	if ref == "" {
		ref = conversationID // the sample's sessionId is the botSessionId we sent [C]
	}
	return vendors.TransferResult{Outcome: handoff.OutcomeAwaiting, VendorRef: ref}, nil
}

// signedCallbackURL is the callback URL the transfer service gave, naming this tenant and
// transfer, with our token added: Kore posts to it unsigned [U], so the token is the proof.
func signedCallbackURL(creds Credentials, req vendors.TransferRequest) (string, error) {
	const op = "koreai.Transfer"
	u, err := url.Parse(req.CallbackURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", handoff.E(handoff.CodeConfiguration, op, "Kore.ai needs an absolute http(s) callback URL", nil)
	}
	q := u.Query()
	q.Set("tenant", req.Tenant)
	q.Set("transfer", req.TransferID)
	q.Set("token", callbackToken(creds.CallbackSecret, req.Tenant, req.TransferID))
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// send loads the tenant's credentials, builds the request from them and sends it with a fresh
// JWT per attempt. When Kore refuses the credentials (401/403), the cached secret may be stale
// (a rotated client secret): it is dropped, refetched and the request sent once more. Both
// answers are refusals before execution, so the second send cannot do anything twice.
func (a *Adapter) send(ctx context.Context, tenant string, build func(Credentials) (rest.Request, error)) (*rest.Response, error) {
	for attempt := 1; ; attempt++ {
		var creds Credentials
		if err := vendors.LoadCredentials(ctx, a.deps.Secrets, tenant, Vendor, &creds); err != nil {
			return nil, err
		}
		req, err := build(creds)
		if err != nil {
			return nil, err
		}
		req.Header = http.Header{"Content-Type": {"application/json"}, "Accountid": {creds.AccountID}}
		req.Sign = signer(creds, a.deps.Now)
		resp, err := a.deps.HTTP.Do(ctx, req)
		if err != nil {
			return nil, err
		}
		if rule, _ := classify(resp.Status, resp.Body); resp.OK() || rule.code != handoff.CodeVendorAuthFailed || attempt == 2 {
			return resp, nil
		}
		a.deps.Log.Warn("koreai: credentials refused; refetching the secret and trying once more",
			"tenant", tenant, "op", req.Op, "status", resp.Status)
		a.deps.Secrets.Invalidate(tenant, Vendor)
	}
}
