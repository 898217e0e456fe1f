package infra_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// This file reads template.yaml as CloudFormation sees it, for the tests of the other files.

// loadTemplate reads template.yaml with CloudFormation's short forms turned into their long
// forms: !Ref X becomes {"Ref": "X"}, !GetAtt A.B becomes {"Fn::GetAtt": ["A", "B"]}, !Sub s
// becomes {"Fn::Sub": "s"}, and so on.
func loadTemplate(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	v, err := decode(&doc)
	if err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatal("template.yaml is not a mapping")
	}
	return m
}

func decode(n *yaml.Node) (any, error) {
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		name := strings.TrimPrefix(n.Tag, "!")
		plain := *n
		plain.Tag = ""
		arg, err := decode(&plain)
		if err != nil {
			return nil, err
		}
		if s, ok := arg.(string); ok && name == "GetAtt" {
			resource, attr, _ := strings.Cut(s, ".")
			arg = []any{resource, attr}
		}
		if name == "Ref" {
			return map[string]any{"Ref": arg}, nil
		}
		return map[string]any{"Fn::" + name: arg}, nil
	}
	switch n.Kind {
	case yaml.DocumentNode:
		return decode(n.Content[0])
	case yaml.AliasNode:
		return decode(n.Alias)
	case yaml.SequenceNode:
		list := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := decode(c)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		return list, nil
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, err := decode(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = v
		}
		return m, nil
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, fmt.Errorf("line %d: %w", n.Line, err)
	}
	return v, nil
}

// dig walks nested mappings; it returns nil when a key is missing.
func dig(v any, path ...string) any {
	for _, key := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[key]
	}
	return v
}

func ref(name string) map[string]any { return map[string]any{"Ref": name} }

func getAtt(resource, attr string) map[string]any {
	return map[string]any{"Fn::GetAtt": []any{resource, attr}}
}

func resourcesOfType(tmpl map[string]any, typ string) []string {
	var ids []string
	for id, r := range dig(tmpl, "Resources").(map[string]any) {
		if dig(r, "Type") == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// eventsOfType returns the functions' events of one type, keyed "Function.Event".
func eventsOfType(tmpl map[string]any, typ string) map[string]any {
	found := map[string]any{}
	for _, fn := range resourcesOfType(tmpl, "AWS::Serverless::Function") {
		events, _ := dig(tmpl, "Resources", fn, "Properties", "Events").(map[string]any)
		for name, e := range events {
			if dig(e, "Type") == typ {
				found[fn+"."+name] = e
			}
		}
	}
	return found
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
