package salesforce

import (
	"crypto/sha1"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"

	"handoff/core/handoff"
)

// The message types and transferFailed reasons of docs/vendors/salesforce.md.
const (
	typeTransferSucceeded  = "transferSucceeded"
	typeTransferFailed     = "transferFailed"
	reasonNoAgentAvailable = "NoAgentAvailable"
	reasonError            = "Error"
)

// transferSucceededMessage and transferFailedMessage are TransferSucceededRequestMessage and
// TransferFailedRequestMessage field for field, in the spec's order. Both schemas have
// additionalProperties: false, so a field more is likely a 400 [I]: add none.
type transferSucceededMessage struct {
	Type               string `json:"type"`
	SequenceID         int64  `json:"sequenceId"`
	InReplyToMessageID string `json:"inReplyToMessageId,omitempty"`
}

type transferFailedMessage struct {
	Type               string `json:"type"`
	SequenceID         int64  `json:"sequenceId"`
	InReplyToMessageID string `json:"inReplyToMessageId,omitempty"`
	Reason             string `json:"reason"`
	Description        string `json:"description,omitempty"`
}

// chatMessageEnvelope is v5's ChatMessageEnvelope without its optional responseOptions.
type chatMessageEnvelope struct {
	Message any `json:"message"`
}

// ackMessage is one ack, ready to send and to send again identically.
type ackMessage struct {
	kind      string // typeTransferSucceeded or typeTransferFailed
	session   string
	seq       int64
	body      []byte
	requestID string // X-Request-ID of the message; the session end derives its own
	transfer  string
}

func newAckMessage(t handoff.Transfer, seq int64) ackMessage {
	m := ackMessage{session: t.Bot.SessionID, seq: seq, transfer: t.ID, requestID: requestID(t.ID, seq, "message")}
	var msg any
	if t.Status == handoff.StatusTransferred {
		m.kind = typeTransferSucceeded
		msg = transferSucceededMessage{Type: m.kind, SequenceID: seq, InReplyToMessageID: t.Bot.EscalationMessageID}
	} else {
		m.kind = typeTransferFailed
		reason, description := failure(t.Error)
		msg = transferFailedMessage{Type: m.kind, SequenceID: seq, InReplyToMessageID: t.Bot.EscalationMessageID,
			Reason: reason, Description: description}
	}
	m.body, _ = json.Marshal(chatMessageEnvelope{Message: msg}) // plain strings and ints always marshal
	return m
}

// codePattern is what an error code of ours looks like; anything else stays out of the text.
var codePattern = regexp.MustCompile(`^[A-Z_]{1,40}$`)

// failure chooses transferFailed's reason and a short description of ours: the bot may show it,
// so it never carries a vendor's text. NoAgentAvailable is for "every target was unavailable",
// the one failure the bot can sensibly answer with "try later".
func failure(p *handoff.Problem) (reason, description string) {
	switch {
	case p != nil && p.Code == handoff.CodeTargetUnavailable:
		return reasonNoAgentAvailable, "No agent was available to take the conversation."
	case p != nil && codePattern.MatchString(string(p.Code)):
		return reasonError, fmt.Sprintf("The transfer to an agent failed (%s).", p.Code)
	}
	return reasonError, "The transfer to an agent failed."
}

// requestIDSpace is the name space of our X-Request-IDs (a random UUID, fixed once).
var requestIDSpace = [16]byte{0x6b, 0x1e, 0x52, 0x0f, 0x3a, 0x94, 0x4c, 0x27, 0x9d, 0x15, 0x80, 0xe2, 0x47, 0xa9, 0x0c, 0x33}

// requestID is a name-based (version 5) UUID of the transfer, the sequence id and the call's
// purpose: a retry sends the very same X-Request-ID, so the runtime's traces (and any
// deduplication it may do [U]) see one request, not two.
func requestID(transferID string, seq int64, purpose string) string {
	h := sha1.New()
	h.Write(requestIDSpace[:])
	h.Write([]byte(transferID + "\x00" + strconv.FormatInt(seq, 10) + "\x00" + purpose))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
