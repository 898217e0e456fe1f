package livepersonsandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"handoff/core/vendors/liveperson"
	"handoff/core/vendors/sandbox"
)

// The default sandbox's known account, user and ids. Skill 2 and agent 6 are the Transfer a
// Chat doc's examples, 25975313 "Sales" and 26060413 "Billing" those of Retrieve Available
// Skills; the offline ones are ours, for fallbacks.
const (
	DemoAccountID = "123456"
	DemoUsername  = "handoff-bot"
	DemoPassword  = "sandbox-bot-password"
	// DemoChatID is the chat session key of the Retrieve Chat Sessions doc's example; the
	// default sandbox's bot holds it.
	DemoChatID = "H31879676690579736-632532233958645150K8414055"
	// DemoChatPrefix: the default sandbox's bot also holds the thousand chats DemoChatPrefix+"000"
	// to DemoChatPrefix+"999" (the README's and the local stack's examples).
	// invented: which chats LivePerson routes to the bot is the account's routing, not an API.
	DemoChatPrefix = "H6201348"
	// BotAgentSessionID is the agent session the bot itself opened (with the same user as
	// Handoff) and that holds the bot's chats. The id is the one of the Retrieve Chat Resources,
	// Events and Information doc's example.
	BotAgentSessionID = "1027882276"

	SkillSupportID = "2"        // online: 2 agents
	SkillSalesID   = "25975313" // "Sales", online: 1 agent
	SkillBillingID = "26060413" // "Billing", online: 1 agent
	SkillOfflineID = "26060500" // "Escalations": no agent online, never listed
	AgentOnlineID  = "6"        // online
	AgentOfflineID = "7"        // offline: a transfer to it is refused
)

// Skill is a skill the sandbox knows.
type Skill struct {
	ID           int64
	Name         string
	OnlineAgents int
}

// Agent is an agent the sandbox knows.
type Agent struct {
	ID     int64
	Online bool
}

// Config sets up a Sandbox. Zero fields take the Demo defaults. The application-login
// fields are empty by default: set all four to accept an application login as well.
type Config struct {
	AccountID                                      string
	Username, Password                             string
	AppKey, Secret, AccessToken, AccessTokenSecret string
	Skills                                         []Skill
	Agents                                         []Agent
	// BotChats are chats the bot's agent session (BotAgentSessionID) holds from the start, on
	// top of the demo ones (DemoChatID, DemoChatPrefix+"000"…"999").
	BotChats []string
	// SessionLinkOrigin, when set (e.g. "https://evil.example"), is the origin the agent
	// session's @href and the chat session links name instead of the one the request came to:
	// tests of the host check.
	SessionLinkOrigin string
}

// Sandbox is a strict, in-memory LivePerson: the Login Service API (login, refresh, logout) and
// the Chat Agent API's Start Agent Session, Retrieve Chat Sessions, Retrieve Available Skills
// and Transfer a Chat, with the headers, query, bearer, cookies and bodies the docs ask for.
//
// It models who holds a chat. The bot logged in with the same user as Handoff and its agent
// session (BotAgentSessionID) holds the bot's chats; a chat is reached only under the agent
// session that holds it; Handoff's own agent session finds the bot's chats with Retrieve Chat
// Sessions, the documented "continuity" of a second agent session of the same user [C: Retrieve
// Chat Sessions, developers.liveperson.com/chat-agent-api-methods-retrieve-chat-sessions.html];
// a logout sends the chats of the logged-out sessions back to the queue [C: same note]. A
// transferred chat leaves the session that held it [I: the bot no longer takes part].
//
// Anything else is refused with LivePerson's error shape. Faults injected with Inject play on
// the transfer POST. Safe for concurrent use.
type Sandbox struct {
	cfg    Config
	faults sandbox.Faults
	rec    sandbox.Recorder
	mux    *http.ServeMux

	mu            sync.Mutex
	revoked       bool                    // an AuthRejected fault played: every login fails now
	logins        map[string]*loginRecord // by bearer
	agentSessions map[string]*agentRecord // by id
	held          map[string]string       // chat id → the agent session holding it
	transferred   map[string]string       // chat id → "skill:2" / "agent:6"
	requeued      map[string]bool         // chats a logout sent back to the queue
	loginCount    int
	sessions      int
	transferCalls int
	refreshes     int
	logouts       int
}

// loginRecord is one Login Service API login [C: User Login: bearer, csrf, Session_id cookie].
type loginRecord struct {
	bearer, csrf, sessionCookie string
	alive                       bool
}

