package handoff_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"handoff/core/handoff"
)

const valid = `{
  "tenant": "acme", "vendor": "koreai",
  "conversation": { "id": "653a06c9aae89c5fbb4e0001" },
  "target": { "type": "agent", "id": "a-220172c-856e-4db6-a2d1-d4c2dabe0001" },
  "fallbacks": [ { "type": "queue", "id": "qu-b5d3bb4-a1ac-4caa-9be6-55a5abc30001" } ],
  "note": "Customer asks about a refund.",
  "options": { "leave": false },
  "bot": { "vendor": "salesforce", "sessionId": "s-1", "escalationMessageId": "m-1" },
  "metadata": { "orderId": "A-17" }
}`

func TestDecodeRequestAcceptsTheDesignExample(t *testing.T) {
	r, err := handoff.DecodeRequest([]byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	if r.Tenant != "acme" || len(r.Targets()) != 2 || r.Bot.SessionID != "s-1" {
		t.Fatalf("decoded %+v", r)
	}
}

func TestDecodeRequestKeepsTheChannelsSequenceID(t *testing.T) {
	r, err := handoff.DecodeRequest(with(t, "bot", map[string]any{"vendor": "salesforce", "sessionId": "s-1", "sequenceId": 7}))
	if err != nil {
		t.Fatal(err)
	}
	if r.Bot.SequenceID != 7 {
		t.Fatalf("bot.sequenceId = %d, want 7", r.Bot.SequenceID)
	}
}

// conversation.agentSessionId (LivePerson's agent session holding the chat) is optional, and left
// out of the JSON when empty, so requests without it keep their fingerprint.
func TestAgentSessionIDIsOptional(t *testing.T) {
	r, err := handoff.DecodeRequest(with(t, "conversation", map[string]string{"id": "H1", "agentSessionId": "1027882276"}))
	if err != nil || r.Conversation.AgentSessionID != "1027882276" {
		t.Fatalf("decoded %+v, %v", r.Conversation, err)
	}
	plain, err := handoff.DecodeRequest([]byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(plain.Conversation); string(b) != `{"id":"653a06c9aae89c5fbb4e0001"}` {
		t.Errorf("conversation without an agent session marshals as %s", b)
	}
}

// with returns the valid example with one top-level field replaced (or removed when v is nil).
func with(t *testing.T, field string, v any) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(valid), &m); err != nil {
		t.Fatal(err)
	}
	if v == nil {
		delete(m, field)
	} else {
		m[field] = v
	}
	b, _ := json.Marshal(m)
	return b
}

