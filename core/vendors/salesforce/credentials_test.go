package salesforce_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/salesforce"
	"handoff/core/vendors/salesforce/salesforcesandbox"
)

func TestCredentials(t *testing.T) {
	tests := []struct {
		name      string
		edit      func(map[string]any)
		wantField string // empty: valid
	}{
		{"demo secret", nil, ""},
		{"apiVersion defaults", func(m map[string]any) { delete(m, "apiVersion") }, ""},
		{"key with literal \\n", func(m map[string]any) {
			m["privateKey"] = strings.ReplaceAll(salesforcesandbox.DemoPrivateKeyPEM, "\n", `\n`)
		}, ""},
		{"runtimeUrl missing", func(m map[string]any) { delete(m, "runtimeUrl") }, "runtimeUrl"},
		{"orgId missing", func(m map[string]any) { delete(m, "orgId") }, "orgId"},
		{"botId missing", func(m map[string]any) { delete(m, "botId") }, "botId"},
		{"forceConfigEndpoint missing", func(m map[string]any) { delete(m, "forceConfigEndpoint") }, "forceConfigEndpoint"},
		{"loginUrl missing", func(m map[string]any) { delete(m, "loginUrl") }, "loginUrl"},
		{"clientId missing", func(m map[string]any) { delete(m, "clientId") }, "clientId"},
		{"username missing", func(m map[string]any) { delete(m, "username") }, "username"},
		{"privateKey missing", func(m map[string]any) { delete(m, "privateKey") }, "privateKey"},
		{"runtimeUrl over http", func(m map[string]any) { m["runtimeUrl"] = "http://runtime-api-na-west.prod.chatbots.sfdc.sh" }, "runtimeUrl"},
		{"loginUrl over http", func(m map[string]any) { m["loginUrl"] = "http://login.salesforce.com" }, "loginUrl"},
		{"v4 is not spoken", func(m map[string]any) { m["apiVersion"] = "v4.0.0" }, "apiVersion"},
		{"apiVersion with a path", func(m map[string]any) { m["apiVersion"] = "v5.3.0/../x" }, "apiVersion"},
		{"not a key", func(m map[string]any) {
			m["privateKey"] = "-----BEGIN PRIVATE KEY-----\nbm9wZQ==\n-----END PRIVATE KEY-----\n"
		}, "privateKey"},
		{"endSessionOnSuccess not a bool", func(m map[string]any) { m["endSessionOnSuccess"] = "yes" }, "endSessionOnSuccess"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var m map[string]any
			_ = json.Unmarshal(salesforcesandbox.DemoSecret("https://runtime-api-na-west.prod.chatbots.sfdc.sh"), &m)
			if tc.edit != nil {
				tc.edit(m)
			}
			raw, _ := json.Marshal(m)
			var c salesforce.Credentials
			err := vendors.DecodeCredentials("acme/salesforce", raw, &c)
			if tc.wantField == "" {
				if err != nil {
					t.Fatalf("DecodeCredentials: %v", err)
				}
				if c.APIVersion != salesforce.DefaultAPIVersion || !c.EndSession() {
					t.Errorf("defaults: apiVersion %q, EndSession %v", c.APIVersion, c.EndSession())
				}
				return
			}
			var e *handoff.Error
			if !errors.As(err, &e) || e.Code != handoff.CodeConfiguration || e.Field != tc.wantField {
				t.Fatalf("DecodeCredentials = %v, want CONFIGURATION on %s", err, tc.wantField)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") || strings.Contains(err.Error(), "bm9wZQ") {
				t.Errorf("the error quotes the key: %v", err)
			}
		})
	}
}

func TestCredentialsDoNotPrintTheKey(t *testing.T) {
	var c salesforce.Credentials
	if err := vendors.DecodeCredentials("acme/salesforce", salesforcesandbox.DemoSecret("http://127.0.0.1:1"), &c); err != nil {
		t.Fatal(err)
	}
	if s := c.String(); strings.Contains(s, "PRIVATE KEY") {
		t.Errorf("String() = %q", s)
	}
}
