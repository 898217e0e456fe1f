package infra_test

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// These tests hold the template to what a deployment needs beyond what the local stack runs:
// settings no local run can see (timeouts against API Gateway's limit, access logs, reserved
// concurrency) and the paths by which failures are kept (dead-letter queues, the stream's start).

// apiGatewayLimit is the HTTP API's integration timeout, which no setting raises.
const apiGatewayLimit = 30

// coldStartMargin is kept between a function's timeout and the API's limit: a cold start's init
// runs before the timeout starts, and the gateway needs a moment to pass the answer on.
const coldStartMargin = 5

func TestRouteFunctionsAnswerBeforeTheHTTPAPIGivesUp(t *testing.T) {
	tmpl := loadTemplate(t)
	served := map[string]bool{}
	for id := range eventsOfType(tmpl, "HttpApi") {
		fn, _, _ := strings.Cut(id, ".")
		served[fn] = true
	}
	for fn := range served {
		timeout := dig(tmpl, "Resources", fn, "Properties", "Timeout")
		if timeout == nil {
			timeout = dig(tmpl, "Globals", "Function", "Timeout")
		}
		n, ok := timeout.(int)
		if !ok {
			t.Errorf("%s: Timeout %v is not a number of seconds", fn, timeout)
			continue
		}
		if n+coldStartMargin > apiGatewayLimit {
			t.Errorf("%s serves HTTP routes with Timeout %d s: the gateway gives up at %d s and answers a non-JSON 503 while the function goes on; keep it at %d s or less",
				fn, n, apiGatewayLimit, apiGatewayLimit-coldStartMargin)
		}
	}
	if len(served) == 0 {
		t.Fatal("no function serves an HttpApi route")
	}
}

// Both functions that may start a Kore.ai transfer (the transfer function, and callback-receiver
// going on with a fallback after a refusal) read the callback settings, so both must get them.
func TestCallbackSettingsReachEveryFunctionThatStartsTransfers(t *testing.T) {
	tmpl := loadTemplate(t)
	for _, fn := range []string{"TransferFunction", "CallbackReceiverFunction"} {
		vars := dig(tmpl, "Resources", fn, "Properties", "Environment", "Variables")
		for name, param := range map[string]string{"CALLBACK_BASE_URL": "CallbackBaseUrl", "CALLBACK_TIMEOUT": "CallbackTimeout"} {
			if got := dig(vars, name); !reflect.DeepEqual(got, ref(param)) {
				t.Errorf("%s: %s = %v, want !Ref %s", fn, name, got, param)
			}
		}
	}
}

func TestSweepFailuresHaveADeadLetterQueueOfTheirOwn(t *testing.T) {
	tmpl := loadTemplate(t)
	sweep := dig(tmpl, "Resources", "TransferFunction", "Properties", "Events", "SweepAwaiting", "Properties")
	arn := dig(sweep, "DeadLetterConfig", "Arn")
	queue, _ := dig(arn, "Fn::GetAtt").([]any)
	if len(queue) != 2 || queue[1] != "Arn" {
		t.Fatalf("SweepAwaiting.DeadLetterConfig.Arn = %v, want !GetAtt <queue>.Arn", arn)
	}
	name, _ := queue[0].(string)
	if got := dig(tmpl, "Resources", name, "Type"); got != "AWS::SQS::Queue" {
		t.Fatalf("the sweep's dead-letter target %s is a %v, want an AWS::SQS::Queue", name, got)
	}
	escalation := dig(tmpl, "Resources", "TransferFunction", "Properties", "Events", "EscalationRequested", "Properties", "DeadLetterConfig", "Arn")
	if reflect.DeepEqual(arn, escalation) {
		t.Errorf("the sweep and the escalations share the dead-letter queue %s", name)
	}
	// EventBridge sends to a rule's dead-letter queue as its service principal, so the queue
	// must let it, for this rule only.
	if !queueAllowsRule(tmpl, name, "TransferFunctionSweepAwaiting") {
		t.Errorf("no queue policy lets events.amazonaws.com send to %s for the rule TransferFunctionSweepAwaiting", name)
	}
}

