package template

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// readEvents reads the function's Events: routes, rules and streams. Event types the local
// stack does not run come back as warnings.
func (s functionSpec) readEvents(f *Function) ([]string, error) {
	events := child(s.props, "Events")
	var warnings []string
	for _, name := range sortedKeys(events) {
		resolved, err := s.r.value(child(events, name))
		if err != nil {
			return warnings, fmt.Errorf("event %s: %w", name, err)
		}
		event, _ := resolved.(map[string]any)
		props, _ := event["Properties"].(map[string]any)
		kind, _ := event["Type"].(string)
		if err := s.addEvent(f, name, kind, props); err != nil {
			if err == errUnsupportedEvent {
				warnings = append(warnings, fmt.Sprintf("%s: event %s of type %s is not run by the local stack", s.logicalID, name, kind))
				continue
			}
			return warnings, fmt.Errorf("event %s: %w", name, err)
		}
	}
	return warnings, nil
}

var errUnsupportedEvent = fmt.Errorf("unsupported event type")

func (s functionSpec) addEvent(f *Function, name, kind string, props map[string]any) error {
	switch kind {
	case "HttpApi":
		route, err := s.route(name, props)
		f.Routes = append(f.Routes, route)
		return err
	case "EventBridgeRule", "CloudWatchEvent":
		rule, err := readRule(name, props)
		f.Rules = append(f.Rules, rule)
		return err
	case "DynamoDB":
		stream, err := readStream(name, props)
		f.Streams = append(f.Streams, stream)
		return err
	case "Schedule":
		every, err := rate(props["Schedule"])
		if err != nil {
			return err
		}
		if enabled, ok := props["Enabled"].(bool); ok && !enabled {
			return nil
		}
		f.Schedules = append(f.Schedules, Schedule{Event: name, Every: every})
		return nil
	}
	return errUnsupportedEvent
}

// route reads an HttpApi event; one without Path and Method is the API's $default route.
func (s functionSpec) route(name string, props map[string]any) (Route, error) {
	route := Route{Event: name, Method: "ANY", Path: "$default"}
	if path, ok := props["Path"].(string); ok {
		route.Path = path
		if !strings.HasPrefix(path, "/") {
			return route, fmt.Errorf("path %q must start with /", path)
		}
	}
	if method, ok := props["Method"].(string); ok {
		route.Method = strings.ToUpper(method)
	}
	auth, _ := props["Auth"].(map[string]any)
	if authorizer, ok := auth["Authorizer"].(string); ok {
		route.Authorizer = authorizer
	} else {
		route.Authorizer = s.defaultAuthorizer(props["ApiId"])
	}
	return route, nil
}

// defaultAuthorizer is the DefaultAuthorizer of the HttpApi the event names (or of
// Globals.HttpApi for the implicit API).
func (s functionSpec) defaultAuthorizer(apiID any) string {
	api := child(s.resources, fmt.Sprint(apiID))
	auth := child(child(api, "Properties"), "Auth")
	if auth == nil {
		return ""
	}
	return textOf(child(auth, "DefaultAuthorizer"))
}

func readRule(name string, props map[string]any) (Rule, error) {
	rule := Rule{Event: name, EventBusName: "default", MaxRetryAttempts: 185, MaxEventAge: 24 * time.Hour}
	if bus, ok := props["EventBusName"].(string); ok && bus != "" {
		rule.EventBusName = busName(bus)
	}
	pattern, err := json.Marshal(props["Pattern"])
	if err != nil || props["Pattern"] == nil {
		return rule, fmt.Errorf("the rule's Pattern is missing or not JSON")
	}
	rule.Pattern = pattern
	retry, _ := props["RetryPolicy"].(map[string]any)
	if rule.MaxRetryAttempts, err = intField(retry, "MaximumRetryAttempts", 185, "RetryPolicy"); err != nil {
		return rule, err
	}
	age, err := intField(retry, "MaximumEventAgeInSeconds", 86400, "RetryPolicy")
	rule.MaxEventAge = time.Duration(age) * time.Second
	if dlq, ok := props["DeadLetterConfig"].(map[string]any); ok {
		rule.DeadLetter = firstText(dlq, "Arn", "QueueLogicalId", "Type")
	}
	return rule, err
}