// agentRecord is one agent session. login is nil for the bot's own session, opened outside.
type agentRecord struct {
	login  *loginRecord
	cookie string
	ended  bool
}

// agentCookie is the security cookie the sandbox sets on an agent session and requires back.
// invented: LivePerson does not name its cookies; the path scoping is the point [C: overview].
const agentCookie = "LPAgentSession"

// New builds a sandbox. It does no I/O.
func New(cfg Config) *Sandbox {
	if cfg.AccountID == "" {
		cfg.AccountID = DemoAccountID
	}
	if cfg.Username == "" {
		cfg.Username = DemoUsername
	}
	if cfg.Password == "" && cfg.AppKey == "" {
		cfg.Password = DemoPassword
	}
	if cfg.Skills == nil {
		cfg.Skills = []Skill{{2, "Support", 2}, {25975313, "Sales", 1}, {26060413, "Billing", 1}, {26060500, "Escalations", 0}}
	}
	if cfg.Agents == nil {
		cfg.Agents = []Agent{{6, true}, {7, false}}
	}
	s := &Sandbox{cfg: cfg, logins: map[string]*loginRecord{}, agentSessions: map[string]*agentRecord{},
		held: map[string]string{}, transferred: map[string]string{}, requeued: map[string]bool{}}
	s.agentSessions[BotAgentSessionID] = &agentRecord{}
	for _, chat := range append([]string{DemoChatID}, cfg.BotChats...) {
		s.held[chat] = BotAgentSessionID
	}
	for i := range 1000 {
		s.held[fmt.Sprintf("%s%03d", DemoChatPrefix, i)] = BotAgentSessionID
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("/api/account/{account}/login", s.login)
	s.mux.HandleFunc("/api/account/{account}/refresh", s.refresh)
	s.mux.HandleFunc("/api/account/{account}/logout", s.logout)
	s.mux.HandleFunc("/api/account/{account}/agentSession", s.agentSession)
	s.mux.HandleFunc("/api/account/{account}/agentSession/{session}/chatSessions", s.chatSessions)
	s.mux.HandleFunc("/api/account/{account}/agentSession/{session}/chat/{chat}/transfer", s.chatTransfer)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		lpError(w, http.StatusNotFound, "no such resource") // invented: status and text
	})
	return s
}

// DemoSecret is the tenant secret that works against a default sandbox served at baseURL.
func DemoSecret(baseURL string) []byte {
	b, _ := json.Marshal(liveperson.Credentials{AccountID: DemoAccountID, BaseURL: baseURL, Username: DemoUsername, Password: DemoPassword})
	return b
}

// ServeHTTP records the request and answers it.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body := s.rec.Record(r)
	r.Body = io.NopCloser(bytes.NewReader(body))
	s.mux.ServeHTTP(w, r)
}

// Inject plays f on the next `times` transfer POSTs, or on all of them when times <= 0.
func (s *Sandbox) Inject(f sandbox.Fault, times int) { s.faults.Inject(f, times) }

// TransferCalls counts the POSTs that reached Transfer a Chat.
func (s *Sandbox) TransferCalls() int { s.mu.Lock(); defer s.mu.Unlock(); return s.transferCalls }

// Logins counts successful logins.
func (s *Sandbox) Logins() int { s.mu.Lock(); defer s.mu.Unlock(); return s.loginCount }

// Refreshes counts successful Login Service refreshes (keep-alives).
func (s *Sandbox) Refreshes() int { s.mu.Lock(); defer s.mu.Unlock(); return s.refreshes }

// Logouts counts logouts: each sends the chats of the logged-out agent sessions to the queue.
func (s *Sandbox) Logouts() int { s.mu.Lock(); defer s.mu.Unlock(); return s.logouts }

// AgentSessions counts agent sessions created (the bot's own not included).
func (s *Sandbox) AgentSessions() int { s.mu.Lock(); defer s.mu.Unlock(); return s.sessions }

// Requests returns what the sandbox received, oldest first.
func (s *Sandbox) Requests() []sandbox.Request { return s.rec.Requests() }

// ExpireBearers ends every login made so far (bearer and refresh), as a login reaching its TTL
// would. The bot's own agent session, opened elsewhere, stays.
func (s *Sandbox) ExpireBearers() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.logins {
		l.alive = false
	}
}

