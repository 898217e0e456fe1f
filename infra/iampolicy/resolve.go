package iampolicy

import (
	"fmt"
	"strings"
)

// noValue is AWS::NoValue: the property or list item is dropped.
type noValue struct{}

// resolver evaluates the intrinsic functions of an expanded template for one deployment.
type resolver struct {
	opts       Options
	params     map[string]any
	pseudo     map[string]string
	conditions map[string]any
	decided    map[string]bool
	resources  map[string]resource
}

type resource struct {
	condition string // the resource exists only if it holds
	kind      string
	props     map[string]any
	name      string // physical name: its name property, else the logical ID (as the local stack)
}

func newResolver(doc map[string]any, opts Options) (*resolver, error) {
	r := &resolver{
		opts: opts, params: map[string]any{}, decided: map[string]bool{}, resources: map[string]resource{},
		pseudo: map[string]string{
			"AWS::Region": opts.Region, "AWS::AccountId": opts.AccountID, "AWS::StackName": opts.StackName,
			"AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com",
			"AWS::StackId": "arn:aws:cloudformation:" + opts.Region + ":" + opts.AccountID + ":stack/" + opts.StackName + "/id",
		},
	}
	r.conditions, _ = doc["Conditions"].(map[string]any)
	params, _ := doc["Parameters"].(map[string]any)
	for name, p := range params {
		p, _ := p.(map[string]any)
		value, ok := opts.Parameters[name]
		if !ok {
			def, has := p["Default"]
			if !has {
				return nil, fmt.Errorf("parameter %s has no default and no value", name)
			}
			value = fmt.Sprint(def)
		}
		if t, _ := p["Type"].(string); strings.Contains(t, "List") {
			var items []any
			for _, s := range strings.Split(value, ",") {
				items = append(items, strings.TrimSpace(s))
			}
			r.params[name] = items
		} else {
			r.params[name] = value
		}
	}
	resources, _ := doc["Resources"].(map[string]any)
	for id, v := range resources {
		m, _ := v.(map[string]any)
		kind, _ := m["Type"].(string)
		props, _ := m["Properties"].(map[string]any)
		cond, _ := m["Condition"].(string)
		r.resources[id] = resource{condition: cond, kind: kind, props: props, name: id}
	}
	// Names second: a name may refer to parameters, never to another resource's name here.
	for id, res := range r.resources {
		if prop := nameProperty[res.kind]; prop != "" && res.props[prop] != nil {
			v, err := r.value(res.props[prop])
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w", id, prop, err)
			}
			if s, ok := v.(string); ok {
				res.name = s
				r.resources[id] = res
			}
		}
	}
	return r, nil
}

var nameProperty = map[string]string{
	"AWS::Lambda::Function": "FunctionName", "AWS::DynamoDB::Table": "TableName",
	"AWS::SQS::Queue": "QueueName", "AWS::Events::EventBus": "Name", "AWS::Logs::LogGroup": "LogGroupName",
	"AWS::IAM::Role": "RoleName", "AWS::Events::Rule": "Name",
}

// ids lists the resources the deployment creates (their conditions hold), in order.
func (r *resolver) ids() ([]string, error) {
	var out []string
	for _, id := range sortedKeys(r.resources) {
		if c := r.resources[id].condition; c != "" {
			holds, err := r.decide(c)
			if err != nil {
				return nil, err
			}
			if !holds {
				continue
			}
		}
		out = append(out, id)
	}
	return out, nil
}

// value resolves v: maps and lists element by element, intrinsic functions evaluated.
func (r *resolver) value(v any) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 1 {
			for k, arg := range v {
				if k == "Ref" || strings.HasPrefix(k, "Fn::") {
					return r.call(strings.TrimPrefix(k, "Fn::"), arg)
				}
			}
		}
		out := map[string]any{}
		for k, item := range v {
			resolved, err := r.value(item)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			if _, drop := resolved.(noValue); !drop {
				out[k] = resolved
			}
		}
		return out, nil
	case []any:
		var out []any
		for _, item := range v {
			resolved, err := r.value(item)
			if err != nil {
				return nil, err
			}
			if _, drop := resolved.(noValue); !drop {
				out = append(out, resolved)
			}
		}
		return out, nil
	}
	return v, nil
}

