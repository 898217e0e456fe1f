package salesforcesandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"handoff/core/vendors/sandbox"
)

// sandboxVersions are the runtime versions the spec repository holds in the v5 line.
var sandboxVersions = map[string]bool{"v5.0.0": true, "v5.1.0": true, "v5.2.0": true, "v5.3.0": true}

// sandboxErrorStatus is the status of each error schema of docs/vendors/salesforce.md, for VendorError faults.
var sandboxErrorStatus = map[string]int{
	"BadRequestError": 400, "UnauthorizedError": 401, "ForbiddenError": 403, "NotFoundError": 404,
	"NotAvailableError": 410, "RequestProcessingException": 422, "ServerBusyError": 423,
	"TooManyRequestsError": 429, "ServiceUnavailable": 503,
}

// sandboxEndReasons is the X-Session-End-Reason enum.
var sandboxEndReasons = map[string]bool{"UserRequest": true, "Transfer": true, "Expiration": true, "Error": true, "Other": true}

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// token is the JWT bearer flow: a form with exactly grant_type and assertion, an RS256
// assertion signed by the trusted key, with iss, sub, aud and an exp at most ~3 minutes away.
func (s *Sandbox) token(w http.ResponseWriter, r *http.Request) {
	body := s.rec.Record(r)
	if f, ok := s.tokenFaults.Next(); ok && s.playTokenFault(w, r, f) {
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "the body must be a form")
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil || len(form) != 2 || len(form["grant_type"]) != 1 || len(form["assertion"]) != 1 {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "expected exactly grant_type and assertion")
		return
	}
	if form.Get("grant_type") != jwtBearerGrant {
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant type not supported")
		return
	}
	if err := s.checkAssertion(r, form.Get("assertion")); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", err.Error())
		return
	}
	now := s.cfg.Now()
	s.mu.Lock()
	s.issued++
	token := fmt.Sprintf("%s%08d", s.cfg.TokenPrefix, s.issued)
	s.tokens[token] = now
	s.mu.Unlock()
	base := origin(r)
	sandbox.WriteJSON(w, http.StatusOK, map[string]string{
		"access_token": token, "instance_url": base, "id": base + "/id/" + s.cfg.OrgID + "/005RM000001sbxAAA",
		"token_type": "Bearer", "scope": "chatbot_api refresh_token offline_access",
		"issued_at": strconv.FormatInt(now.UnixMilli(), 10),
	})
}

