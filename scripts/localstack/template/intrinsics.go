package template

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// noValue is what AWS::NoValue resolves to: the property or list item is dropped.
type noValue struct{}

// resolver turns template nodes into plain Go values (map[string]any, []any, string, int,
// float64, bool, nil), evaluating the CloudFormation intrinsic functions a local run needs.
type resolver struct {
	params     map[string]any
	resources  map[string]resource
	conditions map[string]*yaml.Node
	decided    map[string]bool
	mappings   *yaml.Node
	pseudo     map[string]string
}

// resource is what a Ref or GetAtt of a resource needs to know.
type resource struct {
	kind         string // AWS::Serverless::Function, AWS::DynamoDB::Table…
	physicalName string
	arn          string
}

// value resolves n; a mapping or sequence is resolved element by element.
func (r *resolver) value(n *yaml.Node) (any, error) {
	if n.Kind == yaml.AliasNode {
		return r.value(n.Alias)
	}
	if name, arg, ok := intrinsic(n); ok {
		return r.call(name, arg)
	}
	switch n.Kind {
	case yaml.MappingNode:
		return r.mapping(n)
	case yaml.SequenceNode:
		return r.sequence(n)
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		return v, nil
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node", n.Line)
}

func (r *resolver) mapping(n *yaml.Node) (map[string]any, error) {
	out := make(map[string]any, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		v, err := r.value(n.Content[i+1])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n.Content[i].Value, err)
		}
		if _, drop := v.(noValue); !drop {
			out[n.Content[i].Value] = v
		}
	}
	return out, nil
}

func (r *resolver) sequence(n *yaml.Node) ([]any, error) {
	out := make([]any, 0, len(n.Content))
	for i, item := range n.Content {
		v, err := r.value(item)
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		if _, drop := v.(noValue); !drop {
			out = append(out, v)
		}
	}
	return out, nil
}

// intrinsic recognises a function in short form (!Ref x) or long form ({"Fn::Sub": x}) and
// returns its name without prefix ("Ref", "Sub", "GetAtt"…) and its argument.
func intrinsic(n *yaml.Node) (string, *yaml.Node, bool) {
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") && n.Tag != "!" {
		arg := *n
		arg.Tag = ""
		if arg.Kind == yaml.ScalarNode {
			arg.Style = yaml.DoubleQuotedStyle // the argument of a short-form tag is text
		}
		return strings.TrimPrefix(n.Tag, "!"), &arg, true
	}
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 {
		key := n.Content[0].Value
		if key == "Ref" || strings.HasPrefix(key, "Fn::") {
			return strings.TrimPrefix(key, "Fn::"), n.Content[1], true
		}
	}
	return "", nil, false
}

func (r *resolver) call(name string, arg *yaml.Node) (any, error) {
	switch name {
	case "Ref":
		return r.ref(arg.Value)
	case "Sub":
		return r.sub(arg)
	case "GetAtt":
		return r.getAtt(arg)
	case "If":
		return r.ifThen(arg)
	case "Join":
		return r.join(arg)
	case "Select":
		return r.selectItem(arg)
	case "Split":
		return r.split(arg)
	case "FindInMap":
		return r.findInMap(arg)
	case "Base64":
		s, err := r.text(arg)
		return base64.StdEncoding.EncodeToString([]byte(s)), err
	case "Equals", "Not", "And", "Or", "Condition":
		return r.condition(name, arg)
	}
	return nil, fmt.Errorf("line %d: Fn::%s is not supported by the local stack", arg.Line, name)
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
		return res.physicalName, nil
	}
	return nil, fmt.Errorf("!Ref %s: no such parameter or resource", name)
}

func (r *resolver) getAtt(arg *yaml.Node) (any, error) {
	var logicalID, attr string
	if arg.Kind == yaml.ScalarNode {
		logicalID, attr, _ = strings.Cut(arg.Value, ".")
	} else if parts, err := r.strings(arg, 2); err == nil {
		logicalID, attr = parts[0], parts[1]
	} else {
		return nil, err
	}
	return r.attribute(logicalID, attr)
}

func (r *resolver) attribute(logicalID, attr string) (string, error) {
	res, ok := r.resources[logicalID]
	if !ok {
		return "", fmt.Errorf("!GetAtt %s.%s: no such resource", logicalID, attr)
	}
	switch attr {
	case "Arn":
		return res.arn, nil
	case "StreamArn":
		if res.kind == tableType {
			return res.arn + "/stream/local", nil
		}
	case "QueueName", "Name":
		return res.physicalName, nil
	}
	return "", fmt.Errorf("!GetAtt %s.%s: unknown to the local stack", logicalID, attr)
}

