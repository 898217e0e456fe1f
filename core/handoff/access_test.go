package handoff_test

import (
	"testing"

	"handoff/core/handoff"
)

func TestAccessAllowsPrincipalExactlyOrByPattern(t *testing.T) {
	a := handoff.Access{Tenant: "acme", Principals: []string{
		"arn:aws:iam::111122223333:role/chatbot",
		"arn:aws:sts::111122223333:assumed-role/chatbot/*",
		"arn:aws:iam::444455556666:user/*-ops*",
	}}
	cases := map[string]bool{
		"arn:aws:iam::111122223333:role/chatbot":                    true,
		"arn:aws:sts::111122223333:assumed-role/chatbot/session-1":  true,
		"arn:aws:sts::111122223333:assumed-role/chatbot/":           true,
		"arn:aws:iam::444455556666:user/eu-ops":                     true,
		"arn:aws:iam::444455556666:user/eu-ops-2":                   true,
		"arn:aws:iam::111122223333:role/chatbot2":                   false,
		"arn:aws:iam::111122223333:role/chatbo":                     false,
		"arn:aws:sts::111122223333:assumed-role/chatbot-evil/s":     false,
		"arn:aws:sts::999999999999:assumed-role/chatbot/session-1":  false,
		"arn:aws:iam::444455556666:user/eu-dev":                     false,
		"ARN:AWS:IAM::111122223333:ROLE/CHATBOT":                    false,
		"":                                                          false,
		"arn:aws:sts::111122223333:assumed-role/chatbot/session-1 ": true, // * takes the space too
	}
	for caller, want := range cases {
		if got := a.AllowsPrincipal(caller); got != want {
			t.Errorf("AllowsPrincipal(%q) = %v, want %v", caller, got, want)
		}
	}
}

func TestAccessWithoutPrincipalsAllowsNobody(t *testing.T) {
	if (handoff.Access{Tenant: "acme"}).AllowsPrincipal("arn:aws:iam::1:root") {
		t.Error("an empty record allowed a caller")
	}
	if (handoff.Access{Tenant: "acme", Principals: []string{"*"}}).AllowsPrincipal("") {
		t.Error(`"*" allowed a request no authorizer saw`)
	}
}

func TestAccessAllowsSourceOnlyFromItsAccount(t *testing.T) {
	a := handoff.Access{Tenant: "acme", EventSources: []handoff.EventSource{{Source: "com.acme.chatbot", Account: "111122223333"}}}
	cases := []struct {
		source, account string
		want            bool
	}{
		{"com.acme.chatbot", "111122223333", true},
		{"com.acme.chatbot", "999999999999", false},
		{"com.evil.chatbot", "111122223333", false},
		{"com.acme.chatbot", "", false},
		{"", "111122223333", false},
	}
	for _, c := range cases {
		if got := a.AllowsSource(c.source, c.account); got != c.want {
			t.Errorf("AllowsSource(%q, %q) = %v, want %v", c.source, c.account, got, c.want)
		}
	}
}

func TestAccessValidate(t *testing.T) {
	good := handoff.Access{Tenant: "acme", Principals: []string{"arn:aws:iam::1:role/x"},
		EventSources: []handoff.EventSource{{Source: "s", Account: "1"}}}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, a := range map[string]handoff.Access{
		"no tenant":         {Principals: []string{"x"}},
		"blank principal":   {Tenant: "acme", Principals: []string{" "}},
		"source no account": {Tenant: "acme", EventSources: []handoff.EventSource{{Source: "s"}}},
	} {
		if handoff.ErrorCode(a.Validate()) != handoff.CodeInvalidRequest {
			t.Errorf("%s: Validate = %v, want INVALID_REQUEST", name, a.Validate())
		}
	}
}
