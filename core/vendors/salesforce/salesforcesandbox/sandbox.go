package salesforcesandbox

import (
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"handoff/core/vendors/salesforce"
	"handoff/core/vendors/sandbox"
)

// The sandbox's fixed world, for tests, the local stack and the README. Ids have Salesforce's
// shapes (18-character org and bot ids; UUID session and message ids [I]).
const (
	// DemoOrgID is the org the sandbox expects in X-Org-Id.
	DemoOrgID = "00DRM000000Gz1h2AC"
	// DemoBotID is the bot of the demo secret (unused by acks, required by the secret).
	DemoBotID = "0XxRM000000x9FA0AY"
	// DemoClientID is the connected app's consumer key the assertions must name (iss).
	DemoClientID = "3MVG9handoff.sandbox.demo.connected.app"
	// DemoUsername is the integration user the assertions act for (sub).
	DemoUsername = "bot.integration@handoff.example"
	// DemoSessionID is a live bot session that escalated with DemoEscalationMessageID.
	DemoSessionID = "5f0b7a6c-3e1d-4c2b-9a8f-7e6d5c4b3a21"
	// DemoEscalationMessageID is the id of the bot's escalate message in DemoSessionID.
	DemoEscalationMessageID = "a0a1b2c3-d4e5-4f60-8a1b-2c3d4e5f6a7b"
	// DemoEndedSessionID is a session that has already ended: acks to it answer 404.
	DemoEndedSessionID = "9c8b7a6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
	// DemoTokenPrefix starts every access token the default sandbox issues.
	DemoTokenPrefix = DemoOrgID + "!AQsandbox."
)

// DemoSessionIDs are the live sessions of the default sandbox: a successful ack ends its
// session, so the local stack has a few to try.
var DemoSessionIDs = []string{
	DemoSessionID,
	"5f0b7a6c-3e1d-4c2b-9a8f-7e6d5c4b3a22",
	"5f0b7a6c-3e1d-4c2b-9a8f-7e6d5c4b3a23",
	"5f0b7a6c-3e1d-4c2b-9a8f-7e6d5c4b3a24",
	"5f0b7a6c-3e1d-4c2b-9a8f-7e6d5c4b3a25",
}

// DemoSecret is the secret JSON that works against a default sandbox served at baseURL: the
// sandbox is the login endpoint, the org instance and the bot runtime at once.
func DemoSecret(baseURL string) []byte {
	base := strings.TrimRight(baseURL, "/")
	b, _ := json.Marshal(map[string]any{
		"runtimeUrl": base, "apiVersion": salesforce.DefaultAPIVersion, "orgId": DemoOrgID, "botId": DemoBotID,
		"forceConfigEndpoint": base, "loginUrl": base, "clientId": DemoClientID, "username": DemoUsername,
		"privateKey": DemoPrivateKeyPEM, "endSessionOnSuccess": true,
	})
	return b
}

// Config shapes a sandbox. The zero value is the demo world above.
type Config struct {
	OrgID    string // DemoOrgID when empty
	ClientID string // DemoClientID when empty
	Username string // DemoUsername when empty
	// PublicKey verifies the assertions; nil means DemoPrivateKeyPEM's public key.
	PublicKey *rsa.PublicKey
	// Audience is the aud the assertions must carry; empty means https://login.salesforce.com,
	// what Salesforce requires of a production org whatever URL the token is asked from.
	Audience string
	// Sessions are the live bot sessions (DemoSessionIDs when nil); EndedSessions answer 404
	// (DemoEndedSessionID when nil).
	Sessions      []string
	EndedSessions []string
	// TokenPrefix starts every access token issued (DemoTokenPrefix when empty).
	TokenPrefix string
	// TokenLifetime is how long an issued token is accepted (2 hours, the org default, when 0).
	TokenLifetime time.Duration
	Now           func() time.Time // time.Now when nil
}

// Sandbox is a strict stand-in for Salesforce's login endpoint (JWT bearer flow) and the Bot
// Runtime API v5 as far as acks go: POST /{version}/sessions/{id}/messages with
// transferSucceeded or transferFailed, and DELETE /{version}/sessions/{id}. It is an
// http.Handler; safe for concurrent use.
//
// Sources (docs/vendors/salesforce.md lists them): forcedotcom/einstein-bot-sdk-java
// src/main/resources/v5_3_0_api_specs.yml for the paths, headers (X-Org-Id, X-Request-ID,
// X-Runtime-CRC, X-Session-End-Reason and its enum), the message schemas (additionalProperties
// false), the response envelope (processedSequenceIds, messages, _links), the error schema and
// statuses (503: "Apex or Flow calls timed out"); Salesforce's OAuth 2.0 JWT bearer flow for the
// token endpoint (aud login.salesforce.com / test.salesforce.com, a ~3-minute exp).
// invented: the text of every error message, the sandbox's token format, what a repeated
// sequenceId gets (the first answer again) and that a lower one is a 400 [U]. The adapter keys
// on HTTP statuses and on the envelope's fields only.
type Sandbox struct {
	cfg Config
	pub *rsa.PublicKey

	messageFaults, tokenFaults, endFaults sandbox.Faults
	rec                                   sandbox.Recorder

	mu       sync.Mutex
	issued   int
	tokens   map[string]time.Time // token → issued at; revoked tokens are deleted
	sessions map[string]*sandboxSession
	crc      uint32
}

type sandboxSession struct {
	ended     bool
	last      int64
	processed map[int64]bool
}

