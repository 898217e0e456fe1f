package koreaisandbox

import (
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"regexp"

	"handoff/core/vendors/koreai"
	"handoff/core/vendors/sandbox"
)

// The sandbox's fixed account and directory. Ids are the docs' examples with their xxxx
// replaced by digits.
const (
	// StreamID is the sandbox bot's streamId.
	StreamID = "st-a0ec5267-a58a-5fbb-ab0e-e27ebc350001"
	// OrgID is the orgId assign-conversation must carry.
	OrgID = "o-fbfa482a-bf65-5386-963e-f00a8cc70001"
	// AccountID is the accountid header's value.
	AccountID = "650d9eb6da96d0bc0d230001"
	// ClientID is the JWT app's client id (the appId claim), as in the docs' sample token.
	ClientID = "cs-50febaa3-743f-55b3-8956-718e96f6bb90"
	// ConversationID is a botSessionId to transfer (any 24-hex id works).
	ConversationID = "653a06c9aae89c5fbb4e0001"

	// AgentID is an agent who is AVAILABLE with chat capacity: transfers to them succeed.
	AgentID = "a-220172c-856e-4db6-a2d1-d4c2dabe0001"
	// BusyAgentID is BUSY, chat capacity used up: transfers are refused (409, not available).
	BusyAgentID = "a-8cd2673-0cb7-462d-9453-0ee60e520001"
	// OfflineAgentID is OFFLINE: transfers are refused (409, not available).
	OfflineAgentID = "a-220172c-856e-4db6-a2d1-d4c2dabe0002"
	// QueueID is an open queue staffed by the agents above: transfers succeed.
	QueueID = "qu-b5d3bb4-a1ac-4caa-9be6-55a5abc30001"
	// ClosedQueueID is a closed queue with only the offline agent: transfers are refused
	// (422, not available).
	ClosedQueueID = "qu-e30b539-dd3c-4e10-90a9-354a3e700001"
	// SkillID is a skill the available and the busy agent have (availability only:
	// Kore's assign-conversation has no skill target).
	SkillID = "68402981bfe0b8e53f700001"
)

// Secrets of the sandbox's demo tenant: sandbox values, never used anywhere else.
const (
	sandboxClientSecret = "sandbox-kore-client-secret-d7f3a9c1e5b2"
	demoCallbackSecret  = "sandbox-handoff-callback-secret-4e8b1f6a"
)

// DemoSecret is the tenant secret (the fields of docs/vendors/koreai.md) that works against a sandbox built with
// the default config and served at baseURL.
func DemoSecret(baseURL string) []byte {
	secret, _ := json.Marshal(koreai.Credentials{
		BaseURL: baseURL, StreamID: StreamID, OrgID: OrgID, AccountID: AccountID,
		ClientID: ClientID, ClientSecret: sandboxClientSecret, CallbackSecret: demoCallbackSecret,
	})
	return secret
}

// sandboxAgent is one agent of the directory, as agents/availability lists it.
type sandboxAgent struct {
	first, last   string
	bucket        string // AVAILABLE, BUSY, OFFLINE or AWAY
	chatCapacity  int
	usedChat      int
	queues, skill []string
}

var sandboxAgents = map[string]sandboxAgent{
	AgentID:        {"Jane", "Doe", bucketAvailable, 3, 0, []string{QueueID}, []string{SkillID}},
	BusyAgentID:    {"John", "Roe", bucketBusy, 2, 2, []string{QueueID}, []string{SkillID}},
	OfflineAgentID: {"Ann", "Poe", bucketOffline, 3, 0, []string{QueueID, ClosedQueueID}, nil},
}

// sandboxQueues maps a queue to whether it is open.
var sandboxQueues = map[string]bool{QueueID: true, ClosedQueueID: false}

func (a sandboxAgent) canChat() bool {
	return a.bucket == bucketAvailable && a.usedChat < a.chatCapacity
}

// assignBody is assign-conversation's body; pointers tell absent from empty.
type assignBody struct {
	CallbackURL     *string `json:"callbackUrl"`
	OrgID           *string `json:"orgId"`
	BotSessionID    *string `json:"botSessionId"`
	AID             *string `json:"aId"`
	TransferredType *string `json:"transferredType"`
	QueueID         *string `json:"queueId"`
}

