// Package jsonfast reads JSON without reflection for the hot path's fixed shapes (API Gateway's
// HTTP event, the transfer request), as fast paths beside encoding/json, not in its place.
//
// A Reader answers false on anything it does not take exactly as encoding/json would take it
// into a string, bool, int64 or raw value: the caller then decodes the same bytes with
// encoding/json, which decides, and words any error. So a fast path built on it can only be
// faster, never different; each one has a fuzz test holding it to encoding/json's result.
//
// Strings without escapes are slices of the Reader's string, which the caller makes once from
// the payload: one copy, however many fields.
package jsonfast

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxDepth bounds the nesting Skip follows; deeper values are left to encoding/json.
const maxDepth = 64

// Reader reads JSON from S, at I.
type Reader struct {
	S string
	I int
}

// Space skips JSON white space.
func (r *Reader) Space() {
	for r.I < len(r.S) {
		switch r.S[r.I] {
		case ' ', '\t', '\n', '\r':
			r.I++
		default:
			return
		}
	}
}

// AtEnd reports whether only white space is left.
func (r *Reader) AtEnd() bool {
	r.Space()
	return r.I == len(r.S)
}

// Literal consumes word, after white space, if it is next.
func (r *Reader) Literal(word string) bool {
	r.Space()
	if strings.HasPrefix(r.S[r.I:], word) {
		r.I += len(word)
		return true
	}
	return false
}

// Null consumes a null. encoding/json leaves a string, number, bool or struct as it was on
// null, and sets a map, slice or pointer to nil: the caller does the latter.
func (r *Reader) Null() bool { return r.Literal("null") }

// Object reads an object, handing each member's name to member, which reads its value.
func (r *Reader) Object(member func(name string) bool) bool {
	if !r.Literal("{") {
		return false
	}
	if r.Literal("}") {
		return true
	}
	for {
		var name string
		if !r.Literal(`"`) || !r.quoted(&name) || !r.Literal(":") || !member(name) {
			return false
		}
		if r.Literal("}") {
			return true
		}
		if !r.Literal(",") {
			return false
		}
	}
}

// Array reads an array, calling elem for each element, which reads it.
func (r *Reader) Array(elem func() bool) bool {
	if !r.Literal("[") {
		return false
	}
	if r.Literal("]") {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if r.Literal("]") {
			return true
		}
		if !r.Literal(",") {
			return false
		}
	}
}

// Strings reads an array of strings into *p, a new slice (null: nil). A null element is left
// to encoding/json, which leaves the element as it was in a reused array.
func (r *Reader) Strings(p *[]string) bool {
	if r.Null() {
		*p = nil
		return true
	}
	out := []string{}
	ok := r.Array(func() bool {
		var v string
		if !r.Literal(`"`) || !r.quoted(&v) {
			return false
		}
		out = append(out, v)
		return true
	})
	if ok {
		*p = out
	}
	return ok
}

// Bool reads true or false into *p (null leaves it as it was).
func (r *Reader) Bool(p *bool) bool {
	switch {
	case r.Literal("true"):
		*p = true
	case r.Literal("false"):
		*p = false
	default:
		return r.Null()
	}
	return true
}

// Int64 reads an integer into *p (null leaves it as it was); a fraction, an exponent or an
// overflow is left to encoding/json.
func (r *Reader) Int64(p *int64) bool {
	if r.Null() {
		return true
	}
	start := r.I
	if !r.number() {
		return false
	}
	n, err := strconv.ParseInt(r.S[start:r.I], 10, 64)
	if err != nil {
		return false
	}
	*p = n
	return true
}

// number consumes a JSON number; it answers false for one with a fraction or an exponent.
func (r *Reader) number() bool {
	if r.I < len(r.S) && r.S[r.I] == '-' {
		r.I++
	}
	digits := r.I
	for r.I < len(r.S) && r.S[r.I] >= '0' && r.S[r.I] <= '9' {
		r.I++
	}
	if r.I == digits || (r.S[digits] == '0' && r.I > digits+1) {
		return false
	}
	return r.I == len(r.S) || (r.S[r.I] != '.' && r.S[r.I] != 'e' && r.S[r.I] != 'E')
}

