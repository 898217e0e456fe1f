package demo_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"handoff/core/vendors/sandboxes"
	"handoff/scripts/localstack/demo"
)

// The default local secrets must be what each vendor's sandbox accepts: the sandboxes' own
// DemoSecret is the source of truth (the local stack seeds it for every registered sandbox),
// the file in infra/ the copy a user reads and edits, which may leave a vendor out but must
// not disagree.
func TestDefaultSecretsMatchTheSandboxes(t *testing.T) {
	urls := map[string]string{}
	want := map[string][]byte{}
	for vendor, spec := range sandboxes.All {
		url := "http://127.0.0.1:1/" + vendor
		urls[demo.Placeholder(vendor)] = url
		want[demo.DemoTenant+"/"+vendor] = spec.DemoSecret(url)
	}
	got, err := demo.Secrets("../../../infra/local-secrets.json", urls)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 {
		t.Fatal("infra/local-secrets.json holds no secret")
	}
	for key, g := range got {
		w, ok := want[key]
		if !ok {
			t.Errorf("%s in infra/local-secrets.json is no registered sandbox's demo secret", key)
			continue
		}
		var a, b any
		if err := json.Unmarshal(g, &a); err != nil {
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
