package liveperson

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/rest"
)

const (
	// loginTimeout bounds one login (login + agent session) shared by concurrent callers
	// (vendorkit.Cache: detached from the first caller's context).
	loginTimeout = 20 * time.Second
	// defaultSessionTTL is used when the login answer has no sessionTTl (it says 8 h [C]).
	defaultSessionTTL = 30 * time.Minute
	// ttlMargin renews a login a little before LivePerson would drop it.
	ttlMargin = time.Minute
	// keepAliveEvery: the Chat Agent API's keep-alive is the Login Service's refresh "every 5
	// minutes" [C: retry policy page, KeepAlive; the Refresh page says every 3-5 minutes].
	keepAliveEvery = 5 * time.Minute
)

// session is one login of a tenant's bot user and the agent session opened with it. Its cookie
// jar holds what LivePerson set on the login and on the agent session: the Chat Agent API
// scopes cookies to an agent session and wants them back on its calls [C: overview].
//
// It is kept alive with the Login Service's refresh, as the docs ask, whenever it is used after
// keepAliveEvery (a frozen Lambda has no timer in between); it is replaced by a new login only
// when LivePerson refuses it (401) or its sessionTTl passed without a refresh. It is never
// logged out: a logout followed by a login sends the agent's active chats back to the queue
// [C: Retrieve Chat Sessions note], and the bot's chats are this same user's
// (docs/vendors/liveperson.md).
type session struct {
	fingerprint    string // of the credentials it was made with
	baseURL        string
	accountID      string
	bearer         string
	csrf           string // for refresh [C: User Login, "should be saved and used in refresh"]
	agentSessionID string
	jar            *cookiejar.Jar
	ttl            time.Duration
	chats          *chatIndex

	mu        sync.Mutex
	expires   time.Time
	refreshed time.Time // the login or the last refresh
}

// chatURL is a Chat Agent API URL of a chat under the agent session holding it, every segment
// escaped.
func (s *session) chatURL(ref chatRef, tail ...string) string {
	segs := append([]string{"api", "account", s.accountID, "agentSession", ref.session, "chat", ref.chat}, tail...)
	return rest.JoinURL(s.baseURL, segs...) + "?v=1&NC=true"
}

func (s *session) headers() http.Header {
	h := jsonHeaders()
	h.Set("Authorization", "Bearer "+s.bearer)
	return h
}

func jsonHeaders() http.Header {
	return http.Header{"Content-Type": {"application/json"}, "Accept": {"application/json"}}
}

// do sends req with the jar's cookies for its URL and keeps the cookies of the answer.
func (s *session) do(ctx context.Context, c *rest.Client, req rest.Request) (*rest.Response, error) {
	u, err := url.Parse(req.URL)
	if err != nil {
		return nil, handoff.E(handoff.CodeConfiguration, req.Op, "invalid LivePerson URL", nil)
	}
	if cookies := s.jar.Cookies(u); len(cookies) > 0 {
		parts := make([]string, len(cookies))
		for i, ck := range cookies {
			parts[i] = ck.String()
		}
		req.Header.Set("Cookie", strings.Join(parts, "; "))
	}
	resp, err := c.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	s.jar.SetCookies(u, (&http.Response{Header: resp.Header}).Cookies())
	return resp, nil
}

// conn is one operation's use of a tenant's session. It logs in again at most once.
type conn struct {
	a        *Adapter
	tenant   string
	creds    Credentials
	s        *session
	relogged bool
}

