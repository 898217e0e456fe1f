package livepersonsandbox

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"handoff/core/vendors/sandbox"
)

// sandboxFaults are the answers the sandbox gives for sandbox.VendorError faults, by the vendor
// code the adapter is expected to report. LivePerson documents no Transfer a Chat error (only
// 200 [C]) and the retry policy page only says a 4xx is a client error not to retry [C]; the
// statuses are the plain HTTP ones and the texts are invented. The adapter reads the status only.
var sandboxFaults = map[string]struct {
	status  int
	message string
}{
	CodeBadRequest:  {http.StatusBadRequest, "Invalid transfer request"},         // invented: text
	CodeRejected:    {http.StatusConflict, "The chat cannot be transferred now"}, // invented: status and text
	CodeForbidden:   {http.StatusForbidden, "User lacks the privilege"},          // invented: text
	CodeChatNotHeld: {http.StatusNotFound, "Chat not found"},                     // invented: status and text
}

// chatSessions is Retrieve Chat Sessions: from one agent session, the chats that the agent (the
// same user) holds in its active agent sessions, each with a link under the session holding it.
// [C: Retrieve Chat Sessions, developers.liveperson.com/chat-agent-api-methods-retrieve-chat-sessions.html:
// "continuity" for a second agent session logged in while the first is active; links of rel
// "chat-session"; chatSessionKey; startTime.] The answer's shape is the doc's example.
func (s *Sandbox) chatSessions(w http.ResponseWriter, r *http.Request) {
	if !s.preflight(w, r, http.MethodGet, "1") {
		return
	}
	own, ok := s.agentSessionAuth(w, r)
	if !ok {
		return
	}
	if own.login == nil { // the bot's session is reached only by the bot itself
		lpError(w, http.StatusUnauthorized, "Authentication failed") // invented: text
		return
	}
	s.mu.Lock()
	var list []map[string]any
	for chat, holder := range s.held {
		if as := s.agentSessions[holder]; as != nil && !as.ended {
			list = append(list, map[string]any{
				"link": map[string]string{"href": s.origin(r) + "/api/account/" + s.cfg.AccountID + "/agentSession/" +
					holder + "/chat/" + url.PathEscape(chat), "rel": "chat-session"},
				"chatSessionKey": chat,
				"startTime":      1440934609097, // the doc's example
			})
		}
	}
	s.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i]["chatSessionKey"].(string) < list[j]["chatSessionKey"].(string) })
	sandbox.WriteJSON(w, http.StatusOK, map[string]any{"chatSessions": map[string]any{"chatSession": list}})
}

// chatTransfer is Retrieve Available Skills (GET) and Transfer a Chat (POST), both under the
// agent session that holds the chat [C: their URLs name {agentSessionId}; Retrieve Chat Sessions
// links name the session of each chat].
func (s *Sandbox) chatTransfer(w http.ResponseWriter, r *http.Request) {
	method := http.MethodGet
	if r.Method == http.MethodPost {
		method = http.MethodPost
		s.mu.Lock()
		s.transferCalls++
		s.mu.Unlock()
	}
	if !s.preflight(w, r, method, "1") {
		return
	}
	if _, ok := s.agentSessionAuth(w, r); !ok {
		return
	}
	chat := r.PathValue("chat")
	s.mu.Lock()
	holds := s.held[chat] == r.PathValue("session")
	s.mu.Unlock()
	if !holds {
		// invented: status and text. The docs list only 200; a chat this agent session does
		// not hold (never routed to it, transferred away, requeued) is answered 404 here.
		lpError(w, http.StatusNotFound, "Chat not found")
		return
	}
	if method == http.MethodGet {
		s.listSkills(w)
		return
	}
	target, ok := decodeTransfer(w, r)
	if !ok {
		return
	}
	if f, ok := s.faults.Next(); ok && s.playFault(w, r, f) {
		return
	}
	s.transfer(w, chat, target)
}

// agentSessionAuth checks the bearer and the agent session named in the path: it must be active
// and of the bearer's user. A call under the caller's own agent session must carry that
// session's cookie [C: overview, "Cookies are scoped to a specific agent session"]. A call under
// another session of the same user, reached through a Retrieve Chat Sessions link, needs the
// bearer only [U: the docs do not say which cookie such a call needs; we ask for none].
func (s *Sandbox) agentSessionAuth(w http.ResponseWriter, r *http.Request) (*agentRecord, bool) {
	l, ok := s.bearer(w, r)
	if !ok {
		return nil, false
	}
	s.mu.Lock()
	rec, found := s.agentSessions[r.PathValue("session")]
	ended := found && rec.ended
	s.mu.Unlock()
	if !found || ended {
		lpError(w, http.StatusNotFound, "Agent session not found") // invented: status and text
		return nil, false
	}
	if rec.login == l {
		if ck, err := r.Cookie(agentCookie); err != nil || ck.Value != rec.cookie {
			lpError(w, http.StatusUnauthorized, "Authentication failed: missing or invalid agent session cookie") // invented: text
			return nil, false
		}
	}
	// Every login of the sandbox is of its one user, like the bot's session: same agent.
	return rec, true
}

