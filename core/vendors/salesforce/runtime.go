package salesforce

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"unicode/utf8"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/rest"
)

// The runtime's headers (docs/vendors/salesforce.md).
const (
	headerOrgID       = "X-Org-Id"
	headerRequestID   = "X-Request-ID"
	headerRuntimeCRC  = "X-Runtime-CRC"
	headerEndReason   = "X-Session-End-Reason"
	endReasonTransfer = "Transfer"
)

// responseEnvelope is the part of the runtime's ChatMessageResponseEnvelope an ack needs
// (v5.3.0 spec: processedSequenceIds and messages are required). A pointer tells a missing
// processedSequenceIds from an empty one.
type responseEnvelope struct {
	SessionID            string            `json:"sessionId"`
	ProcessedSequenceIDs *[]int64          `json:"processedSequenceIds"`
	Messages             []responseMessage `json:"messages"`
}

// responseMessage is one of the spec's response messages: TextResponseMessage (text),
// ChoicesResponseMessage (choices), EscalateResponseMessage, SessionEndedResponseMessage.
type responseMessage struct {
	Type    string `json:"type"`
	Text    string `json:"text"`
	Choices []struct {
		Label string `json:"label"`
	} `json:"choices"`
}

// Bounds of the bot's reply kept on the transfer: it is stored with the transfer and published
// with the outcome event, so a bot that answers at length cannot bloat either.
const (
	maxBotMessages     = 10
	maxBotMessageChars = 2000
	maxBotChoices      = 20
)

// botMessages keeps the bot's reply as the API shows it, bounded.
func botMessages(in []responseMessage) []handoff.BotMessage {
	var out []handoff.BotMessage
	for _, m := range in {
		if len(out) == maxBotMessages {
			break
		}
		if m.Type == "" {
			continue
		}
		bm := handoff.BotMessage{Type: m.Type, Message: clip(m.Text, maxBotMessageChars)}
		for _, c := range m.Choices {
			if len(bm.Choices) == maxBotChoices {
				break
			}
			bm.Choices = append(bm.Choices, clip(c.Label, maxBotMessageChars))
		}
		out = append(out, bm)
	}
	return out
}

// clip cuts s to at most n runes.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// uncertainReason is what an ack answered by a 503 is recorded with: the spec's
// ServiceUnavailable says the bot's Apex or Flow calls timed out, so the bot ran.
const uncertainReason = "the Einstein Bot runtime answered ServiceUnavailable (HTTP 503): the bot's Apex or Flow timed out, so the bot may have processed the ack"

// call sends req with the tenant's access token. When the runtime refuses the token (it died
// before our assumed lifetime, or was revoked) it mints one new token and tries once more; a
// second 401 is returned as it is.
func (a *Adapter) call(ctx context.Context, tenant string, c *Credentials, req rest.Request) (*rest.Response, error) {
	key := tenant + "\x00" + c.identity()
	for attempt := 1; ; attempt++ {
		tok, err := a.tokens.Get(ctx, key, fetchTimeout, "salesforce.Token", "gave up waiting for an access token",
			func(ctx context.Context) (token, error) { return a.mint(ctx, tenant, c) })
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+tok.value)
		resp, err := a.http.Do(ctx, req)
		if err != nil || resp.Status != http.StatusUnauthorized {
			return resp, err
		}
		a.tokens.Drop(key, tok)
		if attempt == 2 {
			a.secrets.Invalidate(tenant, Key)
			return resp, nil
		}
	}
}

// headers are what every runtime call carries besides the token.
func (a *Adapter) headers(c *Credentials, session, requestID string) http.Header {
	h := http.Header{}
	h.Set(headerOrgID, c.OrgID)
	h.Set(headerRequestID, requestID)
	h.Set("Accept", "application/json")
	if crc := a.sessions.crc(c.OrgID, session); crc != "" {
		h.Set(headerRuntimeCRC, crc)
	}
	return h
}

