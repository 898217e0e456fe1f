package template_test

import (
	"reflect"
	"testing"
	"time"

	"handoff/scripts/localstack/template"
)

// TestProjectTemplate reads Handoff's own template.yaml: what the local stack will serve.
func TestProjectTemplate(t *testing.T) {
	tmpl, err := template.Load("../../../template.yaml", template.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var routes, dirs []string
	var rules, streams int
	for _, f := range tmpl.Functions {
		dirs = append(dirs, f.SourceDir)
		for _, r := range f.Routes {
			routes = append(routes, r.Key()+" → "+f.Name+" ("+r.Authorizer+")")
		}
		rules += len(f.Rules)
		streams += len(f.Streams)
		memory := map[string]int{"transfer": 512, "skill-check": 512, "callback-receiver": 256, "bot-ack": 128}
		if f.Environment["TABLE_NAME"] != "Table" || f.Handler != "bootstrap" || f.MemorySize != memory[f.Name] {
			t.Errorf("%s: %+v", f.LogicalID, f)
		}
	}
	wantDirs := []string{"functions/bot-ack", "functions/callback-receiver", "functions/skill-check", "functions/transfer"}
	if !reflect.DeepEqual(dirs, wantDirs) {
		t.Errorf("source dirs = %v", dirs)
	}
	wantRoutes := []string{
		"POST /callbacks/{vendor} → callback-receiver (NONE)",
		"POST /callbacks/{vendor}/{token} → callback-receiver (NONE)",
		"GET /availability → skill-check (AWS_IAM)",
		"DELETE /transfers/{id} → transfer (AWS_IAM)",
		"POST /transfers → transfer (AWS_IAM)",
		"GET /transfers/{id} → transfer (AWS_IAM)",
	}
	if !reflect.DeepEqual(routes, wantRoutes) {
		t.Errorf("routes = %q", routes)
	}
	if rules != 1 || streams != 1 || len(tmpl.Tables) != 1 || len(tmpl.Warnings) != 0 {
		t.Errorf("%d rules, %d streams, tables %+v, warnings %q", rules, streams, tmpl.Tables, tmpl.Warnings)
	}
	transfer := tmpl.Functions[3]
	if transfer.Timeout != 25*time.Second || transfer.AsyncMaxEventAge != time.Hour || transfer.FunctionName != "handoff-local-transfer" {
		t.Errorf("transfer = %+v", transfer)
	}
	if want := []template.Schedule{{Event: "SweepAwaiting", Every: time.Minute}}; !reflect.DeepEqual(transfer.Schedules, want) {
		t.Errorf("transfer schedules = %+v, want the sweep every minute", transfer.Schedules)
	}
	if idx := tmpl.Tables[0].Indexes; len(idx) != 2 || idx[0].Name != "awaiting" || len(idx[0].Keys) != 2 ||
		idx[1].Name != "ref" || idx[1].Projection != "KEYS_ONLY" {
		t.Errorf("table indexes = %+v, want the awaiting and ref indexes", idx)
	}
	if want := []template.Schedule{{Event: "ResendPendingAcks", Every: 5 * time.Minute}}; !reflect.DeepEqual(tmpl.Functions[0].Schedules, want) {
		t.Errorf("bot-ack schedules = %+v, want the ack re-send scan", tmpl.Functions[0].Schedules)
	}
}
