package koreai_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/koreai"
	"handoff/core/vendors/koreai/koreaisandbox"
)

func TestCredentials(t *testing.T) {
	valid := map[string]string{}
	_ = json.Unmarshal(koreaisandbox.DemoSecret("https://platform.kore.ai/"), &valid)
	for _, tc := range []struct {
		name  string
		edit  func(map[string]string)
		field string // "" when valid
	}{
		{"valid", func(map[string]string) {}, ""},
		{"default base URL", func(m map[string]string) { delete(m, "baseUrl") }, ""},
		{"no streamId", func(m map[string]string) { delete(m, "streamId") }, "streamId"},
		{"no orgId", func(m map[string]string) { m["orgId"] = "" }, "orgId"},
		{"no accountId", func(m map[string]string) { delete(m, "accountId") }, "accountId"},
		{"no clientId", func(m map[string]string) { delete(m, "clientId") }, "clientId"},
		{"no clientSecret", func(m map[string]string) { delete(m, "clientSecret") }, "clientSecret"},
		{"no callbackSecret", func(m map[string]string) { delete(m, "callbackSecret") }, "callbackSecret"},
		{"short callbackSecret", func(m map[string]string) { m["callbackSecret"] = "short-secret" }, "callbackSecret"},
		{"http base URL", func(m map[string]string) { m["baseUrl"] = "http://platform.kore.ai" }, "baseUrl"},
		{"base URL with user", func(m map[string]string) { m["baseUrl"] = "https://user:pw@platform.kore.ai" }, "baseUrl"},
		{"loopback http", func(m map[string]string) { m["baseUrl"] = "http://127.0.0.1:4010" }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := map[string]string{}
			for k, v := range valid {
				m[k] = v
			}
			tc.edit(m)
			raw, _ := json.Marshal(m)
			var creds koreai.Credentials
			err := vendors.DecodeCredentials("acme/koreai", raw, &creds)
			if tc.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				if strings.HasSuffix(creds.BaseURL, "/") || creds.BaseURL == "" {
					t.Errorf("baseUrl = %q, want a default without a trailing slash", creds.BaseURL)
				}
				return
			}
			var e *handoff.Error
			if !errors.As(err, &e) || e.Code != handoff.CodeConfiguration || e.Field != tc.field {
				t.Fatalf("error = %v, want CONFIGURATION on %s", err, tc.field)
			}
			for _, v := range []string{m["clientSecret"], m["callbackSecret"], "pw"} {
				if v != "" && strings.Contains(err.Error(), v) {
					t.Errorf("error %q holds a secret value", err)
				}
			}
		})
	}
}
