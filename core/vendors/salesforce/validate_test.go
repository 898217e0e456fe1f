package salesforce_test

import (
	"testing"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/salesforce"
)

// requestWithBot is a valid transfer request naming bot; DecodeRequest checks the form every
// bot shares, the adapter what a Salesforce bot needs on top.
func requestWithBot(t *testing.T, bot string) handoff.Request {
	t.Helper()
	r, err := handoff.DecodeRequest([]byte(`{"tenant":"acme","vendor":"koreai","conversation":{"id":"c-1"},` +
		`"target":{"type":"queue","id":"q-1"},"bot":` + bot + `}`))
	if err != nil {
		t.Fatalf("DecodeRequest(bot %s) = %v, want a valid request", bot, err)
	}
	return r
}

func TestValidateRequiresTheBotSession(t *testing.T) {
	a := salesforce.New(vendors.Deps{})
	cases := map[string]struct {
		bot, field string
	}{
		"session and message":                 {`{"vendor":"salesforce","sessionId":"s-1","escalationMessageId":"m-1"}`, ""},
		"channel sequence id":                 {`{"vendor":"salesforce","sessionId":"s-1","sequenceId":7}`, ""},
		"without session":                     {`{"vendor":"salesforce"}`, "bot.sessionId"},
		"without session, with a sequence id": {`{"vendor":"salesforce","sequenceId":7}`, "bot.sessionId"},
		"another vendor's bot":                {`{"vendor":"webhook"}`, ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			err := vendors.Validate(a, requestWithBot(t, c.bot))
			if c.field == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			e := handoff.AsError(err)
			if err == nil || e.Code != handoff.CodeInvalidRequest || e.Field != c.field {
				t.Fatalf("Validate = %v, want INVALID_REQUEST on %s", err, c.field)
			}
		})
	}
}