// EventBridge sends to every rule's dead-letter queue as its service principal: each queue
// must let it, for that rule.
func TestEveryRuleMayWriteToItsDeadLetterQueue(t *testing.T) {
	tmpl := loadTemplate(t)
	var checked int
	for _, kind := range []string{"EventBridgeRule", "Schedule"} {
		for id, event := range eventsOfType(tmpl, kind) {
			arn := dig(event, "Properties", "DeadLetterConfig", "Arn")
			if arn == nil {
				t.Errorf("%s: no DeadLetterConfig: an event EventBridge cannot deliver would be lost", id)
				continue
			}
			queue, _ := dig(arn, "Fn::GetAtt").([]any)
			rule := strings.ReplaceAll(id, ".", "") // SAM names the rule <Function><Event>
			if len(queue) != 2 || !queueAllowsRule(tmpl, queue[0].(string), rule) {
				t.Errorf("%s: no queue policy lets events.amazonaws.com send to %v for the rule %s", id, arn, rule)
			}
			checked++
		}
	}
	if checked < 2 {
		t.Errorf("%d rules checked, want the escalation rule and the sweep's schedule", checked)
	}
}

// queueAllowsRule reports whether a queue policy of the template lets EventBridge send to queue
// on behalf of rule (aws:SourceArn the rule's ARN).
func queueAllowsRule(tmpl map[string]any, queue, rule string) bool {
	for _, id := range resourcesOfType(tmpl, "AWS::SQS::QueuePolicy") {
		props := dig(tmpl, "Resources", id, "Properties")
		queues, _ := dig(props, "Queues").([]any)
		if len(queues) != 1 || !reflect.DeepEqual(queues[0], ref(queue)) {
			continue
		}
		statements, _ := dig(props, "PolicyDocument", "Statement").([]any)
		for _, s := range statements {
			if dig(s, "Effect") == "Allow" && dig(s, "Principal", "Service") == "events.amazonaws.com" &&
				dig(s, "Action") == "sqs:SendMessage" &&
				reflect.DeepEqual(dig(s, "Condition", "ArnEquals", "aws:SourceArn"), getAtt(rule, "Arn")) {
				return true
			}
		}
	}
	return false
}

// LATEST would skip the records written while the event source mapping is created or
// re-enabled: final transfers whose bot would never be told.
func TestAckStreamStartsAtTheOldestRecord(t *testing.T) {
	event := eventsOfType(loadTemplate(t), "DynamoDB")["BotAckFunction.TransferFinal"]
	if got := dig(event, "Properties", "StartingPosition"); got != "TRIM_HORIZON" {
		t.Errorf("BotAckFunction.TransferFinal.StartingPosition = %v, want TRIM_HORIZON", got)
	}
}

func TestHTTPAPIWritesAccessLogs(t *testing.T) {
	tmpl := loadTemplate(t)
	settings := dig(tmpl, "Resources", "HttpApi", "Properties", "AccessLogSettings")
	// API Gateway wants the log group's ARN as arn:…:log-group:NAME, without the ":*" of the
	// log group's Arn attribute.
	dest, _ := dig(settings, "DestinationArn", "Fn::Sub").(string)
	prefix := "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${"
	if !strings.HasPrefix(dest, prefix) || !strings.HasSuffix(dest, "}") {
		t.Fatalf("HttpApi.AccessLogSettings.DestinationArn = %v, want !Sub %s<log group>}", dig(settings, "DestinationArn"), prefix)
	}
	name := strings.TrimSuffix(strings.TrimPrefix(dest, prefix), "}")
	group := dig(tmpl, "Resources", name)
	if dig(group, "Type") != "AWS::Logs::LogGroup" || dig(group, "Properties", "RetentionInDays") == nil {
		t.Errorf("access logs go to %v, want a log group of the stack with a retention", name)
	}
	format, _ := dig(settings, "Format").(string)
	var fields map[string]string
	if err := json.Unmarshal([]byte(format), &fields); err != nil {
		t.Fatalf("access log Format is not one JSON object per request: %v\n%s", err, format)
	}
	for name, variable := range map[string]string{
		"requestId": "$context.requestId", "routeKey": "$context.routeKey", "status": "$context.status",
		"principal": "$context.identity.userArn", "integrationError": "$context.integrationErrorMessage",
	} {
		if fields[name] != variable {
			t.Errorf("access log field %s = %q, want %q", name, fields[name], variable)
		}
	}
}

