package handoff_test

import (
	"strings"
	"testing"

	"handoff/core/handoff"
)

// TestDecodeRequestRefusesWhatReadersDisagreeOn: a body that different JSON readers read
// differently — a name given twice (encoding/json takes the last, others the first), or bytes
// that are not UTF-8 (encoding/json turns them into U+FFFD) — is INVALID_REQUEST, so what was
// validated is what every reader sees.
func TestDecodeRequestRefusesWhatReadersDisagreeOn(t *testing.T) {
	cases := map[string]struct {
		body  string
		field string
	}{
		"tenant twice":          {strings.Replace(valid, `"tenant": "acme"`, `"tenant": "acme", "tenant": "acme"`, 1), "tenant"},
		"nested name twice":     {strings.Replace(valid, `"type": "agent", "id"`, `"type": "agent", "type": "agent", "id"`, 1), "type"},
		"twice, once escaped":   {strings.Replace(valid, `"note"`, `"n\u006fte": "x", "note"`, 1), "note"},
		"metadata name twice":   {strings.Replace(valid, `"orderId": "A-17"`, `"orderId": "A-17", "orderId": "A-18"`, 1), "orderId"},
		"after a nested object": {strings.Replace(valid, `"note"`, `"conversation": {"id": "x"}, "note"`, 1), "conversation"},
		// encoding/json matches names regardless of case and takes the last: {"tenant":"acme",
		// "TENANT":"evil"} would be tenant evil to us and acme to a case-sensitive reader.
		"tenant in another case":      {strings.Replace(valid, `"tenant": "acme"`, `"tenant": "acme", "TENANT": "evil"`, 1), "TENANT"},
		"nested name in another case": {strings.Replace(valid, `"type": "agent", "id"`, `"type": "agent", "Type": "queue", "id"`, 1), "Type"},
		"case collision, escaped":     {strings.Replace(valid, `"note"`, `"N\u006fTE": "x", "note"`, 1), "note"},
		"metadata names by case":      {strings.Replace(valid, `"orderId": "A-17"`, `"orderId": "A-17", "ORDERID": "A-18"`, 1), "ORDERID"},
		// Go folds by Unicode simple folding: the Kelvin sign K is k to encoding/json.
		"Kelvin sign folds to k": {strings.Replace(valid, `"orderId": "A-17"`, `"k": 1, "\u212a": 2, "orderId": "A-17"`, 1), "\u212a"},
		"invalid UTF-8 in note":  {strings.Replace(valid, "refund", "r\xe9fund", 1), ""},
		"invalid UTF-8 in an id": {strings.Replace(valid, "0001", "00\xff1", 1), ""},
		"invalid UTF-8 in a key": {strings.Replace(valid, `"note"`, "\"n\xf6te\"", 1), ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := handoff.DecodeRequest([]byte(c.body))
			e := handoff.AsError(err)
			if err == nil || e.Code != handoff.CodeInvalidRequest || e.Field != c.field {
				t.Fatalf("err = %v (field %q), want INVALID_REQUEST naming %q", err, e.Field, c.field)
			}
		})
	}
}

// TestDecodeRequestTakesTheSameNameInDifferentObjects: "id" in conversation, target and each
// fallback, "type" in target and fallbacks, are different fields.
func TestDecodeRequestTakesTheSameNameInDifferentObjects(t *testing.T) {
	body := strings.Replace(valid, `"fallbacks": [`, `"fallbacks": [{"type": "queue", "id": "q-2"}, `, 1)
	if _, err := handoff.DecodeRequest([]byte(body)); err != nil {
		t.Fatal(err)
	}
	if _, err := handoff.DecodeRequest([]byte(`{"tenant":"a","vendor":"b","conversation":{"id":"1"},"target":{"type":"next"},` +
		`"metadata":{"tenant":"x","vendor":"y","a\"b":1,"a\\\"b2":2}}`)); err != nil {
		t.Fatal(err)
	}
}