func (r *resolver) call(fn string, arg any) (any, error) {
	switch fn {
	case "Ref":
		name, _ := arg.(string)
		return r.ref(name)
	case "GetAtt":
		parts, err := getAttParts(arg)
		if err != nil {
			return nil, err
		}
		return r.attribute(parts[0], parts[1])
	case "Sub":
		return r.sub(arg)
	case "If":
		args, _ := arg.([]any)
		if len(args) != 3 {
			return nil, fmt.Errorf("Fn::If takes three arguments")
		}
		name, _ := args[0].(string)
		holds, err := r.decide(name)
		if err != nil {
			return nil, err
		}
		if holds {
			return r.value(args[1])
		}
		return r.value(args[2])
	case "Join":
		args, _ := arg.([]any)
		if len(args) != 2 {
			return nil, fmt.Errorf("Fn::Join takes two arguments")
		}
		items, err := r.value(args[1])
		if err != nil {
			return nil, err
		}
		list, _ := items.([]any)
		texts := make([]string, len(list))
		for i, item := range list {
			texts[i] = fmt.Sprint(item)
		}
		return strings.Join(texts, fmt.Sprint(args[0])), nil
	case "Equals", "Not", "And", "Or", "Condition":
		return r.condition(fn, arg)
	}
	return nil, fmt.Errorf("the policy checker does not support Fn::%s", fn)
}

func getAttParts(arg any) ([]string, error) {
	switch a := arg.(type) {
	case string:
		id, attr, ok := strings.Cut(a, ".")
		if ok {
			return []string{id, attr}, nil
		}
	case []any:
		if len(a) == 2 {
			return []string{fmt.Sprint(a[0]), fmt.Sprint(a[1])}, nil
		}
	}
	return nil, fmt.Errorf("Fn::GetAtt %v: want Resource.Attribute", arg)
}

func (r *resolver) ref(name string) (any, error) {
	if name == "AWS::NoValue" {
		return noValue{}, nil
	}
	if v, ok := r.pseudo[name]; ok {
		return v, nil
	}
	if v, ok := r.params[name]; ok {
		return v, nil
	}
	if res, ok := r.resources[name]; ok {
		if res.kind == "AWS::SQS::Queue" { // Ref of a queue is its URL
			return "https://sqs." + r.opts.Region + ".amazonaws.com/" + r.opts.AccountID + "/" + res.name, nil
		}
		return res.name, nil
	}
	return nil, fmt.Errorf("!Ref %s: no such parameter or resource", name)
}

// attribute is the ARN (or stream ARN) a resource would have in this deployment.
func (r *resolver) attribute(id, attr string) (string, error) {
	res, ok := r.resources[id]
	if !ok {
		return "", fmt.Errorf("!GetAtt %s.%s: no such resource", id, attr)
	}
	prefix := func(service string) string {
		return "arn:aws:" + service + ":" + r.opts.Region + ":" + r.opts.AccountID + ":"
	}
	switch {
	case attr == "Arn" && res.kind == "AWS::DynamoDB::Table":
		return prefix("dynamodb") + "table/" + res.name, nil
	case attr == "StreamArn" && res.kind == "AWS::DynamoDB::Table":
		return prefix("dynamodb") + "table/" + res.name + "/stream/local", nil
	case attr == "Arn" && res.kind == "AWS::SQS::Queue":
		return prefix("sqs") + res.name, nil
	case attr == "Arn" && res.kind == "AWS::Events::EventBus":
		return prefix("events") + "event-bus/" + res.name, nil
	case attr == "Arn" && res.kind == "AWS::Events::Rule":
		return prefix("events") + "rule/" + res.name, nil
	case attr == "Arn" && res.kind == "AWS::Lambda::Function":
		return prefix("lambda") + "function:" + res.name, nil
	case attr == "Arn" && res.kind == "AWS::Logs::LogGroup":
		return prefix("logs") + "log-group:" + res.name + ":*", nil
	case attr == "Arn" && res.kind == "AWS::IAM::Role":
		return "arn:aws:iam::" + r.opts.AccountID + ":role/" + res.name, nil
	case attr == "Name" || attr == "QueueName":
		return res.name, nil
	}
	return "", fmt.Errorf("!GetAtt %s.%s (%s) is not known to the policy checker", id, attr, res.kind)
}

