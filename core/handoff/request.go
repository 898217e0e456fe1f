package handoff

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on a transfer request. They bound what one request can cost us and what it can store.
const (
	MaxBodyBytes     = 64 << 10
	MaxNoteChars     = 2000
	MaxMetadataBytes = 4 << 10
	MaxIDChars       = 256
	MaxFallbacks     = 10
	MaxKeyChars      = 255
)

var (
	tenantPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	vendorPattern = regexp.MustCompile(`^[a-z][a-z0-9]{0,31}$`)
)

// DecodeRequest parses and validates a POST /transfers body (or an Escalation Requested event's
// detail). Unknown fields are refused so that a misspelt field is an error, not silently ignored.
func DecodeRequest(body []byte) (Request, error) {
	var r Request
	if len(body) > MaxBodyBytes {
		return r, &Error{Code: CodeTooLarge, Op: "handoff.DecodeRequest",
			Message: fmt.Sprintf("body is larger than %d bytes", MaxBodyBytes)}
	}
	// encoding/json turns invalid UTF-8 into U+FFFD without a word, which would make every
	// "must be valid UTF-8" check below pass: it is refused here, where the bytes still show.
	if !utf8.Valid(body) {
		return Request{}, Invalid("", "body must be valid UTF-8")
	}
	if !decodeFast(body, &r) {
		r = Request{} // what the fast path left half-done
		if err := decodeStrict(body, &r); err != nil {
			return Request{}, err
		}
	}
	if err := r.Validate(); err != nil {
		return Request{}, err
	}
	// After Validate, which bounds metadata, the one object whose names are not ours.
	if first, name, ok := duplicateName(body); ok {
		name, first = truncate(name, 64), truncate(first, 64)
		if name == first {
			return Request{}, Invalid(name, fmt.Sprintf("field %q is given twice", name))
		}
		return Request{}, Invalid(name, fmt.Sprintf("field %q is given twice: names differ only in case (%q)", name, first))
	}
	return r, nil
}

// duplicateName returns a name that occurs twice in one object of body, valid JSON, and the
// name it repeats. Parsers disagree on which of the two counts (encoding/json takes the last),
// so a request holding one means different things to different readers; like an unknown field,
// it is refused. Names are compared as encoding/json matches them to fields, regardless of case
// (Unicode simple folding, bytes.EqualFold): {"tenant":"acme","TENANT":"evil"} is tenant evil
// to encoding/json and acme to a reader that keeps case.
func duplicateName(body []byte) (first, name string, found bool) {
	var nameBuf [32][]byte
	var openBuf [16]int
	names := nameBuf[:0] // the names of the open objects, innermost last
	open := openBuf[:0]  // where each open object's names start in names; -1 for an array
	for i := 0; i < len(body); i++ {
		switch body[i] {
		case '{':
			open = append(open, len(names))
		case '[':
			open = append(open, -1)
		case '}', ']':
			if from := open[len(open)-1]; from >= 0 {
				names = names[:from]
			}
			open = open[:len(open)-1]
		case '"':
			end := stringEnd(body, i)
			if next := skipSpace(body, end+1); next < len(body) && body[next] == ':' { // a name
				name := unquote(body[i : end+1])
				for _, seen := range names[open[len(open)-1]:] {
					if bytes.EqualFold(seen, name) {
						return string(seen), string(name), true
					}
				}
				names = append(names, name)
			}
			i = end
		}
	}
	return "", "", false
}

// unquote returns a JSON string's text, decoding escapes ("n\u0061me" is "name") only when it
// holds some.
func unquote(quoted []byte) []byte {
	if bytes.IndexByte(quoted, '\\') < 0 {
		return quoted[1 : len(quoted)-1]
	}
	var s string
	_ = json.Unmarshal(quoted, &s)
	return []byte(s)
}

// skipSpace returns the index of the first byte at or after i that is not JSON white space.
func skipSpace(body []byte, i int) int {
	for i < len(body) && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n') {
		i++
	}
	return i
}

