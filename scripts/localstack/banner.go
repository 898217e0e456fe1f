package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"handoff/core/vendors/sandboxes"
	"handoff/scripts/localstack/demo"
	"handoff/scripts/localstack/gateway"
	"handoff/scripts/localstack/stack"
)

// example is one request the banner offers, taken from a sample event in events/.
type example struct {
	title   string
	command string
}

// printBanner tells the user what runs where and what to try; escalationBus is the bus the
// template's escalation rule listens on, where the example escalation is put.
func printBanner(w io.Writer, s *stack.Stack, running *demo.Sandboxes, secrets []string, deadLetters, root, escalationBus string) {
	fmt.Fprintf(w, "\nHandoff runs at %s\n\n", s.URL)
	fmt.Fprintln(w, "Routes (from template.yaml):")
	for _, r := range s.Routes {
		auth := ""
		if r.Authorizer != "" && r.Authorizer != "NONE" {
			auth = "  (" + r.Authorizer + " when deployed; locally the caller is the local principal, or " + gateway.PrincipalHeader + ")"
		}
		fmt.Fprintf(w, "  %-28s → %s%s\n", r.Key, r.Function, auth)
	}
	fmt.Fprintf(w, "  %-28s   events published on the local EventBridge, with their deliveries\n", "GET|POST /_local/events")
	fmt.Fprintf(w, "\nThe local gateway skips IAM auth: requests need no SigV4 signature. It passes the caller\n"+
		"%s (or the one an %s header names) as API Gateway's IAM authorizer\n"+
		"would; each local tenant's access record allows it (docs/tenant-access.md).\n", gateway.LocalPrincipal, gateway.PrincipalHeader)
	fmt.Fprintln(w, "\nVendor sandboxes:")
	for _, vendor := range running.Vendors() {
		fmt.Fprintf(w, "  %-11s %s\n", vendor, running.URL(vendor))
	}
	fmt.Fprintf(w, "\nTenant secrets (local Secrets Manager): %s\nDead letters: %s\n\nTry:\n", strings.Join(secrets, ", "), deadLetters)
	for _, e := range examples(s.URL, root, escalationBus) {
		fmt.Fprintf(w, "\n  # %s\n  %s\n", e.title, e.command)
	}
	fmt.Fprintln(w, "\nCtrl-C stops everything.")
}

// examples builds one request per registered sandbox that titles one (its Example), from the
// sample event transfer-post-{vendor}.json of events/, so the banner and events/ never disagree; a
// sample that cannot be read is left out.
func examples(base, root, bus string) []example {
	// Availability first: once the LivePerson example below has transferred the chat, it has
	// left the bot's agent session and LivePerson no longer answers for it.
	out := []example{{"Who can take a LivePerson conversation now", fmt.Sprintf("curl -s '%s/availability?tenant=demo&vendor=liveperson&conversationId=H6201348217'", base)}}
	for _, vendor := range slices.Sorted(maps.Keys(sandboxes.All)) {
		title := sandboxes.All[vendor].Example
		var event struct {
			Body    string            `json:"body"`
			Headers map[string]string `json:"headers"`
		}
		if title == "" || readJSON(filepath.Join(root, "events", "transfer-post-"+vendor+".json"), &event) != nil {
			continue
		}
		out = append(out, example{title, fmt.Sprintf("curl -s %s/transfers -H 'Content-Type: application/json' -H 'Idempotency-Key: %s' -d %s",
			base, event.Headers["idempotency-key"], shellQuote(event.Body))})
	}
	var escalation struct {
		Source     string          `json:"source"`
		DetailType string          `json:"detail-type"`
		Detail     json.RawMessage `json:"detail"`
	}
	var detail bytes.Buffer
	if readJSON(filepath.Join(root, "events", "escalation-requested.json"), &escalation) == nil && json.Compact(&detail, escalation.Detail) == nil {
		entries, _ := json.Marshal(map[string]any{"Entries": []map[string]string{{"Source": escalation.Source, "DetailType": escalation.DetailType, "Detail": detail.String(), "EventBusName": bus}}})
		out = append(out, example{"An Escalation Requested event, as a bot would put it on EventBridge", fmt.Sprintf("curl -s %s/_local/events -d %s", base, shellQuote(string(entries)))})
	}
	out = append(out, example{"What was published (Transfer Succeeded / Transfer Failed included)", fmt.Sprintf("curl -s %s/_local/events", base)})
	return out
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
