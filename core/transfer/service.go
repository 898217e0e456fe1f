// Package transfer is the use case at Handoff's heart: take a validated request, claim its
// idempotency key, try the target and then each fallback on the vendor, record every attempt and
// the outcome, and later apply what vendor callbacks report. It speaks only domain words and
// reaches storage and vendors through the small interfaces below.
package transfer

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors"
)

// Store is what the service needs of storage (core/store implements it over DynamoDB; the
// behavioural suite core/store/storetest pins the semantics both stores share).
type Store interface {
	// Claim takes the key and records pending before any vendor call.
	Claim(ctx context.Context, c handoff.Claim, pending handoff.Transfer) (handoff.ClaimResult, error)
	// Progress records the claimed transfer before its next target is tried.
	Progress(ctx context.Context, c handoff.Claim, t handoff.Transfer, events ...handoff.Event) (handoff.Transfer, error)
	// Complete records the claimed transfer's outcome and completes the key.
	Complete(ctx context.Context, c handoff.Claim, t handoff.Transfer, events []handoff.Event) (handoff.Transfer, error)
	Release(ctx context.Context, c handoff.Claim, ambiguous bool) error
	// TakeOver gives an overdue pending transfer's claim to the sweep.
	TakeOver(ctx context.Context, t handoff.Transfer, owner string, until time.Time) (handoff.Claim, handoff.Transfer, error)
	Get(ctx context.Context, id string) (handoff.Transfer, error)
	FindByRef(ctx context.Context, tenant, vendor, vendorRef string) (handoff.Transfer, error)
	// FindByKey is tenant's live transfer claimed under an idempotency key.
	FindByKey(ctx context.Context, tenant, key string) (handoff.Transfer, error)
	Update(ctx context.Context, before, after handoff.Transfer, events ...handoff.Event) (handoff.Transfer, error)
	// Note appends to the timeline only: it never conflicts with a state change.
	Note(ctx context.Context, id string, events ...handoff.Event) error
	Overdue(ctx context.Context, now time.Time, limit int) ([]handoff.Transfer, error)
}

// Vendors finds the adapters by vendor key (vendors.Registry implements it).
type Vendors interface {
	Transferer(name string) (vendors.Transferer, bool)
	Acker(name string) (vendors.Acker, bool)
	CallbackParser(name string) (vendors.CallbackParser, bool)
}

// Service runs transfers. Build it with New; it is safe for concurrent use.
type Service struct {
	store   Store
	vendors Vendors
	log     *slog.Logger
	now     func() time.Time
	// completed remembers results this container already returned, so a duplicate of a key it
	// completed costs no storage request at all.
	completed *memo
	// leaseMargin is kept back from the deadline for recording the outcome after the vendor call.
	leaseMargin time.Duration
	// callbackTimeout is how long a transfer may await the vendor's callback before the sweep
	// gives up on it.
	callbackTimeout time.Duration
	// callbackBase is the configured public base URL for callbacks; empty means "where the
	// request or webhook arrived".
	callbackBase string
	// earlyCallbackWait bounds how long a callback for a transfer not yet recorded waits for it.
	earlyCallbackWait time.Duration
	// derivedKeyWindow is how long a key derived from the body (no explicit key) is remembered.
	derivedKeyWindow time.Duration
	// sweepReserve is the part of the sweep's invocation it never starts new work in.
	sweepReserve time.Duration
	// pacer and queue pace vendor calls and hold what cannot start now (queue.go); nil: none.
	pacer Pacer
	queue Queue
	// drainReserve is the part of a drainer's invocation kept for the vendor calls and records
	// of a transfer whose token it awaits.
	drainReserve time.Duration
}

// DerivedKeyWindow is how long a key derived from the request body is remembered by default: long
// enough to absorb a blind resend, short enough that a bot escalating the same conversation again
// after a failure gets a new transfer. Explicit keys keep the store's full window (24h).
const DerivedKeyWindow = 5 * time.Minute

// Option changes a Service built by New.
type Option func(*Service)

// WithClock sets the clock (tests).
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithCallbackTimeout sets how long a transfer may await the vendor's callback (default 15m).
func WithCallbackTimeout(d time.Duration) Option { return func(s *Service) { s.callbackTimeout = d } }