// String reads a string into *p (null leaves it as it was).
func (r *Reader) String(p *string) bool {
	if r.Null() {
		return true
	}
	return r.Literal(`"`) && r.quoted(p)
}

// quoted reads the rest of a string whose opening quote was read. The closing quote and any
// backslash are looked for with IndexByte, which reads many bytes at a time.
func (r *Reader) quoted(p *string) bool {
	start := r.I
	end := strings.IndexByte(r.S[start:], '"')
	if end < 0 {
		return false
	}
	text := r.S[start : start+end]
	if esc := strings.IndexByte(text, '\\'); esc >= 0 {
		r.I = start + esc
		return r.escaped(p, start)
	}
	for i := 0; i < len(text); i++ {
		if text[i] < 0x20 {
			return false
		}
	}
	*p = text
	r.I = start + end + 1
	return true
}

// escaped finishes a string that holds an escape, from start (just after its opening quote).
func (r *Reader) escaped(p *string, start int) bool {
	var buf strings.Builder // its String is its bytes, not a copy of them
	buf.Grow(len(r.S) - start)
	buf.WriteString(r.S[start:r.I])
	for r.I < len(r.S) {
		c := r.S[r.I]
		switch {
		case c == '"':
			*p = buf.String()
			r.I++
			return true
		case c < 0x20:
			return false
		case c != '\\':
			buf.WriteByte(c)
			r.I++
			continue
		}
		if r.I+1 >= len(r.S) {
			return false
		}
		switch e := r.S[r.I+1]; e {
		case '"', '\\', '/':
			buf.WriteByte(e)
		case 'b':
			buf.WriteByte('\b')
		case 'f':
			buf.WriteByte('\f')
		case 'n':
			buf.WriteByte('\n')
		case 'r':
			buf.WriteByte('\r')
		case 't':
			buf.WriteByte('\t')
		case 'u':
			u, ok := hex4(r.S[r.I+2:])
			if !ok || (u >= 0xD800 && u < 0xE000) { // surrogates: left to encoding/json
				return false
			}
			buf.WriteRune(u)
			r.I += 6
			continue
		default:
			return false
		}
		r.I += 2
	}
	return false
}

// hex4 reads the four hex digits of a \u escape.
func hex4(s string) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var u rune
	for _, c := range []byte(s[:4]) {
		switch {
		case c >= '0' && c <= '9':
			u = u<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			u = u<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			u = u<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return u, true
}

// Raw reads any one value and returns its text as it stands (what encoding/json hands a
// json.RawMessage), checking that it is valid JSON. Numbers with a fraction or an exponent,
// and values nested deeper than maxDepth, are left to encoding/json.
func (r *Reader) Raw() (string, bool) {
	r.Space()
	start := r.I
	if !r.skip(0) {
		return "", false
	}
	return r.S[start:r.I], true
}

func (r *Reader) skip(depth int) bool {
	if depth > maxDepth {
		return false
	}
	r.Space()
	if r.I >= len(r.S) {
		return false
	}
	switch c := r.S[r.I]; {
	case c == '{':
		return r.Object(func(string) bool { return r.skip(depth + 1) })
	case c == '[':
		return r.Array(func() bool { return r.skip(depth + 1) })
	case c == '"':
		var s string
		r.I++
		return r.quoted(&s)
	case c == '-' || (c >= '0' && c <= '9'):
		return r.number()
	}
	return r.Literal("true") || r.Literal("false") || r.Null()
}

// ValidUTF8 reports whether s is valid UTF-8: encoding/json would replace anything else with
// U+FFFD, which a Reader does not.
func ValidUTF8(b []byte) bool { return utf8.Valid(b) }
