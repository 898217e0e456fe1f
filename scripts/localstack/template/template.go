// Package template reads a SAM template.yaml into what the local stack needs to run it: the
// functions (source, environment, timeout, memory), their HTTP API routes, EventBridge rules and
// DynamoDB stream sources, and the tables. CloudFormation's short tags (!Ref, !Sub, !GetAtt, !If…)
// are evaluated with the parameters' defaults and local pseudo parameters, so a route, rule or
// stream added to the template is served with no other change.
package template

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"gopkg.in/yaml.v3"
)

// Template is the part of a SAM template the local stack runs.
type Template struct {
	// Dir is the directory of the template file (empty for Parse); SourceDir is relative to it.
	Dir       string
	Functions []Function // by logical ID
	Tables    []Table    // by logical ID
	// QueueSources are the SQS event source mappings, by logical ID (queues.go).
	QueueSources []QueueSource
	// Warnings name what the template holds that the local stack does not run (an unsupported
	// event type, say), so the command can print them instead of ignoring them silently.
	Warnings []string

	src  []byte  // the template's text and the options it was read with, for WithParameters
	opts Options // as given, without defaults
}

// Function is one AWS::Serverless::Function.
type Function struct {
	LogicalID string // TransferFunction
	// Name is the logical ID in kebab case without "Function": transfer, callback-receiver.
	Name string
	// FunctionName is the deployed name: the FunctionName property (handoff-local-transfer
	// with the default stack name), else the logical ID. It is AWS_LAMBDA_FUNCTION_NAME.
	FunctionName string
	// SourceDir is the function's Go package, relative to the template: the resource's Metadata
	// SourceDir when set, else functions/<Name>.
	SourceDir     string
	Handler       string
	Runtime       string
	Architectures []string
	Timeout       time.Duration // default 3s, as Lambda
	MemorySize    int           // MB, default 128
	Environment   map[string]string
	// AsyncRetryAttempts is EventInvokeConfig.MaximumRetryAttempts (default 2): how often Lambda
	// retries an asynchronous invocation, such as one from EventBridge, that returned an error.
	AsyncRetryAttempts int
	// AsyncMaxEventAge is EventInvokeConfig.MaximumEventAgeInSeconds (default 6h).
	AsyncMaxEventAge time.Duration
	Routes           []Route
	Rules            []Rule
	Streams          []Stream
	Schedules        []Schedule
}

// Schedule is a Schedule event with a rate expression: the function gets an EventBridge
// "Scheduled Event" every Every.
type Schedule struct {
	Event string
	Every time.Duration
}

// Route is an HttpApi event: METHOD /path, with {param} and {proxy+} segments.
type Route struct {
	Event  string // the event's key in the template
	Method string // upper case; ANY matches every method
	// Path is the route's path, or "$default" for an HttpApi event without one.
	Path string
	// Authorizer is the route's authorizer (NONE, AWS_IAM…): its own Auth.Authorizer, else the
	// API's DefaultAuthorizer. The local stack does not enforce it.
	Authorizer string
}

// Key is the route key API Gateway puts in events: "POST /transfers", or "$default".
func (r Route) Key() string {
	if r.Path == "$default" {
		return r.Path
	}
	return r.Method + " " + r.Path
}

// Rule is an EventBridgeRule (or CloudWatchEvent) event.
type Rule struct {
	Event        string
	EventBusName string          // default "default"
	Pattern      json.RawMessage // the event pattern as JSON
	// MaxRetryAttempts and MaxEventAge are the rule's RetryPolicy (defaults 185 and 24h).
	MaxRetryAttempts int
	MaxEventAge      time.Duration
	// DeadLetter is the DeadLetterConfig target (an ARN or a queue's logical ID), if any.
	DeadLetter string
}

// Stream is a DynamoDB event source mapping.
type Stream struct {
	Event string
	// Table is the physical name of the table whose stream feeds the function.
	Table            string
	StartingPosition string            // TRIM_HORIZON or LATEST
	BatchSize        int               // default 100
	Filters          []json.RawMessage // FilterCriteria patterns; a record must match one
	// ReportBatchItemFailures is set when FunctionResponseTypes holds ReportBatchItemFailures.
	ReportBatchItemFailures bool
	// MaxRetryAttempts is -1 (Lambda's default) for retrying until the record expires.
	MaxRetryAttempts           int
	BisectBatchOnFunctionError bool
	MaxRecordAge               time.Duration // 0 when unlimited (-1 in the template)
	OnFailure                  string        // DestinationConfig.OnFailure.Destination, if any
}