// sendMessage posts the ack. It is not resent blindly after an ambiguous failure; bot-ack
// retries it later with the same sequenceId, and a 200 whose processedSequenceIds holds it
// proves the bot has it (whether the runtime drops a repeated sequenceId is [U]). A 503 is
// never resent, now or later: the bot already ran, and the ack is uncertain.
func (a *Adapter) sendMessage(ctx context.Context, tenant string, c *Credentials, m ackMessage) (vendors.AckResult, error) {
	const op = "salesforce.SendMessage"
	h := a.headers(c, m.session, m.requestID)
	h.Set("Content-Type", "application/json")
	resp, err := a.call(ctx, tenant, c, rest.Request{
		Op:     op,
		Method: http.MethodPost,
		URL:    rest.JoinURL(c.RuntimeURL, c.APIVersion, "sessions", m.session, "messages"),
		Header: h,
		Body:   m.body,
		Retry:  resendable,
	})
	if err != nil {
		return vendors.AckResult{}, err
	}
	a.sessions.rememberCRC(c.OrgID, m.session, resp.Header.Get(headerRuntimeCRC))
	if resp.Status == http.StatusServiceUnavailable {
		// Remembered as processed, so a retry in this process (after a failed session end,
		// say) does not send it again either.
		a.sessions.markProcessed(c.OrgID, m.session, m.seq)
		a.log.Warn("salesforce ack uncertain: the bot timed out after it ran; not re-sent", "tenant", tenant,
			"transfer", m.transfer, "status", resp.Status, "sequenceId", m.seq)
		return vendors.AckResult{Uncertain: uncertainReason}, nil
	}
	if !resp.OK() {
		e := runtimeError(op, resp, a.now())
		a.log.Warn("salesforce bot refused the ack", "tenant", tenant, "transfer", m.transfer,
			"status", resp.Status, "vendorCode", e.VendorCode, "code", e.Code)
		return vendors.AckResult{}, e
	}
	var env responseEnvelope
	if err := json.Unmarshal(resp.Body, &env); err != nil || env.ProcessedSequenceIDs == nil {
		return vendors.AckResult{}, handoff.E(handoff.CodeVendorProtocol, op, "the runtime's answer has no processedSequenceIds", nil)
	}
	if !slices.Contains(*env.ProcessedSequenceIDs, m.seq) {
		return vendors.AckResult{}, handoff.E(handoff.CodeVendorProtocol, op, "the runtime did not list the ack's sequenceId as processed", nil)
	}
	a.sessions.markProcessed(c.OrgID, m.session, m.seq)
	return vendors.AckResult{BotMessages: botMessages(env.Messages)}, nil
}

// endSession ends the bot session after a successful transfer (DELETE with reason Transfer). A
// session already ended (404) is done. Another final refusal is logged, not returned: the bot
// has been told, and an open session times out by itself after 3 days (docs/vendors/salesforce.md).
func (a *Adapter) endSession(ctx context.Context, tenant string, c *Credentials, m ackMessage) error {
	const op = "salesforce.EndSession"
	h := a.headers(c, m.session, requestID(m.transfer, m.seq, "end"))
	h.Set(headerEndReason, endReasonTransfer)
	resp, err := a.call(ctx, tenant, c, rest.Request{
		Op:         op,
		Method:     http.MethodDelete,
		URL:        rest.JoinURL(c.RuntimeURL, c.APIVersion, "sessions", m.session),
		Header:     h,
		Idempotent: true, // ending an ended session is a 404, which is done
		Retry:      resendable,
	})
	if err != nil {
		return err
	}
	if resp.OK() || answerFor(resp.Status).AlreadyDone {
		return nil // the session's memory stays: a repeat of this ack then skips the message too
	}
	if resp.Status == http.StatusServiceUnavailable {
		// The runtime may have ended it (its Apex or Flow timed out after it ran); an error here
		// would make bot-ack resend the ack message from a process that does not remember it.
		a.log.Warn("salesforce bot session end uncertain (HTTP 503); it will time out if it did not end",
			"tenant", tenant, "transfer", m.transfer)
		return nil
	}
	e := runtimeError(op, resp, a.now())
	if handoff.Retryable(e) {
		return e
	}
	a.log.Warn("salesforce bot session could not be ended; it will time out", "tenant", tenant,
		"transfer", m.transfer, "status", resp.Status, "vendorCode", e.VendorCode)
	return nil
}

// Bounds of sessionMemory: sessions are short-lived, and forgetting costs little.
const (
	maxSessions          = 4096
	maxProcessedPerState = 8
)

// sessionMemory is what this process learned of bot sessions: the last X-Runtime-CRC the
// runtime sent, echoed on the next call (docs/vendors/salesforce.md), and the sequence ids the runtime
// confirmed, so a retry of an ack whose confirmation did arrive (a failed session end, say)
// does not send the message again. It is best effort: a cold start knows nothing, and then
// the runtime's processedSequenceIds tells. Safe for concurrent use.
type sessionMemory struct {
	mu       sync.Mutex
	sessions map[string]*sessionState // by org and session id
}

type sessionState struct {
	crc       string
	processed []int64
}

func newSessionMemory() *sessionMemory { return &sessionMemory{sessions: map[string]*sessionState{}} }

func (m *sessionMemory) state(org, session string) *sessionState {
	key := org + "\x00" + session
	s, ok := m.sessions[key]
	if !ok {
		if len(m.sessions) >= maxSessions {
			clear(m.sessions)
		}
		s = &sessionState{}
		m.sessions[key] = s
	}
	return s
}

func (m *sessionMemory) crc(org, session string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.sessions[org+"\x00"+session]; ok {
		return s.crc
	}
	return ""
}

func (m *sessionMemory) rememberCRC(org, session, crc string) {
	if crc == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.state(org, session).crc = crc
}

func (m *sessionMemory) markProcessed(org, session string, seq int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.state(org, session)
	s.processed = append(s.processed, seq)
	if len(s.processed) > maxProcessedPerState {
		s.processed = s.processed[1:]
	}
}

func (m *sessionMemory) processed(org, session string, seq int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[org+"\x00"+session]
	return ok && slices.Contains(s.processed, seq)
}
