package infra_test

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"handoff/scripts/localstack/sqssource"
)

// TestTransferQueueMatchesTheLocalStack holds the transfer queue of template.yaml to what the
// local stack builds (scripts/localstack/sqssource) and to AWS's advice for a queue a function
// drains (docs/pacing.md).
func TestTransferQueueMatchesTheLocalStack(t *testing.T) {
	tmpl := loadTemplate(t)
	queue := dig(tmpl, "Resources", "TransferQueue", "Properties")
	for key, want := range map[string]any{
		"FifoQueue": true, "ContentBasedDeduplication": false,
		"VisibilityTimeout": int(sqssource.VisibilityTimeout / time.Second),
	} {
		if got := dig(queue, key); got != want {
			t.Errorf("TransferQueue.%s = %v, want %v", key, got, want)
		}
	}
	if got := dig(queue, "RedrivePolicy", "maxReceiveCount"); got != sqssource.MaxReceiveCount {
		t.Errorf("TransferQueue's maxReceiveCount = %v, want %d", got, sqssource.MaxReceiveCount)
	}
	if got := dig(queue, "RedrivePolicy", "deadLetterTargetArn"); !reflect.DeepEqual(got, getAtt("TransferDeadLetterQueue", "Arn")) {
		t.Errorf("TransferQueue's dead-letter queue = %v, want TransferDeadLetterQueue", got)
	}
	if got := dig(tmpl, "Resources", "TransferDeadLetterQueue", "Properties", "FifoQueue"); got != true {
		t.Errorf("TransferDeadLetterQueue.FifoQueue = %v: a FIFO queue's dead-letter queue must be FIFO", got)
	}

	// Six times the function's timeout, so a batch still in the function's hands is not
	// handed out again.
	timeout, _ := dig(tmpl, "Resources", "TransferFunction", "Properties", "Timeout").(int)
	if timeout == 0 {
		timeout, _ = dig(tmpl, "Globals", "Function", "Timeout").(int)
	}
	if vis, _ := dig(queue, "VisibilityTimeout").(int); timeout == 0 || vis < 6*timeout {
		t.Errorf("TransferQueue.VisibilityTimeout = %v, want at least 6 × the transfer function's timeout (%d s)", vis, timeout)
	}

	mapping := dig(tmpl, "Resources", "TransferQueueMapping")
	if got := dig(mapping, "Type"); got != "AWS::Lambda::EventSourceMapping" {
		t.Fatalf("TransferQueueMapping is %v, want an AWS::Lambda::EventSourceMapping", got)
	}
	props := dig(mapping, "Properties")
	for key, want := range map[string]any{
		"FunctionName":   ref("TransferFunction"),
		"EventSourceArn": getAtt("TransferQueue", "Arn"),
		"BatchSize":      sqssource.BatchSize,
	} {
		if got := dig(props, key); !reflect.DeepEqual(got, want) {
			t.Errorf("TransferQueueMapping.%s = %v, want %v", key, got, want)
		}
	}
	types, _ := dig(props, "FunctionResponseTypes").([]any)
	if !slices.Contains(types, any("ReportBatchItemFailures")) {
		t.Errorf("TransferQueueMapping.FunctionResponseTypes = %v, want ReportBatchItemFailures", types)
	}

	// The function may poll the queue and send to it, and to no other queue by this policy.
	policy := dig(tmpl, "Resources", "TransferQueuePolicy", "Properties")
	if roles, _ := dig(policy, "Roles").([]any); len(roles) != 1 || !reflect.DeepEqual(roles[0], ref("TransferFunctionRole")) {
		t.Errorf("TransferQueuePolicy.Roles = %v, want the transfer function's role", roles)
	}
	granted := map[string]bool{}
	statements, _ := dig(policy, "PolicyDocument", "Statement").([]any)
	for _, s := range statements {
		if !reflect.DeepEqual(dig(s, "Resource"), getAtt("TransferQueue", "Arn")) {
			t.Errorf("statement %v is not on the transfer queue", dig(s, "Sid"))
		}
		switch a := dig(s, "Action").(type) {
		case string:
			granted[a] = true
		case []any:
			for _, x := range a {
				granted[x.(string)] = true
			}
		}
	}
	for _, a := range []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes", "sqs:SendMessage"} {
		if !granted[a] {
			t.Errorf("TransferQueuePolicy does not grant %s", a)
		}
	}
	if deps := dig(mapping, "DependsOn"); deps != "TransferQueuePolicy" {
		t.Errorf("TransferQueueMapping.DependsOn = %v: Lambda checks the role's permissions when the mapping is created", deps)
	}
}
