package pattern

import (
	"encoding/json"
	"fmt"
	"strings"
)

// matcher is one entry of a leaf array: a value to equal or an operator object.
type matcher interface {
	// match reports whether a present, non-array event value matches.
	match(value any) bool
	// matchAbsent reports whether a missing field matches (only {"exists": false} does).
	matchAbsent() bool
}

func parseMatcher(item any, path string) (matcher, error) {
	obj, ok := item.(map[string]any)
	if !ok {
		return exact{want: item}, nil
	}
	if len(obj) != 1 {
		return nil, fmt.Errorf("pattern: %s: an operator object has exactly one key", path)
	}
	for op, arg := range obj {
		return parseOperator(op, arg, path)
	}
	panic("unreachable")
}

func parseOperator(op string, arg any, path string) (matcher, error) {
	at := fmt.Sprintf("%s: %q", path, op)
	switch op {
	case "prefix", "suffix", "equals-ignore-case":
		s, ok := arg.(string)
		if !ok {
			return nil, fmt.Errorf("pattern: %s takes a string", at)
		}
		return affix{kind: op, text: s}, nil
	case "exists":
		b, ok := arg.(bool)
		if !ok {
			return nil, fmt.Errorf("pattern: %s takes true or false", at)
		}
		return exists{want: b}, nil
	case "anything-but":
		return parseAnythingBut(arg, at)
	case "numeric":
		return parseNumeric(arg, at)
	}
	return nil, fmt.Errorf("pattern: %s: unsupported operator", at)
}

// exact equals a value; numbers compare by value, so 300 equals 300.0.
type exact struct{ want any }

func (e exact) match(value any) bool {
	if wn, ok := e.want.(json.Number); ok {
		v, ok := asNumber(value)
		return ok && numberValue(wn) == v
	}
	return value == e.want
}

func (exact) matchAbsent() bool { return false }

// affix is prefix, suffix or equals-ignore-case on strings.
type affix struct{ kind, text string }

func (a affix) match(value any) bool {
	s, ok := value.(string)
	if !ok {
		return false
	}
	switch a.kind {
	case "prefix":
		return strings.HasPrefix(s, a.text)
	case "suffix":
		return strings.HasSuffix(s, a.text)
	default:
		return strings.EqualFold(s, a.text)
	}
}

func (affix) matchAbsent() bool { return false }

// exists matches on the presence of a leaf field.
type exists struct{ want bool }

func (e exists) match(value any) bool {
	if _, isObject := value.(map[string]any); isObject {
		return false // exists only looks at leaves
	}
	return e.want
}

func (e exists) matchAbsent() bool { return !e.want }

// anythingBut matches a present value that none of its inner matchers match.
type anythingBut struct{ not []matcher }

func parseAnythingBut(arg any, at string) (matcher, error) {
	switch v := arg.(type) {
	case []any:
		not := make([]matcher, 0, len(v))
		for _, item := range v {
			if _, isObject := item.(map[string]any); isObject {
				return nil, fmt.Errorf("pattern: %s lists plain values only", at)
			}
			not = append(not, exact{want: item})
		}
		return anythingBut{not: not}, nil
	case map[string]any:
		inner, err := parseMatcher(v, at)
		if err != nil {
			return nil, err
		}
		if _, ok := inner.(affix); !ok {
			return nil, fmt.Errorf("pattern: %s takes a prefix or suffix object", at)
		}
		return anythingBut{not: []matcher{inner}}, nil
	default:
		return anythingBut{not: []matcher{exact{want: v}}}, nil
	}
}

func (a anythingBut) match(value any) bool {
	for _, m := range a.not {
		if m.match(value) {
			return false
		}
	}
	return true
}

func (anythingBut) matchAbsent() bool { return false }

// numeric holds comparisons that must all hold, such as [">", 0, "<=", 5].
type numeric struct{ comparisons []comparison }

type comparison struct {
	op    string
	bound float64
}

func parseNumeric(arg any, at string) (matcher, error) {
	list, ok := arg.([]any)
	if !ok || len(list) == 0 || len(list)%2 != 0 {
		return nil, fmt.Errorf("pattern: %s takes operator and number pairs", at)
	}
	var n numeric
	for i := 0; i < len(list); i += 2 {
		op, _ := list[i].(string)
		bound, isNumber := list[i+1].(json.Number)
		switch op {
		case "=", "<", "<=", ">", ">=":
		default:
			return nil, fmt.Errorf("pattern: %s: unknown comparison %v", at, list[i])
		}
		if !isNumber {
			return nil, fmt.Errorf("pattern: %s: %v is not a number", at, list[i+1])
		}
		n.comparisons = append(n.comparisons, comparison{op: op, bound: numberValue(bound)})
	}
	return n, nil
}

func (n numeric) match(value any) bool {
	v, ok := asNumber(value)
	if !ok {
		return false
	}
	for _, c := range n.comparisons {
		if !c.holds(v) {
			return false
		}
	}
	return true
}

func (c comparison) holds(v float64) bool {
	switch c.op {
	case "=":
		return v == c.bound
	case "<":
		return v < c.bound
	case "<=":
		return v <= c.bound
	case ">":
		return v > c.bound
	default:
		return v >= c.bound
	}
}

func (numeric) matchAbsent() bool { return false }

// numberValue reads a JSON number; the decoder only produces valid ones.
func numberValue(n json.Number) float64 {
	f, _ := n.Float64()
	return f
}

// asNumber reads an event value that is a number, decoded with or without UseNumber.
func asNumber(value any) (float64, bool) {
	switch v := value.(type) {
	case json.Number:
		return numberValue(v), true
	case float64:
		return v, true
	}
	return 0, false
}