// Table is an AWS::DynamoDB::Table, enough to create it in a local DynamoDB.
type Table struct {
	LogicalID  string
	Name       string      // TableName, or the logical ID
	Attributes []Attribute // AttributeDefinitions
	Keys       []KeyPart   // KeySchema
	// StreamViewType is empty when the table has no stream.
	StreamViewType string
	TTLAttribute   string
	Indexes        []Index // GlobalSecondaryIndexes
}

// Index is a global secondary index: its name, keys and projection type (ALL, KEYS_ONLY…).
type Index struct {
	Name       string
	Keys       []KeyPart
	Projection string
}

// Attribute is one attribute definition: a name and S, N or B.
type Attribute struct{ Name, Type string }

// KeyPart is one element of a key schema: an attribute name and HASH or RANGE.
type KeyPart struct{ Name, KeyType string }

// Options are the values a local run gives the template.
type Options struct {
	// Parameters override parameters' Default values, as sam --parameter-overrides does.
	Parameters map[string]string
	Region     string // default us-east-1
	AccountID  string // default 123456789012
	StackName  string // default handoff-local
}

// Load reads and parses the template file at path.
func Load(path string, opts Options) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	t, err := Parse(data, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t.Dir = filepath.Dir(path)
	return t, nil
}

// Parse reads a SAM template.
func Parse(data []byte, opts Options) (*Template, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("template: not a YAML mapping")
	}
	root := doc.Content[0]
	r, err := newResolver(root, opts.withDefaults())
	if err != nil {
		return nil, err
	}
	t, err := read(root, r)
	if err != nil {
		return nil, err
	}
	t.src, t.opts = data, opts
	return t, nil
}

// WithParameters reads the template again with more parameter overrides, which win over the
// ones it was read with: for values known only once the local stack runs, such as its URL.
func (t *Template) WithParameters(overrides map[string]string) (*Template, error) {
	opts := t.opts
	opts.Parameters = map[string]string{}
	for name, value := range t.opts.Parameters {
		opts.Parameters[name] = value
	}
	for name, value := range overrides {
		opts.Parameters[name] = value
	}
	again, err := Parse(t.src, opts)
	if err != nil {
		return nil, err
	}
	again.Dir = t.Dir
	return again, nil
}

func (o Options) withDefaults() Options {
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.AccountID == "" {
		o.AccountID = "123456789012"
	}
	if o.StackName == "" {
		o.StackName = "handoff-local"
	}
	return o
}

// read extracts the tables and functions of the template's Resources.
func read(root *yaml.Node, r *resolver) (*Template, error) {
	t := &Template{}
	resources := child(root, "Resources")
	globals := child(child(root, "Globals"), "Function")
	for _, logicalID := range sortedKeys(resources) {
		node := child(resources, logicalID)
		exists, err := r.exists(node)
		if err != nil {
			return nil, fmt.Errorf("template: %s: %w", logicalID, err)
		}
		if !exists {
			continue
		}
		switch textOf(child(node, "Type")) {
		case functionType:
			f, warnings, err := readFunction(logicalID, node, globals, resources, r)
			if err != nil {
				return nil, fmt.Errorf("template: %s: %w", logicalID, err)
			}
			t.Functions = append(t.Functions, f)
			t.Warnings = append(t.Warnings, warnings...)
		case tableType:
			table, err := readTable(logicalID, node, r)
			if err != nil {
				return nil, fmt.Errorf("template: %s: %w", logicalID, err)
			}
			t.Tables = append(t.Tables, table)
		case mappingType:
			q, ok, err := readQueueSource(logicalID, node, resources, r)
			if err != nil {
				return nil, fmt.Errorf("template: %s: %w", logicalID, err)
			}
			if ok {
				t.QueueSources = append(t.QueueSources, q)
			} else {
				t.Warnings = append(t.Warnings, logicalID+": only event source mappings from a queue of the template to a function run locally")
			}
		}
	}
	return t, nil
}

// sortedKeys lists the keys of a mapping node in order.
func sortedKeys(n *yaml.Node) []string {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	keys := make([]string, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		keys = append(keys, n.Content[i].Value)
	}
	sort.Strings(keys)
	return keys
}

// textOf is the literal text of a scalar node, or "" for nil.
func textOf(n *yaml.Node) string {
	if n == nil {
		return ""
	}
	return n.Value
}
