package koreai

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"handoff/core/handoff"
	"handoff/core/vendors"
)

// maxCallbackBody bounds a callback body: the only payload Kore shows has four short fields.
const maxCallbackBody = 64 << 10

// ParseCallback reads what Kore posted to a callback URL we gave it. Kore neither signs its
// callbacks nor documents their payload [U], so the URL's token is checked first (a missing or
// forged one is UNAUTHORIZED and nothing is read), then the body is read as the sample response
// ({sessionId, agentId|queueId, status, requestCompletedAt}) [I]. A body it cannot vouch for is
// returned with no Outcome and a Detail naming its keys, so it is recorded, not guessed at.
func (a *Adapter) ParseCallback(ctx context.Context, req vendors.CallbackRequest) (vendors.Callback, error) {
	const op = "koreai.ParseCallback"
	unauthorized := handoff.E(handoff.CodeUnauthorized, op, "the callback does not carry a valid token", nil)
	tenant, transferID, token, ok := callbackIdentity(req)
	if !ok {
		return vendors.Callback{}, unauthorized
	}
	var creds Credentials
	if err := vendors.LoadCredentials(ctx, a.deps.Secrets, tenant, Vendor, &creds); err != nil {
		if handoff.ErrorCode(err) == handoff.CodeUnknownTenant {
			return vendors.Callback{}, unauthorized // whether a tenant exists is not told to strangers
		}
		return vendors.Callback{}, err
	}
	if !validCallbackToken(creds.CallbackSecret, tenant, transferID, token) {
		a.deps.Log.Warn("koreai: callback refused: token does not match", "tenant", tenant)
		return vendors.Callback{}, unauthorized
	}
	if len(req.Body) > maxCallbackBody {
		return vendors.Callback{}, handoff.E(handoff.CodeInvalidRequest, op,
			fmt.Sprintf("callback body is larger than %d bytes", maxCallbackBody), nil)
	}
	fields, ok := jsonObject(req.Body)
	if !ok {
		return vendors.Callback{}, handoff.E(handoff.CodeInvalidRequest, op, "callback body must be a JSON object", nil)
	}
	p := readPayload(fields)
	cb := vendors.Callback{TransferID: transferID, VendorRef: p.sessionID, Target: p.target()}
	outcome, known := statusOutcome(p.status)
	switch {
	case p.status == "":
		cb.Detail = "Kore.ai callback of an unknown shape, no status (" + describeKeys(fields) + ")"
	case !known:
		cb.Detail = "Kore.ai callback with an unrecognised status (" + describeKeys(fields) + ")"
	default:
		cb.Outcome = outcome
		if outcome != handoff.OutcomeTransferred {
			cb.VendorCode = normalStatus(p.status)
		}
		cb.Detail = fmt.Sprintf("Kore.ai reported %s (%s)", normalStatus(p.status), p.targetKind())
	}
	return cb, nil
}

// callbackIdentity takes the tenant, transfer and token from the callback URL's query. Each must
// appear exactly once, so no two readers of the same URL can disagree on what it names.
func callbackIdentity(req vendors.CallbackRequest) (tenant, transferID, token string, ok bool) {
	one := func(key string) (string, bool) {
		values := req.Query[key]
		if len(values) != 1 || handoff.ValidateID(key, values[0]) != nil {
			return "", false
		}
		return values[0], true
	}
	tenant = req.Tenant
	if _, named := req.Query["tenant"]; named || tenant == "" {
		queried, ok := one("tenant")
		if !ok || (tenant != "" && queried != tenant) {
			return "", "", "", false
		}
		tenant = queried
	}
	transferID, ok1 := one("transfer")
	token, ok2 := one("token")
	return tenant, transferID, token, ok1 && ok2
}

// payload is what we read of Kore's sample body; every field is optional.
type payload struct {
	sessionID, agentID, queueID, status string
}

func readPayload(fields map[string]json.RawMessage) payload {
	text := func(key string) string {
		var s string
		_ = json.Unmarshal(fields[key], &s) // a key that is absent or not a string reads as ""
		return s
	}
	id := func(key string) string {
		if s := text(key); handoff.ValidateID(key, s) == nil {
			return s
		}
		return ""
	}
	status := text("status")
	if len(status) > 64 { // no status we know is that long
		status = "?"
	}
	return payload{sessionID: id("sessionId"), agentID: id("agentId"), queueID: id("queueId"), status: status}
}