// connect loads the tenant's credentials and its session, logging in when none is cached.
func (a *Adapter) connect(ctx context.Context, tenant string) (*conn, error) {
	var creds Credentials
	if err := vendors.LoadCredentials(ctx, a.deps.Secrets, tenant, Key, &creds); err != nil {
		return nil, err
	}
	s, err := a.session(ctx, tenant, &creds, nil)
	if err != nil {
		return nil, err
	}
	c := &conn{a: a, tenant: tenant, creds: creds, s: s}
	if !a.keepAlive(ctx, tenant, s) {
		c.relogged = true
		if c.s, err = a.session(ctx, tenant, &creds, s); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// keepAlive refreshes the login when it was last refreshed keepAliveEvery ago or more, and
// reports false when LivePerson says the login is gone (401), so a new one is needed. Any other
// failure keeps the session: the call that follows tells.
func (a *Adapter) keepAlive(ctx context.Context, tenant string, s *session) bool {
	s.mu.Lock()
	last := s.refreshed
	due := !a.now().Before(last.Add(keepAliveEvery))
	if due {
		s.refreshed = a.now() // concurrent callers do not refresh too; put back if this one fails
	}
	s.mu.Unlock()
	if !due {
		return true
	}
	failed := func() {
		s.mu.Lock()
		s.refreshed = last
		s.mu.Unlock()
	}
	body, _ := json.Marshal(map[string]string{"csrf": s.csrf})
	resp, err := a.send(ctx, s, rest.Request{Op: opRefresh, Method: http.MethodPost,
		URL:    rest.JoinURL(s.baseURL, "api", "account", s.accountID, "refresh"),
		Header: jsonHeaders(), Body: body, Idempotent: true})
	switch {
	case err != nil:
		failed()
		a.log.Warn("liveperson: keep-alive failed", "tenant", tenant, "error", err)
		return true
	case resp.Status == http.StatusUnauthorized:
		a.log.Warn("liveperson: the login is gone (refresh refused); logging in again", "tenant", tenant)
		return false
	case !resp.OK():
		failed()
		a.log.Warn("liveperson: keep-alive failed", "tenant", tenant, "status", resp.Status)
		return true
	}
	s.mu.Lock()
	s.refreshed = a.now()
	s.expires = s.refreshed.Add(s.ttl)
	s.mu.Unlock()
	return true
}

// call sends the request build makes for the current session. On a 401 it logs in again (new
// bearer, new agent session) and sends once more: a 401 is refused before LivePerson acts, so
// even a transfer may be re-sent. A second 401 ends the call with VENDOR_AUTH_FAILED.
func (c *conn) call(ctx context.Context, build func(*session) rest.Request) (*rest.Response, error) {
	for {
		s := c.s
		req := build(s)
		resp, err := c.a.send(ctx, s, req)
		if err != nil || resp.Status != http.StatusUnauthorized {
			return resp, err
		}
		if c.relogged {
			c.a.authFailed(c.tenant, s)
			return nil, vendorError(req.Op, condUnauthorized, resp, c.a.now())
		}
		c.relogged = true
		c.a.log.Warn("liveperson: bearer refused, logging in again", "tenant", c.tenant, "op", req.Op)
		if c.s, err = c.a.session(ctx, c.tenant, &c.creds, s); err != nil {
			return nil, err
		}
	}
}

// session returns the tenant's cached session for these credentials, or logs in. stale, when
// set, is a session LivePerson just refused: it is never returned. Concurrent callers for one
// tenant and credentials share one login.
func (a *Adapter) session(ctx context.Context, tenant string, creds *Credentials, stale *session) (*session, error) {
	key := sessionKey(tenant, creds.fingerprint())
	for {
		if stale != nil {
			a.sessions.Drop(key, stale)
		}
		s, err := a.sessions.Get(ctx, key, loginTimeout, opLogin, "the call ended before the LivePerson login did",
			func(ctx context.Context) (*session, error) { return a.login(ctx, tenant, creds) })
		if err != nil || s != stale {
			return s, err
		}
		// Joined a flight that reused the refused session: log in anew.
	}
}

func sessionKey(tenant, fingerprint string) string { return tenant + "\x00" + fingerprint }

// authFailed forgets the session and the cached secret after LivePerson refused the
// credentials, so the next call reads the secret again (it may have been fixed meanwhile).
func (a *Adapter) authFailed(tenant string, s *session) {
	if s != nil {
		a.sessions.Drop(sessionKey(tenant, s.fingerprint), s)
	}
	a.deps.Secrets.Invalidate(tenant, Key)
	a.log.Warn("liveperson: credentials refused; cached secret invalidated", "tenant", tenant)
}

// login logs the bot user in and opens an agent session.
func (a *Adapter) login(ctx context.Context, tenant string, creds *Credentials) (*session, error) {
	jar, _ := cookiejar.New(nil) // no public suffix list: the jar only ever sees the tenant's domain
	s := &session{fingerprint: creds.fingerprint(), baseURL: creds.BaseURL, accountID: creds.AccountID, jar: jar,
		chats: newChatIndex()}
	resp, err := a.send(ctx, s, rest.Request{
		Op: opLogin, Method: http.MethodPost,
		URL:    rest.JoinURL(creds.BaseURL, "api", "account", creds.AccountID, "login") + "?v=1.3",
		Header: jsonHeaders(), Body: creds.loginBody(),
		Idempotent: true, // a second login only makes a second session
	})
	if err != nil {
		return nil, err
	}
	if !resp.OK() {
		return nil, a.loginError(tenant, opLogin, classify(phaseLogin, resp), resp)
	}
	var lr struct {
		Bearer     string     `json:"bearer"`
		CSRF       string     `json:"csrf"`
		SessionTTL flexString `json:"sessionTTl"`
	}
	if json.Unmarshal(resp.Body, &lr) != nil || lr.Bearer == "" {
		return nil, vendorError(opLogin, condMalformedAnswer, nil, a.now())
	}
	s.bearer, s.csrf = lr.Bearer, lr.CSRF
	s.ttl = sessionTTL(string(lr.SessionTTL))
	s.refreshed = a.now()
	s.expires = s.refreshed.Add(s.ttl)
	if err := a.openAgentSession(ctx, tenant, s); err != nil {
		return nil, err
	}
	a.log.Info("liveperson: logged in", "tenant", tenant, "credentials", creds)
	return s, nil
}

// openAgentSession starts the Chat Agent API's agent session and keeps its id.
func (a *Adapter) openAgentSession(ctx context.Context, tenant string, s *session) error {
	resp, err := a.send(ctx, s, rest.Request{
		Op: opAgentSession, Method: http.MethodPost,
		URL:    rest.JoinURL(s.baseURL, "api", "account", s.accountID, "agentSession") + "?v=1&NC=true",
		Header: s.headers(), Body: []byte(`{"loginData":""}`), // required "for backward compatibility" [C]
		// Re-sent only after an error: at worst it leaves an idle agent session behind.
		Idempotent: true,
	})
	if err != nil {
		return err
	}
	if !resp.OK() {
		return a.loginError(tenant, opAgentSession, classify(phaseAgentSession, resp), resp)
	}
	var ar struct {
		Location struct {
			Link struct {
				Href string `json:"@href"`
			} `json:"link"`
		} `json:"agentSessionLocation"`
	}
	if json.Unmarshal(resp.Body, &ar) != nil {
		return vendorError(opAgentSession, condMalformedAnswer, nil, a.now())
	}
	id, err := agentSessionID(s.baseURL, s.accountID, ar.Location.Link.Href)
	if err != nil {
		a.log.Warn("liveperson: agent session link refused", "tenant", tenant, "reason", err.Error())
		return vendorError(opAgentSession, condMalformedAnswer, nil, a.now())
	}
	s.agentSessionID = id
	return nil
}

func (a *Adapter) loginError(tenant, op, cond string, resp *rest.Response) error {
	e := vendorError(op, cond, resp, a.now())
	if e.Code == handoff.CodeVendorAuthFailed {
		a.authFailed(tenant, nil)
	}
	return e
}

// agentSessionID takes the agent session id out of the link LivePerson returned. The link must
// point at the agent session resource of this account on the very origin we called: we never
// follow a vendor link to another host, and we only use the id, in URLs we build ourselves.
func agentSessionID(baseURL, accountID, href string) (string, error) {
	base, err := url.Parse(baseURL)
	if err != nil {
		return "", err
	}
	link, err := url.Parse(href)
	if err != nil || href == "" {
		return "", errString("the link is missing or not a URL")
	}
	link = base.ResolveReference(link) // a relative link stays on our origin
	if !strings.EqualFold(link.Scheme, base.Scheme) || !strings.EqualFold(hostPort(link), hostPort(base)) {
		return "", errString("the link points at another origin")
	}
	prefix := rest.JoinURL(base.EscapedPath(), "api", "account", accountID, "agentSession") + "/"
	id, ok := strings.CutPrefix(strings.TrimRight(link.EscapedPath(), "/"), prefix)
	if !ok || id == "" || strings.Contains(id, "/") {
		return "", errString("the link is not an agent session of this account")
	}
	if id, err = url.PathUnescape(id); err != nil || id == "." || id == ".." {
		return "", errString("the agent session id is not usable")
	}
	return id, nil
}

func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return u.Hostname() + ":443"
	case "http":
		return u.Hostname() + ":80"
	}
	return u.Host
}

// expiry is when the login is taken as gone without a refresh.
func (s *session) expiry() time.Time { s.mu.Lock(); defer s.mu.Unlock(); return s.expires }

type errString string

func (e errString) Error() string { return string(e) }

// sessionTTL reads the login's sessionTTl (milliseconds, a string in the docs [C]).
func sessionTTL(ms string) time.Duration {
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil || n <= 0 {
		return defaultSessionTTL
	}
	ttl := time.Duration(n) * time.Millisecond
	if ttl <= 2*ttlMargin {
		return ttl / 2
	}
	return ttl - ttlMargin
}
