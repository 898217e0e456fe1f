package demo_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"handoff/core/vendors/bitrix24/bitrix24sandbox"
	"handoff/core/vendors/koreai/koreaisandbox"
	"handoff/core/vendors/liveperson/livepersonsandbox"
	"handoff/core/vendors/salesforce/salesforcesandbox"
	"handoff/core/vendors/webhook/webhooksandbox"
	"handoff/scripts/localstack/demo"
)

// The default local secrets must be what each vendor's sandbox accepts: the sandboxes' own
// DemoSecret is the source of truth, the file in infra/ the copy a user reads and edits.
func TestDefaultSecretsMatchTheSandboxes(t *testing.T) {
	urls := map[string]string{
		"SANDBOX_BITRIX24": "http://127.0.0.1:1", "SANDBOX_LIVEPERSON": "http://127.0.0.1:2",
		"SANDBOX_KOREAI": "http://127.0.0.1:3", "SANDBOX_SALESFORCE": "http://127.0.0.1:4",
		"SANDBOX_WEBHOOK": "http://127.0.0.1:5",
	}
	got, err := demo.Secrets("../../../infra/local-secrets.json", urls)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{
		"demo/bitrix24":   bitrix24sandbox.DemoSecret(urls["SANDBOX_BITRIX24"]),
		"demo/liveperson": livepersonsandbox.DemoSecret(urls["SANDBOX_LIVEPERSON"]),
		"demo/koreai":     koreaisandbox.DemoSecret(urls["SANDBOX_KOREAI"]),
		"demo/salesforce": salesforcesandbox.DemoSecret(urls["SANDBOX_SALESFORCE"]),
		"demo/webhook":    webhooksandbox.DemoSecret(urls["SANDBOX_WEBHOOK"]),
	}
	if len(got) != len(want) {
		t.Errorf("file holds %d secrets, want %d", len(got), len(want))
	}
	for key, w := range want {
		var a, b any
		if err := json.Unmarshal(got[key], &a); err != nil {
			t.Errorf("%s: %v", key, err)
			continue
		}
		_ = json.Unmarshal(w, &b)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s in infra/local-secrets.json differs from the sandbox's DemoSecret", key)
		}
	}
}

func TestParseSecretsRefusesWhatItCannotSeed(t *testing.T) {
	cases := map[string]string{
		"not an object":       `[]`,
		"key without vendor":  `{"demo": {}}`,
		"value not an object": `{"demo/koreai": "x"}`,
		"unknown placeholder": `{"demo/koreai": {"baseUrl": "${SANDBOX_NOPE}"}}`,
	}
	for name, data := range cases {
		if _, err := demo.ParseSecrets([]byte(data), map[string]string{"SANDBOX_KOREAI": "http://x"}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
