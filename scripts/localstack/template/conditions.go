package template

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// decide evaluates the template condition called name, once.
func (r *resolver) decide(name string) (bool, error) {
	if holds, ok := r.decided[name]; ok {
		return holds, nil
	}
	n, ok := r.conditions[name]
	if !ok {
		return false, fmt.Errorf("condition %s is not defined", name)
	}
	fn, arg, ok := intrinsic(n)
	if !ok {
		return false, fmt.Errorf("condition %s: want Fn::Equals, Fn::Not, Fn::And or Fn::Or", name)
	}
	holds, err := r.condition(fn, arg)
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	r.decided[name] = holds
	return holds, nil
}

// condition evaluates a condition function: Equals, Not, And, Or, or a named Condition.
func (r *resolver) condition(fn string, arg *yaml.Node) (bool, error) {
	switch fn {
	case "Condition":
		return r.decide(arg.Value)
	case "Equals":
		pair, err := r.strings(arg, 2)
		if err != nil {
			return false, err
		}
		return pair[0] == pair[1], nil
	case "Not":
		if arg.Kind != yaml.SequenceNode || len(arg.Content) != 1 {
			return false, fmt.Errorf("line %d: Fn::Not takes one condition", arg.Line)
		}
		holds, err := r.operand(arg.Content[0])
		return !holds, err
	case "And", "Or":
		return r.combine(fn == "And", arg)
	}
	return false, fmt.Errorf("line %d: Fn::%s is not a condition", arg.Line, fn)
}

// combine evaluates Fn::And (all) or Fn::Or (any) over a list of conditions.
func (r *resolver) combine(all bool, arg *yaml.Node) (bool, error) {
	if arg.Kind != yaml.SequenceNode {
		return false, fmt.Errorf("line %d: want a list of conditions", arg.Line)
	}
	for _, item := range arg.Content {
		holds, err := r.operand(item)
		if err != nil {
			return false, err
		}
		if holds != all {
			return holds, nil
		}
	}
	return all, nil
}

// operand evaluates one argument of Not, And or Or: a condition function or {Condition: name}.
func (r *resolver) operand(n *yaml.Node) (bool, error) {
	if c := child(n, "Condition"); c != nil && len(n.Content) == 2 {
		return r.decide(c.Value)
	}
	fn, arg, ok := intrinsic(n)
	if !ok {
		return false, fmt.Errorf("line %d: want a condition", n.Line)
	}
	return r.condition(fn, arg)
}

// child returns the value of key in a mapping node, or nil.
func child(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
