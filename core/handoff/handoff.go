// Package handoff is the domain of a bot-to-human transfer: what was asked (Request), what
// happened (Transfer, Attempt) and how the bot was told (Ack). It knows nothing of AWS, HTTP or
// any vendor, so every function and adapter speaks the same words.
package handoff

import (
	"encoding/json"
	"time"
)

// TargetType says what kind of human destination a transfer aims at.
type TargetType string

// The target types of the public API. A vendor supports a subset of them.
const (
	TargetAgent TargetType = "agent" // one named person
	TargetQueue TargetType = "queue" // a queue or open line that distributes to people
	TargetSkill TargetType = "skill" // a skill group
	TargetNext  TargetType = "next"  // whoever the vendor picks next; carries no id
)

// Valid reports whether t is one of the known target types.
func (t TargetType) Valid() bool {
	switch t {
	case TargetAgent, TargetQueue, TargetSkill, TargetNext:
		return true
	}
	return false
}

// Target is one destination to try.
type Target struct {
	Type TargetType `json:"type"`
	ID   string     `json:"id,omitempty"`
}

// Conversation identifies the customer conversation on the vendor's side.
type Conversation struct {
	ID string `json:"id"`
	// AgentSessionID is, for vendors whose chats are held by an agent session (the bot's), the
	// session that holds this one: the transfer goes through it. Without it the adapter looks the
	// chat up (the vendor notes in docs/vendors/ say which vendors).
	AgentSessionID string `json:"agentSessionId,omitempty"`
}

// Options tune how the vendor performs the transfer.
type Options struct {
	// Leave asks the bot to leave the conversation at once instead of staying until a person
	// confirms (for vendors that have such a flag).
	Leave bool `json:"leave,omitempty"`
}

// Bot is the bot that asked for the transfer and must hear its outcome.
type Bot struct {
	Vendor              string `json:"vendor"`
	SessionID           string `json:"sessionId,omitempty"`
	EscalationMessageID string `json:"escalationMessageId,omitempty"`
	// SequenceID is the channel's own message counter for the ack message, for bots whose
	// platform numbers messages; without it the adapter chooses a sequence id itself.
	SequenceID int64 `json:"sequenceId,omitempty"`
}

// Request is a validated ask to move a conversation to a person. Build it with DecodeRequest.
type Request struct {
	Tenant         string          `json:"tenant"`
	Vendor         string          `json:"vendor"`
	Conversation   Conversation    `json:"conversation"`
	Target         Target          `json:"target"`
	Fallbacks      []Target        `json:"fallbacks,omitempty"`
	Note           string          `json:"note,omitempty"`
	Options        Options         `json:"options,omitempty"`
	Bot            *Bot            `json:"bot,omitempty"`
	Metadata       json.RawMessage `json:"metadata,omitempty"`
	IdempotencyKey string          `json:"idempotencyKey,omitempty"`
}

// Targets returns the target followed by the fallbacks, in the order they are tried.
func (r Request) Targets() []Target {
	return append([]Target{r.Target}, r.Fallbacks...)
}

// Status is where a transfer stands. It moves forward: queued → pending → transferred | failed |
// cancelled, or queued → cancelled. The one step back, pending → queued, returns a transfer the
// vendor refused with a 429 before any attempt to the queue, to wait for the next token.
type Status string

// The statuses of a transfer.
const (
	// StatusQueued: waiting in the queue for the vendor's rate to allow its first call.
	StatusQueued      Status = "queued"
	StatusPending     Status = "pending"
	StatusTransferred Status = "transferred"
	StatusFailed      Status = "failed"
	// StatusCancelled: called off by the bot (DELETE /transfers/{id} or Escalation Cancelled).
	StatusCancelled Status = "cancelled"
)

// Final reports whether s is an end state.
func (s Status) Final() bool {
	return s == StatusTransferred || s == StatusFailed || s == StatusCancelled
}

// CanMoveTo reports whether a transfer in status s may move to next. Staying put is not a move.
func (s Status) CanMoveTo(next Status) bool {
	switch s {
	case StatusQueued:
		// failed: it could not be queued after all (the queue refused the message).
		return next == StatusPending || next == StatusCancelled || next == StatusFailed
	case StatusPending:
		return next.Final() || next == StatusQueued
	}
	return false
}

// Outcome is what one attempt at one target came to.
type Outcome string

// The outcomes of an attempt.
const (
	OutcomeTransferred Outcome = "transferred" // the vendor confirmed the transfer
	OutcomeAwaiting    Outcome = "awaiting"    // the vendor accepted the request; a callback will tell
	OutcomeUnavailable Outcome = "unavailable" // the target cannot take the conversation now
	OutcomeRejected    Outcome = "rejected"    // the vendor refused the request
	OutcomeError       Outcome = "error"       // the vendor could not be reached or failed
)