func TestDecodeRequestRefusesBadInputNamingTheField(t *testing.T) {
	long := strings.Repeat("x", handoff.MaxIDChars+1)
	cases := []struct {
		name, field string
		body        []byte
		code        handoff.Code
	}{
		{"not json", "", []byte(`{"tenant":`), handoff.CodeInvalidRequest},
		{"array", "", []byte(`[1]`), handoff.CodeInvalidRequest},
		{"trailing data", "", []byte(valid + `{}`), handoff.CodeInvalidRequest},
		{"unknown field", "tenantt", with(t, "tenantt", "x"), handoff.CodeInvalidRequest},
		{"wrong type", "tenant", with(t, "tenant", 7), handoff.CodeInvalidRequest},
		{"missing tenant", "tenant", with(t, "tenant", nil), handoff.CodeInvalidRequest},
		{"tenant with slash", "tenant", with(t, "tenant", "a/b"), handoff.CodeInvalidRequest},
		{"missing conversation", "conversation.id", with(t, "conversation", nil), handoff.CodeInvalidRequest},
		{"path traversal id", "conversation.id", with(t, "conversation", map[string]string{"id": "../etc"}), handoff.CodeInvalidRequest},
		{"dot segment id", "conversation.id", with(t, "conversation", map[string]string{"id": ".."}), handoff.CodeInvalidRequest},
		{"agent session with a path", "conversation.agentSessionId", with(t, "conversation", map[string]string{"id": "H1", "agentSessionId": "../s"}), handoff.CodeInvalidRequest},
		{"control char id", "target.id", with(t, "target", map[string]string{"type": "agent", "id": "a\x00b"}), handoff.CodeInvalidRequest},
		{"bidi override id", "target.id", with(t, "target", map[string]string{"type": "agent", "id": "a\u202eb"}), handoff.CodeInvalidRequest},
		{"long id", "target.id", with(t, "target", map[string]string{"type": "agent", "id": long}), handoff.CodeInvalidRequest},
		{"unknown target type", "target.type", with(t, "target", map[string]string{"type": "robot", "id": "1"}), handoff.CodeInvalidRequest},
		{"next with id", "target.id", with(t, "target", map[string]string{"type": "next", "id": "1"}), handoff.CodeInvalidRequest},
		{"bad fallback", "fallbacks[0].id", with(t, "fallbacks", []map[string]string{{"type": "queue"}}), handoff.CodeInvalidRequest},
		{"long note", "note", with(t, "note", strings.Repeat("é", handoff.MaxNoteChars+1)), handoff.CodeInvalidRequest},
		{"nested metadata", "metadata.a", with(t, "metadata", map[string]any{"a": map[string]int{"b": 1}}), handoff.CodeInvalidRequest},
		{"large metadata", "metadata", with(t, "metadata", map[string]string{"a": strings.Repeat("x", handoff.MaxMetadataBytes)}), handoff.CodeInvalidRequest},
		// Whether a bot vendor exists, and what it requires beyond these forms, is its adapter's
		// to say (the transfer service asks it before any write; see the adapters' tests).
		{"bot without vendor", "bot.vendor", with(t, "bot", map[string]string{"sessionId": "s-1"}), handoff.CodeInvalidRequest},
		{"bot vendor not a key", "bot.vendor", with(t, "bot", map[string]string{"vendor": "Sales Force"}), handoff.CodeInvalidRequest},
		{"bot session with a path", "bot.sessionId", with(t, "bot", map[string]string{"vendor": "somebot", "sessionId": "../s"}), handoff.CodeInvalidRequest},
		{"bot message id with a space", "bot.escalationMessageId", with(t, "bot", map[string]string{"vendor": "somebot", "escalationMessageId": "m 1"}), handoff.CodeInvalidRequest},
		{"negative sequenceId", "bot.sequenceId", with(t, "bot", map[string]any{"vendor": "somebot", "sessionId": "s-1", "sequenceId": -1}), handoff.CodeInvalidRequest},
		{"fractional sequenceId", "bot.sequenceId", with(t, "bot", map[string]any{"vendor": "somebot", "sessionId": "s-1", "sequenceId": 7.5}), handoff.CodeInvalidRequest},
		{"key with space", "idempotencyKey", with(t, "idempotencyKey", "a b"), handoff.CodeInvalidRequest},
		{"too large", "", with(t, "note", strings.Repeat("x", handoff.MaxBodyBytes)), handoff.CodeTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := handoff.DecodeRequest(c.body)
			var e *handoff.Error
			if !errors.As(err, &e) || e.Code != c.code {
				t.Fatalf("err = %v, want %s", err, c.code)
			}
			if e.Field != c.field {
				t.Errorf("field = %q, want %q (%v)", e.Field, c.field, err)
			}
		})
	}
}

func TestFingerprintIgnoresTheKeyAndWhiteSpace(t *testing.T) {
	a, _ := handoff.DecodeRequest([]byte(valid))
	b, _ := handoff.DecodeRequest(with(t, "idempotencyKey", "k-1"))
	if a.Fingerprint() != b.Fingerprint() {
		t.Error("the idempotency key changed the fingerprint")
	}
	c, _ := handoff.DecodeRequest(with(t, "note", "other"))
	if a.Fingerprint() == c.Fingerprint() {
		t.Error("another note gave the same fingerprint")
	}
}

func TestStatusOnlyMovesForward(t *testing.T) {
	all := []handoff.Status{handoff.StatusPending, handoff.StatusTransferred, handoff.StatusFailed}
	for _, from := range all {
		for _, to := range all {
			want := from == handoff.StatusPending && to != handoff.StatusPending
			if got := from.CanMoveTo(to); got != want {
				t.Errorf("%s → %s: %v, want %v", from, to, got, want)
			}
		}
	}
}

// FuzzDecodeRequest feeds arbitrary bodies to the decoder: it must never panic, and whatever it
// accepts must be valid and within the limits.
func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(valid))
	f.Add([]byte(`{"tenant":"a","vendor":"b","conversation":{"id":"1"},"target":{"type":"next"}}`))
	f.Add([]byte(`{"metadata":{"a":[1]}}`))
	f.Add([]byte(strings.Repeat("[", 10000)))
	seeds, _ := filepath.Glob("../../events/*.json")
	for _, p := range seeds {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := handoff.DecodeRequest(body)
		if err != nil {
			if handoff.ErrorCode(err) == handoff.CodeInternal {
				t.Fatalf("decode error without a code: %v", err)
			}
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("accepted a request that does not validate: %v", err)
		}
		if utf8.RuneCountInString(r.Note) > handoff.MaxNoteChars || len(r.Metadata) > handoff.MaxMetadataBytes {
			t.Fatal("accepted a request over the limits")
		}
		_ = r.Fingerprint()
	})
}
