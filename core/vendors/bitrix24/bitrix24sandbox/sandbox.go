package bitrix24sandbox

import (
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"handoff/core/vendors/sandbox"
)

// The sandbox's fixed people, lines and chats. Ids are the seed's where it gives some
// (CHAT_ID 112, USER_ID 12).
const (
	// ChatID is an open-line chat held by the bot (the seed's example).
	ChatID = "112"
	// UserID is an active operator (the seed's example).
	UserID = "12"
	// InactiveUserID is a dismissed employee: transfers to them get OPERATOR_WRONG.
	InactiveUserID = "14"
	// LineID is an active open line ("Support") whose queue holds UserID.
	LineID = "1"
	// InactiveLineID is a switched-off open line ("After hours"): OPERATOR_WRONG.
	InactiveLineID = "2"
)

// ChatIDs are the open-line chats the sandbox knows, each held by the bot until a
// transfer; any other chat id gets OPERATOR_WRONG (transfer) or WRONG_CHAT (operator).
var ChatIDs = []string{ChatID, "113", "114", "115"}

// Config sets the sandbox's credentials; empty fields take the defaults below, which
// DemoSecret and DemoWebhookSecret use.
type Config struct {
	WebhookUserID    string // the {userId} of the webhook URL
	WebhookCode      string // the {code} of the webhook URL
	BotClientID      string // the CLIENT_ID webhook transfer calls must send
	AccessToken      string // the first OAuth access token; refreshed ones start with it
	RefreshToken     string // the first OAuth refresh token; rotated ones start with it
	AppClientID      string
	AppClientSecret  string
	ApplicationToken string // what events carry in auth[application_token]
	OAuthPath        string // the token endpoint's path, "/oauth/token/" by default
	// Lines is how many open lines the portal has (2, LineID and InactiveLineID,
	// when 0); the others are active lines named "Line {id}". imopenlines.config.list.get
	// answers them 50 a page, as every list method does (list-methods-pecularities.md).
	Lines int
	// MovedTo, when set (e.g. "/moved/rest/"), is the portal's new REST prefix: the first token
	// refresh answers it as client_endpoint, and from then on the old "/rest/" prefix answers a
	// redirect there, as a portal whose address changed does (change-domen.md).
	MovedTo string
}

// Default sandbox credentials. They are fake, but tests treat them as secrets that must never
// appear in logs or errors.
var defaultSandbox = Config{
	WebhookUserID:    "1",
	WebhookCode:      "sbxhook7k2m9q4x1w",
	BotClientID:      "sbxbot3f9a7eff906dd1",
	AccessToken:      "sbxaccess98b9d690000071b",
	RefreshToken:     "sbxrefresh990ac5690000071",
	AppClientID:      "local.sbx573ad8a0346747.09223434",
	AppClientSecret:  "sbxsecretLJSl0lNB76B5YY6u0YVQ3AW0",
	ApplicationToken: "sbxapptoken831c76b092f9f135",
	OAuthPath:        "/oauth/token/",
}

func (c Config) withDefaults() Config {
	fill := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	d := defaultSandbox
	fill(&c.WebhookUserID, d.WebhookUserID)
	fill(&c.WebhookCode, d.WebhookCode)
	fill(&c.BotClientID, d.BotClientID)
	fill(&c.AccessToken, d.AccessToken)
	fill(&c.RefreshToken, d.RefreshToken)
	fill(&c.AppClientID, d.AppClientID)
	fill(&c.AppClientSecret, d.AppClientSecret)
	fill(&c.ApplicationToken, d.ApplicationToken)
	fill(&c.OAuthPath, d.OAuthPath)
	return c
}

// Sandbox is a strict stand-in for one Bitrix24 portal and its OAuth server: the REST methods
// the adapter calls, under both URL shapes (webhook /rest/{userId}/{code}/{method} and OAuth
// /rest/{method} with auth), optional .json suffix, and the refresh route, which rotates the
// pair and refuses a spent refresh token with invalid_grant. It refuses, in Bitrix24's error
// envelope, anything the adapter must not send: another HTTP method or content type, unknown or
// mistyped fields, a missing CLIENT_ID on a webhook transfer, a CLIENT_ID on an OAuth call, and
// the client secret anywhere but the OAuth route. It is an http.Handler and does no I/O when built.
//
// Sources (bitrix24/b24restdocs; docs/vendors/bitrix24.md lists them): the URL shapes and the
// JSON envelope (settings/how-to-call-rest-api/general-principles.md, local-webhooks.md), the
// methods' parameters and errors (api-reference/imopenlines/openlines/chat-bots/*.md), the
// system errors (_includes/system-errors.md, limits.md), list paging
// (list-methods-pecularities.md), the OAuth refresh and rotation (settings/oauth/index.md), a
// moved portal's redirect and client_endpoint (change-domen.md).
// invented: refusing unknown or mistyped fields (Bitrix24 ignores them; the sandbox refuses so a
// misspelling fails a test), the "sandbox: …" error descriptions, and the extra lines' names.
// The adapter keys on documented error codes only.
type Sandbox struct {
	cfg        Config
	faults     sandbox.Faults // transfer and operator calls
	lineFaults sandbox.Faults // imopenlines.config.list.get calls
	rec        sandbox.Recorder
	mu         sync.Mutex
	chats      map[int64]bool // chat id → already with a person
	access     string
	refresh    string
	generation int
	expired    map[string]bool // access tokens replaced by a refresh, or expired by a fault
	transfers  int
	refreshes  int
	moved      bool // the portal answers at cfg.MovedTo now
}