// stringEnd returns the index of the quote that closes the JSON string opening at start: the
// first quote after it not escaped by an odd run of backslashes.
func stringEnd(body []byte, start int) int {
	for i := start + 1; i < len(body); i++ {
		q := bytes.IndexByte(body[i:], '"')
		if q < 0 {
			break
		}
		i += q
		escapes := 0
		for j := i - 1; j > start && body[j] == '\\'; j-- {
			escapes++
		}
		if escapes%2 == 0 {
			return i
		}
	}
	return len(body) - 1
}

// decodeStrict decodes exactly one JSON object into v, refusing unknown fields and trailing data.
func decodeStrict(body []byte, v any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return Invalid("", "body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonProblem(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Invalid("", "body must hold one JSON object and nothing after it")
	}
	return nil
}

// jsonProblem turns a decoding error into an INVALID_REQUEST that names the field, without
// echoing the input back.
func jsonProblem(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		return Invalid(typeErr.Field, fmt.Sprintf("%s must be of type %s", fieldOrBody(typeErr.Field), jsonType(typeErr.Type.Kind().String())))
	case errors.As(err, &syntaxErr):
		return Invalid("", fmt.Sprintf("malformed JSON at byte %d", syntaxErr.Offset))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return Invalid(field, fmt.Sprintf("unknown field %q", truncate(field, 64)))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return Invalid("", "malformed JSON: unexpected end of input")
	}
	return Invalid("", "malformed JSON")
}

func fieldOrBody(field string) string {
	if field == "" {
		return "body"
	}
	return field
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "struct", "map":
		return "object"
	case "slice", "array":
		return "array"
	}
	if strings.HasPrefix(kind, "int") || strings.HasPrefix(kind, "float") || strings.HasPrefix(kind, "uint") {
		return "number"
	}
	return kind
}

// Validate checks a decoded request against the rules of docs/api.md. It does not know which
// targets a vendor supports; that is checked before any vendor call, by the transfer service.
func (r Request) Validate() error {
	if err := ValidateTenant("tenant", r.Tenant); err != nil {
		return err
	}
	if err := ValidateVendor("vendor", r.Vendor); err != nil {
		return err
	}
	if err := ValidateID("conversation.id", r.Conversation.ID); err != nil {
		return err
	}
	if r.Conversation.AgentSessionID != "" {
		if err := ValidateID("conversation.agentSessionId", r.Conversation.AgentSessionID); err != nil {
			return err
		}
	}
	if err := r.Target.Validate("target"); err != nil {
		return err
	}
	if len(r.Fallbacks) > MaxFallbacks {
		return Invalid("fallbacks", fmt.Sprintf("at most %d fallbacks", MaxFallbacks))
	}
	for i, f := range r.Fallbacks {
		if err := f.Validate(fmt.Sprintf("fallbacks[%d]", i)); err != nil {
			return err
		}
	}
	if err := validateText("note", r.Note, MaxNoteChars); err != nil {
		return err
	}
	if err := validateMetadata(r.Metadata); err != nil {
		return err
	}
	if r.Bot != nil {
		if err := r.Bot.validate(); err != nil {
			return err
		}
	}
	if r.IdempotencyKey != "" {
		if err := ValidateKey("idempotencyKey", r.IdempotencyKey); err != nil {
			return err
		}
	}
	return nil
}

// ValidateTenant checks a tenant name: it becomes part of secret names and storage keys.
func ValidateTenant(field, tenant string) error {
	if !tenantPattern.MatchString(tenant) {
		return Invalid(field, field+" is required: 1-64 letters, digits, '.', '_' or '-'")
	}
	return nil
}

// ValidateVendor checks the form of a vendor key; whether the vendor exists is the registry's say.
func ValidateVendor(field, vendor string) error {
	if !vendorPattern.MatchString(vendor) {
		return Invalid(field, field+" is required: a lower-case vendor key (a letter, then letters or digits)")
	}
	return nil
}

