// Package liveperson moves LivePerson chats from a bot to a skill or an agent with the Chat Agent
// API, through the agent session that holds the chat (named by the request, or found with
// Retrieve Chat Sessions), checking skills first, and keeping one login and agent session per
// tenant alive across transfers (docs/vendors/liveperson.md).
package liveperson

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/rest"
	"handoff/core/vendors/vendorkit"
)

// Key is this adapter's vendor key: the {vendor} of secrets and of the API.
const Key = "liveperson"

// Operation names, for errors and logs.
const (
	opTransfer     = "liveperson.Transfer"
	opAvailability = "liveperson.Availability"
	opLogin        = "liveperson.Login"
	opAgentSession = "liveperson.AgentSession"
	opRefresh      = "liveperson.Refresh"
)

var (
	_ vendors.Transferer          = (*Adapter)(nil)
	_ vendors.AvailabilityChecker = (*Adapter)(nil)
)

// Adapter talks to LivePerson's Chat Agent API for every tenant. It keeps one login and agent
// session per tenant in memory (a Lambda container serves many transfers), shared by concurrent
// transfers. Safe for concurrent use.
type Adapter struct {
	deps vendors.Deps
	opts Options
	log  *slog.Logger

	sessions *vendorkit.Cache[*session] // by tenant and credentials
}

// New builds the adapter. It does no I/O: the first transfer of a tenant logs in.
func New(d vendors.Deps) *Adapter { return NewWithOptions(d, Options{}) }

// NewWithOptions is New with the waits between retries replaced (tests).
func NewWithOptions(d vendors.Deps, o Options) *Adapter {
	a := &Adapter{deps: d, opts: o, log: d.Log}
	a.sessions = vendorkit.NewCache(a.now, (*session).expiry)
	if a.log == nil {
		a.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return a
}

func (a *Adapter) now() time.Time {
	if a.deps.Now != nil {
		return a.deps.Now()
	}
	return time.Now()
}

// Supports reports skill and agent: the Chat Agent API transfers to nothing else.
func (a *Adapter) Supports(t handoff.TargetType) bool {
	return t == handoff.TargetSkill || t == handoff.TargetAgent
}

// Transfer moves the chat to a skill or an agent, through the agent session that holds it (see
// locate). A skill is checked first with Retrieve Available Skills: one without an online agent
// is TARGET_UNAVAILABLE and no transfer is sent. The transfer itself is sent once; only a 401
// (refused before LivePerson acted, with a new login) or a 429 is sent again.
func (a *Adapter) Transfer(ctx context.Context, req vendors.TransferRequest) (vendors.TransferResult, error) {
	if !a.Supports(req.Target.Type) {
		return vendors.TransferResult{}, &handoff.Error{Code: handoff.CodeUnsupportedTarget, Op: opTransfer,
			Message: "LivePerson transfers only to a skill or an agent"}
	}
	id, err := numericID(req.Target)
	if err != nil {
		return vendors.TransferResult{}, err
	}
	if err := handoff.ValidateID("conversation.id", req.Conversation.ID); err != nil {
		return vendors.TransferResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return vendors.TransferResult{}, handoff.E(handoff.CodeVendorTimeout, opTransfer, "the call was cancelled", err)
	}
	c, err := a.connect(ctx, req.Tenant)
	if err != nil {
		return vendors.TransferResult{}, err
	}
	ref, done, err := c.locate(ctx, opTransfer, req.Conversation, req.Reconcile)
	if err != nil {
		return vendors.TransferResult{}, err
	}
	if done {
		return vendors.TransferResult{Outcome: handoff.OutcomeTransferred, VendorCode: condChatLeft}, nil
	}
	if req.Target.Type == handoff.TargetSkill {
		if err := c.checkSkill(ctx, ref, id); err != nil {
			return vendors.TransferResult{}, err
		}
	}
	body := transferBody(req.Target.Type, id, req.Note)
	resp, err := c.call(ctx, func(s *session) rest.Request {
		return rest.Request{Op: opTransfer, Method: http.MethodPost, URL: s.chatURL(ref, "transfer"),
			Header: s.headers(), Body: body}
	})
	if err != nil {
		return vendors.TransferResult{}, err
	}
	if !resp.OK() {
		e := vendorError(opTransfer, classify(phaseTransfer, resp), resp, a.now())
		if e.Code == handoff.CodeVendorAuthFailed {
			a.authFailed(req.Tenant, c.s)
		}
		return vendors.TransferResult{}, e
	}
	// The doc shows "200 OK" and no body [C]. An empty or JSON body is success; anything else
	// (an HTML page from a proxy, say) is not proof that LivePerson transferred the chat.
	if len(bytes.TrimSpace(resp.Body)) > 0 && !json.Valid(resp.Body) {
		return vendors.TransferResult{}, vendorError(opTransfer, condMalformedAnswer, nil, a.now())
	}
	c.s.chats.forget(ref.chat)
	return vendors.TransferResult{Outcome: handoff.OutcomeTransferred}, nil
}

// Validate refuses, before anything is written, a skill or agent id LivePerson could never take
// (see numericID, which Transfer checks again at each attempt).
func (a *Adapter) Validate(req handoff.Request) error {
	if req.Vendor != Key {
		return nil
	}
	return vendorkit.EachTarget(req, func(t handoff.Target) error {
		if !a.Supports(t.Type) {
			return nil // the transfer service refuses it as UNSUPPORTED_TARGET
		}
		_, err := numericID(t)
		return err
	})
}

// numericID checks a skill or agent id: the Transfer a Chat doc types both as numeric [C], and
// they are sent as JSON numbers.
func numericID(t handoff.Target) (string, error) {
	n, err := strconv.ParseUint(t.ID, 10, 63)
	if err != nil || n == 0 {
		return "", &handoff.Error{Code: handoff.CodeInvalidRequest, Op: opTransfer, Field: "target.id",
			Message: "LivePerson " + string(t.Type) + " ids are positive whole numbers"}
	}
	return strconv.FormatUint(n, 10), nil
}

// transferBody is Transfer a Chat's JSON body. id is a checked decimal, written as a number.
func transferBody(typ handoff.TargetType, id, note string) []byte {
	type ref struct {
		ID json.Number `json:"id"`
	}
	var t struct {
		Skill *ref   `json:"skill,omitempty"`
		Agent *ref   `json:"agent,omitempty"`
		Text  string `json:"text,omitempty"` // seen only by the receiving agent [C]
	}
	if typ == handoff.TargetAgent {
		t.Agent = &ref{json.Number(id)}
	} else {
		t.Skill = &ref{json.Number(id)}
	}
	t.Text = note
	b, _ := json.Marshal(map[string]any{"transfer": t}) // cannot fail: strings and a checked number
	return b
}
