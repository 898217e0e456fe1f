package infra_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"handoff/core/handoff"
)

// sampleEvents is every file of events/ with the function it is for.
var sampleEvents = map[string]string{
	"transfer-post-bitrix24.json":   "TransferFunction",
	"transfer-post-liveperson.json": "TransferFunction",
	"transfer-post-koreai.json":     "TransferFunction",
	"transfer-get.json":             "TransferFunction",
	"transfer-delete.json":          "TransferFunction",
	"escalation-cancelled.json":     "TransferFunction",
	"sqs-transfer-queue.json":       "TransferFunction",
	"transfer-post-malformed.json":  "TransferFunction",
	"escalation-requested.json":     "TransferFunction",
	"callback-koreai.json":          "CallbackReceiverFunction",
	"callback-bitrix24.json":        "CallbackReceiverFunction",
	"availability-get.json":         "SkillCheckFunction",
	"stream-transfer-final.json":    "BotAckFunction",
}

func TestEveryEventFileIsListedAndParses(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(root, "events", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
		var v any
		if err := json.Unmarshal(readFile(t, f), &v); err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
		}
	}
	if want := sortedKeys(sampleEvents); !reflect.DeepEqual(names, want) {
		t.Errorf("events/ holds %v, want %v (update sampleEvents and events/README.md together)", names, want)
	}
	readme := string(readFile(t, filepath.Join(root, "events", "README.md")))
	for name, fn := range sampleEvents {
		if !strings.Contains(readme, "sam local invoke "+fn) || !strings.Contains(readme, "events/"+name) {
			t.Errorf("events/README.md has no `sam local invoke %s -e events/%s`", fn, name)
		}
	}
}

func TestHTTPEventsAreThoseOfTheirRoutes(t *testing.T) {
	for name, fn := range sampleEvents {
		var ev events.APIGatewayV2HTTPRequest
		raw := readFile(t, filepath.Join(root, "events", name))
		if !bytes.Contains(raw, []byte(`"routeKey"`)) {
			continue // not an HTTP event
		}
		strictUnmarshal(t, name, raw, &ev)
		route, ok := routes[ev.RouteKey]
		switch {
		case !ok:
			t.Errorf("%s: route %q is not in the template", name, ev.RouteKey)
			continue
		case route.function != fn:
			t.Errorf("%s: route %q is served by %s, not %s", name, ev.RouteKey, route.function, fn)
		}
		if ev.Version != "2.0" || ev.RequestContext.RouteKey != ev.RouteKey || ev.RequestContext.Stage != "$default" {
			t.Errorf("%s: version %q, requestContext.routeKey %q, stage %q; want 2.0, %q, $default",
				name, ev.Version, ev.RequestContext.RouteKey, ev.RequestContext.Stage, ev.RouteKey)
		}
		method, pattern, _ := strings.Cut(ev.RouteKey, " ")
		if ev.RequestContext.HTTP.Method != method || ev.RequestContext.HTTP.Path != ev.RawPath || expand(pattern, ev.PathParameters) != ev.RawPath {
			t.Errorf("%s: %s %s with path parameters %v does not match route %q",
				name, ev.RequestContext.HTTP.Method, ev.RawPath, ev.PathParameters, ev.RouteKey)
		}
		if q, err := url.ParseQuery(ev.RawQueryString); err != nil || len(q) != len(ev.QueryStringParameters) {
			t.Errorf("%s: rawQueryString %q disagrees with queryStringParameters %v", name, ev.RawQueryString, ev.QueryStringParameters)
		}
		signed := ev.RequestContext.Authorizer != nil && ev.RequestContext.Authorizer.IAM != nil
		if signed != route.signed {
			t.Errorf("%s: IAM authorizer context present = %v, want %v for route %q", name, signed, route.signed, ev.RouteKey)
		}
		checkBody(t, name, ev)
	}
}

// checkBody checks the body as API Gateway would have encoded it and, for POST /transfers, as
// the API decodes it.
func checkBody(t *testing.T, name string, ev events.APIGatewayV2HTTPRequest) {
	t.Helper()
	body := []byte(ev.Body)
	contentType := ev.Headers["content-type"]
	textual := strings.HasPrefix(contentType, "application/json") || strings.HasPrefix(contentType, "text/")
	if ev.Body != "" && textual == ev.IsBase64Encoded {
		t.Errorf("%s: content-type %q with isBase64Encoded %v; API Gateway base64-encodes exactly the non-text types",
			name, contentType, ev.IsBase64Encoded)
	}
	if ev.IsBase64Encoded {
		decoded, err := base64.StdEncoding.DecodeString(ev.Body)
		if err != nil {
			t.Fatalf("%s: body is not base64: %v", name, err)
		}
		body = decoded
	}
	if contentType == "application/x-www-form-urlencoded" {
		form, err := url.ParseQuery(string(body))
		if err != nil || form.Get("event") == "" || form.Get("auth[application_token]") == "" {
			t.Errorf("%s: not a Bitrix24 event form with auth[application_token] (err %v)", name, err)
		}
	}
	if ev.RouteKey != "POST /transfers" {
		return
	}
	_, err := handoff.DecodeRequest(body)
	var herr *handoff.Error
	switch {
	case strings.Contains(name, "malformed"):
		if !errors.As(err, &herr) || herr.Code != handoff.CodeInvalidRequest {
			t.Errorf("%s: DecodeRequest error = %v, want INVALID_REQUEST", name, err)
		}
	case err != nil:
		t.Errorf("%s: the body is not a valid transfer request: %v", name, err)
	case ev.Headers["idempotency-key"] == "":
		t.Errorf("%s: no Idempotency-Key header", name)
	}
}