// New builds a sandbox; cfg's empty fields take the defaults.
func New(cfg Config) *Sandbox {
	cfg = cfg.withDefaults()
	s := &Sandbox{cfg: cfg, chats: map[int64]bool{}, access: cfg.AccessToken, refresh: cfg.RefreshToken,
		expired: map[string]bool{}}
	for _, id := range ChatIDs {
		n, _ := strconv.ParseInt(id, 10, 64)
		s.chats[n] = false
	}
	return s
}

// Inject plays f on the next `times` transfer or operator calls (every one when times <= 0).
func (s *Sandbox) Inject(f sandbox.Fault, times int) { s.faults.Inject(f, times) }

// InjectLines plays f on the next `times` imopenlines.config.list.get calls.
func (s *Sandbox) InjectLines(f sandbox.Fault, times int) { s.lineFaults.Inject(f, times) }

// TransferCalls counts the requests that reached the transfer or operator method, refused or not.
func (s *Sandbox) TransferCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.transfers
}

// RefreshCalls counts the requests that reached the OAuth token route.
func (s *Sandbox) RefreshCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refreshes
}

// Requests returns every request received, oldest first.
func (s *Sandbox) Requests() []sandbox.Request { return s.rec.Requests() }

// Tokens returns the OAuth pair the sandbox accepts now.
func (s *Sandbox) Tokens() (access, refresh string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.access, s.refresh
}

// ExpireAccessToken makes the current access token expired, as an hour after it was issued: the
// next call with it gets 401 expired_token until the pair is refreshed.
func (s *Sandbox) ExpireAccessToken() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expired[s.access] = true
}

// ServeHTTP answers the REST methods and the OAuth token route.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body := s.rec.Record(r)
	if strings.TrimSuffix(r.URL.Path, "/") == strings.TrimSuffix(s.cfg.OAuthPath, "/") {
		s.serveToken(w, r)
		return
	}
	path, redirect := s.currentPath(r.URL.Path)
	if redirect != "" {
		http.Redirect(w, r, redirect, http.StatusFound)
		return
	}
	rt, ok := parseRoute(path)
	if !ok {
		writeVendorError(w, http.StatusNotFound, "ERROR_METHOD_NOT_FOUND", "Method not found!")
		return
	}
	faults := &s.lineFaults
	switch rt.method {
	case methodTransfer, methodOperator:
		s.mu.Lock()
		s.transfers++
		s.mu.Unlock()
		faults = &s.faults
	case methodConfigList:
	default:
		writeVendorError(w, http.StatusNotFound, "ERROR_METHOD_NOT_FOUND", "Method not found!")
		return
	}
	params, problem := s.checkShape(r, body)
	if problem != "" {
		writeVendorError(w, http.StatusBadRequest, "ERROR_ARGUMENT", "sandbox: "+problem)
		return
	}
	if f, ok := faults.Next(); ok && s.playFault(w, r, f, rt.webhook) {
		return
	}
	if !s.authorize(w, r, rt, params) {
		return
	}
	delete(params, "auth")
	switch rt.method {
	case methodTransfer:
		s.serveTransfer(w, params, rt.webhook)
	case methodOperator:
		s.serveOperator(w, params)
	default:
		s.serveConfigList(w, params)
	}
}

// currentPath maps a request path to the portal's REST prefix: after the portal moved, a call
// to the old prefix gets a redirect (the new URL) and the new prefix serves.
func (s *Sandbox) currentPath(path string) (string, string) {
	s.mu.Lock()
	moved := s.moved
	s.mu.Unlock()
	if !moved {
		return path, ""
	}
	if rest, ok := strings.CutPrefix(path, s.cfg.MovedTo); ok {
		return "/rest/" + rest, ""
	}
	if rest, ok := strings.CutPrefix(path, "/rest/"); ok {
		return "", s.cfg.MovedTo + rest
	}
	return path, ""
}

// route is a parsed REST path.
type route struct {
	webhook      bool
	userID, code string
	method       string
}

// parseRoute reads /rest/{method} or /rest/{userId}/{code}/{method}, with an optional .json.
func parseRoute(path string) (route, bool) {
	rest, ok := strings.CutPrefix(path, "/rest/")
	if !ok {
		return route{}, false
	}
	parts := strings.Split(rest, "/")
	var rt route
	switch len(parts) {
	case 1:
		rt.method = parts[0]
	case 3:
		rt = route{webhook: true, userID: parts[0], code: parts[1], method: parts[2]}
	default:
		return route{}, false
	}
	rt.method = strings.TrimSuffix(rt.method, ".json")
	return rt, rt.method != ""
}

