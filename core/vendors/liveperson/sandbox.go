package liveperson

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"handoff/core/vendors/sandbox"
)

// The default sandbox's known account, user and ids. Skill 2 and agent 6 are the Transfer a
// Chat doc's examples, 25975313 "Sales" and 26060413 "Billing" those of Retrieve Available
// Skills; the offline ones are ours, for fallbacks.
const (
	DemoAccountID = "123456"
	DemoUsername  = "handoff-bot"
	DemoPassword  = "sandbox-bot-password"
	// DemoChatID is an example chat id in LivePerson's format; the sandbox takes any chat id as
	// a chat of the bot's agent session until it is transferred away.
	DemoChatID = "H31879676690579736-632532233958645150K8414055"

	SkillSupportID = "2"        // online: 2 agents
	SkillSalesID   = "25975313" // "Sales", online: 1 agent
	SkillBillingID = "26060413" // "Billing", online: 1 agent
	SkillOfflineID = "26060500" // "Escalations": no agent online, never listed
	AgentOnlineID  = "6"        // online
	AgentOfflineID = "7"        // offline: a transfer to it is refused
)

// SandboxSkill is a skill the sandbox knows.
type SandboxSkill struct {
	ID           int64
	Name         string
	OnlineAgents int
}

// SandboxAgent is an agent the sandbox knows.
type SandboxAgent struct {
	ID     int64
	Online bool
}

// SandboxConfig sets up a Sandbox. Zero fields take the Demo defaults. The application-login
// fields are empty by default: set all four to accept an application login as well.
type SandboxConfig struct {
	AccountID                                      string
	Username, Password                             string
	AppKey, Secret, AccessToken, AccessTokenSecret string
	Skills                                         []SandboxSkill
	Agents                                         []SandboxAgent
	// SessionLinkOrigin, when set (e.g. "https://evil.example"), is the origin the agent
	// session's @href names instead of the one the request came to: tests of the host check.
	SessionLinkOrigin string
}

// Sandbox is a strict, in-memory LivePerson: Login Service API login, Chat Agent API agent
// session, Retrieve Available Skills and Transfer a Chat, with the headers, query, bearer,
// cookies and bodies the docs ask for. Anything else is refused with LivePerson's error shape.
// Faults injected with Inject play on the transfer POST. Safe for concurrent use.
type Sandbox struct {
	cfg    SandboxConfig
	faults sandbox.Faults
	rec    sandbox.Recorder
	mux    *http.ServeMux

	mu            sync.Mutex
	revoked       bool                   // an AuthRejected fault played: every login fails now
	bearers       map[string]bool        // valid bearers
	agentSessions map[string]agentRecord // by id
	transferred   map[string]string      // chat id → "skill:2" / "agent:6"
	logins        int
	sessions      int
	transferCalls int
}

type agentRecord struct{ bearer, cookie string }

// agentCookie is the security cookie the sandbox sets on an agent session and requires back.
// LivePerson does not name its cookies [U]; the name is ours, the path scoping is the point.
const agentCookie = "LPAgentSession"

// NewSandbox builds a sandbox. It does no I/O.
func NewSandbox(cfg SandboxConfig) *Sandbox {
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
		cfg.Skills = []SandboxSkill{{2, "Support", 2}, {25975313, "Sales", 1}, {26060413, "Billing", 1}, {26060500, "Escalations", 0}}
	}
	if cfg.Agents == nil {
		cfg.Agents = []SandboxAgent{{6, true}, {7, false}}
	}
	s := &Sandbox{cfg: cfg, bearers: map[string]bool{}, agentSessions: map[string]agentRecord{}, transferred: map[string]string{}}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("/api/account/{account}/login", s.login)
	s.mux.HandleFunc("/api/account/{account}/agentSession", s.agentSession)
	s.mux.HandleFunc("/api/account/{account}/agentSession/{session}/chat/{chat}/transfer", s.chatTransfer)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		lpError(w, http.StatusNotFound, "no such resource")
	})
	return s
}

// DemoSecret is the tenant secret that works against a default sandbox served at baseURL.
func DemoSecret(baseURL string) []byte {
	b, _ := json.Marshal(Credentials{AccountID: DemoAccountID, BaseURL: baseURL, Username: DemoUsername, Password: DemoPassword})
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
func (s *Sandbox) Logins() int { s.mu.Lock(); defer s.mu.Unlock(); return s.logins }

// AgentSessions counts agent sessions created.
func (s *Sandbox) AgentSessions() int { s.mu.Lock(); defer s.mu.Unlock(); return s.sessions }

// Requests returns what the sandbox received, oldest first.
func (s *Sandbox) Requests() []sandbox.Request { return s.rec.Requests() }

// ExpireBearers makes every bearer issued so far invalid, as a login reaching its TTL would.
func (s *Sandbox) ExpireBearers() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.bearers)
}

// TransferredTo reports where a chat was transferred: "skill:2", "agent:6", or "" if it was not.
func (s *Sandbox) TransferredTo(chatID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.transferred[chatID]
}

