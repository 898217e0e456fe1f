package liveperson

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"handoff/core/vendors/sandbox"
)

// sandboxFaults are the answers the sandbox gives for sandbox.VendorError faults, by the vendor
// code the adapter is expected to report. LivePerson documents none of them [U]: these are our
// guesses in its error shape, and the adapter must recognise them from status and message.
var sandboxFaults = map[string]struct {
	status  int
	message string
}{
	condSkillUnavail: {http.StatusBadRequest, "Skill is not available for transfer"},
	condAgentUnavail: {http.StatusBadRequest, "Agent is not available for transfer"},
	condChatNotFound: {http.StatusNotFound, "Chat not found"},
	condChatNotOwned: {http.StatusForbidden, "Agent is not in chat"},
	condBadRequest:   {http.StatusBadRequest, "Invalid transfer request"},
	condForbidden:    {http.StatusForbidden, "User lacks the privilege for this action"},
}

// chatTransfer is Retrieve Available Skills (GET) and Transfer a Chat (POST).
func (s *Sandbox) chatTransfer(w http.ResponseWriter, r *http.Request) {
	method := http.MethodGet
	if r.Method == http.MethodPost {
		method = http.MethodPost
		s.mu.Lock()
		s.transferCalls++
		s.mu.Unlock()
	}
	if !s.preflight(w, r, method, "1") || !s.agentSessionAuth(w, r) {
		return
	}
	if method == http.MethodGet {
		s.listSkills(w, r)
		return
	}
	target, ok := decodeTransfer(w, r)
	if !ok {
		return
	}
	if f, ok := s.faults.Next(); ok && s.playFault(w, r, f) {
		return
	}
	s.transfer(w, r.PathValue("chat"), target)
}

// agentSessionAuth checks the bearer, that the agent session is this bearer's, and its cookie.
func (s *Sandbox) agentSessionAuth(w http.ResponseWriter, r *http.Request) bool {
	bearer, ok := s.bearer(w, r)
	if !ok {
		return false
	}
	s.mu.Lock()
	rec, found := s.agentSessions[r.PathValue("session")]
	s.mu.Unlock()
	if !found {
		lpError(w, http.StatusNotFound, "Agent session not found")
		return false
	}
	ck, err := r.Cookie(agentCookie)
	if rec.bearer != bearer || err != nil || ck.Value != rec.cookie {
		lpError(w, http.StatusUnauthorized, "Authentication failed: missing or invalid agent session cookie")
		return false
	}
	return true
}

// listSkills answers the skills with an online agent, the way an XML mapping would: "" for none
// [U], an object for one [I], a list for more; ids and counts as strings [C].
func (s *Sandbox) listSkills(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	_, gone := s.transferred[r.PathValue("chat")]
	s.mu.Unlock()
	if gone {
		lpError(w, http.StatusNotFound, "Chat not found in this agent session")
		return
	}
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

// decodeTransfer reads {"transfer": {"skill"|"agent": {"id": N}, "text"?: "..."}} strictly:
// exactly one of skill and agent, a numeric id, nothing else.
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
		lpError(w, http.StatusBadRequest, "Problem with body: a transfer object is required")
		return sandboxTarget{}, false
	}
	t := body.Transfer
	if (t.Skill == nil) == (t.Agent == nil) {
		lpError(w, http.StatusBadRequest, "Problem with body: pass either an agent or a skill")
		return sandboxTarget{}, false
	}
	target, raw := sandboxTarget{kind: "skill"}, t.Skill
	if t.Agent != nil {
		target, raw = sandboxTarget{kind: "agent"}, t.Agent
	}
	id, err := strconv.ParseInt(string(raw.ID), 10, 64)
	if err != nil {
		lpError(w, http.StatusBadRequest, "Problem with body: the "+target.kind+" id must be numeric")
		return sandboxTarget{}, false
	}
	target.id = id
	return target, true
}

// transfer moves the chat if the target can take it. A chat already moved is gone from the
// bot's agent session, so a second transfer of it is 404 [U: our guess of LivePerson's answer].
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
	switch _, gone := s.transferred[chatID]; {
	case gone:
		lpError(w, http.StatusNotFound, "Chat not found in this agent session")
	case !known:
		lpError(w, http.StatusBadRequest, name+" "+strconv.FormatInt(t.id, 10)+" does not exist")
	case !online:
		lpError(w, http.StatusBadRequest, name+" "+strconv.FormatInt(t.id, 10)+" is not available for transfer")
	default:
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
		delete(s.bearers, bearer)
		s.mu.Unlock()
		lpError(w, http.StatusUnauthorized, "Authentication failed: the bearer has expired")
	case sandbox.AuthRejected: // the credentials themselves are refused from now on
		s.mu.Lock()
		s.revoked = true
		clear(s.bearers)
		s.mu.Unlock()
		lpError(w, http.StatusUnauthorized, "Bad Authentication (invalid site or agent)")
	case sandbox.RateLimited:
		sandbox.SetRetryAfter(w, f.RetryAfter)
		lpError(w, http.StatusTooManyRequests, "Too many requests")
	case sandbox.VendorError:
		e, ok := sandboxFaults[f.VendorCode]
		if !ok {
			e = sandboxFaults[condBadRequest]
		}
		lpError(w, e.status, e.message)
	default:
		return sandbox.Play(w, r, f)
	}
	return true
}
