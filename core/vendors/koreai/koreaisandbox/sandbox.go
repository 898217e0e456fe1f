package koreaisandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"handoff/core/vendors/sandbox"
)

// Config tunes a Sandbox. The zero value is Kore.ai as the docs describe it, with the
// sandbox's fixed ids and credentials (see DemoSecret) and callbacks posted 200 ms after a
// transfer is accepted.
type Config struct {
	// CallbackDelay is how long after accepting a transfer the outcome is posted to its
	// callbackUrl; zero means 200 ms.
	CallbackDelay time.Duration
	// NoCallbacks turns outcome delivery off (when the callback URL leads nowhere).
	NoCallbacks bool
	// FailStatus maps an agent or queue id to the status posted instead of "transferred", e.g.
	// {AgentID: "failed"}: the transfer is accepted, then reported with that word.
	// invented: Kore.ai documents only "transferred" [C] and not what it posts when a transfer
	// fails [U]; the word is the test's, and the adapter never reads it as an outcome.
	FailStatus map[string]string
	// UnknownShape posts an outcome whose shape is not the documented one, to check that the
	// adapter records it rather than guesses.
	UnknownShape bool
	// RatePerMinute is the per-account limit; zero means Kore's 60 [C], negative means none.
	RatePerMinute int
	// CallbackClient posts the callbacks; nil means a plain client with a 5 s timeout.
	CallbackClient *http.Client
	// Now is the sandbox's clock; nil means time.Now.
	Now func() time.Time
}

// Sandbox is a strict stand-in for Kore.ai's Agent AI public API: assign-conversation and
// agents/availability with JWT auth (HS256, appId, exp, JTI enforced), the accountid header,
// the documented bodies only, a fixed directory of agents and queues, the per-account rate limit,
// and the outcome posted to the request's callbackUrl. A bot session is assigned once: another
// assign for it is refused (409 ALREADY_ASSIGNED) unless its callback reported a failure. Serve
// it with net/http; it does no I/O until it is sent a request.
//
// Sources (Koredotcom/docs-v2; docs/vendors/koreai.md lists them): the endpoint, headers, body
// and sample answer of assign-conversation (ai-for-service/apis/contact-center/
// transfer-conversation-to-a-specific-agent-or-queue.mdx), agents/availability
// (check-agent-availability-status.mdx), the rate limit and its message (rate-limit-ccai.mdx),
// the JWT (api-introduction.mdx; HS256, appId, JTI enforcement).
// invented: every refusal's status, code and text but the rate limit's, the second-assign
// refusal, the callback body for anything but "transferred", and when callbacks are posted.
type Sandbox struct {
	cfg         Config
	faults      sandbox.Faults // for assign-conversation
	availFaults sandbox.Faults // for agents/availability
	recorder    sandbox.Recorder
	ctx         context.Context // ends pending callbacks at Close
	cancel      context.CancelFunc
	pending     sync.WaitGroup
	mu          sync.Mutex
	transfers   int
	jtis        map[string]time.Time // jti → expiry: JTI enforcement [C]
	assigned    map[string]string    // botSessionId → agent or queue id
	windowStart time.Time
	windowCount int
	deliveries  []Delivery
}