// sub replaces ${Name}, ${Resource.Attr} and ${!Literal}, with optional variables.
func (r *resolver) sub(arg any) (any, error) {
	format, vars := arg, map[string]any{}
	if list, ok := arg.([]any); ok {
		if len(list) != 2 {
			return nil, fmt.Errorf("Fn::Sub takes a string and a map")
		}
		format = list[0]
		m, err := r.value(list[1])
		if err != nil {
			return nil, err
		}
		vars, _ = m.(map[string]any)
	}
	rest, _ := format.(string)
	var out strings.Builder
	for {
		start := strings.Index(rest, "${")
		if start < 0 {
			out.WriteString(rest)
			return out.String(), nil
		}
		end := strings.Index(rest[start:], "}")
		if end < 0 {
			return nil, fmt.Errorf("Fn::Sub: unclosed ${")
		}
		out.WriteString(rest[:start])
		name := rest[start+2 : start+end]
		rest = rest[start+end+1:]
		if strings.HasPrefix(name, "!") {
			out.WriteString("${" + name[1:] + "}")
			continue
		}
		var v any
		var err error
		switch id, attr, dotted := strings.Cut(name, "."); {
		case vars[name] != nil:
			v = vars[name]
		case dotted && !strings.HasPrefix(name, "AWS::"):
			v, err = r.attribute(id, attr)
		default:
			v, err = r.ref(name)
		}
		if err != nil {
			return nil, err
		}
		out.WriteString(fmt.Sprint(v))
	}
}

// decide evaluates the named condition, once.
func (r *resolver) decide(name string) (bool, error) {
	if holds, ok := r.decided[name]; ok {
		return holds, nil
	}
	def, ok := r.conditions[name].(map[string]any)
	if !ok || len(def) != 1 {
		return false, fmt.Errorf("condition %s is not defined", name)
	}
	for k, arg := range def {
		holds, err := r.condition(strings.TrimPrefix(k, "Fn::"), arg)
		if err != nil {
			return false, fmt.Errorf("condition %s: %w", name, err)
		}
		r.decided[name] = holds
		return holds, nil
	}
	return false, nil
}

func (r *resolver) condition(fn string, arg any) (bool, error) {
	if fn == "Condition" {
		return r.decide(fmt.Sprint(arg))
	}
	args, _ := arg.([]any)
	switch fn {
	case "Equals":
		if len(args) != 2 {
			return false, fmt.Errorf("Fn::Equals takes two values")
		}
		a, err := r.value(args[0])
		if err != nil {
			return false, err
		}
		b, err := r.value(args[1])
		return fmt.Sprint(a) == fmt.Sprint(b), err
	case "Not", "And", "Or":
		results := make([]bool, len(args))
		for i, item := range args {
			m, _ := item.(map[string]any)
			if len(m) != 1 {
				return false, fmt.Errorf("conditions wanted in Fn::%s", fn)
			}
			for k, v := range m {
				holds, err := r.condition(strings.TrimPrefix(k, "Fn::"), v)
				if err != nil {
					return false, err
				}
				results[i] = holds
			}
		}
		switch fn {
		case "Not":
			return len(results) == 1 && !results[0], nil
		case "And":
			for _, h := range results {
				if !h {
					return false, nil
				}
			}
			return true, nil
		default:
			for _, h := range results {
				if h {
					return true, nil
				}
			}
			return false, nil
		}
	}
	return false, fmt.Errorf("not a condition: Fn::%s", fn)
}