// checkShape enforces what the adapter promises to send: a JSON object POSTed with JSON
// headers and a User-Agent, and the client secret nowhere. It returns the body's fields.
func (s *Sandbox) checkShape(r *http.Request, body []byte) (map[string]json.RawMessage, string) {
	if r.Method != http.MethodPost {
		return nil, "the adapter must POST (got " + r.Method + ")"
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return nil, "Content-Type must be application/json"
	}
	if !strings.Contains(r.Header.Get("Accept"), "application/json") {
		return nil, "Accept must name application/json"
	}
	if r.Header.Get("User-Agent") == "" {
		return nil, "a User-Agent is required"
	}
	secret := s.cfg.AppClientSecret
	if strings.Contains(string(body), secret) || strings.Contains(r.URL.RawQuery, secret) {
		return nil, "the client secret must only ever be sent to the OAuth server"
	}
	for _, vs := range r.Header {
		for _, v := range vs {
			if strings.Contains(v, secret) {
				return nil, "the client secret must only ever be sent to the OAuth server"
			}
		}
	}
	var params map[string]json.RawMessage
	if err := json.Unmarshal(body, &params); err != nil || params == nil {
		return nil, "the body must be one JSON object"
	}
	return params, ""
}

// playFault answers an injected fault the way Bitrix24 would; false when the fault is not one
// it plays (the call then proceeds).
func (s *Sandbox) playFault(w http.ResponseWriter, r *http.Request, f sandbox.Fault, webhook bool) bool {
	switch f.Kind {
	case sandbox.VendorError:
		status := statusOf(f.VendorCode)
		if f.RetryAfter > 0 {
			sandbox.SetRetryAfter(w, f.RetryAfter)
		}
		writeVendorError(w, status, f.VendorCode, "sandbox: injected "+f.VendorCode)
	case sandbox.AuthExpired:
		if !webhook {
			s.ExpireAccessToken() // it stays expired until the adapter refreshes the pair
		}
		writeVendorError(w, http.StatusUnauthorized, "expired_token", "The access token provided has expired.")
	case sandbox.AuthRejected:
		writeVendorError(w, http.StatusUnauthorized, "NO_AUTH_FOUND", "Wrong authorization data")
	case sandbox.RateLimited:
		sandbox.SetRetryAfter(w, f.RetryAfter)
		writeVendorError(w, http.StatusServiceUnavailable, "QUERY_LIMIT_EXCEEDED", "Too many requests")
	default:
		return sandbox.Play(w, r, f)
	}
	return true
}

// authorize checks the webhook's user and code, or the OAuth access token (body "auth" or
// query "auth"), answering 401 the way Bitrix24 does when they are wrong.
func (s *Sandbox) authorize(w http.ResponseWriter, r *http.Request, rt route, params map[string]json.RawMessage) bool {
	if rt.webhook {
		if _, ok := params["auth"]; ok {
			writeVendorError(w, http.StatusBadRequest, "ERROR_ARGUMENT", "sandbox: a webhook call carries no auth parameter")
			return false
		}
		if rt.userID != s.cfg.WebhookUserID || rt.code != s.cfg.WebhookCode {
			writeVendorError(w, http.StatusUnauthorized, "NO_AUTH_FOUND", "Wrong authorization data")
			return false
		}
		return true
	}
	token := r.URL.Query().Get("auth")
	if raw, ok := params["auth"]; ok {
		if json.Unmarshal(raw, &token) != nil {
			writeVendorError(w, http.StatusBadRequest, "ERROR_ARGUMENT", "sandbox: auth must be a string")
			return false
		}
	}
	s.mu.Lock()
	current, expired := token == s.access && !s.expired[token], s.expired[token]
	s.mu.Unlock()
	switch {
	case current:
		return true
	case expired:
		writeVendorError(w, http.StatusUnauthorized, "expired_token", "The access token provided has expired.")
	default:
		writeVendorError(w, http.StatusUnauthorized, "NO_AUTH_FOUND", "Wrong authorization data")
	}
	return false
}

func writeVendorError(w http.ResponseWriter, status int, code, description string) {
	sandbox.WriteJSON(w, status, map[string]string{"error": code, "error_description": description})
}

// writeResult answers the success envelope with its time block (general-principles.md).
func writeResult(w http.ResponseWriter, result any) { writeResultWith(w, result, nil) }

// writeResultWith is writeResult with more top-level fields (a list's total and next).
func writeResultWith(w http.ResponseWriter, result any, extra map[string]any) {
	now := time.Now()
	start := float64(now.UnixNano()) / 1e9
	body := map[string]any{
		"result": result,
		"time": map[string]any{
			"start": start, "finish": start + 0.01, "duration": 0.01, "processing": 0.005,
			"date_start": now.Format(time.RFC3339), "date_finish": now.Format(time.RFC3339),
			"operating": 0, "operating_reset_at": now.Add(10 * time.Minute).Unix(),
		},
	}
	for k, v := range extra {
		body[k] = v
	}
	sandbox.WriteJSON(w, http.StatusOK, body)
}
