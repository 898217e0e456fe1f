package iampolicy

import (
	"fmt"
	"strings"
)

// Statement is one IAM policy statement, resolved.
type Statement struct {
	Policy    string // the inline policy's name, or the managed policy's ARN
	Sid       string
	Effect    string // Allow or Deny
	Actions   []string
	Resources []string
	Managed   bool // from an AWS managed policy, not the template
}

// Policy is every statement of a role.
type Policy []Statement

// Allows reports whether the statements allow action on resource, as IAM decides within one
// account: an explicit Deny wins, else some Allow must match.
func (p Policy) Allows(action, resource string) bool {
	allowed := false
	for _, st := range p {
		if !st.matches(action, resource) {
			continue
		}
		if st.Effect == "Deny" {
			return false
		}
		allowed = allowed || st.Effect == "Allow"
	}
	return allowed
}

func (st Statement) matches(action, resource string) bool {
	actionOK := false
	for _, a := range st.Actions {
		// Action names are case-insensitive.
		if globMatch(strings.ToLower(a), strings.ToLower(action)) {
			actionOK = true
			break
		}
	}
	if !actionOK {
		return false
	}
	for _, r := range st.Resources {
		if resourceMatch(r, resource) {
			return true
		}
	}
	return false
}

// resourceMatch matches an ARN against a policy's resource pattern as IAM does: "*" is every
// resource; otherwise the six colon-separated fields are matched one by one (so a wildcard in
// the region does not reach into the account), and within the last, the resource, "*" matches
// any run of characters, "/" and ":" included, and "?" any one character. Case matters.
func resourceMatch(pattern, arn string) bool {
	if pattern == "*" {
		return true
	}
	p, a := strings.SplitN(pattern, ":", 6), strings.SplitN(arn, ":", 6)
	if len(p) != 6 || len(a) != 6 {
		return false
	}
	for i := range p {
		if !globMatch(p[i], a[i]) {
			return false
		}
	}
	return true
}

// globMatch matches s against a pattern with "*" (any run of characters) and "?" (one).
func globMatch(pattern, s string) bool {
	px, sx := 0, 0
	starP, starS := -1, 0
	for sx < len(s) {
		switch {
		case px < len(pattern) && (pattern[px] == '?' || pattern[px] == s[sx]):
			px++
			sx++
		case px < len(pattern) && pattern[px] == '*':
			starP, starS = px, sx
			px++
		case starP >= 0:
			starS++
			px, sx = starP+1, starS
		default:
			return false
		}
	}
	for px < len(pattern) && pattern[px] == '*' {
		px++
	}
	return px == len(pattern)
}

// managedPolicies are the AWS managed policies SAM attaches to function roles, as AWS
// publishes them. A role with another managed policy cannot be checked: Resolve says so.
var managedPolicies = map[string][]Statement{
	"service-role/AWSLambdaBasicExecutionRole": {{
		Effect:    "Allow",
		Actions:   []string{"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"},
		Resources: []string{"*"},
	}},
	"service-role/AWSLambdaDynamoDBExecutionRole": {{
		Effect: "Allow",
		Actions: []string{"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams",
			"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"},
		Resources: []string{"*"},
	}},
}

// managed returns the statements of the managed policy at arn.
func managed(arn string) ([]Statement, error) {
	_, name, ok := strings.Cut(arn, ":iam::aws:policy/")
	statements, known := managedPolicies[name]
	if !ok || !known {
		return nil, fmt.Errorf("managed policy %s is not known to this checker: add its statements to managedPolicies", arn)
	}
	out := make([]Statement, len(statements))
	for i, st := range statements {
		st.Policy, st.Managed = arn, true
		out[i] = st
	}
	return out, nil
}
