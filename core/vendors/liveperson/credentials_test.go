package liveperson_test

import (
	"strings"
	"testing"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/liveperson"
)

func TestCredentials(t *testing.T) {
	const base = `"accountId":"123456","baseUrl":"https://va.agentvep.liveperson.net/","username":"bot"`
	const appKey = `"appKey":"k-secret-1","secret":"s-secret-1","accessToken":"t-secret-1","accessTokenSecret":"ts-secret-1"`
	cases := []struct {
		name, secret, field string // field "" = valid
	}{
		{"password", `{` + base + `,"password":"pw-secret-1"}`, ""},
		{"application login", `{` + base + `,` + appKey + `}`, ""},
		{"no login method", `{` + base + `}`, "password"},
		{"both methods", `{` + base + `,"password":"pw-secret-1",` + appKey + `}`, "password"},
		{"partial app key", `{` + base + `,"appKey":"k-secret-1","secret":"s-secret-1","accessToken":"t-secret-1"}`, "accessTokenSecret"},
		{"no account", `{"baseUrl":"https://va.agentvep.liveperson.net","username":"bot","password":"pw-secret-1"}`, "accountId"},
		{"no username", `{"accountId":"1","baseUrl":"https://va.agentvep.liveperson.net","password":"pw-secret-1"}`, "username"},
		{"plain http", `{"accountId":"1","baseUrl":"http://va.agentvep.liveperson.net","username":"bot","password":"pw-secret-1"}`, "baseUrl"},
		{"no scheme", `{"accountId":"1","baseUrl":"va.agentvep.liveperson.net","username":"bot","password":"pw-secret-1"}`, "baseUrl"},
		{"query", `{"accountId":"1","baseUrl":"https://va.agentvep.liveperson.net?x=1","username":"bot","password":"pw-secret-1"}`, "baseUrl"},
		{"loopback http", `{"accountId":"1","baseUrl":"http://127.0.0.1:8080","username":"bot","password":"pw-secret-1"}`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var creds liveperson.Credentials
			err := vendors.DecodeCredentials("acme/liveperson", []byte(c.secret), &creds)
			if c.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				if strings.HasSuffix(creds.BaseURL, "/") {
					t.Errorf("baseUrl %q keeps its trailing slash", creds.BaseURL)
				}
				return
			}
			e := wantCode(t, err, handoff.CodeConfiguration, "")
			if e.Field != c.field {
				t.Errorf("field = %q (%v), want %q", e.Field, err, c.field)
			}
			if strings.Contains(err.Error(), "-secret-1") {
				t.Errorf("a credential reached the error: %v", err)
			}
		})
	}
}
