package telemetry_test

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"

	"handoff/core/telemetry"
)

// TestTemplateWatchesEmittedMetrics: the alarms and the dashboard in template.yaml name only
// metrics the functions emit, and the dashboard's body is JSON once its ${…} are filled in.
func TestTemplateWatchesEmittedMetrics(t *testing.T) {
	raw, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		t.Fatal(err)
	}
	body := child(child(child(child(root.Content[0], "Resources"), "Dashboard"), "Properties"), "DashboardBody")
	if body == nil || body.Value == "" {
		t.Fatal("template.yaml has no Dashboard with a DashboardBody")
	}
	filled := regexp.MustCompile(`\$\{[^}]+\}`).ReplaceAllString(body.Value, "Handoff")
	var dash map[string]any
	if err := json.Unmarshal([]byte(filled), &dash); err != nil {
		t.Fatalf("the dashboard body is not JSON: %v", err)
	}
	names := telemetry.Names()
	known := func(n string) bool { return slices.Contains(names, telemetry.Name(n)) }
	searched := regexp.MustCompile(`MetricName=\\"([A-Za-z]+)\\"`).FindAllStringSubmatch(body.Value, -1)
	if len(searched) < 5 {
		t.Fatalf("the dashboard shows %d metrics", len(searched))
	}
	for _, m := range searched {
		if !known(m[1]) {
			t.Errorf("the dashboard shows %s, which no function emits", m[1])
		}
	}
	// Alarms on our namespace: "Namespace: !Ref MetricsNamespace" then "MetricName: X".
	alarmed := regexp.MustCompile(`Namespace: !Ref MetricsNamespace\s+MetricName: ([A-Za-z]+)`).FindAllStringSubmatch(string(raw), -1)
	if len(alarmed) == 0 {
		t.Fatal("no alarm reads the functions' metrics")
	}
	for _, m := range alarmed {
		if !known(m[1]) {
			t.Errorf("an alarm reads %s, which no function emits", m[1])
		}
	}
}

// child is the value of key in mapping node n (nil when absent).
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