// WithCallbackBase sets the public base URL callbacks are addressed to, when configured.
func WithCallbackBase(base string) Option { return func(s *Service) { s.callbackBase = base } }

// WithEarlyCallbackWait bounds how long a callback naming a transfer not yet recorded waits for
// the record (default 2s; 0 answers NOT_FOUND at once).
func WithEarlyCallbackWait(d time.Duration) Option {
	return func(s *Service) { s.earlyCallbackWait = d }
}

// WithDerivedKeyWindow sets how long a key derived from the body is remembered (default 5m).
func WithDerivedKeyWindow(d time.Duration) Option { return func(s *Service) { s.derivedKeyWindow = d } }

// New builds a Service from ready parts. It does no I/O.
func New(store Store, v Vendors, log *slog.Logger, opts ...Option) *Service {
	s := &Service{
		store: store, vendors: v, log: log, now: time.Now,
		completed: newMemo(1024), leaseMargin: 2 * time.Second, callbackTimeout: 15 * time.Minute,
		earlyCallbackWait: 2 * time.Second, derivedKeyWindow: DerivedKeyWindow, sweepReserve: 5 * time.Second,
		drainReserve: 10 * time.Second,
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Input is one request to start a transfer, as it arrived.
type Input struct {
	Request handoff.Request
	// Key is the idempotency key from the Idempotency-Key header or the EventBridge event id; the
	// body's idempotencyKey wins when present, and a key is derived from the request otherwise.
	Key string
	// CallbackBase is the public base URL of our API, for vendors that call back.
	CallbackBase string
	// Caller is who asked (an IAM principal ARN, or an event's source), recorded on the transfer
	// for audit. It is not part of the request's fingerprint.
	Caller string
	// Queue sends the transfer through the queue even when a token is free (escalations from
	// EventBridge: a storm of them must never reach the vendor faster than its rate). It
	// matters only with WithPacing.
	Queue bool
}

// Result is a transfer and whether this call created it or replayed an earlier result.
type Result struct {
	Transfer handoff.Transfer
	Replayed bool
}

// Start runs a transfer request to its outcome (or to the callback it awaits). A failure a retry
// may fix (the vendor down, slow or rate limiting) releases the key and is returned as an error,
// so the same request can be sent again; targets that refuse end as a failed transfer.
func (s *Service) Start(ctx context.Context, in Input) (Result, error) {
	req := in.Request
	tr, err := s.checkVendor(req)
	if err != nil {
		return Result{}, err
	}
	fingerprint := req.Fingerprint()
	key, derived := idempotencyKey(in, fingerprint)
	claim := handoff.Claim{
		Tenant:      req.Tenant,
		Key:         key,
		Fingerprint: fingerprint,
		Owner:       newID(),
		LeaseUntil:  leaseUntil(ctx, s.now()),
		TransferID:  newID(),
	}
	if derived {
		claim.Window = s.derivedKeyWindow
	}
	if t, ok, err := s.completed.lookup(claim, s.now()); ok || err != nil {
		return Result{Transfer: t, Replayed: true}, err
	}
	// Record first: the transfer exists, pending with its deadline, before the vendor hears of it.
	t := s.pending(req, in.Caller, claim)
	won, err := s.store.Claim(ctx, claim, t)
	if err != nil {
		return Result{}, err
	}
	if won.Completed != nil {
		s.completed.remember(claim, *won.Completed, s.now())
		return Result{Transfer: *won.Completed, Replayed: true}, nil
	}
	claim.TransferID = won.TransferID
	t.ID, t.Version = won.TransferID, won.Version
	switch {
	case won.Stored != nil && won.Stored.Status == handoff.StatusCancelled:
		// Cancelled while an earlier attempt ran: there is nothing left to do.
		return Result{Transfer: *won.Stored, Replayed: true}, nil
	case won.Stored != nil:
		t = *won.Stored // an earlier attempt's record: go on from the target it left in doubt
	default:
		start, next, err := s.admit(ctx, t, in.Queue)
		if err != nil {
			s.release(claim, false, err)
			return Result{}, err
		}
		if !start {
			// Not remembered in the memo: a duplicate must see the transfer as it is now.
			queued, err := s.enqueue(ctx, claim, t, next, in.CallbackBase)
			return Result{Transfer: queued}, err
		}
	}
	t, err, vendorFailed := s.run(ctx, tr, in.CallbackBase, claim, t, won.Reclaimed)
	if err != nil && !vendorFailed && handoff.ErrorCode(err) == handoff.CodeConflict {
		// Cancelled while its targets were tried: the chain stopped at the refused write.
		if cur, gerr := s.store.Get(ctx, claim.TransferID); gerr == nil && cur.Status == handoff.StatusCancelled {
			return Result{Transfer: cur}, nil
		}
	}
	if err != nil {
		if vendorFailed {
			s.release(claim, won.Reclaimed, err)
		}
		// Otherwise recording failed after the vendor may have acted: the record keeps the
		// target in doubt, and a retry after the lease, or the sweep, reconciles it.
		return Result{}, err
	}
	s.completed.remember(claim, t, s.now())
	return Result{Transfer: t}, nil
}

// checkVendor refuses unknown vendors and target types the vendor lacks before any I/O.
func (s *Service) checkVendor(req handoff.Request) (vendors.Transferer, error) {
	tr, ok := s.vendors.Transferer(req.Vendor)
	if !ok {
		return nil, handoff.Invalid("vendor", "unknown vendor "+req.Vendor)
	}
	for i, target := range req.Targets() {
		if !tr.Supports(target.Type) {
			field := "target.type"
			if i > 0 {
				field = "fallbacks[" + strconv.Itoa(i-1) + "].type"
			}
			return nil, &handoff.Error{Code: handoff.CodeUnsupportedTarget, Op: "transfer.Start", Field: field,
				Message: req.Vendor + " cannot transfer to a " + string(target.Type)}
		}
	}
	if err := vendors.Validate(tr, req); err != nil {
		return nil, err
	}
	if req.Bot != nil {
		acker, ok := s.vendors.Acker(req.Bot.Vendor)
		if !ok {
			return nil, handoff.Invalid("bot.vendor", "no bot adapter for "+req.Bot.Vendor)
		}
		// The bot's own fields are its adapter's to check, before anything is written.
		if err := vendors.Validate(acker, req); err != nil {
			return nil, err
		}
	}
	return tr, nil
}

// release gives the key back after a failure that did not end the transfer. The vendor may have
// acted when the call timed out or failed mid-way, when it answered something we cannot read (a
// 2xx with an undocumented body is as likely a success as not), or when an earlier attempt at
// this transfer was itself in doubt (reclaimed): then the next claim is told to reconcile.
// Otherwise the claim leaves no trace, so a request refused for its tenant or credentials changes
// nothing stored.
func (s *Service) release(claim handoff.Claim, reclaimed bool, cause error) {
	code := handoff.ErrorCode(cause)
	ambiguous := reclaimed || code == handoff.CodeVendorTimeout || code == handoff.CodeVendorUnavailable ||
		code == handoff.CodeVendorProtocol
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.store.Release(ctx, claim, ambiguous); err != nil {
		// The lease lapses on its own at the deadline; the next claim then reconciles.
		s.log.Warn("release failed; the lease will lapse", "op", "transfer.release", "transfer", claim.TransferID, "error", err)
	}
}

// leaseUntil is the invocation's deadline, or a default when the context has none.
func leaseUntil(ctx context.Context, now time.Time) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return now.Add(30 * time.Second)
}

// idempotencyKey picks the key: the body's, else the header's or event's, else one derived from
// the request itself (so a blind resend of the same body is still one transfer), which is
// remembered only briefly.
func idempotencyKey(in Input, fingerprint string) (string, bool) {
	switch {
	case in.Request.IdempotencyKey != "":
		return in.Request.IdempotencyKey, false
	case in.Key != "":
		return in.Key, false
	}
	return "derived:" + fingerprint, true
}

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// newID returns 128 random bits as 26 lower-case characters, safe in URLs and keys.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return strings.ToLower(idEncoding.EncodeToString(b[:]))
}