// Attempt records one try at one target.
type Attempt struct {
	Target     Target    `json:"target"`
	Outcome    Outcome   `json:"outcome"`
	VendorCode string    `json:"vendorCode,omitempty"`
	At         time.Time `json:"at"`
}

// AckStatus is where telling the bot stands.
type AckStatus string

// The ack statuses.
const (
	AckNotRequired AckStatus = "not_required"
	AckPending     AckStatus = "pending"
	AckSent        AckStatus = "sent"
	// AckUncertain: the bot's platform may have processed the ack but did not confirm it (it
	// answered that it failed after it ran). It is not re-sent, since a
	// second ack could make the bot act twice.
	AckUncertain AckStatus = "uncertain"
	AckFailed    AckStatus = "failed"
)

// BotMessage is one message the bot answered an ack with (e.g. text for the customer after a
// failed transfer), kept so the channel can show it.
type BotMessage struct {
	Type    string   `json:"type"`
	Message string   `json:"message,omitempty"`
	Choices []string `json:"choices,omitempty"`
}

// Ack is the state of telling the originating bot how the transfer ended.
type Ack struct {
	Status AckStatus `json:"status"`
	// Attempts counts deliveries tried; SequenceID is the message sequence id a retry reuses.
	Attempts   int       `json:"attempts,omitempty"`
	SequenceID int64     `json:"sequenceId,omitempty"`
	Error      string    `json:"error,omitempty"`
	At         time.Time `json:"at,omitzero"`
	// BotMessages is what the bot answered the ack with, for the channel to show.
	BotMessages []BotMessage `json:"botMessages,omitempty"`
}

// Problem is the error a failed transfer ended with, as the API shows it.
type Problem struct {
	Code       Code   `json:"code"`
	Message    string `json:"message"`
	VendorCode string `json:"vendorCode,omitempty"`
}

// Transfer is the resource the API returns: one request to move a conversation and what became
// of it.
type Transfer struct {
	ID           string       `json:"id"`
	Tenant       string       `json:"tenant"`
	Vendor       string       `json:"vendor"`
	Conversation Conversation `json:"conversation"`
	Target       Target       `json:"target"`
	Fallbacks    []Target     `json:"fallbacks,omitempty"`
	// Note and Options are kept for the fallbacks tried later, after a vendor's callback.
	Note     string          `json:"note,omitempty"`
	Options  Options         `json:"options,omitzero"`
	Status   Status          `json:"status"`
	Attempts []Attempt       `json:"attempts"`
	Error    *Problem        `json:"error,omitempty"`
	Ack      Ack             `json:"ack"`
	Bot      *Bot            `json:"bot,omitempty"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
	// VendorRef is the vendor's handle for the transfer (a session or conversation id) that its
	// callbacks name; empty when the vendor sends none.
	VendorRef string `json:"vendorRef,omitempty"`
	// AwaitUntil is when a transfer awaiting the vendor's callback is given up on: past it, the
	// sweep fails it, so no transfer stays pending forever.
	AwaitUntil *time.Time `json:"awaitUntil,omitempty"`
	// ExpectedStartAt is, for a transfer that went into the queue, when it was expected to
	// start: an estimate at the time it was queued.
	ExpectedStartAt *time.Time `json:"expectedStartAt,omitempty"`
	// EnqueuedAt is, for a transfer that went into the queue, when the queue took its message:
	// the queue's order (to the millisecond) among one tenant's transfers to one vendor.
	EnqueuedAt *time.Time `json:"enqueuedAt,omitempty"`
	// StartedAt is when a queued transfer left the queue to call its vendor.
	StartedAt *time.Time `json:"startedAt,omitempty"`
	// NotifiedAt is when the outcome was published as a Transfer Succeeded / Failed event.
	NotifiedAt *time.Time `json:"notifiedAt,omitempty"`
	// Caller is who asked for the transfer, for audit: the IAM principal ARN of an API call, or
	// the source and account of an escalation event ("event:{source}@{account}").
	Caller    string    `json:"caller,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	// Version counts stored changes; the store refuses a write made from a stale read.
	Version int64 `json:"-"`
}

// Targets returns the target followed by the fallbacks, in the order they are tried.
func (t Transfer) Targets() []Target {
	return append([]Target{t.Target}, t.Fallbacks...)
}

// AckRequired reports whether a bot must be told how t ended.
func (t Transfer) AckRequired() bool { return t.Bot != nil }

// Event is one entry of a transfer's timeline: a status change, an attempt, a callback, an ack.
type Event struct {
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"`
	Status Status    `json:"status,omitempty"`
	Detail string    `json:"detail,omitempty"`
}

// Availability says whether one target can take a conversation now.
type Availability struct {
	Type         TargetType `json:"type"`
	ID           string     `json:"id"`
	Name         string     `json:"name,omitempty"`
	Available    bool       `json:"available"`
	OnlineAgents *int       `json:"onlineAgents,omitempty"`
}
