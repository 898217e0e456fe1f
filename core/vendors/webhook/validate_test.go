package webhook_test

import (
	"testing"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/webhook"
)

func TestValidateRefusesASequenceID(t *testing.T) {
	a := webhook.New(vendors.Deps{})
	cases := map[string]struct {
		bot, field string
	}{
		"bare":                 {`{"vendor":"webhook"}`, ""},
		"session and message":  {`{"vendor":"webhook","sessionId":"s-1","escalationMessageId":"m-1"}`, ""},
		"sequence id":          {`{"vendor":"webhook","sequenceId":7}`, "bot.sequenceId"},
		"another vendor's bot": {`{"vendor":"salesforce","sessionId":"s-1","sequenceId":7}`, ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r, err := handoff.DecodeRequest([]byte(`{"tenant":"acme","vendor":"koreai","conversation":{"id":"c-1"},` +
				`"target":{"type":"queue","id":"q-1"},"bot":` + c.bot + `}`))
			if err != nil {
				t.Fatalf("DecodeRequest = %v, want a valid request", err)
			}
			err = vendors.Validate(a, r)
			if c.field == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if e := handoff.AsError(err); err == nil || e.Code != handoff.CodeInvalidRequest || e.Field != c.field {
				t.Fatalf("Validate = %v, want INVALID_REQUEST on %s", err, c.field)
			}
		})
	}
}
