package iampolicy

import "testing"

func TestResourceMatchFollowsIAM(t *testing.T) {
	cases := []struct {
		pattern, arn string
		want         bool
	}{
		{"*", "arn:aws:sqs:us-east-1:1:q", true},
		{"arn:aws:dynamodb:us-east-1:1:table/T", "arn:aws:dynamodb:us-east-1:1:table/T", true},
		// A GSI is a resource of its own: the table's ARN does not cover it.
		{"arn:aws:dynamodb:us-east-1:1:table/T", "arn:aws:dynamodb:us-east-1:1:table/T/index/I", false},
		{"arn:aws:dynamodb:us-east-1:1:table/T/index/*", "arn:aws:dynamodb:us-east-1:1:table/T/index/I", true},
		// Secrets Manager appends "-" and six characters: the pattern must cover them.
		{"arn:aws:secretsmanager:us-east-1:1:secret:p/a/koreai", "arn:aws:secretsmanager:us-east-1:1:secret:p/a/koreai-AbCdEf", false},
		{"arn:aws:secretsmanager:us-east-1:1:secret:p/*/koreai-??????", "arn:aws:secretsmanager:us-east-1:1:secret:p/a/b/koreai-AbCdEf", true},
		{"arn:aws:secretsmanager:us-east-1:1:secret:p/*/koreai-??????", "arn:aws:secretsmanager:us-east-1:1:secret:p/a/koreai-x-AbCdEf", false},
		// Each field is matched alone: a wildcard in the region does not reach the account.
		{"arn:aws:sqs:*:1:q", "arn:aws:sqs:eu-west-1:1:q", true},
		{"arn:aws:sqs:*:q", "arn:aws:sqs:eu-west-1:1:q", false},
		{"arn:aws:logs:us-east-1:1:log-group:/aws/x:*", "arn:aws:logs:us-east-1:1:log-group:/aws/x:log-stream:s", true},
		// Case matters in resources.
		{"arn:aws:sqs:us-east-1:1:Q", "arn:aws:sqs:us-east-1:1:q", false},
	}
	for _, c := range cases {
		if got := resourceMatch(c.pattern, c.arn); got != c.want {
			t.Errorf("resourceMatch(%q, %q) = %v, want %v", c.pattern, c.arn, got, c.want)
		}
	}
	p := Policy{{Effect: "Allow", Actions: []string{"dynamodb:*"}, Resources: []string{"*"}}, {Effect: "Deny", Actions: []string{"dynamodb:DeleteItem"}, Resources: []string{"*"}}}
	if !p.Allows("DynamoDB:GetItem", "arn:aws:dynamodb:us-east-1:1:table/T") || p.Allows("dynamodb:DeleteItem", "arn:aws:dynamodb:us-east-1:1:table/T") {
		t.Error("actions are case-insensitive globs, and an explicit Deny wins")
	}
}
