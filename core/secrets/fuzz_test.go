package secrets_test

import (
	"bytes"
	"strings"
	"testing"

	"handoff/core/handoff"
	"handoff/core/vendors"
)

// FuzzDecodeCredentials feeds arbitrary secrets to vendors.DecodeCredentials, the step every
// adapter takes after Get: it must not panic, must fail only with CONFIGURATION, and must never
// quote the secret in its error.
func FuzzDecodeCredentials(f *testing.F) {
	for _, seed := range []string{
		`{"baseUrl":"http://127.0.0.1:1","clientId":"id","clientSecret":"` + marker + `","port":1}`,
		`{"baseUrl":"x","clientId":"id","clientSecret":{"v":"` + marker + `"}}`,
		`{"baseUrl":"x","clientId":"id","clientSecret":"s","port":"` + marker + `"}`,
		`{"baseUrl":"x","clientId":"id","clientSecret":"s","port":1e999}`,
		`{"baseUrl":"` + marker + `"`,
		`{"clientSecret":"` + marker + `"}`,
		`["` + marker + `"]`,
		`"` + marker + `"`,
		marker,
		` {"baseUrl":null} `,
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var creds testCreds
		err := vendors.DecodeCredentials("acme/koreai", raw, &creds)
		if err == nil {
			return
		}
		if handoff.ErrorCode(err) != handoff.CodeConfiguration {
			t.Fatalf("err = %v, want CONFIGURATION", err)
		}
		if bytes.Contains(raw, []byte(marker)) && strings.Contains(err.Error(), marker) {
			t.Fatalf("the error quotes the secret: %v", err)
		}
	})
}
