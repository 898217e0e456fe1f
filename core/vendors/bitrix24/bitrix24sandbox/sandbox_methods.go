package bitrix24sandbox

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// sandboxUsers are the portal's employees: id → active.
var sandboxUsers = map[int64]bool{12: true, 14: false}

// sandboxLine is one open line of the sandbox portal.
type sandboxLine struct {
	name   string
	active bool
	queue  []string
}

var sandboxLines = map[int64]sandboxLine{
	1: {name: "Support", active: true, queue: []string{UserID}},
	2: {name: "After hours", active: false, queue: []string{UserID}},
}

// fieldSpec names the fields a method accepts and their JSON kind.
type fieldSpec map[string]string // field → "int" | "string" | "yn" | "object" | "id"

var (
	transferFields = fieldSpec{"CHAT_ID": "int", "USER_ID": "int", "QUEUE_ID": "int", "TRANSFER_ID": "id", "LEAVE": "yn", "CLIENT_ID": "string"}
	operatorFields = fieldSpec{"CHAT_ID": "int"}
	listFields     = fieldSpec{"PARAMS": "object", "OPTIONS": "object", "start": "int"}
)

// checkFields refuses unknown, misspelt or mistyped fields. Bitrix24 itself ignores unknown
// fields; the sandbox refuses them so a misspelling in the adapter fails its tests.
func checkFields(w http.ResponseWriter, spec fieldSpec, params map[string]json.RawMessage) bool {
	for name, raw := range params {
		kind, ok := spec[name]
		if !ok {
			writeVendorError(w, http.StatusBadRequest, "ERROR_ARGUMENT", "sandbox: unknown parameter "+name)
			return false
		}
		if !hasKind(raw, kind) {
			writeVendorError(w, http.StatusBadRequest, "ERROR_ARGUMENT", "sandbox: parameter "+name+" must be of type "+kind)
			return false
		}
	}
	return true
}

func hasKind(raw json.RawMessage, kind string) bool {
	raw = bytes.TrimSpace(raw)
	var s string
	switch kind {
	case "int":
		_, err := strconv.ParseInt(string(raw), 10, 64)
		return err == nil
	case "string":
		return json.Unmarshal(raw, &s) == nil
	case "yn":
		return json.Unmarshal(raw, &s) == nil && (s == "Y" || s == "N")
	case "id": // TRANSFER_ID: a user id, or "queue<ID>"
		return hasKind(raw, "int") || json.Unmarshal(raw, &s) == nil
	case "object":
		return len(raw) > 0 && raw[0] == '{'
	}
	return false
}

// intField returns an integer field, 0 when absent (hasKind already checked the type).
func intField(params map[string]json.RawMessage, name string) (int64, bool) {
	raw, ok := params[name]
	if !ok {
		return 0, false
	}
	n, _ := strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 64)
	return n, true
}

// serveTransfer is imopenlines.bot.session.transfer: one destination, USER_ID before QUEUE_ID
// before TRANSFER_ID; the bot named by CLIENT_ID for webhook callers.
func (s *Sandbox) serveTransfer(w http.ResponseWriter, params map[string]json.RawMessage, webhook bool) {
	if !checkFields(w, transferFields, params) {
		return
	}
	chatID, _ := intField(params, "CHAT_ID")
	if chatID == 0 {
		writeVendorError(w, http.StatusBadRequest, "CHAT_ID_EMPTY", "Chat ID can't be empty")
		return
	}
	var clientID string
	if raw, ok := params["CLIENT_ID"]; ok {
		if !webhook {
			writeVendorError(w, http.StatusBadRequest, "ERROR_ARGUMENT", "sandbox: CLIENT_ID is only for incoming-webhook callers")
			return
		}
		_ = json.Unmarshal(raw, &clientID)
	}
	if webhook && clientID == "" {
		// The code raises an access exception; its code and status are undocumented [U].
		writeVendorError(w, http.StatusForbidden, "ACCESS_DENIED", "Access denied! Client ID not specified")
		return
	}
	if webhook && clientID != s.cfg.BotClientID {
		writeVendorError(w, http.StatusBadRequest, "BOT_ID_ERROR", "Bot not found")
		return
	}
	given := 0
	for _, f := range []string{"USER_ID", "QUEUE_ID", "TRANSFER_ID"} {
		if _, ok := params[f]; ok {
			given++
		}
	}
	if given > 1 {
		writeVendorError(w, http.StatusBadRequest, "ERROR_ARGUMENT", "sandbox: send one of USER_ID, QUEUE_ID, TRANSFER_ID")
		return
	}
	ok, code, description := s.destination(params)
	if !ok {
		writeVendorError(w, http.StatusBadRequest, code, description)
		return
	}
	s.mu.Lock()
	_, known := s.chats[chatID]
	if known {
		s.chats[chatID] = true
	}
	s.mu.Unlock()
	if !known { // the open-line session cannot be loaded
		writeVendorError(w, http.StatusBadRequest, "OPERATOR_WRONG", "You can not redirect to this operator")
		return
	}
	writeResult(w, true)
}

