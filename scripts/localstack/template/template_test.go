package template_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"handoff/scripts/localstack/template"
)

func load(t *testing.T, opts template.Options) *template.Template {
	t.Helper()
	tmpl, err := template.Load("testdata/template.yaml", opts)
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

func function(t *testing.T, tmpl *template.Template, logicalID string) template.Function {
	t.Helper()
	for _, f := range tmpl.Functions {
		if f.LogicalID == logicalID {
			return f
		}
	}
	t.Fatalf("no function %s in %d functions", logicalID, len(tmpl.Functions))
	return template.Function{}
}

func TestFunctions(t *testing.T) {
	tmpl := load(t, template.Options{})
	if tmpl.Dir != "testdata" {
		t.Errorf("Dir = %q", tmpl.Dir)
	}
	var names []string
	for _, f := range tmpl.Functions {
		names = append(names, f.Name+"="+f.SourceDir)
	}
	want := []string{"bot-ack=functions/bot-ack", "callback-receiver=functions/callback-receiver", "skill-check=functions/availability", "transfer=functions/transfer"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("functions = %v, want %v (ProdOnlyFunction's condition is false)", names, want)
	}

	transfer := function(t, tmpl, "TransferFunction")
	if transfer.Handler != "bootstrap" || transfer.Runtime != "provided.al2023" || !reflect.DeepEqual(transfer.Architectures, []string{"arm64"}) {
		t.Errorf("globals not applied: %+v", transfer)
	}
	if transfer.Timeout != 30*time.Second || transfer.MemorySize != 128 || transfer.AsyncRetryAttempts != 2 || transfer.AsyncMaxEventAge != 6*time.Hour {
		t.Errorf("Timeout %v, MemorySize %d, AsyncRetryAttempts %d, AsyncMaxEventAge %v", transfer.Timeout, transfer.MemorySize, transfer.AsyncRetryAttempts, transfer.AsyncMaxEventAge)
	}
	if transfer.FunctionName != "handoff-local-transfer" {
		t.Errorf("FunctionName = %q", transfer.FunctionName)
	}
	if got := function(t, tmpl, "BotAckFunction").FunctionName; got != "BotAckFunction" {
		t.Errorf("FunctionName without the property = %q, want the logical ID", got)
	}
	if got := function(t, tmpl, "CallbackReceiverFunction").Timeout; got != 10*time.Second {
		t.Errorf("global Timeout = %v, want 10s", got)
	}
}

func TestEnvironment(t *testing.T) {
	env := function(t, load(t, template.Options{}), "TransferFunction").Environment
	want := map[string]string{
		"TABLE_NAME":      "handoff-local-sessions",
		"SECRET_PREFIX":   "handoff/",
		"LOG_LEVEL":       "debug", // the function's own value wins over Globals
		"EVENT_BUS_NAME":  "default",
		"IDEMPOTENCY_TTL": "24h",
		"REGION_NOTE":     "us-east-1/handoff-local",
	}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("env = %v, want %v (CALLBACK_BASE_URL is AWS::NoValue)", env, want)
	}
}

func TestWithParametersReadsTheTemplateAgain(t *testing.T) {
	tmpl := load(t, template.Options{StackName: "mine"})
	again, err := tmpl.WithParameters(map[string]string{"CallbackBaseUrl": "http://127.0.0.1:3000"})
	if err != nil {
		t.Fatal(err)
	}
	f := function(t, again, "SkillCheckFunction")
	if f.Environment["CALLBACK_BASE_URL"] != "http://127.0.0.1:3000" || f.Environment["TABLE_NAME"] != "mine-sessions" {
		t.Errorf("env = %v: want the new parameter and the first options both", f.Environment)
	}
	if again.Dir != tmpl.Dir {
		t.Errorf("Dir = %q, want %q", again.Dir, tmpl.Dir)
	}
	if _, ok := function(t, tmpl, "SkillCheckFunction").Environment["CALLBACK_BASE_URL"]; ok {
		t.Error("WithParameters changed the template it was called on")
	}
	if _, err := tmpl.WithParameters(map[string]string{"Nope": "x"}); err == nil {
		t.Error("an override of an unknown parameter was accepted")
	}
}

