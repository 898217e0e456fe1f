package template

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// readTable reads a table's name, keys, stream and TTL.
func readTable(logicalID string, node *yaml.Node, r *resolver) (Table, error) {
	t := Table{LogicalID: logicalID, Name: r.resources[logicalID].physicalName}
	resolved, err := r.value(child(node, "Properties"))
	if err != nil {
		return t, err
	}
	props, _ := resolved.(map[string]any)
	defs, _ := props["AttributeDefinitions"].([]any)
	for _, d := range defs {
		m, _ := d.(map[string]any)
		t.Attributes = append(t.Attributes, Attribute{Name: fmt.Sprint(m["AttributeName"]), Type: fmt.Sprint(m["AttributeType"])})
	}
	keys, _ := props["KeySchema"].([]any)
	for _, k := range keys {
		m, _ := k.(map[string]any)
		t.Keys = append(t.Keys, KeyPart{Name: fmt.Sprint(m["AttributeName"]), KeyType: fmt.Sprint(m["KeyType"])})
	}
	if len(t.Keys) == 0 {
		return t, fmt.Errorf("KeySchema is missing")
	}
	stream, _ := props["StreamSpecification"].(map[string]any)
	t.StreamViewType, _ = stream["StreamViewType"].(string)
	ttl, _ := props["TimeToLiveSpecification"].(map[string]any)
	if enabled, _ := ttl["Enabled"].(bool); enabled {
		t.TTLAttribute, _ = ttl["AttributeName"].(string)
	}
	return t, nil
}
