package liveperson

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors/rest"
)

// A LivePerson chat is reached under the agent session that holds it: the bot's, which accepted
// it, not Handoff's own [C: Transfer a Chat's URL names {agentSessionId}]. Handoff finds it the way
// the docs give a second agent session of the same user: Retrieve Chat Sessions lists the chats
// the agent holds, each with a link under the session holding it ("continuity"), and asks to poll
// it no more often than every 2 s [C: developers.liveperson.com/chat-agent-api-methods-retrieve-chat-sessions.html].

// minPoll is the shortest time between two Retrieve Chat Sessions calls of one agent session.
const minPoll = 2 * time.Second

// chatRef is a chat and the agent session that holds it.
type chatRef struct{ session, chat string }

// chatIndex is the last Retrieve Chat Sessions answer of one of our agent sessions, shared by
// the transfers that look a chat up, so they poll at most once every minPoll together.
type chatIndex struct {
	turn chan struct{}     // one look-up at a time
	at   time.Time         // when the last poll answered; zero before the first
	held map[string]string // chat id → the agent session that holds it
}

func newChatIndex() *chatIndex { return &chatIndex{turn: make(chan struct{}, 1)} }

// locate finds the agent session to address the chat under. A request that names the agent
// session goes through it. Otherwise, and always on a reconcile, the chat is looked up with
// Retrieve Chat Sessions: not held is CONVERSATION_NOT_FOUND, or on a reconcile (an earlier
// attempt may have transferred it) done, since a transferred chat leaves the agent. A reconcile
// looks with an answer polled after it began: one from before may predate that earlier attempt
// and still list the chat it moved.
func (c *conn) locate(ctx context.Context, op string, conv handoff.Conversation, reconcile bool) (ref chatRef, done bool, err error) {
	if conv.AgentSessionID != "" {
		if err := handoff.ValidateID("conversation.agentSessionId", conv.AgentSessionID); err != nil {
			return chatRef{}, false, err
		}
		if !reconcile {
			return chatRef{session: conv.AgentSessionID, chat: conv.ID}, false, nil
		}
	}
	holder, found, err := c.findChat(ctx, op, conv.ID, reconcile)
	switch {
	case err != nil:
		return chatRef{}, false, err
	case !found && reconcile:
		c.a.log.Info("liveperson: the chat no longer is the agent's; taking the earlier attempt as done",
			"tenant", c.tenant, "op", op)
		return chatRef{}, true, nil
	case !found:
		return chatRef{}, false, vendorError(op, condChatNotHeld, nil, c.a.now())
	case conv.AgentSessionID != "" && holder != conv.AgentSessionID:
		c.a.log.Warn("liveperson: the chat is held by another agent session than the request names; using LivePerson's",
			"tenant", c.tenant, "op", op)
	}
	return chatRef{session: holder, chat: conv.ID}, false, nil
}

// findChat returns the agent session holding chatID, from a Retrieve Chat Sessions answer no
// older than minPoll, or from one answered after this look-up began. When the last answer is too
// recent to poll again and lacks the chat, it waits out the rest of minPoll if the deadline
// allows (the chat may have just been routed to the bot), else answers from it. fresh (a
// reconcile) takes only an answer polled after the look-up began, waiting for it as needed:
// without the time to wait it is VENDOR_TIMEOUT, since an older answer can tell neither way.
func (c *conn) findChat(ctx context.Context, op, chatID string, fresh bool) (string, bool, error) {
	start := c.a.now()
	idx := c.s.chats
	select {
	case idx.turn <- struct{}{}:
	case <-ctx.Done():
		return "", false, handoff.E(handoff.CodeVendorTimeout, op, "the call ended before the chat was found", ctx.Err())
	}
	defer func() { <-idx.turn }()
	if !idx.at.IsZero() {
		holder, ok := idx.held[chatID]
		age := c.a.now().Sub(idx.at)
		if !idx.at.Before(start) || ok && age < minPoll && !fresh {
			return holder, ok, nil
		}
		if age < minPoll {
			wait := minPoll - age
			if !c.a.fits(ctx, wait) {
				if fresh {
					return "", false, &handoff.Error{Code: handoff.CodeVendorTimeout, Op: op,
						Message: "no time left to look where the chat is now"}
				}
				return "", false, nil
			}
			if err := c.a.sleep(ctx, wait); err != nil {
				return "", false, handoff.E(handoff.CodeVendorTimeout, op, "the call ended before the chat was found", err)
			}
		}
	}
	held, err := c.chatSessions(ctx, op)
	if err != nil {
		return "", false, err
	}
	idx.at, idx.held = c.a.now(), held
	holder, ok := held[chatID]
	return holder, ok, nil
}

// forget drops a chat from the index once it was transferred away.
func (idx *chatIndex) forget(chatID string) {
	select {
	case idx.turn <- struct{}{}:
		delete(idx.held, chatID)
		<-idx.turn
	default: // a look-up is running; its answer will not list the chat anyway
	}
}

