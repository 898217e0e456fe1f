package handoff

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// referenceDuplicate finds a name given twice in one object the slow, obvious way: encoding/json's
// own tokenizer, one set of names per open object.
func referenceDuplicate(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	type frame struct {
		names   []string
		wantKey bool
	}
	var stack []*frame // nil for arrays
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1] != nil {
			stack[n-1].wantKey = true
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if n := len(stack); n > 0 && stack[n-1] != nil && stack[n-1].wantKey {
			if name, ok := tok.(string); ok {
				for _, seen := range stack[n-1].names {
					if strings.EqualFold(seen, name) {
						return true
					}
				}
				stack[n-1].names, stack[n-1].wantKey = append(stack[n-1].names, name), false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{wantKey: true})
		case json.Delim('['):
			stack = append(stack, nil)
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone()
		default:
			valueDone()
		}
	}
}

// FuzzDuplicateName: on any valid JSON in UTF-8 (DecodeRequest refuses other bytes first), the
// byte scanner DecodeRequest uses agrees with the tokenizer about whether some object names a
// field twice.
func FuzzDuplicateName(f *testing.F) {
	for _, seed := range []string{
		`{"a":1,"a":2}`, `{"a":{"a":1}}`, `{"a":[{"b":1},{"b":2}],"b":3}`, `{"a\"":1,"a\\":2,"a\"":3}`,
		`{"\u0061":1,"a":2}`, `{"a" : 1, "b" :{"c":"\"a\":"}, "a" :3}`, `[{"x":1},{"x":1}]`, `{"":1,"":2}`,
		`{"k":"\\\\","k2":"\\"}`, `{"\ud83d\ude00":1,"😀":2}`, `"a"`, `{}`, `{"tenant":1,"TENANT":2}`, `{"k":1,"\u212a":2}`, `{"a":{"B":1,"b":2}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !json.Valid(body) || !utf8.Valid(body) {
			return
		}
		_, _, got := duplicateName(body)
		if want := referenceDuplicate(body); got != want {
			t.Fatalf("duplicateName = %v, the tokenizer says %v, for %q", got, want, body)
		}
	})
}

// TestDuplicateNameAllocatesNothing: the check costs the request path no allocation (only a name
// written with escapes, which no client needs, is decoded into a new string).
func TestDuplicateNameAllocatesNothing(t *testing.T) {
	body := []byte(`{"tenant":"acme","vendor":"koreai","conversation":{"id":"1"},"target":{"type":"agent","id":"a"},` +
		`"fallbacks":[{"type":"queue","id":"q"}],"bot":{"vendor":"webhook"},"metadata":{"orderId":"A-17"}}`)
	if n := testing.AllocsPerRun(100, func() { duplicateName(body) }); n != 0 {
		t.Errorf("duplicateName allocates %.0f times", n)
	}
}