// busName reduces an event bus ARN to its name.
func busName(nameOrARN string) string {
	if i := strings.LastIndex(nameOrARN, ":event-bus/"); i >= 0 {
		return nameOrARN[i+len(":event-bus/"):]
	}
	return nameOrARN
}

func readStream(name string, props map[string]any) (Stream, error) {
	stream := Stream{Event: name, StartingPosition: "LATEST"}
	arn, _ := props["Stream"].(string)
	if stream.Table = tableOfStream(arn); stream.Table == "" {
		return stream, fmt.Errorf("Stream %q is not a DynamoDB stream ARN", arn)
	}
	if pos, ok := props["StartingPosition"].(string); ok {
		stream.StartingPosition = pos
	}
	var err error
	if stream.BatchSize, err = intField(props, "BatchSize", 100, name); err != nil {
		return stream, err
	}
	if stream.MaxRetryAttempts, err = intField(props, "MaximumRetryAttempts", -1, name); err != nil {
		return stream, err
	}
	age, err := intField(props, "MaximumRecordAgeInSeconds", -1, name)
	if err != nil {
		return stream, err
	}
	if age > 0 {
		stream.MaxRecordAge = time.Duration(age) * time.Second
	}
	stream.BisectBatchOnFunctionError, _ = props["BisectBatchOnFunctionError"].(bool)
	types, _ := props["FunctionResponseTypes"].([]any)
	for _, t := range types {
		stream.ReportBatchItemFailures = stream.ReportBatchItemFailures || t == "ReportBatchItemFailures"
	}
	destination, _ := props["DestinationConfig"].(map[string]any)
	onFailure, _ := destination["OnFailure"].(map[string]any)
	stream.OnFailure = firstText(onFailure, "Destination")
	stream.Filters, err = readFilters(props["FilterCriteria"])
	return stream, err
}

// tableOfStream returns the table name in arn:aws:dynamodb:…:table/NAME/stream/….
func tableOfStream(arn string) string {
	_, rest, ok := strings.Cut(arn, ":table/")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, "/stream/")
	return name
}

// readFilters reads FilterCriteria.Filters[].Pattern: JSON text, or a mapping SAM would accept.
func readFilters(criteria any) ([]json.RawMessage, error) {
	c, _ := criteria.(map[string]any)
	filters, _ := c["Filters"].([]any)
	var out []json.RawMessage
	for i, item := range filters {
		f, _ := item.(map[string]any)
		var pattern []byte
		switch p := f["Pattern"].(type) {
		case string:
			pattern = []byte(p)
		case map[string]any:
			pattern, _ = json.Marshal(p)
		}
		if !json.Valid(pattern) {
			return nil, fmt.Errorf("FilterCriteria.Filters[%d].Pattern is not JSON", i)
		}
		out = append(out, json.RawMessage(pattern))
	}
	return out, nil
}

// firstText returns the first of keys whose value in m is text.
func firstText(m map[string]any, keys ...string) string {
	for _, key := range keys {
		if s, ok := m[key].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

// rate reads a schedule's rate expression, "rate(1 minute)" or "rate(5 hours)"; cron
// expressions are not run locally.
func rate(expr any) (time.Duration, error) {
	text, _ := expr.(string)
	inner, ok := strings.CutPrefix(strings.TrimSpace(text), "rate(")
	inner, ok2 := strings.CutSuffix(inner, ")")
	if !ok || !ok2 {
		return 0, errUnsupportedEvent
	}
	var n int
	var unit string
	if _, err := fmt.Sscanf(inner, "%d %s", &n, &unit); err != nil || n <= 0 {
		return 0, fmt.Errorf("schedule %q is not a rate expression", text)
	}
	units := map[string]time.Duration{"minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour}
	d, ok := units[strings.TrimSuffix(unit, "s")]
	if !ok {
		return 0, fmt.Errorf("schedule %q: unknown unit %q", text, unit)
	}
	return time.Duration(n) * d, nil
}
