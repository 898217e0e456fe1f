package iampolicy_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"handoff/infra/iampolicy"
)

const templatePath = "../../template.yaml"

const (
	table  = "arn:aws:dynamodb:us-east-1:123456789012:table/Table"
	secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:handoff/"
)

// The template is expanded once for the tests that read it as it is (python3 takes a second).
var project = sync.OnceValues(func() (*iampolicy.Stack, error) {
	return iampolicy.Load(templatePath, iampolicy.Options{})
})

func loadProject(t *testing.T) *iampolicy.Stack {
	t.Helper()
	s, err := project()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTheTemplatesRolesAreRead(t *testing.T) {
	s := loadProject(t)
	if got := slices.Sorted(func(yield func(string) bool) {
		for id := range s.Functions {
			if !yield(id) {
				return
			}
		}
	}); !slices.Equal(got, []string{"BotAckFunction", "CallbackReceiverFunction", "SkillCheckFunction", "TransferFunction"}) {
		t.Fatalf("functions = %v", got)
	}
	cases := []struct {
		function, action, resource string
		want                       bool
	}{
		// A clean release of an idempotency claim deletes it.
		{"TransferFunction", "dynamodb:DeleteItem", table, true},
		{"TransferFunction", "dynamodb:Query", table + "/index/awaiting", true},
		{"TransferFunction", "dynamodb:Query", table + "/index/other", false},
		{"TransferFunction", "dynamodb:Scan", table, false},
		{"TransferFunction", "secretsmanager:GetSecretValue", secret + "acme/liveperson-AbCdEf", true},
		{"TransferFunction", "secretsmanager:GetSecretValue", "arn:aws:secretsmanager:us-east-1:123456789012:secret:other/acme/liveperson-AbCdEf", false},
		// callback-receiver reads only the secrets of the vendors that call back.
		{"CallbackReceiverFunction", "secretsmanager:GetSecretValue", secret + "acme/koreai-AbCdEf", true},
		{"CallbackReceiverFunction", "secretsmanager:GetSecretValue", secret + "acme/bitrix24-x1Y2z3", true},
		{"CallbackReceiverFunction", "secretsmanager:GetSecretValue", secret + "acme/liveperson-AbCdEf", false},
		{"CallbackReceiverFunction", "secretsmanager:GetSecretValue", secret + "acme/salesforce-AbCdEf", false},
		{"CallbackReceiverFunction", "secretsmanager:GetSecretValue", secret + "acme/webhook-AbCdEf", false},
		{"CallbackReceiverFunction", "secretsmanager:GetSecretValue", secret + "acme/koreaix-AbCdEf", false},
		{"CallbackReceiverFunction", "secretsmanager:PutSecretValue", secret + "acme/bitrix24-AbCdEf", false},
		// skill-check reads the tenant's access record, and nothing else of the table.
		{"SkillCheckFunction", "dynamodb:GetItem", table, true},
		{"SkillCheckFunction", "dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:123456789012:table/Other", false},
		{"SkillCheckFunction", "dynamodb:PutItem", table, false},
		{"SkillCheckFunction", "dynamodb:Query", table, false},
		{"SkillCheckFunction", "dynamodb:Scan", table, false},
		// bot-ack publishes on the stack's own bus, named after the stack, and nowhere else.
		{"BotAckFunction", "events:PutEvents", "arn:aws:events:us-east-1:123456789012:event-bus/handoff-local", true},
		{"BotAckFunction", "events:PutEvents", "arn:aws:events:us-east-1:123456789012:event-bus/default", false},
		// The managed policy SAM adds for the stream.
		{"BotAckFunction", "dynamodb:GetRecords", table + "/stream/2026-01-01T00:00:00.000", true},
		{"BotAckFunction", "sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:AckDeadLetterQueue", true},
		{"BotAckFunction", "sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:EscalationDeadLetterQueue", false},
	}
	for _, c := range cases {
		if got := s.Functions[c.function].Policy.Allows(c.action, c.resource); got != c.want {
			t.Errorf("%s %s on %s: allowed = %v, want %v", c.function, c.action, c.resource, got, c.want)
		}
	}
}

// Lambda's own calls for the functions (the stream, the failure destinations) are allowed.
func TestLambdasCallsForTheFunctionsAreAllowed(t *testing.T) {
	s := loadProject(t)
	rep := s.Check(nil)
	if len(rep.Denied) > 0 || len(rep.Unknown) > 0 {
		t.Errorf("denied %v, unknown %v", rep.Denied, rep.Unknown)
	}
	var actions []string
	for _, c := range s.Functions["BotAckFunction"].ServiceCalls {
		actions = append(actions, c.Action)
	}
	want := []string{"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams", "sqs:SendMessage"}
	if slices.Sort(actions); !slices.Equal(actions, want) {
		t.Errorf("bot-ack's service calls = %v, want %v", actions, want)
	}
	var transfer []string
	for _, c := range s.Functions["TransferFunction"].ServiceCalls {
		transfer = append(transfer, c.Action+" on "+c.Resource)
	}
	const queue = "arn:aws:sqs:us-east-1:123456789012:handoff-local-transfers.fifo"
	wantTransfer := []string{"sqs:ChangeMessageVisibility on " + queue, "sqs:DeleteMessage on " + queue,
		"sqs:GetQueueAttributes on " + queue, "sqs:ReceiveMessage on " + queue,
		"sqs:SendMessage on arn:aws:sqs:us-east-1:123456789012:EscalationDeadLetterQueue"}
	if slices.Sort(transfer); !slices.Equal(transfer, wantTransfer) {
		t.Errorf("the transfer function's service calls = %v, want its OnFailure queue and the polling of its queue", transfer)
	}
}

// A policy of its own on a function's role (TransferQueuePolicy) is the function's: it may
// send to its queue, and Lambda may poll the queue with its role; no other function may.
func TestARolePolicyOfItsOwnIsTheFunctions(t *testing.T) {
	s := loadProject(t)
	const queue = "arn:aws:sqs:us-east-1:123456789012:handoff-local-transfers.fifo"
	if !s.Functions["TransferFunction"].Policy.Allows("sqs:SendMessage", queue) {
		t.Error("the transfer function may not send to its queue")
	}
	if s.Functions["BotAckFunction"].Policy.Allows("sqs:SendMessage", queue) {
		t.Error("bot-ack may send to the transfer queue")
	}
	rep := s.Without("TransferFunction", "sqs:ReceiveMessage").Check(nil)
	if len(rep.Denied) != 1 || rep.Denied[0].Action != "sqs:ReceiveMessage" {
		t.Errorf("without ReceiveMessage, denied %v; want Lambda's polling refused", rep.Denied)
	}
}

// The negative case: the checker fails a call the policy no longer grants, and names it.
func TestCheckerFailsACallWhoseActionWasRemoved(t *testing.T) {
	release := iampolicy.Call{Function: "TransferFunction", Action: "dynamodb:DeleteItem", Resource: table}
	if rep := loadProject(t).Check([]iampolicy.Call{release}); len(rep.Denied) != 0 {
		t.Fatalf("with the template as it is: denied %v", rep.Denied)
	}
	rep := loadProject(t).Without("TransferFunction", "dynamodb:DeleteItem").Check([]iampolicy.Call{release})
	if len(rep.Denied) != 1 || rep.Denied[0] != release {
		t.Errorf("denied %v, want %v", rep.Denied, release)
	}
	if got := rep.Denied[0].String(); !strings.Contains(got, "TransferFunction dynamodb:DeleteItem on "+table) {
		t.Errorf("a denial reads %q: it must name the function, the action and the resource", got)
	}
}

// The same, from the template file: a copy without the transfer function's DeleteItem is
// expanded and checked as the real one is.
func TestCheckerFailsWhenTheTemplateLosesAnAction(t *testing.T) {
	data, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	start := strings.Index(text, "  TransferFunction:")
	end := strings.Index(text, "  CallbackReceiverFunction:")
	if start < 0 || end < start || !strings.Contains(text[start:end], "- dynamodb:DeleteItem\n") {
		t.Fatal("the transfer function no longer lists dynamodb:DeleteItem as this test expects")
	}
	edited := text[:start] + strings.Replace(text[start:end], "- dynamodb:DeleteItem\n", "- dynamodb:GetItem\n", 1) + text[end:]
	path := filepath.Join(t.TempDir(), "template.yaml")
	if err := os.WriteFile(path, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := iampolicy.Load(path, iampolicy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	release := iampolicy.Call{Function: "TransferFunction", Action: "dynamodb:DeleteItem", Resource: table}
	if rep := s.Check([]iampolicy.Call{release}); len(rep.Denied) != 1 {
		t.Errorf("denied %v, want the claim's release", rep.Denied)
	}
}

func TestUnusedGrantsAreReported(t *testing.T) {
	s := loadProject(t)
	calls := []iampolicy.Call{
		{Function: "SkillCheckFunction", Action: "dynamodb:GetItem", Resource: table}, // the access record
		{Function: "SkillCheckFunction", Action: "secretsmanager:GetSecretValue", Resource: secret + "demo/liveperson-AbCdEf"},
	}
	rep := s.Check(calls)
	var skill []string
	for _, g := range rep.Unused {
		if g.Function == "SkillCheckFunction" {
			skill = append(skill, g.Action)
		}
	}
	if !slices.Equal(skill, []string{"secretsmanager:PutSecretValue"}) {
		t.Errorf("skill-check's unused grants = %v, want PutSecretValue alone", skill)
	}
	if rep := s.Check([]iampolicy.Call{{Function: "Nobody", Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"}}); len(rep.Unknown) != 1 {
		t.Errorf("a call by no function of the stack: unknown = %v", rep.Unknown)
	}
}

func TestParametersChangeTheResolvedPolicy(t *testing.T) {
	s, err := iampolicy.Load(templatePath, iampolicy.Options{Parameters: map[string]string{"EventBusName": "shared", "SecretPrefix": "prod/handoff/"}})
	if err != nil {
		t.Fatal(err)
	}
	bot := s.Functions["BotAckFunction"].Policy
	if !bot.Allows("events:PutEvents", "arn:aws:events:us-east-1:123456789012:event-bus/shared") ||
		bot.Allows("events:PutEvents", "arn:aws:events:us-east-1:123456789012:event-bus/handoff-local") {
		t.Error("with EventBusName=shared, bot-ack must publish on shared only")
	}
	if s.Functions["TransferFunction"].Policy.Allows("secretsmanager:GetSecretValue", secret+"acme/koreai-AbCdEf") {
		t.Error("with SecretPrefix=prod/handoff/, handoff/ secrets must be out of reach")
	}
}
