// Package pattern matches JSON events against EventBridge event patterns, the same language
// Lambda uses for event source FilterCriteria. The local stack routes EventBridge events to
// rules and filters the table's stream records with it.
//
// Supported: exact values (strings, numbers, booleans, null) listed in arrays, nested objects,
// "$or", and the operators prefix, suffix, equals-ignore-case, anything-but (a value, a list or
// a prefix/suffix), exists and numeric. An event field that is an array matches when any of its
// elements does.
package pattern

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
)

// Pattern is a parsed event pattern, safe for concurrent use.
type Pattern struct {
	root object
}

// object is one level of a pattern: every field must match, and, when alternatives is not
// empty, at least one of them too ("$or").
type object struct {
	fields       []field
	alternatives []object
}

// field is a pattern key with either nested fields or a list of leaf matchers.
type field struct {
	name     string
	nested   *object
	matchers []matcher
}

// Parse reads a pattern from its JSON text.
func Parse(data []byte) (*Pattern, error) {
	var raw any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("pattern: %w", err)
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("pattern: must be a JSON object")
	}
	root, err := parseObject(obj, "")
	if err != nil {
		return nil, err
	}
	return &Pattern{root: root}, nil
}

// MustParse is Parse for patterns written in code; it panics on an invalid pattern.
func MustParse(text string) *Pattern {
	p, err := Parse([]byte(text))
	if err != nil {
		panic(err)
	}
	return p
}

// Match reports whether the JSON event matches. Text that is not a JSON object never matches.
func (p *Pattern) Match(event []byte) bool {
	var decoded any
	dec := json.NewDecoder(bytes.NewReader(event))
	dec.UseNumber()
	if err := dec.Decode(&decoded); err != nil {
		return false
	}
	return p.MatchValue(decoded)
}

// MatchValue is Match for an event already decoded by encoding/json (into map[string]any).
func (p *Pattern) MatchValue(event any) bool {
	obj, ok := event.(map[string]any)
	return ok && p.root.match(obj)
}

// AnyMatch reports whether the event matches at least one of the patterns, as Lambda's
// FilterCriteria does with its list of filters. No patterns means everything matches.
func AnyMatch(patterns []*Pattern, event []byte) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if p.Match(event) {
			return true
		}
	}
	return false
}

func parseObject(obj map[string]any, path string) (object, error) {
	var out object
	names := make([]string, 0, len(obj))
	for name := range obj {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		at := path + "." + name
		if name == "$or" {
			alts, err := parseAlternatives(obj[name], at)
			if err != nil {
				return object{}, err
			}
			out.alternatives = alts
			continue
		}
		f, err := parseField(name, obj[name], at)
		if err != nil {
			return object{}, err
		}
		out.fields = append(out.fields, f)
	}
	return out, nil
}

func parseAlternatives(value any, path string) ([]object, error) {
	list, ok := value.([]any)
	if !ok || len(list) < 2 {
		return nil, fmt.Errorf("pattern: %s must be an array of at least two objects", path)
	}
	alts := make([]object, 0, len(list))
	for _, item := range list {
		obj, ok := item.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("pattern: %s must hold objects", path)
		}
		alt, err := parseObject(obj, path)
		if err != nil {
			return nil, err
		}
		alts = append(alts, alt)
	}
	return alts, nil
}

func parseField(name string, value any, path string) (field, error) {
	switch v := value.(type) {
	case map[string]any:
		nested, err := parseObject(v, path)
		if err != nil {
			return field{}, err
		}
		return field{name: name, nested: &nested}, nil
	case []any:
		if len(v) == 0 {
			return field{}, fmt.Errorf("pattern: %s is an empty array", path)
		}
		matchers := make([]matcher, 0, len(v))
		for _, item := range v {
			m, err := parseMatcher(item, path)
			if err != nil {
				return field{}, err
			}
			matchers = append(matchers, m)
		}
		return field{name: name, matchers: matchers}, nil
	default:
		return field{}, fmt.Errorf("pattern: %s must be an object or an array, not %v", path, value)
	}
}

func (o object) match(event map[string]any) bool {
	for _, f := range o.fields {
		if !f.match(event) {
			return false
		}
	}
	if len(o.alternatives) == 0 {
		return true
	}
	for _, alt := range o.alternatives {
		if alt.match(event) {
			return true
		}
	}
	return false
}

func (f field) match(event map[string]any) bool {
	value, present := event[f.name]
	if f.nested != nil {
		return matchNested(*f.nested, value)
	}
	for _, m := range f.matchers {
		if matchLeaf(m, value, present) {
			return true
		}
	}
	return false
}

// matchNested matches an object pattern against a value that should be an object, or an array
// holding objects.
func matchNested(o object, value any) bool {
	switch v := value.(type) {
	case map[string]any:
		return o.match(v)
	case []any:
		for _, item := range v {
			if obj, ok := item.(map[string]any); ok && o.match(obj) {
				return true
			}
		}
	}
	return false
}

// matchLeaf applies one matcher to an event field: to each element when the field is an array.
func matchLeaf(m matcher, value any, present bool) bool {
	if !present {
		return m.matchAbsent()
	}
	if list, ok := value.([]any); ok {
		for _, item := range list {
			if m.match(item) {
				return true
			}
		}
		return false
	}
	return m.match(value)
}
