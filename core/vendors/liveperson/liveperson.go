// Package liveperson moves LivePerson chats from a bot to a skill or an agent with the Chat Agent
// API, checking skills first and reusing one login and agent session per tenant across transfers.
package liveperson

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/rest"
)

// Vendor is this adapter's vendor key: the {vendor} of secrets and of the API.
const Vendor = "liveperson"

// Operation names, for errors and logs.
const (
	opTransfer     = "liveperson.Transfer"
	opAvailability = "liveperson.Availability"
	opLogin        = "liveperson.Login"
	opAgentSession = "liveperson.AgentSession"
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
	log  *slog.Logger

	logins   singleflight.Group
	mu       sync.Mutex
	sessions map[string]*session // by tenant
}

// New builds the adapter. It does no I/O: the first transfer of a tenant logs in.
func New(d vendors.Deps) *Adapter {
	a := &Adapter{deps: d, log: d.Log, sessions: map[string]*session{}}
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

// Transfer moves the chat to a skill or an agent. A skill is checked first with Retrieve
// Available Skills: one without an online agent is TARGET_UNAVAILABLE and no transfer is sent.
// The transfer itself is sent once; only a 401 (refused before LivePerson acted) or a 429 with
// Retry-After is sent again.
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
	chatID := req.Conversation.ID
	if req.Target.Type == handoff.TargetSkill {
		if err := c.checkSkill(ctx, chatID, id); err != nil {
			return a.reconciled(req, err)
		}
	}
	body := transferBody(req.Target.Type, id, req.Note)
	resp, err := c.call(ctx, func(s *session) rest.Request {
		return rest.Request{Op: opTransfer, Method: http.MethodPost, URL: s.chatURL(chatID, "transfer"),
			Header: s.headers(), Body: body, Retry: resendable(phaseTransfer, false)}
	})
	if err != nil {
		return vendors.TransferResult{}, err
	}
	if !resp.OK() {
		e := vendorError(opTransfer, classify(phaseTransfer, resp, req.Target.Type), resp, a.now())
		if e.Code == handoff.CodeVendorAuthFailed {
			a.authFailed(req.Tenant, c.s)
		}
		return a.reconciled(req, e)
	}
	// The doc shows "200 OK" and no body [C]. An empty or JSON body is success; anything else
	// (an HTML page from a proxy, say) is not proof that LivePerson transferred the chat.
	if len(bytes.TrimSpace(resp.Body)) > 0 && !json.Valid(resp.Body) {
		return vendors.TransferResult{}, vendorError(opTransfer, condMalformedAnswer, nil, a.now())
	}
	return vendors.TransferResult{Outcome: handoff.OutcomeTransferred}, nil
}

// reconciled turns an "already done" answer into success when the transfer is being reconciled:
// an earlier attempt may have moved the chat, after which the bot's agent session no longer
// holds it [U: LivePerson does not document the answer to a repeated transfer]. Without
// Reconcile, or for any other answer, err is returned as it is.
func (a *Adapter) reconciled(req vendors.TransferRequest, err error) (vendors.TransferResult, error) {
	var e *handoff.Error
	if req.Reconcile && errors.As(err, &e) && e.VendorCode != "" && rules[e.VendorCode].alreadyDone {
		a.log.Info("liveperson: chat already left the bot; taking the earlier attempt as done",
			"tenant", req.Tenant, "transfer", req.TransferID, "vendorCode", e.VendorCode)
		return vendors.TransferResult{Outcome: handoff.OutcomeTransferred, VendorCode: e.VendorCode}, nil
	}
	return vendors.TransferResult{}, err
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
