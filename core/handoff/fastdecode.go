package handoff

import "handoff/core/internal/jsonfast"

// decodeFast decodes a request body as decodeStrict would, without reflection: it answers false,
// and decodeStrict decides (and words any error), on anything it does not take exactly as
// decodeStrict would. That is: a name that is not one of the request's own spelt the same way
// (decodeStrict matches names regardless of case, and refuses unknown ones), a name given twice
// (decodeStrict would merge the two), a value of an unexpected type, a number that is not an
// integer, a surrogate escape, invalid JSON or trailing data. body must be valid UTF-8 (checked
// before, in DecodeRequest). FuzzDecodeFast holds it to decodeStrict's result.
func decodeFast(body []byte, r *Request) bool {
	d := requestDecoder{Reader: jsonfast.Reader{S: string(body)}}
	// decodeStrict trims Unicode white space, not only JSON's, before the object.
	d.S = trimSpace(d.S)
	if len(d.S) == 0 || d.S[0] != '{' {
		return false
	}
	return d.object(func(name string) bool { return d.request(name, r) }) && d.AtEnd()
}

// trimSpace is bytes.TrimSpace for a string: what decodeStrict trims.
func trimSpace(s string) string {
	start, end := 0, len(s)
	for start < end && isSpace(s[start]) {
		start++
	}
	for end > start && isSpace(s[end-1]) {
		end--
	}
	if (start < end && s[start] >= 0x80) || (end > start && s[end-1] >= 0x80) {
		return "\x00" // Unicode white space, perhaps: left to decodeStrict
	}
	return s[start:end]
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

type requestDecoder struct{ jsonfast.Reader }

// object reads an object whose members member takes, refusing a name given twice.
func (d *requestDecoder) object(member func(name string) bool) bool {
	var seen [12]string // the most names an object of the request has, and then some
	n := 0
	return d.Object(func(name string) bool {
		for _, s := range seen[:n] {
			if s == name {
				return false
			}
		}
		if n == len(seen) {
			return false
		}
		seen[n] = name
		n++
		return member(name)
	})
}

func (d *requestDecoder) request(name string, r *Request) bool {
	switch name {
	case "tenant":
		return d.String(&r.Tenant)
	case "vendor":
		return d.String(&r.Vendor)
	case "conversation":
		c := &r.Conversation
		return d.Null() || d.object(func(name string) bool {
			switch name {
			case "id":
				return d.String(&c.ID)
			case "agentSessionId":
				return d.String(&c.AgentSessionID)
			}
			return false
		})
	case "target":
		return d.target(&r.Target)
	case "fallbacks":
		if d.Null() {
			return true // nil, as it was
		}
		fallbacks := []Target{}
		ok := d.Array(func() bool {
			var t Target
			if !d.target(&t) {
				return false
			}
			fallbacks = append(fallbacks, t)
			return true
		})
		r.Fallbacks = fallbacks
		return ok
	case "note":
		return d.String(&r.Note)
	case "options":
		return d.Null() || d.object(func(name string) bool { return name == "leave" && d.Bool(&r.Options.Leave) })
	case "bot":
		if d.Null() {
			return true // nil, as it was
		}
		b := &Bot{}
		r.Bot = b
		return d.object(func(name string) bool {
			switch name {
			case "vendor":
				return d.String(&b.Vendor)
			case "sessionId":
				return d.String(&b.SessionID)
			case "escalationMessageId":
				return d.String(&b.EscalationMessageID)
			case "sequenceId":
				return d.Int64(&b.SequenceID)
			}
			return false
		})
	case "metadata":
		raw, ok := d.Raw()
		r.Metadata = []byte(raw) // a copy, as encoding/json makes, null included
		return ok
	case "idempotencyKey":
		return d.String(&r.IdempotencyKey)
	}
	return false
}

// target reads one target; a null one is left to decodeStrict.
func (d *requestDecoder) target(t *Target) bool {
	return d.object(func(name string) bool {
		switch name {
		case "type":
			return d.String((*string)(&t.Type))
		case "id":
			return d.String(&t.ID)
		}
		return false
	})
}