func TestEscalationEventReachesTheTransferFunction(t *testing.T) {
	raw := readFile(t, filepath.Join(root, "events", "escalation-requested.json"))
	var ev events.EventBridgeEvent
	strictUnmarshal(t, "escalation-requested.json", raw, &ev)
	if _, err := handoff.DecodeRequest(ev.Detail); err != nil {
		t.Errorf("detail is not a valid transfer request: %v", err)
	}
	tmpl := loadTemplate(t)
	rules := eventsOfType(tmpl, "EventBridgeRule")
	rule, ok := rules["TransferFunction.EscalationRequested"]
	if len(rules) != 1 || !ok {
		t.Fatalf("EventBridge rules = %v, want TransferFunction.EscalationRequested alone", sortedKeys(rules))
	}
	pattern, _ := dig(rule, "Properties", "Pattern").(map[string]any)
	pattern = withListDefaults(t, tmpl, pattern)
	var event map[string]any
	if err := json.Unmarshal(raw, &event); err != nil {
		t.Fatal(err)
	}
	if len(pattern) == 0 || !matches(t, pattern, event) {
		t.Errorf("the rule's pattern %v does not select the sample event", pattern)
	}
}

func TestStreamSampleIsWhatBotAckReceives(t *testing.T) {
	raw := readFile(t, filepath.Join(root, "events", "stream-transfer-final.json"))
	var batch events.DynamoDBEvent
	strictUnmarshal(t, "stream-transfer-final.json", raw, &batch)
	var generic struct {
		Records []map[string]any
	}
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatal(err)
	}
	filters := streamFilters(t, loadTemplate(t))
	var names []string
	for i, r := range batch.Records {
		names = append(names, r.EventName)
		if !matchesAny(t, filters, generic.Records[i]) {
			t.Errorf("record %d (%s) does not pass bot-ack's filter", i, r.EventName)
		}
		img := r.Change.NewImage
		if r.Change.StreamViewType != "NEW_AND_OLD_IMAGES" || r.EventSource != "aws:dynamodb" || !strings.Contains(r.EventSourceArn, "/stream/") {
			t.Errorf("record %d: view %q, source %q, ARN %q", i, r.Change.StreamViewType, r.EventSource, r.EventSourceArn)
		}
		var tr handoff.Transfer
		dec := json.NewDecoder(strings.NewReader(img["doc"].String()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&tr); err != nil {
			t.Fatalf("record %d: doc is not a transfer: %v", i, err)
		}
		want := map[string]string{
			"pk": "TRANSFER#" + tr.ID, "sk": "TRANSFER", "kind": "transfer", "status": string(tr.Status),
			"ackStatus": string(tr.Ack.Status), "tenant": tr.Tenant, "vendor": tr.Vendor,
		}
		for attr, value := range want {
			if got := img[attr].String(); got != value {
				t.Errorf("record %d: attribute %s = %q, want %q (from doc)", i, attr, got, value)
			}
		}
		if r.Change.Keys["pk"].String() != want["pk"] || r.Change.Keys["sk"].String() != want["sk"] {
			t.Errorf("record %d: Keys %v do not match the item", i, r.Change.Keys)
		}
		if img["expiresAt"].Number() == "" || img["version"].Number() == "" {
			t.Errorf("record %d: expiresAt and version must be numbers", i)
		}
	}
	sort.Strings(names)
	if !reflect.DeepEqual(names, []string{"INSERT", "MODIFY"}) {
		t.Errorf("records %v, want one INSERT and one MODIFY", names)
	}
}

// withListDefaults returns pattern with each top-level !Ref to a list parameter replaced by the
// parameter's default, as CloudFormation would deploy it without overrides.
func withListDefaults(t *testing.T, tmpl map[string]any, pattern map[string]any) map[string]any {
	t.Helper()
	out := map[string]any{}
	for key, value := range pattern {
		out[key] = value
		name, isRef := dig(value, "Ref").(string)
		if !isRef {
			continue
		}
		param := dig(tmpl, "Parameters", name)
		def, ok := dig(param, "Default").(string)
		if dig(param, "Type") != "CommaDelimitedList" || !ok {
			t.Fatalf("pattern field %s: !Ref %s is not a CommaDelimitedList parameter with a default", key, name)
		}
		var values []any
		for _, v := range strings.Split(def, ",") {
			values = append(values, strings.TrimSpace(v))
		}
		out[key] = values
	}
	return out
}

// expand fills a route pattern's {name} segments with their path parameters.
func expand(pattern string, params map[string]string) string {
	for name, value := range params {
		pattern = strings.ReplaceAll(pattern, "{"+name+"}", value)
	}
	return pattern
}

// strictUnmarshal decodes a sample into the aws-lambda-go type Lambda's Go runtime would use,
// refusing fields that type does not know, so a misspelt field is caught.
func strictUnmarshal(t *testing.T, name string, raw []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