// New builds a sandbox; it starts nothing.
func New(cfg Config) *Sandbox {
	if cfg.CallbackDelay <= 0 {
		cfg.CallbackDelay = 200 * time.Millisecond
	}
	if cfg.RatePerMinute == 0 {
		cfg.RatePerMinute = 60
	}
	if cfg.CallbackClient == nil {
		cfg.CallbackClient = &http.Client{Timeout: 5 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Sandbox{
		cfg: cfg, ctx: ctx, cancel: cancel,
		jtis: map[string]time.Time{}, assigned: map[string]string{},
	}
}

// Inject plays f on the next `times` assign-conversation calls (all of them when times <= 0),
// after the call's credentials were checked. VendorError answers the code's error from the
// sandbox's table (BAD_REQUEST 400, NOT_FOUND/AGENT_NOT_FOUND/QUEUE_NOT_FOUND 404,
// AGENT_NOT_AVAILABLE/ALREADY_ASSIGNED/CONFLICT 409, QUEUE_NOT_AVAILABLE/UNPROCESSABLE 422,
// RATE_LIMIT_EXCEEDED 429, UNAUTHORIZED 401, FORBIDDEN 403, INTERNAL_SERVER_ERROR 500,
// SERVICE_UNAVAILABLE 503; any other code: 400). Kore documents no error codes [U]: these are
// the sandbox's own, in the {"errors":[{"msg","code"}]} shape of Kore's platform APIs [I].
func (s *Sandbox) Inject(f sandbox.Fault, times int) { s.faults.Inject(f, times) }

// InjectAvailability plays f on the next agents/availability calls, as Inject does.
func (s *Sandbox) InjectAvailability(f sandbox.Fault, times int) { s.availFaults.Inject(f, times) }

// TransferCalls counts the requests that reached assign-conversation, refused ones included.
func (s *Sandbox) TransferCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.transfers
}

// Requests returns every request received, oldest first.
func (s *Sandbox) Requests() []sandbox.Request { return s.recorder.Requests() }

// Wait blocks until every callback scheduled so far has been delivered or has failed.
func (s *Sandbox) Wait() { s.pending.Wait() }

// Close drops the callbacks not yet sent and waits for those under way.
func (s *Sandbox) Close() {
	s.cancel()
	s.pending.Wait()
}

const apiPrefix = "/agentassist/api/v1/public/"

// ServeHTTP routes Kore's two public endpoints; anything else is 404.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body := s.recorder.Record(r)
	stream, endpoint, ok := splitPath(r.URL.EscapedPath())
	switch {
	case ok && endpoint == "assign-conversation":
		s.mu.Lock()
		s.transfers++
		s.mu.Unlock()
		s.serveAssign(w, r, stream, body)
	case ok && endpoint == "agents/availability":
		s.serveAvailability(w, r, stream, body)
	default:
		writeError(w, http.StatusNotFound, "NOT_FOUND", "Resource not found")
	}
}

// splitPath reads /agentassist/api/v1/public/{streamId}/{endpoint} with the stream id unescaped.
func splitPath(escaped string) (stream, endpoint string, ok bool) {
	rest, found := strings.CutPrefix(escaped, apiPrefix)
	if !found {
		return "", "", false
	}
	rawStream, endpoint, found := strings.Cut(rest, "/")
	stream, err := url.PathUnescape(rawStream)
	if !found || err != nil || stream == "" {
		return "", "", false
	}
	return stream, endpoint, true
}

// admit runs the checks every endpoint shares, in Kore's order as far as it can be guessed:
// method, stream, credentials, then (for the caller) faults and the rate limit. It answers and
// returns false when the request is refused.
func (s *Sandbox) admit(w http.ResponseWriter, r *http.Request, stream string) bool {
	switch {
	case r.Method != http.MethodPost:
		writeError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "Use POST")
	case stream != StreamID:
		writeError(w, http.StatusNotFound, "NOT_FOUND", "Bot not found")
	case r.Header.Get("auth") == "":
		writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "auth header with a JWT is required")
	default:
		if err := s.verifyToken(r.Header.Get("auth")); err != nil {
			writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "Invalid token: "+err.Error())
			return false
		}
		switch r.Header.Get("accountid") {
		case "":
			writeError(w, http.StatusBadRequest, "BAD_REQUEST", "accountid header is required")
			return false
		case AccountID:
			return true
		}
		writeError(w, http.StatusForbidden, "FORBIDDEN", "The app is not allowed for this account")
	}
	return false
}

// verifyToken checks the JWT as an app with "Enforce JTI" would: HS256 only, signed with the
// client secret, appId = the client id, exp present and in the future, a jti never seen before.
func (s *Sandbox) verifyToken(raw string) error {
	claims := jwt.MapClaims{}
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(), jwt.WithTimeFunc(s.cfg.Now))
	if _, err := parser.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) {
		return []byte(sandboxClientSecret), nil
	}); err != nil {
		return errors.New("signature, algorithm or expiry refused")
	}
	if appID, _ := claims["appId"].(string); appID != ClientID {
		return errors.New("appId claim does not name a known app")
	}
	jti, _ := claims["jti"].(string)
	if jti == "" {
		return errors.New("jti claim is required (JTI enforced)")
	}
	exp, _ := claims.GetExpirationTime()
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for seen, until := range s.jtis {
		if now.After(until) {
			delete(s.jtis, seen)
		}
	}
	if _, reused := s.jtis[jti]; reused {
		return errors.New("jti already used")
	}
	s.jtis[jti] = exp.Time
	return nil
}