// sub replaces ${Name}, ${Resource.Attr} and ${!Literal} in a string, with optional variables.
func (r *resolver) sub(arg *yaml.Node) (any, error) {
	format, vars := arg, map[string]any{}
	if arg.Kind == yaml.SequenceNode {
		if len(arg.Content) != 2 {
			return nil, fmt.Errorf("line %d: Fn::Sub takes a string and a map", arg.Line)
		}
		format = arg.Content[0]
		m, err := r.mapping(arg.Content[1])
		if err != nil {
			return nil, err
		}
		vars = m
	}
	var out strings.Builder
	rest := format.Value
	for {
		start := strings.Index(rest, "${")
		if start < 0 {
			out.WriteString(rest)
			return out.String(), nil
		}
		end := strings.Index(rest[start:], "}")
		if end < 0 {
			return nil, fmt.Errorf("line %d: Fn::Sub: unclosed ${", format.Line)
		}
		out.WriteString(rest[:start])
		name := rest[start+2 : start+end]
		rest = rest[start+end+1:]
		if strings.HasPrefix(name, "!") {
			out.WriteString("${" + name[1:] + "}")
			continue
		}
		v, err := r.subVariable(name, vars)
		if err != nil {
			return nil, err
		}
		out.WriteString(v)
	}
}

func (r *resolver) subVariable(name string, vars map[string]any) (string, error) {
	if v, ok := vars[name]; ok {
		return scalarText(v)
	}
	if logicalID, attr, ok := strings.Cut(name, "."); ok && !strings.HasPrefix(name, "AWS::") {
		return r.attribute(logicalID, attr)
	}
	v, err := r.ref(name)
	if err != nil {
		return "", err
	}
	return scalarText(v)
}

func (r *resolver) ifThen(arg *yaml.Node) (any, error) {
	if arg.Kind != yaml.SequenceNode || len(arg.Content) != 3 {
		return nil, fmt.Errorf("line %d: Fn::If takes [condition, then, else]", arg.Line)
	}
	holds, err := r.decide(arg.Content[0].Value)
	if err != nil {
		return nil, err
	}
	if holds {
		return r.value(arg.Content[1])
	}
	return r.value(arg.Content[2])
}

func (r *resolver) join(arg *yaml.Node) (any, error) {
	if arg.Kind != yaml.SequenceNode || len(arg.Content) != 2 {
		return nil, fmt.Errorf("line %d: Fn::Join takes [separator, list]", arg.Line)
	}
	items, err := r.list(arg.Content[1])
	if err != nil {
		return nil, err
	}
	texts := make([]string, len(items))
	for i, item := range items {
		if texts[i], err = scalarText(item); err != nil {
			return nil, err
		}
	}
	return strings.Join(texts, arg.Content[0].Value), nil
}

func (r *resolver) selectItem(arg *yaml.Node) (any, error) {
	if arg.Kind != yaml.SequenceNode || len(arg.Content) != 2 {
		return nil, fmt.Errorf("line %d: Fn::Select takes [index, list]", arg.Line)
	}
	index, err := r.text(arg.Content[0])
	if err != nil {
		return nil, err
	}
	items, err := r.list(arg.Content[1])
	if err != nil {
		return nil, err
	}
	i, err := strconv.Atoi(index)
	if err != nil || i < 0 || i >= len(items) {
		return nil, fmt.Errorf("line %d: Fn::Select: index %s out of range", arg.Line, index)
	}
	return items[i], nil
}

func (r *resolver) split(arg *yaml.Node) (any, error) {
	parts, err := r.strings(arg, 2)
	if err != nil {
		return nil, err
	}
	var out []any
	for _, s := range strings.Split(parts[1], parts[0]) {
		out = append(out, s)
	}
	return out, nil
}

func (r *resolver) findInMap(arg *yaml.Node) (any, error) {
	keys, err := r.strings(arg, 3)
	if err != nil {
		return nil, err
	}
	node := r.mappings
	for _, key := range keys {
		if node = child(node, key); node == nil {
			return nil, fmt.Errorf("!FindInMap %v: not in Mappings", keys)
		}
	}
	return r.value(node)
}

// list resolves a node that must give a list (a sequence or a function returning one).
func (r *resolver) list(n *yaml.Node) ([]any, error) {
	v, err := r.value(n)
	if err != nil {
		return nil, err
	}
	items, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("line %d: want a list", n.Line)
	}
	return items, nil
}

// strings resolves a sequence of exactly count scalar arguments.
func (r *resolver) strings(n *yaml.Node, count int) ([]string, error) {
	if n.Kind != yaml.SequenceNode || len(n.Content) != count {
		return nil, fmt.Errorf("line %d: want a list of %d arguments", n.Line, count)
	}
	out := make([]string, count)
	for i, item := range n.Content {
		s, err := r.text(item)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

// text resolves n to a string, as CloudFormation turns scalars into text.
func (r *resolver) text(n *yaml.Node) (string, error) {
	v, err := r.value(n)
	if err != nil {
		return "", err
	}
	return scalarText(v)
}

// scalarText renders a resolved scalar as text.
func scalarText(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case int, int64, float64, bool:
		return fmt.Sprint(v), nil
	case nil:
		return "", nil
	}
	return "", fmt.Errorf("want a text value, got %v", v)
}