// listSkills answers the skills with an online agent not already in the chat [C: Retrieve
// Available Skills, developers.liveperson.com/chat-agent-api-methods-retrieve-available-skills.html],
// the way an XML mapping would: "" for none [U], an object for one [I], a list for more; ids and
// counts as strings [C].
func (s *Sandbox) listSkills(w http.ResponseWriter) {
	var listed []map[string]string
	for _, sk := range s.cfg.Skills {
		if sk.OnlineAgents > 0 {
			listed = append(listed, map[string]string{"id": strconv.FormatInt(sk.ID, 10), "name": sk.Name,
				"onlineAgents": strconv.Itoa(sk.OnlineAgents)})
		}
	}
	var transfer any = ""
	switch len(listed) {
	case 0:
	case 1:
		transfer = map[string]any{"skill": listed[0]}
	default:
		transfer = map[string]any{"skill": listed}
	}
	sandbox.WriteJSON(w, http.StatusOK, map[string]any{"transfer": transfer})
}

type sandboxTarget struct {
	kind string // "skill" or "agent"
	id   int64
}

// decodeTransfer reads {"transfer": {"skill"|"agent": {"id": N}, "text"?: "..."}} [C: Transfer
// a Chat's body and examples] strictly: exactly one of skill and agent, a numeric id, nothing
// else. invented: the refusals. The page says the agent wins when both are given; the sandbox
// refuses both, so an adapter that sends both is caught.
func decodeTransfer(w http.ResponseWriter, r *http.Request) (sandboxTarget, bool) {
	type ref struct {
		ID json.RawMessage `json:"id"`
	}
	var body struct {
		Transfer *struct {
			Skill *ref    `json:"skill"`
			Agent *ref    `json:"agent"`
			Text  *string `json:"text"`
		} `json:"transfer"`
	}
	if err := decodeStrict(r.Body, &body); err != nil || body.Transfer == nil {
		lpError(w, http.StatusBadRequest, "Problem with body: a transfer object is required") // invented: text
		return sandboxTarget{}, false
	}
	t := body.Transfer
	if (t.Skill == nil) == (t.Agent == nil) {
		lpError(w, http.StatusBadRequest, "Problem with body: pass either an agent or a skill") // invented: text
		return sandboxTarget{}, false
	}
	target, raw := sandboxTarget{kind: "skill"}, t.Skill
	if t.Agent != nil {
		target, raw = sandboxTarget{kind: "agent"}, t.Agent
	}
	id, err := strconv.ParseInt(string(raw.ID), 10, 64)
	if err != nil {
		lpError(w, http.StatusBadRequest, "Problem with body: the "+target.kind+" id must be numeric") // invented: text
		return sandboxTarget{}, false
	}
	target.id = id
	return target, true
}

// transfer moves the chat if the target can take it; the chat then leaves the agent session
// that held it [I]. A target that is unknown or cannot take the chat is refused with a 400 [C:
// Transfer a Chat, "transferring the chat to a skill that is not available, will result in an
// error"; invented: the status and text of that error].
func (s *Sandbox) transfer(w http.ResponseWriter, chatID string, t sandboxTarget) {
	known, online := false, false
	if t.kind == "skill" {
		for _, sk := range s.cfg.Skills {
			if sk.ID == t.id {
				known, online = true, sk.OnlineAgents > 0
			}
		}
	} else {
		for _, ag := range s.cfg.Agents {
			if ag.ID == t.id {
				known, online = true, ag.Online
			}
		}
	}
	name := "Skill"
	if t.kind == "agent" {
		name = "Agent"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case !known:
		lpError(w, http.StatusBadRequest, name+" "+strconv.FormatInt(t.id, 10)+" does not exist") // invented: text
	case !online:
		lpError(w, http.StatusBadRequest, name+" "+strconv.FormatInt(t.id, 10)+" is not available for transfer") // invented: text
	default:
		delete(s.held, chatID)
		s.transferred[chatID] = t.kind + ":" + strconv.FormatInt(t.id, 10)
		w.WriteHeader(http.StatusOK)
	}
}

// playFault answers an injected fault and reports whether it did.
func (s *Sandbox) playFault(w http.ResponseWriter, r *http.Request, f sandbox.Fault) bool {
	switch f.Kind {
	case sandbox.AuthExpired: // this bearer stops working; a new login works
		bearer, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		if l := s.logins[bearer]; l != nil {
			l.alive = false
		}
		s.mu.Unlock()
		lpError(w, http.StatusUnauthorized, "Authentication failed: the bearer has expired")
	case sandbox.AuthRejected: // the credentials themselves are refused from now on
		s.mu.Lock()
		s.revoked = true
		for _, l := range s.logins {
			l.alive = false
		}
		s.mu.Unlock()
		lpError(w, http.StatusUnauthorized, "Bad Authentication (invalid site or agent)")
	case sandbox.RateLimited:
		sandbox.SetRetryAfter(w, f.RetryAfter)
		lpError(w, http.StatusTooManyRequests, "Too many requests") // [C: retry policy, 429]; invented: text
	case sandbox.VendorError:
		e, ok := sandboxFaults[f.VendorCode]
		if !ok {
			e = sandboxFaults[CodeBadRequest]
		}
		lpError(w, e.status, e.message)
	default:
		return sandbox.Play(w, r, f)
	}
	return true
}