// rateLimited applies Kore's per-account limit in one-minute windows [C] and answers it with the
// documented message and a Retry-After [I].
func (s *Sandbox) rateLimited(w http.ResponseWriter) bool {
	if s.cfg.RatePerMinute < 0 {
		return false
	}
	now := s.cfg.Now()
	s.mu.Lock()
	if now.Sub(s.windowStart) >= time.Minute {
		s.windowStart, s.windowCount = now, 0
	}
	s.windowCount++
	over, wait := s.windowCount > s.cfg.RatePerMinute, s.windowStart.Add(time.Minute).Sub(now)
	s.mu.Unlock()
	if over {
		sandbox.SetRetryAfter(w, wait)
		writeError(w, http.StatusTooManyRequests, "RATE_LIMIT_EXCEEDED", rateLimitMessage)
	}
	return over
}

const rateLimitMessage = "You've exceeded the per-minute rate limit. Please try again later."

// sandboxErrors are the answers VendorError faults play (see Inject).
// invented: Kore documents no error codes, statuses or texts for these endpoints [U]; only the
// rate limit's message is documented [C] (rate-limit-ccai.mdx). The adapter reads none of the
// others.
var sandboxErrors = map[string]struct {
	status int
	msg    string
}{
	"BAD_REQUEST":           {http.StatusBadRequest, "Invalid request"},
	"NOT_FOUND":             {http.StatusNotFound, "Resource not found"},
	"AGENT_NOT_FOUND":       {http.StatusNotFound, "Agent not found"},
	"QUEUE_NOT_FOUND":       {http.StatusNotFound, "Queue not found"},
	"AGENT_NOT_AVAILABLE":   {http.StatusConflict, "Agent is not available"},
	"ALREADY_ASSIGNED":      {http.StatusConflict, "Conversation is already assigned to an agent"},
	"CONFLICT":              {http.StatusConflict, "The conversation's state does not allow this request"},
	"QUEUE_NOT_AVAILABLE":   {http.StatusUnprocessableEntity, "Queue is not available"},
	"UNPROCESSABLE":         {http.StatusUnprocessableEntity, "The request cannot be processed"},
	"RATE_LIMIT_EXCEEDED":   {http.StatusTooManyRequests, rateLimitMessage},
	"UNAUTHORIZED":          {http.StatusUnauthorized, "Invalid token"},
	"FORBIDDEN":             {http.StatusForbidden, "The app lacks the required API scope"},
	"INTERNAL_SERVER_ERROR": {http.StatusInternalServerError, "Internal server error"},
	"SERVICE_UNAVAILABLE":   {http.StatusServiceUnavailable, "Service unavailable"},
}

// playFault answers f the way Kore would and reports whether it answered.
func playFault(w http.ResponseWriter, r *http.Request, f sandbox.Fault) bool {
	switch f.Kind {
	case sandbox.VendorError:
		e, ok := sandboxErrors[f.VendorCode]
		if !ok {
			e.status, e.msg = http.StatusBadRequest, "Invalid request"
		}
		if e.status == http.StatusTooManyRequests {
			sandbox.SetRetryAfter(w, max(f.RetryAfter, time.Minute))
		}
		writeError(w, e.status, f.VendorCode, e.msg)
	case sandbox.AuthExpired:
		writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "Token expired")
	case sandbox.AuthRejected:
		writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "Invalid token")
	case sandbox.RateLimited:
		sandbox.SetRetryAfter(w, f.RetryAfter)
		writeError(w, http.StatusTooManyRequests, "RATE_LIMIT_EXCEEDED", rateLimitMessage)
	default:
		return sandbox.Play(w, r, f)
	}
	return true
}

// writeError answers in the error shape of Kore's platform APIs [I].
// invented: the shape ({"errors":[{"msg","code"}]}) is seen on Kore's other platform APIs, not
// documented for these.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	sandbox.WriteJSON(w, status, map[string]any{"errors": []map[string]string{{"msg": msg, "code": code}}})
}

// decodeStrict decodes one JSON object into v, refusing fields not named exactly as in fields
// (encoding/json alone would take "callbackURL" for "callbackUrl"), wrong types and trailing
// data, as a strict API would.
func decodeStrict(body []byte, v any, fields ...string) error {
	var present map[string]json.RawMessage
	if err := json.Unmarshal(body, &present); err != nil {
		return errors.New("body must be one JSON object")
	}
	for name := range present {
		if !slices.Contains(fields, name) {
			return fmt.Errorf("unknown field %q", name)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}
