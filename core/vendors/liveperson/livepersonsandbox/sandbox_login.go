package livepersonsandbox

import (
	"net/http"

	"handoff/core/vendors/sandbox"
)

// login is the Login Service API: user login or application login [C: User Login, Application
// Login, developers.liveperson.com/login-service-api-methods-user-login.html]. 400 is "a problem
// with body or query parameters", 401 bad credentials [C: User Login's response codes].
func (s *Sandbox) login(w http.ResponseWriter, r *http.Request) {
	if !s.preflight(w, r, http.MethodPost, "1.3") {
		return
	}
	var body struct {
		Username, Password, AppKey, Secret, AccessToken, AccessTokenSecret *string
	}
	if err := decodeStrict(r.Body, &body); err != nil {
		lpError(w, http.StatusBadRequest, "Problem with body: "+err.Error()) // invented: text
		return
	}
	userLogin := body.Password != nil && body.AppKey == nil && body.Secret == nil && body.AccessToken == nil && body.AccessTokenSecret == nil
	appLogin := body.Password == nil && body.AppKey != nil && body.Secret != nil && body.AccessToken != nil && body.AccessTokenSecret != nil
	if body.Username == nil || userLogin == appLogin {
		// invented: text
		lpError(w, http.StatusBadRequest, "Problem with body: send username with password, or with appKey, secret, accessToken and accessTokenSecret")
		return
	}
	c := s.cfg
	ok := *body.Username == c.Username && (userLogin && c.Password != "" && *body.Password == c.Password ||
		appLogin && c.AppKey != "" && *body.AppKey == c.AppKey && *body.Secret == c.Secret &&
			*body.AccessToken == c.AccessToken && *body.AccessTokenSecret == c.AccessTokenSecret)
	l := &loginRecord{bearer: token(32), csrf: token(32), sessionCookie: token(16), alive: true}
	s.mu.Lock()
	ok = ok && !s.revoked
	if ok {
		s.logins[l.bearer] = l
		s.loginCount++
	}
	s.mu.Unlock()
	if !ok {
		lpError(w, http.StatusUnauthorized, "Bad Authentication (invalid site or agent)") // [C: User Login]
		return
	}
	http.SetCookie(w, &http.Cookie{Name: "Session_id", Value: l.sessionCookie, Path: "/", HttpOnly: true, Secure: r.TLS != nil})
	sandbox.WriteJSON(w, http.StatusOK, map[string]any{
		"csrf": l.csrf, "wsuk": "766900772095619056",
		"config": map[string]any{"loginName": c.Username, "userId": "3705342610", "userPrivileges": []int{100, 101, 1730},
			"isLPA": false, "isAdmin": false, "accountTimeZoneId": "Europe/Athens"},
		"csdsCollectionResponse": map[string]any{"baseURIs": []map[string]string{
			{"account": c.AccountID, "baseURI": r.Host, "service": "agentVep"}}},
		"accountData": map[string]any{"agentGroupsData": map[string]any{
			"items": []map[string]any{{"id": -1, "deleted": false, "name": "Main Group"}}, "revision": 1}},
		"sessionTTl": "28800000",
		"bearer":     l.bearer,
	})
}

// loginOf finds the live login a Session_id cookie and csrf body name, answering 401 with the
// documented body when there is none [C: Refresh and Logout, "CSRF token invalid!"].
func (s *Sandbox) loginOf(w http.ResponseWriter, r *http.Request) (*loginRecord, bool) {
	if !s.preflight(w, r, http.MethodPost, "") {
		return nil, false
	}
	var body struct {
		CSRF *string `json:"csrf"`
	}
	ck, err := r.Cookie("Session_id")
	if decodeStrict(r.Body, &body) != nil || body.CSRF == nil || err != nil {
		lpError(w, http.StatusBadRequest, "Problem with body: csrf and the Session_id cookie are required") // invented: text
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.logins {
		if l.alive && l.sessionCookie == ck.Value && l.csrf == *body.CSRF {
			return l, true
		}
	}
	lpError(w, http.StatusUnauthorized, "CSRF token invalid! The CSRF token on request does not match the CSRF token on the session")
	return nil, false
}

// refresh keeps a login alive: POST with the Session_id cookie and {"csrf"}, 200 with an empty
// body [C: Refresh, developers.liveperson.com/login-service-api-methods-refresh.html].
func (s *Sandbox) refresh(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.loginOf(w, r); !ok {
		return
	}
	s.mu.Lock()
	s.refreshes++
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// logout ends a login [C: Logout, developers.liveperson.com/login-service-api-methods-logout.html].
// Its agent sessions end with it, and "any active chat session from the previous session will
// be returned back to the queue" [C: Retrieve Chat Sessions note].
func (s *Sandbox) logout(w http.ResponseWriter, r *http.Request) {
	l, ok := s.loginOf(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	l.alive = false
	s.logouts++
	for id, as := range s.agentSessions {
		if as.login == l {
			as.ended = true
			for chat, holder := range s.held {
				if holder == id {
					delete(s.held, chat)
					s.requeued[chat] = true
				}
			}
		}
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}