// chatSessions calls Retrieve Chat Sessions on our agent session.
func (c *conn) chatSessions(ctx context.Context, op string) (map[string]string, error) {
	resp, err := c.call(ctx, func(s *session) rest.Request {
		return rest.Request{Op: op, Method: http.MethodGet, Header: s.headers(), Idempotent: true,
			URL: rest.JoinURL(s.baseURL, "api", "account", s.accountID, "agentSession", s.agentSessionID, "chatSessions") + "?v=1&NC=true"}
	})
	if err != nil {
		return nil, err
	}
	if resp.Status == http.StatusNotFound && !c.relogged {
		// LivePerson does not know our agent session (ended on its side [U: the docs list only
		// 200]): one new login and agent session, as after a 401.
		c.relogged = true
		c.a.log.Warn("liveperson: our agent session is unknown, logging in again", "tenant", c.tenant, "op", op)
		if c.s, err = c.a.session(ctx, c.tenant, &c.creds, c.s); err != nil {
			return nil, err
		}
		return c.chatSessions(ctx, op)
	}
	if !resp.OK() {
		e := vendorError(op, classify(phaseChats, resp), resp, c.a.now())
		if e.Code == handoff.CodeVendorAuthFailed {
			c.a.authFailed(c.tenant, c.s)
		}
		return nil, e
	}
	held, err := parseChatSessions(c.s.baseURL, c.s.accountID, resp.Body)
	if err != nil {
		c.a.log.Warn("liveperson: unreadable chat sessions answer", "tenant", c.tenant, "reason", err.Error())
		return nil, vendorError(op, condMalformedAnswer, nil, c.a.now())
	}
	return held, nil
}

// parseChatSessions reads {"chatSessions": {"chatSession": [{"link": {"href", "rel"}, ...}]}}
// into chat id → agent session. As for skills, a one-element list may come as an object and
// "@"-prefixed names are accepted [I: JSON mapped from XML]; an empty answer's shape is
// undocumented [U], so a missing, null, "", {} or [] list is no chat. A link that leaves our
// origin or account, or is not a chat under an agent session, is refused: we never follow it,
// we only take its two ids into URLs we build ourselves.
func parseChatSessions(baseURL, accountID string, body []byte) (map[string]string, error) {
	var top struct {
		ChatSessions json.RawMessage `json:"chatSessions"`
	}
	if err := json.Unmarshal(body, &top); err != nil || top.ChatSessions == nil {
		return nil, errString(`the body is not an object with "chatSessions"`)
	}
	held := map[string]string{}
	if blank(top.ChatSessions) {
		return held, nil
	}
	var inner struct {
		ChatSession json.RawMessage `json:"chatSession"`
	}
	if err := json.Unmarshal(top.ChatSessions, &inner); err != nil {
		return nil, errString(`"chatSessions" is not an object`)
	}
	if blank(inner.ChatSession) {
		return held, nil
	}
	type link struct {
		Href     string `json:"href"`
		AttrHref string `json:"@href"`
	}
	type entry struct {
		Link link `json:"link"`
	}
	var entries []entry
	raw := bytes.TrimSpace(inner.ChatSession)
	if raw[0] == '{' {
		raw = append(append([]byte{'['}, raw...), ']')
	}
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, errString(`"chatSession" is neither a list nor an object of chat sessions`)
	}
	for _, e := range entries {
		href := e.Link.Href
		if href == "" {
			href = e.Link.AttrHref
		}
		session, chat, err := chatLink(baseURL, accountID, href)
		if err != nil {
			return nil, err
		}
		if session != "" { // a chat id no request could name: skipped
			held[chat] = session
		}
	}
	return held, nil
}

// chatLink takes the agent session and chat ids out of a chat-session link, which must point at
// .../api/account/{accountID}/agentSession/{session}/chat/{chat} on the origin we called. A chat
// id that no request could name (a dot segment, a slash) gives empty ids and no error.
func chatLink(baseURL, accountID, href string) (session, chat string, err error) {
	base, err := url.Parse(baseURL)
	if err != nil {
		return "", "", err
	}
	link, err := url.Parse(href)
	if err != nil || href == "" {
		return "", "", errString("a chat session link is missing or not a URL")
	}
	link = base.ResolveReference(link)
	if !strings.EqualFold(link.Scheme, base.Scheme) || !strings.EqualFold(hostPort(link), hostPort(base)) {
		return "", "", errString("a chat session link points at another origin")
	}
	prefix := rest.JoinURL(base.EscapedPath(), "api", "account", accountID, "agentSession") + "/"
	tail, ok := strings.CutPrefix(strings.TrimRight(link.EscapedPath(), "/"), prefix)
	parts := strings.Split(tail, "/")
	if !ok || len(parts) != 3 || parts[1] != "chat" {
		return "", "", errString("a chat session link is not a chat of an agent session of this account")
	}
	session, err1 := url.PathUnescape(parts[0])
	chat, err2 := url.PathUnescape(parts[2])
	if err1 != nil || err2 != nil || handoff.ValidateID("session", session) != nil {
		return "", "", errString("a chat session link holds an unusable agent session id")
	}
	if handoff.ValidateID("chat", chat) != nil {
		return "", "", nil
	}
	return session, chat, nil
}