// login is the Login Service API: user login or application login.
func (s *Sandbox) login(w http.ResponseWriter, r *http.Request) {
	if !s.preflight(w, r, http.MethodPost, "1.3") {
		return
	}
	var body struct {
		Username, Password, AppKey, Secret, AccessToken, AccessTokenSecret *string
	}
	if err := decodeStrict(r.Body, &body); err != nil {
		lpError(w, http.StatusBadRequest, "Problem with body: "+err.Error())
		return
	}
	userLogin := body.Password != nil && body.AppKey == nil && body.Secret == nil && body.AccessToken == nil && body.AccessTokenSecret == nil
	appLogin := body.Password == nil && body.AppKey != nil && body.Secret != nil && body.AccessToken != nil && body.AccessTokenSecret != nil
	if body.Username == nil || userLogin == appLogin {
		lpError(w, http.StatusBadRequest, "Problem with body: send username with password, or with appKey, secret, accessToken and accessTokenSecret")
		return
	}
	c := s.cfg
	ok := *body.Username == c.Username && (userLogin && c.Password != "" && *body.Password == c.Password ||
		appLogin && c.AppKey != "" && *body.AppKey == c.AppKey && *body.Secret == c.Secret &&
			*body.AccessToken == c.AccessToken && *body.AccessTokenSecret == c.AccessTokenSecret)
	s.mu.Lock()
	ok = ok && !s.revoked
	bearer := token(32)
	if ok {
		s.bearers[bearer] = true
		s.logins++
	}
	s.mu.Unlock()
	if !ok {
		lpError(w, http.StatusUnauthorized, "Bad Authentication (invalid site or agent)")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: "Session_id", Value: token(16), Path: "/", HttpOnly: true, Secure: r.TLS != nil})
	sandbox.WriteJSON(w, http.StatusOK, map[string]any{
		"csrf": token(32), "wsuk": "766900772095619056",
		"config": map[string]any{"loginName": c.Username, "userId": "3705342610", "userPrivileges": []int{100, 101, 1730},
			"isLPA": false, "isAdmin": false, "accountTimeZoneId": "Europe/Athens"},
		"csdsCollectionResponse": map[string]any{"baseURIs": []map[string]string{
			{"account": c.AccountID, "baseURI": r.Host, "service": "agentVep"}}},
		"accountData": map[string]any{"agentGroupsData": map[string]any{
			"items": []map[string]any{{"id": -1, "deleted": false, "name": "Main Group"}}, "revision": 1}},
		"sessionTTl": "28800000",
		"bearer":     bearer,
	})
}

// agentSession is Start Agent Session: body {"loginData": ""}, 201 with the session's link and
// the security cookie scoped to it.
func (s *Sandbox) agentSession(w http.ResponseWriter, r *http.Request) {
	if !s.preflight(w, r, http.MethodPost, "1") {
		return
	}
	bearer, ok := s.bearer(w, r)
	if !ok {
		return
	}
	var body struct {
		LoginData *string `json:"loginData"`
	}
	if err := decodeStrict(r.Body, &body); err != nil || body.LoginData == nil {
		lpError(w, http.StatusBadRequest, `Problem with body: {"loginData": ""} is required`)
		return
	}
	id, cookie := token(8), token(16)
	s.mu.Lock()
	s.agentSessions[id] = agentRecord{bearer: bearer, cookie: cookie}
	s.sessions++
	s.mu.Unlock()
	path := "/api/account/" + s.cfg.AccountID + "/agentSession/" + id
	http.SetCookie(w, &http.Cookie{Name: agentCookie, Value: cookie, Path: path, HttpOnly: true, Secure: r.TLS != nil})
	origin := s.cfg.SessionLinkOrigin
	if origin == "" {
		origin = "http://" + r.Host
		if r.TLS != nil {
			origin = "https://" + r.Host
		}
	}
	sandbox.WriteJSON(w, http.StatusCreated, map[string]any{"agentSessionLocation": map[string]any{
		"link": map[string]string{"@href": origin + path, "@rel": "location"}}})
}

// preflight checks what every call shares: method, account, the version query and the JSON
// headers. It answers and returns false when one is wrong.
func (s *Sandbox) preflight(w http.ResponseWriter, r *http.Request, method, version string) bool {
	q := r.URL.Query()
	switch {
	case r.Method != method:
		lpError(w, http.StatusMethodNotAllowed, "method not allowed")
	case r.PathValue("account") != s.cfg.AccountID:
		lpError(w, http.StatusUnauthorized, "Bad Authentication (invalid site or agent)")
	case q.Get("v") != version || version == "1" && q.Get("NC") != "true":
		lpError(w, http.StatusBadRequest, "Problem with query parameters: v or NC is missing or wrong")
	case !isJSON(r.Header.Get("Content-Type")) || !strings.Contains(r.Header.Get("Accept"), "application/json"):
		lpError(w, http.StatusBadRequest, "Content-Type and Accept must be application/json")
	default:
		return true
	}
	return false
}

// bearer checks the Authorization header against the bearers issued.
func (s *Sandbox) bearer(w http.ResponseWriter, r *http.Request) (string, bool) {
	b, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	ok = ok && s.bearers[b]
	s.mu.Unlock()
	if !ok {
		lpError(w, http.StatusUnauthorized, "Authentication failed: missing or invalid bearer")
	}
	return b, ok
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}

// decodeStrict reads one JSON object, refusing unknown fields and trailing data.
func decodeStrict(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// lpError answers with LivePerson's error shape [C: Login Service API, Refresh].
func lpError(w http.ResponseWriter, status int, message string) {
	internal := 0
	if status == http.StatusUnauthorized {
		internal = 10 // the only internalCode the docs show [C]; the others are unknown [U]
	}
	sandbox.WriteJSON(w, status, map[string]any{"error": map[string]any{
		"time":           time.Now().UTC().Format("Jan 2, 2006 3:04:05 PM"),
		"message":        message,
		"internalCode":   internal,
		"responseStatus": strings.ToUpper(strings.ReplaceAll(http.StatusText(status), " ", "_")),
	}})
}

func token(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
