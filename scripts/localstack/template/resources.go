package template

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// The resource types the local stack reads.
const (
	functionType = "AWS::Serverless::Function"
	tableType    = "AWS::DynamoDB::Table"
	httpAPIType  = "AWS::Serverless::HttpApi"
)

// newResolver prepares parameters, pseudo parameters, conditions and resource names.
func newResolver(root *yaml.Node, opts Options) (*resolver, error) {
	r := &resolver{
		params:     map[string]any{},
		resources:  map[string]resource{},
		conditions: map[string]*yaml.Node{},
		decided:    map[string]bool{},
		mappings:   child(root, "Mappings"),
		pseudo: map[string]string{
			"AWS::Region":    opts.Region,
			"AWS::AccountId": opts.AccountID,
			"AWS::StackName": opts.StackName,
			"AWS::StackId":   "arn:aws:cloudformation:" + opts.Region + ":" + opts.AccountID + ":stack/" + opts.StackName + "/local",
			"AWS::Partition": "aws",
			"AWS::URLSuffix": "amazonaws.com",
		},
	}
	if err := r.readParameters(child(root, "Parameters"), opts.Parameters); err != nil {
		return nil, err
	}
	conditions := child(root, "Conditions")
	for _, name := range sortedKeys(conditions) {
		r.conditions[name] = child(conditions, name)
	}
	if err := r.readResourceNames(child(root, "Resources"), opts); err != nil {
		return nil, err
	}
	return r, nil
}

// readParameters takes each parameter's override, else its Default. A parameter with neither
// is left out, so only a Ref to it fails.
func (r *resolver) readParameters(params *yaml.Node, overrides map[string]string) error {
	for _, name := range sortedKeys(params) {
		param := child(params, name)
		listType := strings.Contains(textOf(child(param, "Type")), "List")
		text, ok := overrides[name]
		if !ok {
			def := child(param, "Default")
			if def == nil {
				continue
			}
			var err error
			if text, err = r.text(def); err != nil {
				return fmt.Errorf("template: parameter %s: %w", name, err)
			}
		}
		if listType {
			var items []any
			for _, s := range strings.Split(text, ",") {
				items = append(items, strings.TrimSpace(s))
			}
			r.params[name] = items
		} else {
			r.params[name] = text
		}
	}
	for name := range overrides {
		if _, ok := r.params[name]; !ok {
			return fmt.Errorf("template: override of unknown parameter %s", name)
		}
	}
	return nil
}

// readResourceNames gives every resource the physical name and ARN Ref and GetAtt return.
// Names may use parameters (a TableName: !Sub "${AWS::StackName}-sessions"), so parameters come
// first.
func (r *resolver) readResourceNames(resources *yaml.Node, opts Options) error {
	for _, logicalID := range sortedKeys(resources) {
		node := child(resources, logicalID)
		kind := textOf(child(node, "Type"))
		name := logicalID
		if prop := nameProperty(kind); prop != "" {
			if n := child(child(node, "Properties"), prop); n != nil {
				var err error
				if name, err = r.text(n); err != nil {
					return fmt.Errorf("template: %s.%s: %w", logicalID, prop, err)
				}
			}
		}
		r.resources[logicalID] = resource{kind: kind, physicalName: name, arn: arnOf(kind, name, opts)}
	}
	return nil
}

// nameProperty is the property that names a resource of this type.
func nameProperty(kind string) string {
	switch kind {
	case functionType, "AWS::Lambda::Function":
		return "FunctionName"
	case tableType:
		return "TableName"
	case "AWS::SQS::Queue":
		return "QueueName"
	case "AWS::Events::EventBus":
		return "Name"
	}
	return ""
}

// arnOf is the ARN a resource would have in the local account and region.
func arnOf(kind, name string, opts Options) string {
	prefix := func(service string) string {
		return "arn:aws:" + service + ":" + opts.Region + ":" + opts.AccountID + ":"
	}
	switch kind {
	case functionType, "AWS::Lambda::Function":
		return prefix("lambda") + "function:" + name
	case tableType:
		return prefix("dynamodb") + "table/" + name
	case "AWS::SQS::Queue":
		return prefix("sqs") + name
	case "AWS::Events::EventBus":
		return prefix("events") + "event-bus/" + name
	}
	return prefix("local") + name
}

// exists evaluates a resource's Condition, if any.
func (r *resolver) exists(resource *yaml.Node) (bool, error) {
	cond := child(resource, "Condition")
	if cond == nil {
		return true, nil
	}
	return r.decide(cond.Value)
}