// New builds a sandbox. It does no I/O.
func New(cfg Config) *Sandbox {
	cfg.OrgID = or(cfg.OrgID, DemoOrgID)
	cfg.ClientID = or(cfg.ClientID, DemoClientID)
	cfg.Username = or(cfg.Username, DemoUsername)
	cfg.TokenPrefix = or(cfg.TokenPrefix, DemoTokenPrefix)
	if cfg.Sessions == nil {
		cfg.Sessions = DemoSessionIDs
	}
	if cfg.EndedSessions == nil {
		cfg.EndedSessions = []string{DemoEndedSessionID}
	}
	if cfg.TokenLifetime == 0 {
		cfg.TokenLifetime = 2 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Sandbox{cfg: cfg, pub: cfg.PublicKey, tokens: map[string]time.Time{},
		sessions: map[string]*sandboxSession{}, crc: 0x5eed0001}
	if s.pub == nil {
		key, err := jwt.ParseRSAPrivateKeyFromPEM([]byte(DemoPrivateKeyPEM))
		if err != nil {
			panic("salesforce: the demo key does not parse: " + err.Error()) // a constant: tested
		}
		s.pub = &key.PublicKey
	}
	for _, id := range cfg.Sessions {
		s.sessions[id] = &sandboxSession{processed: map[int64]bool{}}
	}
	for _, id := range cfg.EndedSessions {
		s.sessions[id] = &sandboxSession{ended: true, processed: map[int64]bool{}}
	}
	return s
}

func or(v, fallback string) string {
	if v == "" {
		return fallback
	}
	return v
}

// Inject plays f on the next `times` ack messages (POST .../messages), or on all when times <= 0.
// VendorError takes the spec's error names (BadRequestError, NotFoundError, ServerBusyError…).
func (s *Sandbox) Inject(f sandbox.Fault, times int) { s.messageFaults.Inject(f, times) }

// InjectToken plays f on the next token requests. VendorError takes an OAuth error code
// (invalid_grant…), answered 400.
func (s *Sandbox) InjectToken(f sandbox.Fault, times int) { s.tokenFaults.Inject(f, times) }

// InjectEnd plays f on the next session ends (DELETE).
func (s *Sandbox) InjectEnd(f sandbox.Fault, times int) { s.endFaults.Inject(f, times) }

// AckCalls counts the requests that reached the messages endpoint.
func (s *Sandbox) AckCalls() int { return s.rec.Count(http.MethodPost, isMessagesPath) }

// TokenCalls counts the requests that reached the token endpoint.
func (s *Sandbox) TokenCalls() int {
	return s.rec.Count(http.MethodPost, func(p string) bool { return p == tokenPath })
}

// EndCalls counts the session ends (DELETE) received.
func (s *Sandbox) EndCalls() int {
	return s.rec.Count(http.MethodDelete, func(string) bool { return true })
}

// Requests returns every request received, oldest first.
func (s *Sandbox) Requests() []sandbox.Request { return s.rec.Requests() }

// AckKeys returns, for each message received, the identity a repeat shares with the first
// send: "X-Request-ID/sequenceId".
func (s *Sandbox) AckKeys() []string {
	var keys []string
	for _, r := range s.rec.Requests() {
		if r.Method != http.MethodPost || !isMessagesPath(r.Path) {
			continue
		}
		var env struct {
			Message struct {
				SequenceID json.Number `json:"sequenceId"`
			} `json:"message"`
		}
		_ = json.Unmarshal(r.Body, &env)
		keys = append(keys, r.Header.Get(headerRequestID)+"/"+env.Message.SequenceID.String())
	}
	return keys
}

// SessionEnded reports whether the session was ended (or was never live).
func (s *Sandbox) SessionEnded(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[id]
	return !ok || sess.ended
}

const tokenPath = "/services/oauth2/token"

func isMessagesPath(p string) bool { return strings.HasSuffix(p, "/messages") }

// ServeHTTP routes to the token endpoint, the messages endpoint and the session end; anything
// else is the runtime's 404.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == tokenPath {
		if r.Method != http.MethodPost {
			writeOAuthError(w, http.StatusMethodNotAllowed, "invalid_request", "use POST")
			return
		}
		s.token(w, r)
		return
	}
	parts := strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/")
	for i, p := range parts {
		parts[i], _ = url.PathUnescape(p)
	}
	switch {
	case len(parts) == 4 && parts[1] == "sessions" && parts[3] == "messages" && r.Method == http.MethodPost:
		s.message(w, r, parts[0], parts[2])
	case len(parts) == 3 && parts[1] == "sessions" && r.Method == http.MethodDelete:
		s.end(w, r, parts[0], parts[2])
	default:
		s.rec.Record(r)
		s.writeError(w, r, http.StatusNotFound, fmt.Sprintf("no %s %s in the Bot Runtime API", r.Method, r.URL.Path))
	}
}

// writeError answers the runtime's error shape: {status, path, requestId, error, message, timestamp}.
// writeError answers the spec's ErrorSchema ({status, path, requestId, error, message,
// timestamp}). invented: the messages are the sandbox's own.
func (s *Sandbox) writeError(w http.ResponseWriter, r *http.Request, status int, message string) {
	sandbox.WriteJSON(w, status, map[string]any{
		"status": status, "path": r.URL.Path, "requestId": or(r.Header.Get(headerRequestID), "none"),
		"error": http.StatusText(status), "message": message, "timestamp": s.cfg.Now().UnixMilli(),
	})
}

// writeOAuthError answers the OAuth error shape (error, error_description).
// invented: the descriptions are the sandbox's own.
func writeOAuthError(w http.ResponseWriter, status int, code, description string) {
	sandbox.WriteJSON(w, status, map[string]string{"error": code, "error_description": description})
}
