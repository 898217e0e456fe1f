package template

import (
	"fmt"
	"strings"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"
)

// functionSpec reads one function's properties, falling back to Globals.Function.
type functionSpec struct {
	logicalID string
	props     *yaml.Node
	globals   *yaml.Node
	resources *yaml.Node
	r         *resolver
}

// readFunction reads a function resource and its events.
func readFunction(logicalID string, node, globals, resources *yaml.Node, r *resolver) (Function, []string, error) {
	s := functionSpec{logicalID: logicalID, props: child(node, "Properties"), globals: globals, resources: resources, r: r}
	f := Function{LogicalID: logicalID, Name: kebabName(logicalID), FunctionName: r.resources[logicalID].physicalName}
	f.SourceDir = "functions/" + f.Name
	if dir := textOf(child(child(node, "Metadata"), "SourceDir")); dir != "" {
		f.SourceDir = dir
	}
	var err error
	if f.Handler, err = s.text("Handler", ""); err != nil {
		return f, nil, err
	}
	if f.Runtime, err = s.text("Runtime", ""); err != nil {
		return f, nil, err
	}
	if f.Architectures, err = s.texts("Architectures"); err != nil {
		return f, nil, err
	}
	if f.Timeout, err = s.seconds("Timeout", 3); err != nil {
		return f, nil, err
	}
	if f.MemorySize, err = s.number("MemorySize", 128); err != nil {
		return f, nil, err
	}
	if f.Environment, err = s.environment(); err != nil {
		return f, nil, err
	}
	if f.AsyncRetryAttempts, f.AsyncMaxEventAge, err = s.asyncConfig(); err != nil {
		return f, nil, err
	}
	warnings, err := s.readEvents(&f)
	return f, warnings, err
}

// kebabName turns TransferFunction into transfer and CallbackReceiverFunction into
// callback-receiver.
func kebabName(logicalID string) string {
	base := strings.TrimSuffix(logicalID, "Function")
	if base == "" {
		base = logicalID
	}
	var b strings.Builder
	for i, c := range base {
		if unicode.IsUpper(c) {
			if i > 0 {
				b.WriteByte('-')
			}
			c = unicode.ToLower(c)
		}
		b.WriteRune(c)
	}
	return b.String()
}

// property resolves the function's property, or the global one; nil when neither is set.
func (s functionSpec) property(name string) (any, error) {
	n := child(s.props, name)
	if n == nil {
		n = child(s.globals, name)
	}
	if n == nil {
		return nil, nil
	}
	v, err := s.r.value(n)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if _, drop := v.(noValue); drop {
		return nil, nil
	}
	return v, nil
}

func (s functionSpec) text(name, def string) (string, error) {
	v, err := s.property(name)
	if err != nil || v == nil {
		return def, err
	}
	text, err := scalarText(v)
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	return text, nil
}

func (s functionSpec) texts(name string) ([]string, error) {
	v, err := s.property(name)
	if err != nil || v == nil {
		return nil, err
	}
	return textList(v, name)
}

func (s functionSpec) number(name string, def int) (int, error) {
	v, err := s.property(name)
	if err != nil || v == nil {
		return def, err
	}
	return intOf(v, name)
}

func (s functionSpec) seconds(name string, def int) (time.Duration, error) {
	n, err := s.number(name, def)
	return time.Duration(n) * time.Second, err
}

// environment merges Globals' Environment.Variables with the function's own, which win.
func (s functionSpec) environment() (map[string]string, error) {
	env := map[string]string{}
	for _, source := range []*yaml.Node{s.globals, s.props} {
		vars := child(child(source, "Environment"), "Variables")
		if vars == nil {
			continue
		}
		resolved, err := s.r.value(vars)
		if err != nil {
			return nil, fmt.Errorf("environment: %w", err)
		}
		m, ok := resolved.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("Environment.Variables is not a mapping")
		}
		for name, value := range m {
			text, err := scalarText(value)
			if err != nil {
				return nil, fmt.Errorf("Environment.Variables.%s: %w", name, err)
			}
			env[name] = text
		}
	}
	return env, nil
}

// asyncConfig reads EventInvokeConfig's MaximumRetryAttempts and MaximumEventAgeInSeconds
// (Lambda's defaults: 2 and 6 hours).
func (s functionSpec) asyncConfig() (int, time.Duration, error) {
	v, err := s.property("EventInvokeConfig")
	m, _ := v.(map[string]any)
	if err != nil {
		return 0, 0, err
	}
	retries, err := intField(m, "MaximumRetryAttempts", 2, "EventInvokeConfig")
	if err != nil {
		return 0, 0, err
	}
	age, err := intField(m, "MaximumEventAgeInSeconds", 6*3600, "EventInvokeConfig")
	return retries, time.Duration(age) * time.Second, err
}

// intOf reads a resolved number, which may be text (a parameter's value always is).
func intOf(v any, name string) (int, error) {
	switch v := v.(type) {
	case int:
		return v, nil
	case float64:
		return int(v), nil
	case string:
		var n int
		if _, err := fmt.Sscan(v, &n); err == nil {
			return n, nil
		}
	}
	return 0, fmt.Errorf("%s: %v is not a number", name, v)
}

// intField reads m[key] as a number, or def when it is missing.
func intField(m map[string]any, key string, def int, where string) (int, error) {
	v, ok := m[key]
	if !ok {
		return def, nil
	}
	return intOf(v, where+"."+key)
}

// textList reads a resolved list of scalars.
func textList(v any, name string) ([]string, error) {
	items, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: want a list", name)
	}
	out := make([]string, 0, len(items))
	for _, item := range items {
		text, err := scalarText(item)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, text)
	}
	return out, nil
}
