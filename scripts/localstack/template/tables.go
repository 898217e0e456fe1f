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
	t.Keys = keyParts(props["KeySchema"])
	if len(t.Keys) == 0 {
		return t, fmt.Errorf("KeySchema is missing")
	}
	stream, _ := props["StreamSpecification"].(map[string]any)
	t.StreamViewType, _ = stream["StreamViewType"].(string)
	ttl, _ := props["TimeToLiveSpecification"].(map[string]any)
	if enabled, _ := ttl["Enabled"].(bool); enabled {
		t.TTLAttribute, _ = ttl["AttributeName"].(string)
	}
	indexes, _ := props["GlobalSecondaryIndexes"].([]any)
	for _, raw := range indexes {
		m, _ := raw.(map[string]any)
		index := Index{Name: fmt.Sprint(m["IndexName"]), Keys: keyParts(m["KeySchema"])}
		projection, _ := m["Projection"].(map[string]any)
		index.Projection, _ = projection["ProjectionType"].(string)
		if index.Projection == "" {
			index.Projection = "ALL"
		}
		if len(index.Keys) == 0 {
			return t, fmt.Errorf("index %s has no KeySchema", index.Name)
		}
		t.Indexes = append(t.Indexes, index)
	}
	return t, nil
}

func keyParts(schema any) []KeyPart {
	var parts []KeyPart
	keys, _ := schema.([]any)
	for _, k := range keys {
		m, _ := k.(map[string]any)
		parts = append(parts, KeyPart{Name: fmt.Sprint(m["AttributeName"]), KeyType: fmt.Sprint(m["KeyType"])})
	}
	return parts
}
