// Package koreai hands conversations to Kore.ai Agent AI agents and queues (assign-conversation)
// and reads the outcome Kore posts back, because Kore confirms a transfer only by callback.
package koreai

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/rest"
)

// Key is the vendor key: the secret's name suffix and the callback route's {vendor}.
const Key = "koreai"

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
		callback, err := signedCallbackURL(creds, req, a.deps.Now())
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
		if rule.AlreadyDone && req.Reconcile {
			log.Info("koreai: conversation already assigned by an earlier attempt; awaiting its callback", "vendorCode", e.VendorCode)
			return vendors.TransferResult{Outcome: handoff.OutcomeAwaiting, VendorRef: req.Conversation.ID, VendorCode: e.VendorCode}, nil
		}
		if e.Code == handoff.CodeVendorRejected && (resp.Status == http.StatusConflict || resp.Status == http.StatusUnprocessableEntity) &&
			a.targetUnavailable(ctx, req) {
			e.Code, e.Message = handoff.CodeTargetUnavailable, fmt.Sprintf("%s (HTTP %d)", messages[handoff.CodeTargetUnavailable], resp.Status)
		}
		log.Warn("koreai: transfer refused", "code", e.Code, "vendorCode", e.VendorCode)
		return vendors.TransferResult{}, e
	}
	res := acceptedTransfer(resp.Body, req.Conversation.ID, log)
	log.Info("koreai: transfer accepted; outcome awaited by callback")
	return res, nil
}

// acceptedTransfer reads a 2xx answer. The docs show one body ({sessionId, agentId|queueId,
// status: "transferred", requestCompletedAt}) without saying whether it is this synchronous
// answer or what Kore posts to callbackUrl [U], and write it as a JavaScript object, not strict
// JSON (unquoted keys) [C]. Either way the docs say the outcome is posted to the callback, so
// any 2xx is OutcomeAwaiting: were it final, a later failure callback could no longer move the
// transfer (status only moves forward). A body that is not a JSON object, or whose status is
// not "transferred", is logged and changes nothing: the callback (or the await deadline)
// decides, never a guess at an undocumented word.
func acceptedTransfer(body []byte, conversationID string, log *slog.Logger) vendors.TransferResult {
	ref := conversationID // the sample's sessionId is the botSessionId we sent [C]
	fields, ok := jsonObject(body)
	if !ok {
		log.Info("koreai: transfer accepted with a body that is not a JSON object (the docs' sample is not strict JSON); awaiting the callback",
			"bytes", len(body))
		return vendors.TransferResult{Outcome: handoff.OutcomeAwaiting, VendorRef: ref}
	}
	p := readPayload(fields)
	if p.status != "" && normalStatus(p.status) != "transferred" {
		log.Info("koreai: transfer accepted with a status Handoff does not know; awaiting the callback",
			"vendorStatus", cleanKey(p.status, 32))
	}
	if p.sessionID != "" {
		ref = p.sessionID
	}
	return vendors.TransferResult{Outcome: handoff.OutcomeAwaiting, VendorRef: ref}
}

// targetUnavailable asks Kore's documented availability API, after a refusal that may mean
// "this target cannot take it now" (409, 422), whether the target is available. Kore documents
// no error texts [U], so the answer decides TARGET_UNAVAILABLE, not a guess at the refusal's
// message. Any failure to ask leaves the refusal as it was.
func (a *Adapter) targetUnavailable(ctx context.Context, req vendors.TransferRequest) bool {
	got, err := a.Availability(ctx, vendors.AvailabilityRequest{Tenant: req.Tenant, ConversationID: req.Conversation.ID,
		Targets: []handoff.Target{req.Target}})
	return err == nil && len(got) == 1 && !got[0].Available
}

// signedCallbackURL is the callback URL the transfer service gave, naming this tenant and
// transfer, with our token added: Kore posts to it unsigned [U], so the token is the proof.
// A URL with a query gets the token as the query's "token"; a URL without one gets it as a
// last path segment ({base}/callbacks/koreai/{token}), which a platform that drops or
// re-encodes query strings still delivers intact.
func signedCallbackURL(creds Credentials, req vendors.TransferRequest, now time.Time) (string, error) {
	const op = "koreai.Transfer"
	u, err := url.Parse(req.CallbackURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", handoff.E(handoff.CodeConfiguration, op, "Kore.ai needs an absolute http(s) callback URL", nil)
	}
	token := SignCallbackToken(creds.CallbackSecret, CallbackClaims{Tenant: req.Tenant, Transfer: req.TransferID,
		Target: req.Target, Expires: now.Add(CallbackTokenLifetime)})
	if u.RawQuery == "" {
		u.Path = strings.TrimRight(u.Path, "/") + "/" + token
		u.RawPath = ""
		return u.String(), nil
	}
	q := u.Query()
	q.Set("tenant", req.Tenant)
	q.Set("transfer", req.TransferID)
	q.Set("token", token)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// send loads the tenant's credentials, builds the request from them and sends it with a fresh
// JWT per attempt. When Kore refuses the credentials (401/403), the cached secret may be stale
// (a rotated client secret): it is dropped, refetched and the request sent once more. Both
// answers are refusals before execution, so the second send cannot do anything twice.
func (a *Adapter) send(ctx context.Context, tenant string, build func(Credentials) (rest.Request, error)) (*rest.Response, error) {
	return vendors.WithCredentials(ctx, a.deps, tenant, Key, func(creds *Credentials) (*rest.Response, error) {
		req, err := build(*creds)
		if err != nil {
			return nil, err
		}
		req.Header = http.Header{"Content-Type": {"application/json"}, "Accountid": {creds.AccountID}}
		req.Sign = signer(*creds, a.deps.Now)
		return a.deps.HTTP.Do(ctx, req)
	}, func(resp *rest.Response) bool {
		rule, _ := classify(resp.Status, resp.Body)
		return !resp.OK() && rule.Code == handoff.CodeVendorAuthFailed
	})
}