// Validate checks one target; field names it in the error (e.g. "fallbacks[0]").
func (t Target) Validate(field string) error {
	if !t.Type.Valid() {
		return Invalid(field+".type", field+".type must be one of agent, queue, skill, next")
	}
	if t.Type == TargetNext {
		if t.ID != "" {
			return Invalid(field+".id", field+".id must be empty for type next")
		}
		return nil
	}
	return ValidateID(field+".id", t.ID)
}

// validate checks the form every bot's fields must have. What a bot vendor requires beyond it
// (a session id, no sequence id) is its adapter's to say (vendors.Validator), before any write.
func (b Bot) validate() error {
	if err := ValidateVendor("bot.vendor", b.Vendor); err != nil {
		return err
	}
	for _, f := range [...]struct{ field, value string }{{"bot.sessionId", b.SessionID}, {"bot.escalationMessageId", b.EscalationMessageID}} {
		if f.value != "" {
			if err := ValidateID(f.field, f.value); err != nil {
				return err
			}
		}
	}
	if b.SequenceID < 0 {
		return Invalid("bot.sequenceId", "bot.sequenceId must be a positive integer")
	}
	return nil
}

// ValidateID checks an identifier that will travel into vendor URLs, bodies and our keys: not
// empty, bounded, printable, no white space, no path separators and no dot segments.
func ValidateID(field, id string) error {
	switch {
	case id == "":
		return Invalid(field, field+" is required")
	case !utf8.ValidString(id):
		return Invalid(field, field+" must be valid UTF-8")
	case utf8.RuneCountInString(id) > MaxIDChars:
		return Invalid(field, fmt.Sprintf("%s is longer than %d characters", field, MaxIDChars))
	case id == "." || id == "..":
		return Invalid(field, field+" must not be a dot segment")
	}
	for _, c := range id {
		if !unicode.IsPrint(c) || unicode.IsSpace(c) || c == '/' || c == '\\' {
			return Invalid(field, field+" must not hold white space, control characters or path separators")
		}
	}
	return nil
}

// ValidateKey checks an idempotency key: 1-255 printable ASCII characters.
func ValidateKey(field, key string) error {
	if key == "" || len(key) > MaxKeyChars {
		return Invalid(field, fmt.Sprintf("%s must be 1-%d characters", field, MaxKeyChars))
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return Invalid(field, field+" must be printable ASCII without spaces")
		}
	}
	return nil
}

func validateText(field, s string, maxChars int) error {
	if !utf8.ValidString(s) {
		return Invalid(field, field+" must be valid UTF-8")
	}
	if utf8.RuneCountInString(s) > maxChars {
		return Invalid(field, fmt.Sprintf("%s is longer than %d characters", field, maxChars))
	}
	for _, c := range s {
		if unicode.IsControl(c) && c != '\n' && c != '\r' && c != '\t' {
			return Invalid(field, field+" must not hold control characters")
		}
	}
	return nil
}

// validateMetadata accepts a flat JSON object of scalars, at most MaxMetadataBytes long.
func validateMetadata(raw json.RawMessage) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if len(raw) > MaxMetadataBytes {
		return Invalid("metadata", fmt.Sprintf("metadata is larger than %d bytes", MaxMetadataBytes))
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return Invalid("metadata", "metadata must be a JSON object")
	}
	for k, v := range fields {
		if err := validateText("metadata key", k, 128); err != nil || k == "" {
			return Invalid("metadata", "metadata keys must be 1-128 characters without control characters")
		}
		switch bytes.TrimSpace(v)[0] {
		case '{', '[':
			return Invalid("metadata."+truncate(k, 64), "metadata must be flat: values are strings, numbers, booleans or null")
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Fingerprint is a stable hash of what the request asks for, without its idempotency key. Two
// requests with the same fingerprint are the same request; the same key with another fingerprint
// is a reused key.
func (r Request) Fingerprint() string {
	r.IdempotencyKey = ""
	b, _ := json.Marshal(r) // a validated Request always marshals; compacts metadata
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