// target is the agent or queue the callback names. [U] whether a queue transfer's report also
// names the agent who took it: the queue, when named, is taken as what the report is about.
func (p payload) target() *handoff.Target {
	switch {
	case p.queueID != "":
		return &handoff.Target{Type: handoff.TargetQueue, ID: p.queueID}
	case p.agentID != "":
		return &handoff.Target{Type: handoff.TargetAgent, ID: p.agentID}
	}
	return nil
}

func (p payload) targetKind() string {
	switch {
	case p.agentID != "":
		return "agent"
	case p.queueID != "":
		return "queue"
	}
	return "no target named"
}

// statusOutcomes reads a status. Kore documents only "transferred" [C]; the failure words are
// guesses [I] from the docs' "messages based on success or failure": a refusal of the request
// (failed, rejected, not_transferred, error) is OutcomeRejected; a target that could not take the
// conversation in time (timeout, declined, unavailable, busy, offline…) is OutcomeUnavailable.
// Any other status is left for a person to read in the timeline.
var statusOutcomes = map[string]handoff.Outcome{
	"transferred": handoff.OutcomeTransferred,

	"failed":          handoff.OutcomeRejected,
	"failure":         handoff.OutcomeRejected,
	"error":           handoff.OutcomeRejected,
	"rejected":        handoff.OutcomeRejected,
	"not_transferred": handoff.OutcomeRejected,
	"transfer_failed": handoff.OutcomeRejected,

	"timeout":            handoff.OutcomeUnavailable,
	"timed_out":          handoff.OutcomeUnavailable,
	"timedout":           handoff.OutcomeUnavailable,
	"expired":            handoff.OutcomeUnavailable,
	"declined":           handoff.OutcomeUnavailable,
	"unavailable":        handoff.OutcomeUnavailable,
	"not_available":      handoff.OutcomeUnavailable,
	"agent_unavailable":  handoff.OutcomeUnavailable,
	"queue_unavailable":  handoff.OutcomeUnavailable,
	"no_agent_available": handoff.OutcomeUnavailable,
	"busy":               handoff.OutcomeUnavailable,
	"offline":            handoff.OutcomeUnavailable,
}

func statusOutcome(status string) (handoff.Outcome, bool) {
	o, ok := statusOutcomes[normalStatus(status)]
	return o, ok
}

// normalStatus folds case and separators: "Not Transferred", "not-transferred" and
// "NOT_TRANSFERRED" are one status.
func normalStatus(status string) string {
	s := strings.ToLower(strings.TrimSpace(status))
	return strings.NewReplacer("-", "_", " ", "_").Replace(s)
}

// jsonObject parses body as one JSON object.
func jsonObject(body []byte) (map[string]json.RawMessage, bool) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, false
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(trimmed, &fields) != nil {
		return nil, false
	}
	return fields, true
}

// describeKeys names a body's top-level keys, never its values, bounded and cleaned so that the
// timeline holds a short, printable description of a shape we do not know.
func describeKeys(fields map[string]json.RawMessage) string {
	const maxKeys, maxKeyLen = 12, 32
	if len(fields) == 0 {
		return "keys: none"
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, cleanKey(k, maxKeyLen))
	}
	slices.Sort(keys)
	more := ""
	if len(keys) > maxKeys {
		more = fmt.Sprintf(" and %d more", len(keys)-maxKeys)
		keys = keys[:maxKeys]
	}
	return "keys: " + strings.Join(keys, ", ") + more
}

func cleanKey(k string, maxLen int) string {
	var b strings.Builder
	for _, c := range k {
		if b.Len() >= maxLen {
			b.WriteString("…")
			break
		}
		if c < 0x80 && (c == '_' || c == '-' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			b.WriteRune(c)
		} else {
			b.WriteByte('?')
		}
	}
	if b.Len() == 0 {
		return `""`
	}
	return b.String()
}
