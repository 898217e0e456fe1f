package bitrix24

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"mime"
	"strings"

	"handoff/core/handoff"
	"handoff/core/vendors"
)

// maxEventBytes bounds an event body; real ones are a few kilobytes.
const maxEventBytes = 256 << 10

// The events ParseCallback understands. All of them only inform: Bitrix24 reports a transfer's
// result in the transfer call's own answer and sends no "operator accepted" event [I], and the
// open-line session events reach only the application's own connector [C] (docs/vendors/bitrix24.md). They
// are recorded in the transfer's timeline; none changes its status.
var knownEvents = map[string]func(form) (chatID, detail string){
	// Legacy bot events (DEPRECATED, still sent to bots registered with imbot.register).
	"ONIMBOTMESSAGEADD":    legacyEvent("a message reached the bot"),
	"ONIMBOTMESSAGEUPDATE": legacyEvent("a message to the bot was edited"),
	"ONIMBOTMESSAGEDELETE": legacyEvent("a message to the bot was deleted"),
	"ONIMBOTJOINCHAT":      legacyEvent("the bot joined the chat"),
	"ONIMCOMMANDADD":       legacyEvent("a bot command was used"),
	// imbot.v2 events (bots registered with imbot.v2.Bot.register, eventMode webhook).
	"ONIMBOTV2MESSAGEADD":     v2Event("a message reached the bot"),
	"ONIMBOTV2MESSAGEUPDATE":  v2Event("a message to the bot was edited"),
	"ONIMBOTV2MESSAGEDELETE":  v2Event("a message to the bot was deleted"),
	"ONIMBOTV2REACTIONCHANGE": v2Event("a reaction changed"),
	"ONIMBOTV2COMMANDADD":     v2Event("a bot command was used"),
	"ONIMBOTV2JOINCHAT":       v2Event("the bot joined the chat"),
	"ONIMBOTV2CONTEXTGET":     v2Event("the dialog was opened with context"),
	// Bot removal names no chat: there is no transfer to attach it to.
	"ONIMBOTDELETE":   noChat("the bot was deleted"),
	"ONIMBOTV2DELETE": noChat("the bot was deleted"),
	// Open-line session events (only for the application's own connector).
	"ONSESSIONSTART":  sessionEvent("the open-line session started"),
	"ONSESSIONFINISH": sessionEvent("the open-line session finished"),
}

// ParseCallback authenticates a Bitrix24 event and says which chat it is about. The caller is
// Bitrix24 only if the top-level auth[application_token] equals the tenant's applicationToken
// (there is no signature, docs/vendors/bitrix24.md; data[…][auth][application_token] is not the proof);
// otherwise it is UNAUTHORIZED and nothing else is read. Events only inform, so the Callback
// has VendorRef (the chat id) and a Detail, never an Outcome.
func (a *Adapter) ParseCallback(ctx context.Context, req vendors.CallbackRequest) (vendors.Callback, error) {
	const op = "bitrix24.ParseCallback"
	if len(req.Body) > maxEventBytes {
		return vendors.Callback{}, &handoff.Error{Code: handoff.CodeTooLarge, Op: op, Message: "the event body is too large"}
	}
	if mt, _, err := mime.ParseMediaType(req.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		return vendors.Callback{}, handoff.Invalid("", "a Bitrix24 event is sent as application/x-www-form-urlencoded")
	}
	body, err := parseForm(string(req.Body))
	if err != nil {
		return vendors.Callback{}, handoff.Invalid("", "the event body cannot be read: "+err.Error())
	}
	if err := a.authenticate(ctx, op, req.Tenant, body); err != nil {
		return vendors.Callback{}, err
	}
	event, _ := body.str("event")
	read, ok := knownEvents[strings.ToUpper(event)]
	if !ok {
		return vendors.Callback{}, handoff.Invalid("event", "the Bitrix24 event is not one Handoff understands: "+safeCode(event))
	}
	chatID, detail := read(body)
	if chatID == "0" {
		chatID = "" // webhook mode sends null as "" and some events 0 for "no chat"
	}
	if chatID != "" {
		if _, ok := positiveInt(chatID); !ok {
			return vendors.Callback{}, handoff.Invalid("data", "the event names a chat id that is not a positive integer")
		}
	}
	name := strings.ToUpper(event)
	if chatID != "" {
		detail = fmt.Sprintf("%s: %s (chat %s)", name, detail, chatID)
	} else {
		detail = name + ": " + detail
	}
	a.log.InfoContext(ctx, "bitrix24: event received", "tenant", req.Tenant, "event", name, "chat", chatID)
	return vendors.Callback{VendorRef: chatID, Detail: detail}, nil
}

