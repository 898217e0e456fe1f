// Package vendors is the small contract between Handoff's use cases and the contact-center
// vendors: one adapter per vendor (core/vendors/<name>), each implementing the parts of the
// contract its API allows, built from the same Deps and registered in one place (core/vendors/all).
// Vendor facts in the adapters' comments carry the markers of docs/markers.md ([C] confirmed,
// [I] inferred, [U] unknown); docs/vendors.md names the source of each.
package vendors

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors/rest"
)

// Secrets gives adapters their tenant's credentials: the JSON object stored for (tenant, vendor).
// A missing secret is UNKNOWN_TENANT. Implemented by core/secrets over Secrets Manager.
type Secrets interface {
	// Get returns the secret's JSON, from a cache when fresh.
	Get(ctx context.Context, tenant, vendor string) ([]byte, error)
	// Invalidate drops the cached copy, after the vendor said the credentials are wrong.
	Invalidate(tenant, vendor string)
	// Put writes a rotated secret back (Bitrix24's refresh tokens) and caches it.
	Put(ctx context.Context, tenant, vendor string, secret []byte) error
}

// Deps are what every adapter is built from. Constructors keep them and do no I/O.
type Deps struct {
	Secrets Secrets
	HTTP    *rest.Client
	Log     *slog.Logger
	Now     func() time.Time
}

// Transferer moves a conversation to one target on one vendor.
type Transferer interface {
	// Supports reports whether the vendor can transfer to this kind of target; the transfer
	// service refuses the others with UNSUPPORTED_TARGET before any vendor call.
	Supports(handoff.TargetType) bool
	// Transfer asks the vendor to move the conversation. It returns OutcomeTransferred when the
	// vendor confirmed, OutcomeAwaiting when a callback will tell. Errors are *handoff.Error:
	// TARGET_UNAVAILABLE and VENDOR_REJECTED end this target (the next fallback is tried); any
	// other code ends the transfer.
	Transfer(ctx context.Context, req TransferRequest) (TransferResult, error)
}

// TransferRequest is one attempt at one target.
type TransferRequest struct {
	Tenant       string
	TransferID   string
	Conversation handoff.Conversation
	Target       handoff.Target
	Note         string
	Leave        bool
	// CallbackURL is the vendor's callback route on our API, {base}/callbacks/{vendor}, with no
	// query. Adapters whose vendor reports the outcome later add their own proof of origin (an
	// HMAC token naming the tenant and the transfer) as a last path segment,
	// {base}/callbacks/{vendor}/{token} (the route POST /callbacks/{vendor}/{token}), which a
	// platform that drops or re-encodes query strings still delivers. Given a URL with a query
	// (?tenant=…&transfer=…), they add the proof to the query instead.
	CallbackURL string
	// Reconcile is set when an earlier attempt at this same transfer may already have reached
	// the vendor (its lease lapsed or its outcome was ambiguous): an error that means "already
	// done" (Bitrix24 WRONG_CHAT on operator, for example) then counts as success.
	Reconcile bool
}

// TransferResult is what the vendor said to a transfer it accepted.
type TransferResult struct {
	Outcome handoff.Outcome // OutcomeTransferred or OutcomeAwaiting
	// VendorRef is the id the vendor's callbacks will name (a session or conversation id).
	VendorRef  string
	VendorCode string
}

// Acker tells a bot how its transfer ended (Salesforce Einstein Bots, a signed webhook).
type Acker interface {
	// Ack delivers the outcome of t, which is final. t.Ack.SequenceID is stable across retries of
	// the same ack. Retryable errors (handoff.Retryable) are tried again later; any other error
	// records the ack as failed. Without an error the ack is recorded sent, or uncertain when
	// the result says so.
	Ack(ctx context.Context, t handoff.Transfer) (AckResult, error)
}

// AckResult is what came back from an ack the bot's platform took.
type AckResult struct {
	// Uncertain, when set, says why the bot may have processed the ack without confirming it
	// (Salesforce's 503: the bot's Apex or Flow timed out after it ran). The ack is recorded as
	// handoff.AckUncertain with this reason and never sent again.
	Uncertain string
	// BotMessages is the bot's reply to the ack, for the channel to show the customer.
	BotMessages []handoff.BotMessage
}

// AvailabilityChecker lists the targets that can take a conversation now.
type AvailabilityChecker interface {
	Availability(ctx context.Context, req AvailabilityRequest) ([]handoff.Availability, error)
}

// AvailabilityRequest asks which targets can take a conversation. Targets, when given, narrow the
// question to those targets (vendors that need ids to answer require them).
type AvailabilityRequest struct {
	Tenant         string
	ConversationID string
	Targets        []handoff.Target
}

// CallbackParser authenticates and reads a vendor's webhook (POST /callbacks/{vendor}).
type CallbackParser interface {
	// ParseCallback returns what the vendor reported, or UNAUTHORIZED when the caller cannot
	// prove it is the vendor (nothing may change then), or INVALID_REQUEST for a body it
	// cannot read.
	ParseCallback(ctx context.Context, req CallbackRequest) (Callback, error)
}

// CallbackRequest is a webhook as it arrived. Tenant comes from the callback URL's query; it is
// empty when the proof is in the path and the query names none.
type CallbackRequest struct {
	// BaseURL is our API's public base URL, where this webhook arrived; callback URLs for any
	// further attempt are built on it.
	BaseURL string
	Tenant  string
	Query   url.Values
	Header  http.Header
	Body    []byte
	// PathToken is the path after /callbacks/{vendor}/, when the callback came by the route
	// POST /callbacks/{vendor}/{token}: a proof that names its tenant and transfer itself.
	PathToken string
}

// Callback is what a vendor's webhook reported about one transfer.
type Callback struct {
	// TransferID is set when the callback URL named our transfer (and its token proved it).
	TransferID string
	// Tenant is set when the proof named the tenant (a self-contained token); when the request
	// carried no tenant (a path token), the transfer is looked up under this one.
	Tenant string
	// VendorRef is the vendor's conversation or session id, to find the transfer otherwise.
	VendorRef string
	// Outcome is OutcomeTransferred, OutcomeRejected or OutcomeUnavailable; empty when the
	// webhook only informs (it is recorded in the timeline and changes no status).
	Outcome handoff.Outcome
	// Unrecognised is set, with an empty Outcome, when the vendor reported a status Handoff does
	// not know. It is recorded in the timeline (Detail names the word) and changes nothing: no
	// fallback is asked on a guess, the transfer keeps waiting, and its await deadline stands.
	Unrecognised bool
	VendorCode   string
	// Target is the target the report is about, when the vendor names it; a report about an
	// earlier target of the chain than the one now awaited is recorded, not applied.
	Target *handoff.Target
	// Detail is a short description for the timeline: never a credential, never a raw body.
	Detail string
}