// Each function's reserved concurrency is a parameter; its default reserves nothing, and
// ReservedConcurrentExecutions is then left out (AWS::NoValue), not set to -1.
func TestReservedConcurrencyIsAParameterPerFunction(t *testing.T) {
	tmpl := loadTemplate(t)
	for fn := range functionDirs {
		got := dig(tmpl, "Resources", fn, "Properties", "ReservedConcurrentExecutions")
		branches, _ := dig(got, "Fn::If").([]any)
		if len(branches) != 3 || !reflect.DeepEqual(branches[2], ref("AWS::NoValue")) {
			t.Errorf("%s: ReservedConcurrentExecutions = %v, want !If [condition, !Ref parameter, !Ref AWS::NoValue]", fn, got)
			continue
		}
		cond, _ := branches[0].(string)
		param, _ := dig(branches[1], "Ref").(string)
		p := dig(tmpl, "Parameters", param)
		if dig(p, "Type") != "Number" || dig(p, "Default") != -1 {
			t.Errorf("%s: parameter %s = %v, want a Number defaulting to -1", fn, param, p)
		}
		want := map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{ref(param), "-1"}}}}
		if got := dig(tmpl, "Conditions", cond); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: condition %s = %v, want !Not [!Equals [!Ref %s, \"-1\"]]", fn, cond, got, param)
		}
	}
}

// Escalations start transfers, so they come only from Handoff's own bus (unless the deployer
// names one) and only from the sources the deployment accepts; bot-ack publishes on that bus.
func TestEscalationsComeFromHandoffsOwnBusAndListedSources(t *testing.T) {
	tmpl := loadTemplate(t)
	bus := map[string]any{"Fn::If": []any{"CreateEventBus", ref("EventBus"), ref("EventBusName")}}
	if got := dig(tmpl, "Parameters", "EventBusName", "Default"); got != "" {
		t.Errorf("EventBusName default = %v, want empty (the stack's own bus)", got)
	}
	if got := dig(tmpl, "Conditions", "CreateEventBus"); !reflect.DeepEqual(got, map[string]any{"Fn::Equals": []any{ref("EventBusName"), ""}}) {
		t.Errorf("condition CreateEventBus = %v, want !Equals [!Ref EventBusName, \"\"]", got)
	}
	if dig(tmpl, "Resources", "EventBus", "Type") != "AWS::Events::EventBus" || dig(tmpl, "Resources", "EventBus", "Condition") != "CreateEventBus" {
		t.Errorf("resource EventBus = %v, want an AWS::Events::EventBus under the condition CreateEventBus", dig(tmpl, "Resources", "EventBus"))
	}
	if got := dig(tmpl, "Globals", "Function", "Environment", "Variables", "EVENT_BUS_NAME"); !reflect.DeepEqual(got, bus) {
		t.Errorf("EVENT_BUS_NAME = %v, want %v", got, bus)
	}
	rule := dig(eventsOfType(tmpl, "EventBridgeRule")["TransferFunction.EscalationRequested"], "Properties")
	if got := dig(rule, "EventBusName"); !reflect.DeepEqual(got, bus) {
		t.Errorf("the escalation rule's EventBusName = %v, want %v", got, bus)
	}
	if got := dig(rule, "Pattern", "source"); !reflect.DeepEqual(got, ref("EscalationSources")) {
		t.Errorf("the escalation rule's source = %v, want !Ref EscalationSources", got)
	}
	if got := dig(rule, "Pattern", "detail-type"); !reflect.DeepEqual(got, []any{"Escalation Requested", "Escalation Cancelled"}) {
		t.Errorf("the escalation rule's detail-type = %v, want [Escalation Requested, Escalation Cancelled]", got)
	}
	if got := dig(tmpl, "Parameters", "EscalationSources", "Type"); got != "CommaDelimitedList" {
		t.Errorf("EscalationSources is a %v, want a CommaDelimitedList", got)
	}
}

// A parameter the template declares but nothing uses is one a deployer sets for nothing.
func TestEveryParameterIsUsed(t *testing.T) {
	tmpl := loadTemplate(t)
	text, err := json.Marshal(map[string]any{"Resources": tmpl["Resources"], "Globals": tmpl["Globals"], "Conditions": tmpl["Conditions"], "Outputs": tmpl["Outputs"]})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range sortedKeys(tmpl["Parameters"].(map[string]any)) {
		if !strings.Contains(string(text), strconv.Quote(name)) && !strings.Contains(string(text), "${"+name+"}") {
			t.Errorf("parameter %s is not used", name)
		}
	}
}

// The README's deploying section is where a deployer learns what to set: it names every
// parameter.
func TestREADMEDeployingSectionNamesEveryParameter(t *testing.T) {
	data := string(readFile(t, filepath.Join(root, "README.md")))
	start := strings.Index(data, "\n## Deploying\n")
	if start < 0 {
		t.Fatal("README.md has no \"## Deploying\" section")
	}
	section := data[start+1:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	for _, name := range sortedKeys(loadTemplate(t)["Parameters"].(map[string]any)) {
		if !strings.Contains(section, "`"+name+"`") {
			t.Errorf("the README's Deploying section does not name the parameter %s", name)
		}
	}
}
