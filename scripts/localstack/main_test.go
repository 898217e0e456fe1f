package main

import (
	"context"
	"io"
	"strings"
	"testing"

	"handoff/core/motoserver"
)

func TestReadSettings(t *testing.T) {
	env := func(vars map[string]string) func(string) string {
		return func(name string) string { return vars[name] }
	}
	s, err := readSettings(env(nil))
	if err != nil || s.port != 3000 || s.secretsFile != "infra/local-secrets.json" {
		t.Errorf("defaults = %+v, %v", s, err)
	}
	s, err = readSettings(env(map[string]string{"PORT": "8080", "HANDOFF_LOCAL_SECRETS": "/tmp/mine.json"}))
	if err != nil || s.port != 8080 || s.secretsFile != "/tmp/mine.json" {
		t.Errorf("settings = %+v, %v", s, err)
	}
	for _, bad := range []string{"http", "0", "70000", "-1"} {
		if _, err := readSettings(env(map[string]string{"PORT": bad})); err == nil || !strings.Contains(err.Error(), "PORT") {
			t.Errorf("PORT=%s: error %v", bad, err)
		}
	}
	s, err = readSettings(env(map[string]string{"HANDOFF_LOCAL_VENDOR_RATES": "koreai=600/m"}))
	if err != nil || s.vendorRates != "koreai=600/m" || vendorRates(s.vendorRates)["VendorRates"] != "koreai=600/m" {
		t.Errorf("vendor rates = %+v, %v", s, err)
	}
	if _, err := readSettings(env(map[string]string{"HANDOFF_LOCAL_VENDOR_RATES": "koreai=fast"})); err == nil ||
		!strings.Contains(err.Error(), "HANDOFF_LOCAL_VENDOR_RATES") {
		t.Errorf("a malformed rate: error %v", err)
	}
	if vendorRates("") != nil {
		t.Error("no rates set the template's parameter")
	}
}

func TestExamplesComeFromTheSampleEvents(t *testing.T) {
	got := examples("http://127.0.0.1:3000", "../..", "handoff-local")
	var commands []string
	for _, e := range got {
		commands = append(commands, e.command)
	}
	all := strings.Join(commands, "\n")
	for _, want := range []string{`"vendor":"bitrix24"`, `"vendor":"liveperson"`, `"vendor":"koreai"`, `"vendor":"salesforce"`, `"DetailType":"Escalation Requested"`, "Idempotency-Key: demo-koreai-", "/availability?tenant=demo"} {
		if !strings.Contains(all, want) {
			t.Errorf("no example holds %s:\n%s", want, all)
		}
	}
	if len(got) != 6 {
		t.Errorf("%d examples, want 6", len(got))
	}
}

func TestShellQuote(t *testing.T) {
	if got := shellQuote(`{"note":"it's"}`); got != `'{"note":"it'\''s"}'` {
		t.Errorf("shellQuote = %s", got)
	}
}

func TestMainStopsAtOnceWithoutMoto(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	err := Main(context.Background(), func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || err.Error() != motoserver.Missing {
		t.Errorf("Main = %v, want %q", err, motoserver.Missing)
	}
}