func (s *Sandbox) checkAssertion(r *http.Request, assertion string) error {
	aud := strings.TrimRight(or(s.cfg.Audience, audienceLogin), "/")
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(assertion, claims, func(*jwt.Token) (any, error) { return s.pub, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(s.cfg.ClientID), jwt.WithSubject(s.cfg.Username),
		jwt.WithAudience(aud), jwt.WithExpirationRequired(), jwt.WithTimeFunc(s.cfg.Now))
	if err != nil {
		return fmt.Errorf("invalid assertion: %w", err)
	}
	if _, ok := claims["aud"].(string); !ok {
		return fmt.Errorf("invalid assertion: aud must be a string")
	}
	exp, _ := claims.GetExpirationTime()
	if exp.After(s.cfg.Now().Add(assertionLifetime + time.Minute)) {
		return fmt.Errorf("invalid assertion: exp is more than 3 minutes away")
	}
	return nil
}

func origin(r *http.Request) string {
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

// message takes transferSucceeded and transferFailed, validated field by field, and answers
// with the spec's ChatMessageResponseEnvelope: processedSequenceIds and the bot's messages.
// A 503 (an Unavailable fault, or the ServiceUnavailable error) is played after the message was
// processed: the spec's ServiceUnavailable is "Apex or Flow calls timed out", so the bot ran.
func (s *Sandbox) message(w http.ResponseWriter, r *http.Request, version, session string) {
	body := s.rec.Record(r)
	f, faulty := s.messageFaults.Next()
	timedOut := faulty && (f.Kind == sandbox.Unavailable || f.Kind == sandbox.VendorError && f.VendorCode == "ServiceUnavailable")
	if faulty && !timedOut && s.playRuntimeFault(w, r, f) {
		return
	}
	if !s.checkRuntimeCall(w, r, version) {
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		s.writeError(w, r, http.StatusBadRequest, "Content-Type must be application/json")
		return
	}
	seq, typ, err := checkChatMessage(body)
	if err != nil {
		s.writeError(w, r, http.StatusBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	sess, ok := s.sessions[session]
	var status int
	switch {
	case !ok || sess.ended:
		status = http.StatusNotFound
	case sess.processed[seq]: // the same message again: answered as the first time [I]
	case seq <= sess.last:
		status = http.StatusBadRequest
	default:
		sess.last, sess.processed[seq] = seq, true
	}
	crc := s.nextCRC()
	s.mu.Unlock()
	switch status {
	case http.StatusNotFound:
		s.writeError(w, r, status, "session not found or ended")
		return
	case http.StatusBadRequest:
		s.writeError(w, r, status, "sequenceId must be greater than the last one processed")
		return
	}
	if timedOut {
		s.writeError(w, r, http.StatusServiceUnavailable, "Service is unavailable possibly because Apex/Flow calls timed out")
		return
	}
	w.Header().Set(headerRuntimeCRC, crc)
	sandbox.WriteJSON(w, http.StatusOK, map[string]any{
		"botVersion": "0X9RM0000004CcO0AM", "processedSequenceIds": []int64{seq},
		"messages": botReply(typ), "_links": map[string]any{"self": map[string]string{"href": origin(r) + r.URL.Path}},
	})
}

// DemoFailedReply is the text the sandbox's bot answers a transferFailed with.
// invented: the text is the bot designer's; the spec gives the shape (TextResponseMessage), and
// the docs say the bot may answer a failed transfer so the conversation can go on.
const DemoFailedReply = "Sorry, no agent is available right now. Can I help with something else?"

// botReply is the bot's answer to an ack: after transferSucceeded its text output is empty,
// after transferFailed it may answer the customer (einstein-bot-sdk-java docs; v5.3.0
// TextResponseMessage: type, id, text).
func botReply(typ string) []any {
	if typ != typeTransferFailed {
		return []any{}
	}
	return []any{map[string]any{"type": "text", "id": "b7c1e2d3-4f5a-4b6c-8d7e-9f0a1b2c3d4e", "text": DemoFailedReply,
		"schedule": map[string]int{"responseDelayMilliseconds": 1200}}}
}

// end is DELETE /{version}/sessions/{id} with a valid X-Session-End-Reason.
func (s *Sandbox) end(w http.ResponseWriter, r *http.Request, version, session string) {
	s.rec.Record(r)
	if f, ok := s.endFaults.Next(); ok && s.playRuntimeFault(w, r, f) {
		return
	}
	if !s.checkRuntimeCall(w, r, version) {
		return
	}
	if !sandboxEndReasons[r.Header.Get(headerEndReason)] {
		s.writeError(w, r, http.StatusBadRequest, "X-Session-End-Reason must be UserRequest, Transfer, Expiration, Error or Other")
		return
	}
	s.mu.Lock()
	sess, ok := s.sessions[session]
	live := ok && !sess.ended
	if live {
		sess.ended = true
	}
	crc := s.nextCRC()
	s.mu.Unlock()
	if !live {
		s.writeError(w, r, http.StatusNotFound, "session not found or ended")
		return
	}
	w.Header().Set(headerRuntimeCRC, crc)
	sandbox.WriteJSON(w, http.StatusOK, map[string]any{
		"sessionId": session, "botVersion": "0X9RM0000004CcO0AM", "processedSequenceIds": []int64{},
		"messages": []any{map[string]string{"type": "sessionEnded", "id": DemoEscalationMessageID, "reason": "ClientRequest"}},
	})
}

// nextCRC is a new X-Runtime-CRC; the caller holds s.mu. What the value means is [U]: the
// sandbox hands one out and accepts any (or none) back.
func (s *Sandbox) nextCRC() string {
	s.crc = s.crc*1664525 + 1013904223
	return strconv.FormatUint(uint64(s.crc), 10)
}

// checkRuntimeCall checks what every runtime call needs: a known version, a live token of
// ours, the org and a UUID X-Request-ID. It answers the error itself.
func (s *Sandbox) checkRuntimeCall(w http.ResponseWriter, r *http.Request, version string) bool {
	token, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	issued, live := s.tokens[token]
	live = found && live && s.cfg.Now().Before(issued.Add(s.cfg.TokenLifetime))
	s.mu.Unlock()
	switch {
	case !sandboxVersions[version]:
		s.writeError(w, r, http.StatusNotFound, "unknown API version")
	case !live:
		s.writeError(w, r, http.StatusUnauthorized, "Access bearer token is missing or invalid")
	case r.Header.Get(headerOrgID) == "":
		s.writeError(w, r, http.StatusBadRequest, "X-Org-Id is required")
	case r.Header.Get(headerOrgID) != s.cfg.OrgID:
		s.writeError(w, r, http.StatusForbidden, "X-Org-Id does not match the token's org")
	case !uuidPattern.MatchString(r.Header.Get(headerRequestID)):
		s.writeError(w, r, http.StatusBadRequest, "X-Request-ID must be a UUID")
	default:
		return true
	}
	return false
}

// playRuntimeFault answers a fault the way the runtime would; AuthExpired also kills the token
// presented, so only a new one works.
func (s *Sandbox) playRuntimeFault(w http.ResponseWriter, r *http.Request, f sandbox.Fault) bool {
	switch f.Kind {
	case sandbox.VendorError:
		status, ok := sandboxErrorStatus[f.VendorCode]
		if !ok {
			status = http.StatusInternalServerError
		}
		s.writeError(w, r, status, "injected "+f.VendorCode)
	case sandbox.AuthExpired:
		s.mu.Lock()
		delete(s.tokens, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		s.mu.Unlock()
		s.writeError(w, r, http.StatusUnauthorized, "Access bearer token is missing or invalid")
	case sandbox.AuthRejected:
		s.writeError(w, r, http.StatusUnauthorized, "Access bearer token is missing or invalid")
	case sandbox.RateLimited:
		sandbox.SetRetryAfter(w, f.RetryAfter)
		s.writeError(w, r, http.StatusTooManyRequests, "Too many requests")
	case sandbox.ServerError:
		s.writeError(w, r, http.StatusInternalServerError, "internal error")
	case sandbox.Unavailable:
		s.writeError(w, r, http.StatusServiceUnavailable, "Apex action timed out")
	default:
		return sandbox.Play(w, r, f)
	}
	return true
}

// playTokenFault answers a fault the way the login endpoint would.
func (s *Sandbox) playTokenFault(w http.ResponseWriter, r *http.Request, f sandbox.Fault) bool {
	switch f.Kind {
	case sandbox.VendorError:
		writeOAuthError(w, http.StatusBadRequest, f.VendorCode, "injected")
	case sandbox.AuthExpired, sandbox.AuthRejected:
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "user hasn't approved this consumer")
	case sandbox.RateLimited:
		sandbox.SetRetryAfter(w, f.RetryAfter)
		writeOAuthError(w, http.StatusTooManyRequests, "rate_limit_exceeded", "too many requests")
	case sandbox.ServerError:
		writeOAuthError(w, http.StatusInternalServerError, "server_error", "internal error")
	case sandbox.Unavailable:
		writeOAuthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "down for maintenance")
	default:
		return sandbox.Play(w, r, f)
	}
	return true
}

// The fields each ack message type allows, and those it requires (docs/vendors/salesforce.md).
var (
	allowedFields = map[string]map[string]bool{
		typeTransferSucceeded: {"type": true, "sequenceId": true, "inReplyToMessageId": true},
		typeTransferFailed:    {"type": true, "sequenceId": true, "inReplyToMessageId": true, "reason": true, "description": true},
	}
	requiredFields = map[string][]string{
		typeTransferSucceeded: {"type", "sequenceId"},
		typeTransferFailed:    {"type", "sequenceId", "reason"},
	}
)

// checkChatMessage validates a ChatMessageEnvelope holding an ack message, strictly: every
// field known, required ones present, each of its type, reason in its enum. It returns the
// sequenceId.
func checkChatMessage(body []byte) (int64, string, error) {
	var env map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil {
		return 0, "", fmt.Errorf("the body must be a JSON object")
	}
	for k := range env {
		if k != "message" && k != "responseOptions" {
			return 0, "", fmt.Errorf("unknown field %q in the envelope", k)
		}
	}
	var msg map[string]json.RawMessage
	if err := json.Unmarshal(env["message"], &msg); err != nil || msg == nil {
		return 0, "", fmt.Errorf("message must be an object")
	}
	var typ string
	if err := json.Unmarshal(msg["type"], &typ); err != nil || allowedFields[typ] == nil {
		return 0, "", fmt.Errorf("message.type must be transferSucceeded or transferFailed in this sandbox")
	}
	for k := range msg {
		if !allowedFields[typ][k] {
			return 0, "", fmt.Errorf("unknown field %q in a %s message", k, typ)
		}
	}
	for _, k := range requiredFields[typ] {
		if _, ok := msg[k]; !ok {
			return 0, "", fmt.Errorf("message.%s is required", k)
		}
	}
	seq, err := strconv.ParseInt(string(bytes.TrimSpace(msg["sequenceId"])), 10, 64)
	if err != nil || seq <= 0 {
		return 0, "", fmt.Errorf("message.sequenceId must be a positive integer")
	}
	for _, k := range []string{"inReplyToMessageId", "reason", "description"} {
		var v string
		if raw, ok := msg[k]; ok && (json.Unmarshal(raw, &v) != nil || v == "") {
			return 0, "", fmt.Errorf("message.%s must be a non-empty string", k)
		}
	}
	if raw, ok := msg["reason"]; ok {
		var reason string
		_ = json.Unmarshal(raw, &reason)
		if reason != reasonNoAgentAvailable && reason != reasonError {
			return 0, "", fmt.Errorf("message.reason must be NoAgentAvailable or Error")
		}
	}
	return seq, typ, nil
}