func TestOptionsOverrideParametersAndPseudoParameters(t *testing.T) {
	tmpl := load(t, template.Options{
		Parameters: map[string]string{"CallbackBaseUrl": "http://127.0.0.1:3000", "Stage": "prod"},
		Region:     "eu-west-1",
		StackName:  "mine",
	})
	f := function(t, tmpl, "SkillCheckFunction")
	if f.Environment["CALLBACK_BASE_URL"] != "http://127.0.0.1:3000" || f.Environment["TABLE_NAME"] != "mine-sessions" {
		t.Errorf("env = %v", f.Environment)
	}
	if f.Environment["REGION_NOTE"] != "eu-west-1/mine" || f.MemorySize != 256 {
		t.Errorf("REGION_NOTE %q, MemorySize %d", f.Environment["REGION_NOTE"], f.MemorySize)
	}
	if len(tmpl.Functions) != 5 {
		t.Errorf("%d functions, want ProdOnlyFunction too", len(tmpl.Functions))
	}
	if _, err := template.Load("testdata/template.yaml", template.Options{Parameters: map[string]string{"Nope": "x"}}); err == nil {
		t.Error("an override of an unknown parameter was accepted")
	}
}

func TestRoutes(t *testing.T) {
	tmpl := load(t, template.Options{})
	var got []string
	for _, f := range tmpl.Functions {
		for _, r := range f.Routes {
			got = append(got, f.Name+" "+r.Key()+" "+r.Authorizer)
		}
	}
	want := []string{
		"callback-receiver POST /callbacks/{vendor} NONE",
		"skill-check GET /availability AWS_IAM",
		"transfer POST /transfers AWS_IAM",
		"transfer GET /transfers/{id} AWS_IAM",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("routes =\n%v\nwant\n%v", got, want)
	}
}

func TestRules(t *testing.T) {
	rules := function(t, load(t, template.Options{}), "TransferFunction").Rules
	if len(rules) != 1 {
		t.Fatalf("rules = %+v", rules)
	}
	r := rules[0]
	if r.EventBusName != "default" || r.MaxRetryAttempts != 4 || r.MaxEventAge != time.Hour {
		t.Errorf("rule = %+v", r)
	}
	if string(r.Pattern) != `{"detail-type":["Escalation Requested"]}` {
		t.Errorf("pattern = %s", r.Pattern)
	}
	if r.DeadLetter != "arn:aws:sqs:us-east-1:123456789012:EscalationDeadLetterQueue" {
		t.Errorf("dead letter = %q", r.DeadLetter)
	}
}

func TestStreams(t *testing.T) {
	streams := function(t, load(t, template.Options{}), "BotAckFunction").Streams
	if len(streams) != 1 {
		t.Fatalf("streams = %+v", streams)
	}
	s := streams[0]
	if s.Table != "handoff-local-sessions" || s.StartingPosition != "LATEST" || s.BatchSize != 10 {
		t.Errorf("stream = %+v", s)
	}
	if !s.ReportBatchItemFailures || !s.BisectBatchOnFunctionError || s.MaxRetryAttempts != 5 || s.MaxRecordAge != time.Hour {
		t.Errorf("stream = %+v", s)
	}
	if len(s.Filters) != 2 || !json.Valid(s.Filters[0]) || !strings.Contains(string(s.Filters[1]), `"MODIFY"`) {
		t.Errorf("filters = %s", s.Filters)
	}
	if !strings.HasSuffix(s.OnFailure, ":AckDeadLetterQueue") {
		t.Errorf("OnFailure = %q", s.OnFailure)
	}
}

func TestTables(t *testing.T) {
	tables := load(t, template.Options{}).Tables
	want := []template.Table{{
		LogicalID:      "SessionTable",
		Name:           "handoff-local-sessions",
		Attributes:     []template.Attribute{{Name: "pk", Type: "S"}, {Name: "sk", Type: "S"}},
		Keys:           []template.KeyPart{{Name: "pk", KeyType: "HASH"}, {Name: "sk", KeyType: "RANGE"}},
		StreamViewType: "NEW_AND_OLD_IMAGES",
		TTLAttribute:   "expiresAt",
	}}
	if !reflect.DeepEqual(tables, want) {
		t.Errorf("tables =\n%+v\nwant\n%+v", tables, want)
	}
}

func TestWarnsAboutEventsItDoesNotRun(t *testing.T) {
	warnings := load(t, template.Options{}).Warnings
	if len(warnings) != 1 || !strings.Contains(warnings[0], "Weekly") || !strings.Contains(warnings[0], "Schedule") {
		t.Errorf("warnings = %q, want one for the cron schedule", warnings)
	}
}

func TestRateSchedulesAreRun(t *testing.T) {
	var found []template.Schedule
	for _, f := range load(t, template.Options{}).Functions {
		found = append(found, f.Schedules...)
	}
	if want := []template.Schedule{{Event: "Nightly", Every: 24 * time.Hour}}; !reflect.DeepEqual(found, want) {
		t.Errorf("schedules = %+v, want %+v", found, want)
	}
}