var botSessionPattern = regexp.MustCompile(`^[0-9a-f]{24}$`)

func (s *Sandbox) serveAssign(w http.ResponseWriter, r *http.Request, stream string, body []byte) {
	if !s.admit(w, r, stream) {
		return
	}
	if f, ok := s.faults.Next(); ok && playFault(w, r, f) {
		return
	}
	if s.rateLimited(w) {
		return
	}
	req, problem := parseAssign(r, body)
	if problem != "" {
		writeError(w, http.StatusBadRequest, "BAD_REQUEST", problem)
		return
	}
	target, isAgent := deref(req.AID), req.AID != nil
	if !isAgent {
		target = deref(req.QueueID)
	}
	if status, code, msg := s.refusal(target, isAgent, deref(req.BotSessionID)); status != 0 {
		writeError(w, status, code, msg)
		return
	}
	answer := map[string]any{"sessionId": *req.BotSessionID, "status": "transferred", "requestCompletedAt": s.cfg.Now().UnixMilli()}
	if isAgent {
		answer["agentId"] = target
	} else {
		answer["queueId"] = target
	}
	s.scheduleCallback(*req.CallbackURL, *req.BotSessionID, target, isAgent)
	sandbox.WriteJSON(w, http.StatusOK, answer)
}

// parseAssign checks the body against the docs: the agent form (aId) or the queue form
// (transferredType "QUEUE" + queueId), never both [I], no other field, the right types.
func parseAssign(r *http.Request, body []byte) (assignBody, string) {
	var req assignBody
	if !isJSON(r) {
		return req, "Content-Type must be application/json"
	}
	if err := decodeStrict(body, &req, "callbackUrl", "orgId", "botSessionId", "aId", "transferredType", "queueId"); err != nil {
		return req, "Invalid body: " + err.Error()
	}
	switch {
	case req.CallbackURL == nil || !validCallbackURL(*req.CallbackURL):
		return req, "callbackUrl is required and must be an absolute http(s) URL"
	case deref(req.OrgID) != OrgID:
		return req, "orgId is required and must be the account's organization"
	case !botSessionPattern.MatchString(deref(req.BotSessionID)):
		return req, "botSessionId is required: a 24-character hex session id"
	case req.AID != nil && (req.TransferredType != nil || req.QueueID != nil):
		return req, "send aId for an agent, or transferredType QUEUE with queueId, not both"
	case req.AID != nil && *req.AID == "":
		return req, "aId must not be empty"
	case req.AID == nil && (deref(req.TransferredType) != "QUEUE" || deref(req.QueueID) == ""):
		return req, "send aId for an agent, or transferredType QUEUE with queueId"
	}
	return req, ""
}

// refusal is the directory's answer to a well-formed transfer: status 0 when it is accepted.
// invented: Kore documents no refusal of assign-conversation [U]; the statuses, codes and texts
// below are the sandbox's, and the adapter reads none of them (it asks agents/availability,
// which is documented, whether the target could take the conversation).
func (s *Sandbox) refusal(target string, isAgent bool, session string) (int, string, string) {
	if isAgent {
		agent, known := sandboxAgents[target]
		switch {
		case !known:
			return http.StatusNotFound, "AGENT_NOT_FOUND", "Agent not found"
		case !agent.canChat():
			return http.StatusConflict, "AGENT_NOT_AVAILABLE", "Agent is not available"
		}
	} else {
		open, known := sandboxQueues[target]
		switch {
		case !known:
			return http.StatusNotFound, "QUEUE_NOT_FOUND", "Queue not found"
		case !open:
			return http.StatusUnprocessableEntity, "QUEUE_NOT_AVAILABLE", "Queue is not available"
		}
	}
	// invented: a session already handed to someone is refused with 409: Kore does not say what
	// a second assign does [U]; the adapter reads a 409 on a reconcile as its own earlier assign.
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, taken := s.assigned[session]; taken {
		return http.StatusConflict, "ALREADY_ASSIGNED", "Conversation is already assigned to an agent"
	}
	s.assigned[session] = target
	return 0, "", ""
}

func isJSON(r *http.Request) bool {
	media, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && media == "application/json"
}

func validCallbackURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