// EndAgentSessions ends every agent session but the bot's, their logins still alive: what
// LivePerson answers then is not documented [U]; the sandbox answers 404 (invented).
func (s *Sandbox) EndAgentSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, as := range s.agentSessions {
		if id != BotAgentSessionID {
			as.ended = true
		}
	}
}

// RouteChat hands a chat to the bot's agent session, as LivePerson's routing would.
func (s *Sandbox) RouteChat(chatID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held[chatID] = BotAgentSessionID
	delete(s.transferred, chatID)
	delete(s.requeued, chatID)
}

// TransferredTo reports where a chat was transferred: "skill:2", "agent:6", or "" if it was not.
func (s *Sandbox) TransferredTo(chatID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.transferred[chatID]
}

// Requeued reports whether a logout sent the chat back to the queue.
func (s *Sandbox) Requeued(chatID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requeued[chatID]
}

// agentSession is Start Agent Session: body {"loginData": ""}, 201 with the session's link
// [C: Start Agent Session, developers.liveperson.com/chat-agent-api-methods-start-agent-session.html]
// and the security cookie scoped to it [C: Chat Agent API overview, cookies].
func (s *Sandbox) agentSession(w http.ResponseWriter, r *http.Request) {
	if !s.preflight(w, r, http.MethodPost, "1") {
		return
	}
	l, ok := s.bearer(w, r)
	if !ok {
		return
	}
	var body struct {
		LoginData *string `json:"loginData"`
	}
	if err := decodeStrict(r.Body, &body); err != nil || body.LoginData == nil {
		lpError(w, http.StatusBadRequest, `Problem with body: {"loginData": ""} is required`) // invented: text
		return
	}
	id, cookie := token(8), token(16)
	s.mu.Lock()
	s.agentSessions[id] = &agentRecord{login: l, cookie: cookie}
	s.sessions++
	s.mu.Unlock()
	path := "/api/account/" + s.cfg.AccountID + "/agentSession/" + id
	http.SetCookie(w, &http.Cookie{Name: agentCookie, Value: cookie, Path: path, HttpOnly: true, Secure: r.TLS != nil})
	sandbox.WriteJSON(w, http.StatusCreated, map[string]any{"agentSessionLocation": map[string]any{
		"link": map[string]string{"@href": s.origin(r) + path, "@rel": "location"}}})
}

// origin is what the sandbox's links start with.
func (s *Sandbox) origin(r *http.Request) string {
	if s.cfg.SessionLinkOrigin != "" {
		return s.cfg.SessionLinkOrigin
	}
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

// preflight checks what every call shares: method, account, the version query (login ?v=1.3,
// Chat Agent API ?v=1&NC=true, none on refresh and logout) and the JSON headers, as each method's
// page gives them [C: User Login, Refresh, Logout, Start Agent Session, Retrieve Chat Sessions,
// Retrieve Available Skills, Transfer a Chat]. It answers and returns false when one is wrong
// (the pages accept XML too; the sandbox only JSON, which is all the adapter sends).
func (s *Sandbox) preflight(w http.ResponseWriter, r *http.Request, method, version string) bool {
	q := r.URL.Query()
	switch {
	case r.Method != method:
		lpError(w, http.StatusMethodNotAllowed, "method not allowed") // invented: status and text
	case r.PathValue("account") != s.cfg.AccountID:
		lpError(w, http.StatusUnauthorized, "Bad Authentication (invalid site or agent)") // [C: User Login's 401]
	case version != "" && (q.Get("v") != version || version == "1" && q.Get("NC") != "true"):
		lpError(w, http.StatusBadRequest, "Problem with query parameters: v or NC is missing or wrong") // invented: text
	case !isJSON(r.Header.Get("Content-Type")) || !strings.Contains(r.Header.Get("Accept"), "application/json"):
		lpError(w, http.StatusBadRequest, "Content-Type and Accept must be application/json") // invented: text
	default:
		return true
	}
	return false
}

// bearer checks the Authorization header against the live logins [C: "Authorization: Bearer
// {bearer-from-login}" on every Chat Agent API call].
func (s *Sandbox) bearer(w http.ResponseWriter, r *http.Request) (*loginRecord, bool) {
	b, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	l := s.logins[b]
	s.mu.Unlock()
	if !ok || l == nil || !s.alive(l) {
		lpError(w, http.StatusUnauthorized, "Authentication failed: missing or invalid bearer") // invented: text
		return nil, false
	}
	return l, true
}

func (s *Sandbox) alive(l *loginRecord) bool { s.mu.Lock(); defer s.mu.Unlock(); return l.alive }