// authenticate compares the event's application token with the tenant's. A tenant we do not
// know, or one without an applicationToken, cannot be proved either: UNAUTHORIZED, not
// UNKNOWN_TENANT, so the callback route does not tell strangers which tenants exist.
func (a *Adapter) authenticate(ctx context.Context, op, tenant string, body form) error {
	unauthorized := &handoff.Error{Code: handoff.CodeUnauthorized, Op: op, Message: "the event does not carry this tenant's Bitrix24 application token"}
	given, _ := body.str("auth", "application_token")
	if given == "" || tenant == "" {
		return unauthorized
	}
	s, err := a.load(ctx, tenant)
	switch {
	case handoff.ErrorCode(err) == handoff.CodeUnknownTenant:
		return unauthorized
	case err != nil:
		return err
	case s.creds.ApplicationToken == "":
		a.log.WarnContext(ctx, "bitrix24: event refused: the tenant's secret has no applicationToken", "tenant", tenant)
		return unauthorized
	case !tokensEqual(given, s.creds.ApplicationToken):
		return unauthorized
	}
	return nil
}

// tokensEqual compares in constant time. Hashing first makes the time independent of the
// lengths too (subtle.ConstantTimeCompare returns at once on a length mismatch).
func tokensEqual(given, want string) bool {
	g, w := sha256.Sum256([]byte(given)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// legacyEvent reads data[PARAMS]: CHAT_ID in group and open-line chats, TO_CHAT_ID in every
// message event, DIALOG_ID "chat123" as the last resort.
func legacyEvent(what string) func(form) (string, string) {
	return func(body form) (string, string) {
		for _, field := range []string{"CHAT_ID", "TO_CHAT_ID"} {
			if id, ok := body.str("data", "PARAMS", field); ok && id != "" && id != "0" {
				return id, what
			}
		}
		dialog, _ := body.str("data", "PARAMS", "DIALOG_ID")
		return chatFromDialog(dialog), what
	}
}

// v2Event reads data[chat][id], then data[message][chatId], then data[dialogId].
func v2Event(what string) func(form) (string, string) {
	return func(body form) (string, string) {
		if id, ok := body.str("data", "chat", "id"); ok && id != "" {
			return id, what
		}
		if id, ok := body.str("data", "message", "chatId"); ok && id != "" {
			return id, what
		}
		dialog, _ := body.str("data", "dialogId")
		return chatFromDialog(dialog), what
	}
}

// sessionEvent reads data[DATA][0][chat][id] (on-session-finish.md), then the connector's chat_id.
func sessionEvent(what string) func(form) (string, string) {
	return func(body form) (string, string) {
		if id, ok := body.str("data", "DATA", "0", "chat", "id"); ok && id != "" {
			return id, what
		}
		id, _ := body.str("data", "DATA", "0", "connector", "chat_id")
		return id, what
	}
}

func noChat(what string) func(form) (string, string) {
	return func(form) (string, string) { return "", what }
}

// chatFromDialog turns a dialog id "chat123" into "123"; a user dialog ("27") names no chat.
func chatFromDialog(dialog string) string {
	if id, ok := strings.CutPrefix(dialog, "chat"); ok {
		return id
	}
	return ""
}
