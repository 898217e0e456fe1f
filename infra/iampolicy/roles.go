package iampolicy

import (
	"fmt"
	"strings"
)

// function reads a function's role: its inline policies and its managed policies.
func (r *resolver) function(id string, res resource) (*Function, error) {
	role, ok := refersTo(res.props["Role"])
	if !ok || r.resources[role].kind != "AWS::IAM::Role" {
		return nil, fmt.Errorf("the role %v is not a role of the template", res.props["Role"])
	}
	f := &Function{LogicalID: id, Role: role}
	props := r.resources[role].props
	arns, err := r.value(props["ManagedPolicyArns"])
	if err != nil {
		return nil, fmt.Errorf("%s.ManagedPolicyArns: %w", role, err)
	}
	list, _ := arns.([]any)
	for _, arn := range list {
		statements, err := managed(fmt.Sprint(arn))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", role, err)
		}
		f.Policy = append(f.Policy, statements...)
	}
	policies, _ := props["Policies"].([]any)
	for _, p := range policies {
		resolved, err := r.value(p)
		if err != nil {
			return nil, fmt.Errorf("%s.Policies: %w", role, err)
		}
		m, _ := resolved.(map[string]any)
		name, _ := m["PolicyName"].(string)
		doc, _ := m["PolicyDocument"].(map[string]any)
		statements, err := readStatements(doc["Statement"])
		if err != nil {
			return nil, fmt.Errorf("%s policy %s: %w", role, name, err)
		}
		for i := range statements {
			statements[i].Policy = name
		}
		f.Policy = append(f.Policy, statements...)
	}
	return f, nil
}

// rolePolicies adds each AWS::IAM::Policy of the template to the functions whose roles it
// names (a policy of its own on a function's role, such as the transfer queue's).
func (r *resolver) rolePolicies(s *Stack, ids []string) error {
	for _, id := range ids {
		res := r.resources[id]
		if res.kind != "AWS::IAM::Policy" {
			continue
		}
		resolved, err := r.value(res.props["PolicyDocument"])
		if err != nil {
			return fmt.Errorf("%s.PolicyDocument: %w", id, err)
		}
		doc, _ := resolved.(map[string]any)
		statements, err := readStatements(doc["Statement"])
		if err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
		name, _ := res.props["PolicyName"].(string)
		for i := range statements {
			statements[i].Policy = name
		}
		roles, _ := res.props["Roles"].([]any)
		for _, role := range roles {
			roleID, ok := refersTo(role)
			if !ok {
				return fmt.Errorf("%s: role %v is not a role of the template", id, role)
			}
			for _, f := range s.Functions {
				if f.Role == roleID {
					f.Policy = append(f.Policy, statements...)
				}
			}
		}
	}
	return nil
}

// refersTo returns the logical ID of a {"Ref": id} or {"Fn::GetAtt": [id, attr]}.
func refersTo(v any) (string, bool) {
	m, _ := v.(map[string]any)
	if id, ok := m["Ref"].(string); ok {
		return id, true
	}
	if parts, err := getAttParts(m["Fn::GetAtt"]); err == nil && m["Fn::GetAtt"] != nil {
		return parts[0], true
	}
	return "", false
}

func readStatements(v any) ([]Statement, error) {
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	var out []Statement
	for i, item := range list {
		m, _ := item.(map[string]any)
		for _, unsupported := range []string{"NotAction", "NotResource", "Condition", "Principal"} {
			if m[unsupported] != nil {
				return nil, fmt.Errorf("statement %d: %s is not supported by the policy checker", i, unsupported)
			}
		}
		st := Statement{Effect: fmt.Sprint(m["Effect"]), Actions: texts(m["Action"]), Resources: texts(m["Resource"])}
		st.Sid, _ = m["Sid"].(string)
		if st.Effect != "Allow" && st.Effect != "Deny" || len(st.Actions) == 0 || len(st.Resources) == 0 {
			return nil, fmt.Errorf("statement %d: want Effect, Action and Resource, got %v", i, m)
		}
		out = append(out, st)
	}
	return out, nil
}

// texts reads a string or a list of strings.
func texts(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, item := range v {
			out = append(out, fmt.Sprint(item))
		}
		return out
	}
	return nil
}

// serviceCalls adds to each function the calls Lambda makes with its role: an event source
// mapping reads its DynamoDB stream or polls its SQS queue, and failed records or invocations are sent to OnFailure
// (and OnSuccess) destinations and dead-letter queues.
func (r *resolver) serviceCalls(s *Stack, ids []string) error {
	for _, id := range ids {
		res := r.resources[id]
		var fn string
		var destinations []string
		switch res.kind {
		case "AWS::Lambda::EventSourceMapping":
			fn, _ = refersTo(res.props["FunctionName"])
			source, err := r.value(res.props["EventSourceArn"])
			if err != nil {
				return fmt.Errorf("%s.EventSourceArn: %w", id, err)
			}
			if arn := fmt.Sprint(source); strings.HasPrefix(arn, "arn:aws:dynamodb:") && s.Functions[fn] != nil {
				for _, action := range []string{"DescribeStream", "GetRecords", "GetShardIterator", "ListStreams"} {
					s.Functions[fn].ServiceCalls = append(s.Functions[fn].ServiceCalls, Call{fn, "dynamodb:" + action, arn})
				}
			} else if strings.HasPrefix(arn, "arn:aws:sqs:") && s.Functions[fn] != nil {
				// Lambda's pollers receive the batches, delete what the function handled, return
				// what it did not, and read the queue's attributes, all with the function's role.
				for _, action := range []string{"ReceiveMessage", "DeleteMessage", "ChangeMessageVisibility", "GetQueueAttributes"} {
					s.Functions[fn].ServiceCalls = append(s.Functions[fn].ServiceCalls, Call{fn, "sqs:" + action, arn})
				}
			}
			destinations = []string{"OnFailure"}
		case "AWS::Lambda::EventInvokeConfig":
			fn, _ = refersTo(res.props["FunctionName"])
			destinations = []string{"OnFailure", "OnSuccess"}
		case "AWS::Lambda::Function":
			fn = id
			if dlq, ok := res.props["DeadLetterConfig"].(map[string]any); ok {
				if err := r.addSend(s, fn, id, dlq["TargetArn"]); err != nil {
					return err
				}
			}
		default:
			continue
		}
		if s.Functions[fn] == nil {
			return fmt.Errorf("%s: function %v is not in the template", id, res.props["FunctionName"])
		}
		config, _ := res.props["DestinationConfig"].(map[string]any)
		for _, key := range destinations {
			dest, _ := config[key].(map[string]any)
			if err := r.addSend(s, fn, id, dest["Destination"]); err != nil {
				return err
			}
		}
	}
	return nil
}

// addSend adds the call Lambda makes to deliver to the destination at v (an SQS queue or SNS
// topic ARN), if any.
func (r *resolver) addSend(s *Stack, fn, id string, v any) error {
	if v == nil {
		return nil
	}
	resolved, err := r.value(v)
	if err != nil {
		return fmt.Errorf("%s destination: %w", id, err)
	}
	arn := fmt.Sprint(resolved)
	action := ""
	switch {
	case strings.HasPrefix(arn, "arn:aws:sqs:"):
		action = "sqs:SendMessage"
	case strings.HasPrefix(arn, "arn:aws:sns:"):
		action = "sns:Publish"
	default:
		return fmt.Errorf("%s: destination %s is neither a queue nor a topic", id, arn)
	}
	s.Functions[fn].ServiceCalls = append(s.Functions[fn].ServiceCalls, Call{fn, action, arn})
	return nil
}
