package liveperson_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"handoff/core/vendors/liveperson"
)

// lpClient drives the sandbox by hand, without a cookie jar, to show what it refuses.
type lpClient struct {
	t      *testing.T
	base   string
	bearer string
	href   string
	cookie *http.Cookie
}

func newClient(t *testing.T, cfg liveperson.SandboxConfig) *lpClient {
	srv := httptest.NewServer(liveperson.NewSandbox(cfg))
	t.Cleanup(srv.Close)
	return &lpClient{t: t, base: srv.URL + "/api/account/" + liveperson.DemoAccountID}
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

func (c *lpClient) chat(chatID string) string {
	return c.href + "/chat/" + chatID + "/transfer?v=1&NC=true"
}

func TestSandboxLogin(t *testing.T) {
	c := newClient(t, liveperson.SandboxConfig{})
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
	c := newClient(t, liveperson.SandboxConfig{})
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
	c := newClient(t, liveperson.SandboxConfig{})
	c.start()
	cookie := c.cookie
	c.cookie = nil
	if status, _, _ := c.send("GET", c.chat("chat-1"), "", nil); status != 401 {
		t.Errorf("skills without the cookie: status = %d, want 401", status)
	}
	c.cookie = &http.Cookie{Name: cookie.Name, Value: "forged"}
	if status, _, _ := c.send("GET", c.chat("chat-1"), "", nil); status != 401 {
		t.Errorf("skills with a forged cookie: status = %d, want 401", status)
	}
	c.cookie = cookie
	if status, body, _ := c.send("GET", c.chat("chat-1"), "", nil); status != 200 || !strings.Contains(body, `"onlineAgents":"2"`) {
		t.Errorf("skills with the cookie = %d %s", status, body)
	}
}

func TestSandboxTransferIsStrict(t *testing.T) {
	c := newClient(t, liveperson.SandboxConfig{})
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
	c := newClient(t, liveperson.SandboxConfig{Skills: []liveperson.SandboxSkill{{ID: 25975313, Name: "Sales", OnlineAgents: 1}, {ID: 5, OnlineAgents: 0}}})
	c.start()
	_, body, _ := c.send("GET", c.chat("chat-1"), "", nil)
	if want := `{"transfer":{"skill":{"id":"25975313","name":"Sales","onlineAgents":"1"}}}`; strings.TrimSpace(body) != want {
		t.Errorf("skills = %s, want %s", body, want)
	}
	c = newClient(t, liveperson.SandboxConfig{Skills: []liveperson.SandboxSkill{{ID: 5, OnlineAgents: 0}}})
	c.start()
	if _, body, _ = c.send("GET", c.chat("chat-1"), "", nil); strings.TrimSpace(body) != `{"transfer":""}` {
		t.Errorf("skills with none online = %s", body)
	}
}
