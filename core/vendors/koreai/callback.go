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
// callbacks nor documents their payload [U], so the URL's token is checked first (a missing,
// forged or expired one is UNAUTHORIZED and nothing is read), then the body is read as the
// sample response ({sessionId, agentId|queueId, status, requestCompletedAt}) [I]. The token,
// in the path or the query, names the tenant, the transfer and the attempt (its target). Only
// the documented status "transferred" is an outcome; any other word is returned Unrecognised,
// with no Outcome, so it is recorded and the transfer keeps waiting: no fallback on a guess.
func (a *Adapter) ParseCallback(ctx context.Context, req vendors.CallbackRequest) (vendors.Callback, error) {
	const op = "koreai.ParseCallback"
	unauthorized := handoff.E(handoff.CodeUnauthorized, op, "the callback does not carry a valid token", nil)
	claims, mac, signed, ok := callbackIdentity(req)
	if !ok {
		return vendors.Callback{}, unauthorized
	}
	var creds Credentials
	if err := vendors.LoadCredentials(ctx, a.deps.Secrets, claims.Tenant, Key, &creds); err != nil {
		if handoff.ErrorCode(err) == handoff.CodeUnknownTenant {
			return vendors.Callback{}, unauthorized // whether a tenant exists is not told to strangers
		}
		return vendors.Callback{}, err
	}
	if !verifyCallbackMAC(creds.callbackSecrets(), signed, mac) {
		a.deps.Log.Warn("koreai: callback refused: token does not match", "tenant", claims.Tenant)
		return vendors.Callback{}, unauthorized
	}
	if !a.deps.Now().Before(claims.Expires) {
		a.deps.Log.Warn("koreai: callback refused: token expired", "tenant", claims.Tenant, "transfer", claims.Transfer)
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
	target := claims.Target // the attempt the URL was made for, whatever the body names
	cb := vendors.Callback{TransferID: claims.Transfer, Tenant: claims.Tenant, VendorRef: p.sessionID, Target: &target}
	outcome, known := statusOutcome(p.status)
	switch {
	case p.status == "":
		cb.Unrecognised = true
		cb.Detail = "Kore.ai callback of an unknown shape, no status (" + describeKeys(fields) + "); not taken as an outcome"
	case !known:
		cb.Unrecognised = true
		cb.Detail = "Kore.ai callback with a status Handoff does not know: " + cleanKey(p.status, 32) +
			" (" + describeKeys(fields) + "); not taken as an outcome"
	default:
		cb.Outcome = outcome
		cb.Detail = fmt.Sprintf("Kore.ai reported %s (%s)", normalStatus(p.status), p.targetKind())
	}
	return cb, nil
}

// callbackIdentity takes the token from the path (the route /callbacks/koreai/{token}) or else
// from the query, and reads its claims. Query values that name the tenant or the transfer must
// each appear once and agree with the token, as must the tenant the request was routed under,
// so no two readers of the same URL can disagree on what it names.
func callbackIdentity(req vendors.CallbackRequest) (CallbackClaims, []byte, string, bool) {
	fail := func() (CallbackClaims, []byte, string, bool) { return CallbackClaims{}, nil, "", false }
	token := req.PathToken
	if token == "" {
		values := req.Query["token"]
		if len(values) != 1 {
			return fail()
		}
		token = values[0]
	} else if _, also := req.Query["token"]; also {
		return fail()
	}
	claims, mac, signed, ok := readCallbackToken(token)
	if !ok || (req.Tenant != "" && req.Tenant != claims.Tenant) {
		return fail()
	}
	for key, want := range map[string]string{"tenant": claims.Tenant, "transfer": claims.Transfer} {
		if values, named := req.Query[key]; named && (len(values) != 1 || values[0] != want) {
			return fail()
		}
	}
	return claims, mac, signed, true
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

func (p payload) targetKind() string {
	switch {
	case p.agentID != "":
		return "agent"
	case p.queueID != "":
		return "queue"
	}
	return "no target named"
}

// statusOutcomes reads a status. Kore documents only "transferred" [C]; what it posts when a
// transfer fails is not documented [U], so no other word is read as an outcome: a guessed
// failure word could ask the next fallback while the first target takes the conversation.
// Any other status is Unrecognised: recorded, and the transfer keeps waiting for a known
// answer or its deadline.
var statusOutcomes = map[string]handoff.Outcome{
	"transferred": handoff.OutcomeTransferred,
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