// destination checks the target user or line.
func (s *Sandbox) destination(params map[string]json.RawMessage) (ok bool, code, description string) {
	wrong := func() (bool, string, string) {
		return false, "OPERATOR_WRONG", "You can not redirect to this operator"
	}
	if id, given := intField(params, "USER_ID"); given {
		if id == 0 {
			return false, "USER_ID_EMPTY", "User ID can't be empty"
		}
		if !sandboxUsers[id] {
			return wrong()
		}
		return true, "", ""
	}
	if id, given := intField(params, "QUEUE_ID"); given {
		if id == 0 {
			return false, "QUEUE_ID_EMPTY", "Queue ID can't be empty"
		}
		if l, ok := sandboxLines[id]; !ok || !l.active {
			return wrong()
		}
		return true, "", ""
	}
	raw, given := params["TRANSFER_ID"]
	if !given {
		return false, "TRANSFER_ID_EMPTY", "Queue ID or User ID can't be empty"
	}
	var id string
	if json.Unmarshal(raw, &id) != nil {
		id = string(bytes.TrimSpace(raw))
	}
	if line, isQueue := strings.CutPrefix(id, "queue"); isQueue {
		n, _ := strconv.ParseInt(line, 10, 64)
		return s.destination(map[string]json.RawMessage{"QUEUE_ID": json.RawMessage(strconv.FormatInt(n, 10))})
	}
	n, _ := strconv.ParseInt(id, 10, 64)
	return s.destination(map[string]json.RawMessage{"USER_ID": json.RawMessage(strconv.FormatInt(n, 10))})
}

// serveOperator is imopenlines.bot.session.operator: the line's next free operator, once; a
// chat already with a person gets WRONG_CHAT ("Operator is not a bot").
func (s *Sandbox) serveOperator(w http.ResponseWriter, params map[string]json.RawMessage) {
	if !checkFields(w, operatorFields, params) {
		return
	}
	chatID, _ := intField(params, "CHAT_ID")
	if chatID == 0 {
		writeVendorError(w, http.StatusBadRequest, "CHAT_ID_EMPTY", "Chat ID can't be empty")
		return
	}
	s.mu.Lock()
	withPerson, known := s.chats[chatID]
	if known && !withPerson {
		s.chats[chatID] = true
	}
	s.mu.Unlock()
	if !known || withPerson {
		writeVendorError(w, http.StatusBadRequest, "WRONG_CHAT", "Operator is not a bot")
		return
	}
	writeResult(w, true)
}

// linesPerPage is what a list method answers at most in one page (list-methods-pecularities.md).
const linesPerPage = 50

// serveConfigList is imopenlines.config.list.get: the lines with a few of their settings, one
// page at a time from `start`, with "total" and, when more remain, "next"
// (list-methods-pecularities.md; the fields of imopenlines-config-add.md).
func (s *Sandbox) serveConfigList(w http.ResponseWriter, params map[string]json.RawMessage) {
	if !checkFields(w, listFields, params) {
		return
	}
	total := int64(max(s.cfg.Lines, len(sandboxLines)))
	start, _ := intField(params, "start")
	if start < 0 {
		start = 0
	}
	lines := []map[string]any{}
	for id := start + 1; id <= total && id <= start+linesPerPage; id++ {
		l, ok := sandboxLines[id]
		if !ok {
			l = sandboxLine{name: "Line " + strconv.FormatInt(id, 10), active: true, queue: []string{UserID}}
		}
		active := "N"
		if l.active {
			active = "Y"
		}
		lines = append(lines, map[string]any{
			"ID": strconv.FormatInt(id, 10), "ACTIVE": active, "LINE_NAME": l.name,
			"CRM": "N", "QUEUE_TYPE": "evenly", "QUEUE_TIME": "60", "QUEUE": l.queue,
		})
	}
	extra := map[string]any{"total": total}
	if start+linesPerPage < total {
		extra["next"] = start + linesPerPage
	}
	writeResultWith(w, lines, extra)
}
