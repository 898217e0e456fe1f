package livepersonsandbox_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"handoff/core/vendors/liveperson/livepersonsandbox"
)

// lpClient drives the sandbox by hand, without a cookie jar, to show what it refuses.
type lpClient struct {
	t      *testing.T
	base   string
	bearer string
	href   string
	cookie *http.Cookie
}

func newClient(t *testing.T, cfg livepersonsandbox.Config) *lpClient {
	srv := httptest.NewServer(livepersonsandbox.New(cfg))
	t.Cleanup(srv.Close)
	return &lpClient{t: t, base: srv.URL + "/api/account/" + livepersonsandbox.DemoAccountID}
}

// send returns the status and LivePerson's responseStatus (or the raw body for a 2xx).
func (c *lpClient) send(method, url, body string, edit func(*http.Request)) (int, string, *http.Response) {
	c.t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	if c.cookie != nil {
		req.AddCookie(c.cookie)
	}
	if edit != nil {
		edit(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var eb struct {
		Error struct {
			ResponseStatus string `json:"responseStatus"`
		} `json:"error"`
	}
	if resp.StatusCode >= 300 {
		if err := json.Unmarshal(raw, &eb); err != nil || eb.Error.ResponseStatus == "" {
			c.t.Errorf("error answer not in LivePerson's shape: %s", raw)
		}
		return resp.StatusCode, eb.Error.ResponseStatus, resp
	}
	return resp.StatusCode, string(raw), resp
}

// start logs in and opens an agent session, keeping the bearer, link and cookie.
func (c *lpClient) start() {
	c.t.Helper()
	status, body, _ := c.send("POST", c.base+"/login?v=1.3", `{"username":"handoff-bot","password":"sandbox-bot-password"}`, nil)
	var login struct{ Bearer string }
	if status != 200 || json.Unmarshal([]byte(body), &login) != nil || login.Bearer == "" {
		c.t.Fatalf("login = %d %s", status, body)
	}
	c.bearer = login.Bearer
	status, body, resp := c.send("POST", c.base+"/agentSession?v=1&NC=true", `{"loginData": ""}`, nil)
	var as struct {
		AgentSessionLocation struct{ Link map[string]string }
	}
	if status != 201 || json.Unmarshal([]byte(body), &as) != nil || len(resp.Cookies()) != 1 {
		c.t.Fatalf("agent session = %d %s (cookies %v)", status, body, resp.Cookies())
	}
	c.href, c.cookie = as.AgentSessionLocation.Link["@href"], resp.Cookies()[0]
}

// chat is a chat's transfer URL under the bot's agent session, which holds the bot's chats.
func (c *lpClient) chat(chatID string) string {
	return c.base + "/agentSession/" + livepersonsandbox.BotAgentSessionID + "/chat/" + chatID + "/transfer?v=1&NC=true"
}

// chatSessions is Retrieve Chat Sessions under our own agent session.
func (c *lpClient) chatSessions() string { return c.href + "/chatSessions?v=1&NC=true" }

func TestSandboxLogin(t *testing.T) {
	c := newClient(t, livepersonsandbox.Config{})
	cases := []struct {
		name, url, body string
		status          int
	}{
		{"user login", "/login?v=1.3", `{"username":"handoff-bot","password":"sandbox-bot-password"}`, 200},
		{"wrong password", "/login?v=1.3", `{"username":"handoff-bot","password":"nope"}`, 401},
		{"app key not configured", "/login?v=1.3", `{"username":"handoff-bot","appKey":"a","secret":"b","accessToken":"c","accessTokenSecret":"d"}`, 401},
		{"both methods", "/login?v=1.3", `{"username":"handoff-bot","password":"sandbox-bot-password","appKey":"a"}`, 400},
		{"unknown field", "/login?v=1.3", `{"username":"handoff-bot","password":"sandbox-bot-password","pasword":"x"}`, 400},
		{"no version", "/login", `{"username":"handoff-bot","password":"sandbox-bot-password"}`, 400},
		{"not JSON", "/login?v=1.3", `username=handoff-bot`, 400},
	}
	for _, tc := range cases {
		if status, _, _ := c.send("POST", c.base+tc.url, tc.body, nil); status != tc.status {
			t.Errorf("%s: status = %d, want %d", tc.name, status, tc.status)
		}
	}
}

func TestSandboxAgentSession(t *testing.T) {
	c := newClient(t, livepersonsandbox.Config{})
	c.start()
	for _, tc := range []struct {
		name, url, body string
		edit            func(*http.Request)
		status          int
	}{
		{"no loginData", "/agentSession?v=1&NC=true", `{}`, nil, 400},
		{"loginData not a string", "/agentSession?v=1&NC=true", `{"loginData": {"userName": "x"}}`, nil, 400},
		{"no NC", "/agentSession?v=1", `{"loginData": ""}`, nil, 400},
		{"no bearer", "/agentSession?v=1&NC=true", `{"loginData": ""}`, func(r *http.Request) { r.Header.Del("Authorization") }, 401},
		{"XML body type", "/agentSession?v=1&NC=true", `{"loginData": ""}`, func(r *http.Request) { r.Header.Set("Content-Type", "text/xml") }, 400},
	} {
		if status, _, _ := c.send("POST", c.base+tc.url, tc.body, tc.edit); status != tc.status {
			t.Errorf("%s: status = %d, want %d", tc.name, status, tc.status)
		}
	}
}

func TestSandboxRequiresTheAgentSessionCookie(t *testing.T) {
	c := newClient(t, livepersonsandbox.Config{})
	c.start()
	cookie := c.cookie
	c.cookie = nil
	if status, _, _ := c.send("GET", c.chatSessions(), "", nil); status != 401 {
		t.Errorf("chat sessions without the cookie: status = %d, want 401", status)
	}
	c.cookie = &http.Cookie{Name: cookie.Name, Value: "forged"}
	if status, _, _ := c.send("GET", c.chatSessions(), "", nil); status != 401 {
		t.Errorf("chat sessions with a forged cookie: status = %d, want 401", status)
	}
	c.cookie = cookie
	if status, _, _ := c.send("GET", c.chatSessions(), "", nil); status != 200 {
		t.Errorf("chat sessions with the cookie = %d", status)
	}
	if status, body, _ := c.send("GET", c.chat(livepersonsandbox.DemoChatID), "", nil); status != 200 || !strings.Contains(body, `"onlineAgents":"2"`) {
		t.Errorf("skills of the bot's chat = %d %s", status, body)
	}
}

// Retrieve Chat Sessions from a second agent session of the same user lists the chats the
// first holds, each linked under the session holding it, in the doc's shape; a chat is reached
// only under that session; after a transfer it is no longer listed.
func TestSandboxChatOwnershipAndContinuity(t *testing.T) {
	c := newClient(t, livepersonsandbox.Config{BotChats: []string{"chat-1"}})
	c.start()
	var list struct {
		ChatSessions struct {
			ChatSession []struct {
				Link struct {
					Href, Rel string
				}
				ChatSessionKey string
				StartTime      int64
			}
		}
	}
	status, body, _ := c.send("GET", c.chatSessions(), "", nil)
	if status != 200 || json.Unmarshal([]byte(body), &list) != nil {
		t.Fatalf("chat sessions = %d %s", status, body)
	}
	var link string
	for _, cs := range list.ChatSessions.ChatSession {
		if cs.ChatSessionKey == "chat-1" {
			link = cs.Link.Href
			if cs.Link.Rel != "chat-session" || cs.StartTime == 0 {
				t.Errorf("chat session entry %+v", cs)
			}
		}
	}
	if want := "/api/account/" + livepersonsandbox.DemoAccountID + "/agentSession/" + livepersonsandbox.BotAgentSessionID + "/chat/chat-1"; !strings.HasSuffix(link, want) {
		t.Fatalf("chat-1's link = %q, want one ending %s", link, want)
	}
	if status, _, _ := c.send("GET", c.href+"/chat/chat-1/transfer?v=1&NC=true", "", nil); status != 404 {
		t.Errorf("the bot's chat under our own agent session: status = %d, want 404", status)
	}
	if status, _, _ := c.send("GET", c.chat("not-routed"), "", nil); status != 404 {
		t.Errorf("a chat the bot does not hold: status = %d, want 404", status)
	}
	if status, _, _ := c.send("POST", link+"/transfer?v=1&NC=true", `{"transfer":{"agent":{"id":6}}}`, nil); status != 200 {
		t.Fatalf("transfer through the link: status = %d", status)
	}
	if _, body, _ = c.send("GET", c.chatSessions(), "", nil); strings.Contains(body, `"chat-1"`) {
		t.Errorf("a transferred chat is still listed: %s", body)
	}
}

// Refresh keeps a login alive with its Session_id cookie and csrf; a logout ends it and sends
// the chats of its agent sessions back to the queue.
func TestSandboxRefreshAndLogout(t *testing.T) {
	sb := livepersonsandbox.New(livepersonsandbox.Config{})
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	c := &lpClient{t: t, base: srv.URL + "/api/account/" + livepersonsandbox.DemoAccountID}
	status, body, resp := c.send("POST", c.base+"/login?v=1.3", `{"username":"handoff-bot","password":"sandbox-bot-password"}`, nil)
	var login struct{ CSRF, Bearer string }
	if status != 200 || json.Unmarshal([]byte(body), &login) != nil {
		t.Fatalf("login = %d %s", status, body)
	}
	sessionID := resp.Cookies()[0]
	withSession := func(r *http.Request) { r.AddCookie(sessionID) }
	if status, _, _ := c.send("POST", c.base+"/refresh", `{"csrf":"wrong"}`, withSession); status != 401 {
		t.Errorf("refresh with a wrong csrf: status = %d, want 401", status)
	}
	if status, _, _ := c.send("POST", c.base+"/refresh", `{"csrf":"`+login.CSRF+`"}`, withSession); status != 200 || sb.Refreshes() != 1 {
		t.Errorf("refresh: status = %d, refreshes %d", status, sb.Refreshes())
	}
	// The bot's own login, in the sandbox's model, is not this one: a logout of this login
	// requeues only its own sessions' chats.
	c.bearer = login.Bearer
	if status, _, _ := c.send("POST", c.base+"/logout", `{"csrf":"`+login.CSRF+`"}`, withSession); status != 200 || sb.Logouts() != 1 {
		t.Errorf("logout: status = %d, logouts %d", status, sb.Logouts())
	}
	if status, _, _ := c.send("POST", c.base+"/agentSession?v=1&NC=true", `{"loginData": ""}`, nil); status != 401 {
		t.Errorf("a bearer after its logout: status = %d, want 401", status)
	}
	if sb.Requeued(livepersonsandbox.DemoChatID) {
		t.Error("the bot's chat was requeued by another login's logout")
	}
}

func TestSandboxTransferIsStrict(t *testing.T) {
	c := newClient(t, livepersonsandbox.Config{BotChats: []string{"chat-1", "chat-2"}})
	c.start()
	for _, tc := range []struct {
		name, body string
		status     int
	}{
		{"string id", `{"transfer":{"skill":{"id":"2"}}}`, 400},
		{"both targets", `{"transfer":{"skill":{"id":2},"agent":{"id":6}}}`, 400},
		{"no target", `{"transfer":{"text":"hi"}}`, 400},
		{"unknown field", `{"transfer":{"skill":{"id":2},"note":"hi"}}`, 400},
		{"misspelt target", `{"transfer":{"skil":{"id":2}}}`, 400},
		{"text not a string", `{"transfer":{"skill":{"id":2},"text":5}}`, 400},
		{"no wrapper", `{"skill":{"id":2}}`, 400},
		{"unknown skill", `{"transfer":{"skill":{"id":999}}}`, 400},
		{"offline skill", `{"transfer":{"skill":{"id":26060500}}}`, 400},
		{"offline agent", `{"transfer":{"agent":{"id":7}}}`, 400},
		{"skill", `{"transfer":{"skill":{"id":2},"text":"I think this person needs some help from you."}}`, 200},
		{"again", `{"transfer":{"agent":{"id":6}}}`, 404}, // the chat left the bot's agent session
	} {
		if status, _, _ := c.send("POST", c.chat("chat-1"), tc.body, nil); status != tc.status {
			t.Errorf("%s: status = %d, want %d", tc.name, status, tc.status)
		}
	}
	if status, _, _ := c.send("POST", strings.TrimSuffix(c.chat("chat-2"), "&NC=true"), `{"transfer":{"agent":{"id":6}}}`, nil); status != 400 {
		t.Errorf("transfer without NC=true: status = %d, want 400", status)
	}
	if status, _, _ := c.send("GET", c.chat("chat-1"), "", nil); status != 404 {
		t.Errorf("skills of a transferred chat: status = %d, want 404", status)
	}
}

func TestSandboxListsOneSkillAsAnObject(t *testing.T) {
	c := newClient(t, livepersonsandbox.Config{BotChats: []string{"chat-1"}, Skills: []livepersonsandbox.Skill{{ID: 25975313, Name: "Sales", OnlineAgents: 1}, {ID: 5, OnlineAgents: 0}}})
	c.start()
	_, body, _ := c.send("GET", c.chat("chat-1"), "", nil)
	if want := `{"transfer":{"skill":{"id":"25975313","name":"Sales","onlineAgents":"1"}}}`; strings.TrimSpace(body) != want {
		t.Errorf("skills = %s, want %s", body, want)
	}
	c = newClient(t, livepersonsandbox.Config{BotChats: []string{"chat-1"}, Skills: []livepersonsandbox.Skill{{ID: 5, OnlineAgents: 0}}})
	c.start()
	if _, body, _ = c.send("GET", c.chat("chat-1"), "", nil); strings.TrimSpace(body) != `{"transfer":""}` {
		t.Errorf("skills with none online = %s", body)
	}
}
