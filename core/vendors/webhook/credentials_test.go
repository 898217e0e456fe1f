package webhook_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/webhook"
	"handoff/core/vendors/webhook/webhooksandbox"
)

func TestCredentials(t *testing.T) {
	tests := []struct {
		name, url, secret string
		wantField         string // empty: valid
	}{
		{"whsec secret", "https://bot.example.com/acks?code=abc", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", ""},
		{"base64 without prefix", "https://bot.example.com/acks", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", ""},
		{"unpadded base64", "https://bot.example.com/acks", "whsec_aGFuZG9mZi1zYW5kYm94LWRlbW8tc2lnbmluZy1rZXk", ""},
		// A reference library base64-decodes every secret: a raw one would never verify.
		{"raw secret", "https://bot.example.com/acks", "a raw secret of at least 24 bytes", "signingSecret"},
		{"base64 too short", "https://bot.example.com/acks", "whsec_c2hvcnQ=", "signingSecret"},
		{"loopback http", "http://127.0.0.1:8080/acks", webhooksandbox.DemoSigningSecret, ""},
		{"no url", "", webhooksandbox.DemoSigningSecret, "url"},
		{"no secret", "https://bot.example.com/acks", "", "signingSecret"},
		{"http elsewhere", "http://bot.example.com/acks", webhooksandbox.DemoSigningSecret, "url"},
		{"user info", "https://user:pass@bot.example.com/acks", webhooksandbox.DemoSigningSecret, "url"},
		{"relative", "/acks", webhooksandbox.DemoSigningSecret, "url"},
		{"short secret", "https://bot.example.com/acks", "s3cr3t-but-short", "signingSecret"},
		{"whsec not base64", "https://bot.example.com/acks", "whsec_!!!!not base64 but quite long!!!!", "signingSecret"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw, _ := json.Marshal(map[string]string{"url": tc.url, "signingSecret": tc.secret})
			var c webhook.Credentials
			err := vendors.DecodeCredentials("acme/webhook", raw, &c)
			if tc.wantField == "" {
				if err != nil {
					t.Fatalf("DecodeCredentials: %v", err)
				}
				return
			}
			var e *handoff.Error
			if !errors.As(err, &e) || e.Code != handoff.CodeConfiguration || e.Field != tc.wantField {
				t.Fatalf("DecodeCredentials = %v, want CONFIGURATION on %s", err, tc.wantField)
			}
			for _, v := range []string{tc.secret, "pass", "bot.example.com"} {
				if v != "" && strings.Contains(err.Error(), v) {
					t.Errorf("the error quotes a value (%q): %v", v, err)
				}
			}
		})
	}
}
