// Package infra_test holds template.yaml to what the functions, the Makefile and the local stack
// depend on: which directory each function is built from, the table's keys and stream, which
// routes are signed, and which stream records reach bot-ack. cfn-lint checks that the template is
// valid CloudFormation; these tests check that it is this application's template.
package infra_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"handoff/core/store"
)

// root is the repository root, seen from this package's directory (go test's working directory).
const root = ".."

// functionDirs is the wiring brief's map from each function's logical id to its source directory.
var functionDirs = map[string]string{
	"TransferFunction":         "transfer",
	"CallbackReceiverFunction": "callback-receiver",
	"SkillCheckFunction":       "skill-check",
	"BotAckFunction":           "bot-ack",
}

// routes is every HTTP API route, with its function and whether it is signed with SigV4.
var routes = map[string]struct {
	function string
	signed   bool
}{
	"POST /transfers":                  {"TransferFunction", true},
	"GET /transfers/{id}":              {"TransferFunction", true},
	"DELETE /transfers/{id}":           {"TransferFunction", true},
	"GET /availability":                {"SkillCheckFunction", true},
	"POST /callbacks/{vendor}":         {"CallbackReceiverFunction", false},
	"POST /callbacks/{vendor}/{token}": {"CallbackReceiverFunction", false},
}

func TestFunctionsAreBuiltFromTheirDirectories(t *testing.T) {
	tmpl := loadTemplate(t)
	globals := dig(tmpl, "Globals", "Function")
	for key, want := range map[string]any{"Runtime": "provided.al2023", "Handler": "bootstrap", "Architectures": []any{"arm64"}} {
		if got := dig(globals, key); !reflect.DeepEqual(got, want) {
			t.Errorf("Globals.Function.%s = %v, want %v", key, got, want)
		}
	}
	if got := resourcesOfType(tmpl, "AWS::Serverless::Function"); !reflect.DeepEqual(got, sortedKeys(functionDirs)) {
		t.Errorf("functions = %v, want %v", got, sortedKeys(functionDirs))
	}
	recipes := makeRecipes(t)
	for id, dir := range functionDirs {
		fn := dig(tmpl, "Resources", id)
		if got := dig(fn, "Metadata", "BuildMethod"); got != "makefile" {
			t.Errorf("%s: Metadata.BuildMethod = %v, want makefile", id, got)
		}
		if got := dig(fn, "Properties", "CodeUri"); got != "." {
			t.Errorf("%s: CodeUri = %v, want . (the module root, where the Makefile is)", id, got)
		}
		// sam build runs `make build-<LogicalId>` with ARTIFACTS_DIR set.
		recipe, ok := recipes["build-"+id]
		switch {
		case !ok:
			t.Errorf("Makefile has no target build-%s", id)
		case !strings.Contains(recipe, "./functions/"+dir) || !strings.Contains(recipe, "$(ARTIFACTS_DIR)/bootstrap"):
			t.Errorf("Makefile target build-%s does not build ./functions/%s into $(ARTIFACTS_DIR)/bootstrap:\n%s", id, dir, recipe)
		case !strings.Contains(recipe, "GOARCH=arm64"):
			t.Errorf("Makefile target build-%s does not build for arm64:\n%s", id, recipe)
		}
		if !isMainPackage(t, filepath.Join(root, "functions", dir)) {
			t.Errorf("%s: functions/%s holds no package main", id, dir)
		}
	}
}

func TestTableMatchesTheStore(t *testing.T) {
	tmpl := loadTemplate(t)
	if got := resourcesOfType(tmpl, "AWS::DynamoDB::Table"); !reflect.DeepEqual(got, []string{"Table"}) {
		t.Fatalf("tables = %v, want [Table]", got)
	}
	props := dig(tmpl, "Resources", "Table", "Properties")
	checks := []struct {
		path []string
		want any
	}{
		{[]string{"BillingMode"}, "PAY_PER_REQUEST"},
		// The schema is the store's own (core/store.CreateTableInput), so the two cannot drift.
		{[]string{"AttributeDefinitions"}, storeSchema.attributes},
		{[]string{"KeySchema"}, storeSchema.keys},
		{[]string{"GlobalSecondaryIndexes"}, storeSchema.indexes},
		{[]string{"TimeToLiveSpecification"}, map[string]any{"AttributeName": "expiresAt", "Enabled": true}},
		{[]string{"StreamSpecification", "StreamViewType"}, "NEW_AND_OLD_IMAGES"},
		{[]string{"PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled"}, true},
		{[]string{"SSESpecification", "SSEEnabled"}, true},
	}
	for _, c := range checks {
		if got := dig(props, c.path...); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Table.%s = %v, want %v", strings.Join(c.path, "."), got, c.want)
		}
	}
	if got := dig(tmpl, "Globals", "Function", "Environment", "Variables", "TABLE_NAME"); !reflect.DeepEqual(got, ref("Table")) {
		t.Errorf("TABLE_NAME = %v, want !Ref Table", got)
	}
}

func TestOnlyTheCallbackRouteIsUnsigned(t *testing.T) {
	tmpl := loadTemplate(t)
	auth := dig(tmpl, "Resources", "HttpApi", "Properties", "Auth")
	if dig(auth, "EnableIamAuthorizer") != true || dig(auth, "DefaultAuthorizer") != "AWS_IAM" {
		t.Errorf("HttpApi.Auth = %v, want EnableIamAuthorizer true and DefaultAuthorizer AWS_IAM", auth)
	}
	found := map[string]bool{}
	for id, event := range eventsOfType(tmpl, "HttpApi") {
		props := dig(event, "Properties")
		key := fmt.Sprint(dig(props, "Method"), " ", dig(props, "Path"))
		want, ok := routes[key]
		if !ok {
			t.Errorf("%s: route %s is not in the API", id, key)
			continue
		}
		found[key] = true
		if fn, _, _ := strings.Cut(id, "."); fn != want.function {
			t.Errorf("route %s is served by %s, want %s", key, fn, want.function)
		}
		if got := dig(props, "ApiId"); !reflect.DeepEqual(got, ref("HttpApi")) {
			t.Errorf("route %s: ApiId = %v, want !Ref HttpApi (the implicit API has no IAM authorizer)", key, got)
		}
		if got := dig(props, "PayloadFormatVersion"); got != "2.0" {
			t.Errorf("route %s: PayloadFormatVersion = %v, want 2.0", key, got)
		}
		authorizer := dig(props, "Auth", "Authorizer")
		if want.signed && authorizer != nil && authorizer != "AWS_IAM" {
			t.Errorf("route %s: Authorizer = %v, want the default (AWS_IAM)", key, authorizer)
		}
		if !want.signed && authorizer != "NONE" {
			t.Errorf("route %s: Authorizer = %v, want NONE (vendors cannot sign)", key, authorizer)
		}
	}
	for key := range routes {
		if !found[key] {
			t.Errorf("route %s is missing", key)
		}
	}
}

func TestStreamFilterSelectsTransfersReachingAFinalState(t *testing.T) {
	filters := streamFilters(t, loadTemplate(t))
	transfer := func(status string) map[string]any {
		return map[string]any{"kind": map[string]any{"S": "transfer"}, "status": map[string]any{"S": status}}
	}
	record := func(name string, newImage, oldImage map[string]any) map[string]any {
		change := map[string]any{"StreamViewType": "NEW_AND_OLD_IMAGES"}
		if newImage != nil {
			change["NewImage"] = newImage
		}
		if oldImage != nil {
			change["OldImage"] = oldImage
		}
		return map[string]any{"eventName": name, "eventSource": "aws:dynamodb", "dynamodb": change}
	}
	other := func(kind, status string) map[string]any {
		return map[string]any{"kind": map[string]any{"S": kind}, "status": map[string]any{"S": status}}
	}
	cases := []struct {
		name   string
		record map[string]any
		want   bool
	}{
		{"written transferred", record("INSERT", transfer("transferred"), nil), true},
		{"written failed", record("INSERT", transfer("failed"), nil), true},
		{"written pending", record("INSERT", transfer("pending"), nil), false},
		{"pending to transferred", record("MODIFY", transfer("transferred"), transfer("pending")), true},
		{"pending to failed", record("MODIFY", transfer("failed"), transfer("pending")), true},
		{"pending stays pending", record("MODIFY", transfer("pending"), transfer("pending")), false},
		{"final transfer rewritten (the ack's status)", record("MODIFY", transfer("transferred"), transfer("transferred")), false},
		{"failed rewritten", record("MODIFY", transfer("failed"), transfer("failed")), false},
		{"expired by TTL", record("REMOVE", nil, transfer("transferred")), false},
		{"timeline event", record("INSERT", other("event", "transferred"), nil), false},
		{"idempotency record", record("INSERT", other("idempotency", "failed"), nil), false},
		{"vendor reference", record("MODIFY", other("ref", "transferred"), other("ref", "pending")), false},
	}
	for _, c := range cases {
		if got := matchesAny(t, filters, c.record); got != c.want {
			t.Errorf("%s: delivered = %v, want %v", c.name, got, c.want)
		}
	}
}

// streamFilters returns bot-ack's stream event filters, parsed, after checking the settings the
// function's partial-batch answers rely on.
func streamFilters(t *testing.T, tmpl map[string]any) []map[string]any {
	t.Helper()
	streams := eventsOfType(tmpl, "DynamoDB")
	event, ok := streams["BotAckFunction.TransferFinal"]
	if len(streams) != 1 || !ok {
		t.Fatalf("stream events = %v, want BotAckFunction.TransferFinal alone", sortedKeys(streams))
	}
	props := dig(event, "Properties")
	if got := dig(props, "Stream"); !reflect.DeepEqual(got, getAtt("Table", "StreamArn")) {
		t.Errorf("Stream = %v, want !GetAtt Table.StreamArn", got)
	}
	if got := dig(props, "FunctionResponseTypes"); !reflect.DeepEqual(got, []any{"ReportBatchItemFailures"}) {
		t.Errorf("FunctionResponseTypes = %v, want [ReportBatchItemFailures]", got)
	}
	list, _ := dig(props, "FilterCriteria", "Filters").([]any)
	if len(list) == 0 {
		t.Fatal("no FilterCriteria.Filters: bot-ack would see every write to the table")
	}
	var filters []map[string]any
	for i, f := range list {
		text, ok := dig(f, "Pattern").(string)
		if !ok {
			t.Fatalf("filter %d: Pattern must be a JSON string, got %T", i, dig(f, "Pattern"))
		}
		var pattern map[string]any
		if err := json.Unmarshal([]byte(text), &pattern); err != nil {
			t.Fatalf("filter %d: Pattern is not a JSON object: %v", i, err)
		}
		filters = append(filters, pattern)
	}
	return filters
}

// matchesAny reports whether event passes at least one of the patterns (Lambda ORs filters).
func matchesAny(t *testing.T, patterns []map[string]any, event map[string]any) bool {
	t.Helper()
	for _, p := range patterns {
		if matches(t, p, event) {
			return true
		}
	}
	return false
}

// matches applies an event pattern made of nested objects and arrays of exact values, the
// subset these templates use; a content filter ({"prefix": …}, {"exists": …}…) fails the test
// rather than being misread.
func matches(t *testing.T, pattern map[string]any, event map[string]any) bool {
	t.Helper()
	for key, want := range pattern {
		got, present := event[key]
		switch want := want.(type) {
		case map[string]any:
			sub, ok := got.(map[string]any)
			if !present || !ok || !matches(t, want, sub) {
				return false
			}
		case []any:
			if !present || !oneOf(t, got, want) {
				return false
			}
		default:
			t.Fatalf("pattern field %q: want an object or an array, got %v", key, want)
		}
	}
	return true
}

func oneOf(t *testing.T, got any, values []any) bool {
	t.Helper()
	for _, v := range values {
		if _, ok := v.(map[string]any); ok {
			t.Fatalf("content filter %v is not supported by this test's matcher", v)
		}
		if reflect.DeepEqual(got, v) {
			return true
		}
	}
	return false
}

// makeRecipes reads the root Makefile's rules: target name to its recipe lines.
func makeRecipes(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatalf("sam build's makefile method needs the root Makefile: %v", err)
	}
	defer f.Close()
	recipes := map[string]string{}
	target := ""
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		line := scanner.Text()
		switch {
		case strings.HasPrefix(line, "\t") && target != "":
			recipes[target] += strings.TrimSpace(line) + "\n"
		case strings.Contains(line, ":") && !strings.HasPrefix(line, "#") && !strings.Contains(line, "="):
			target, _, _ = strings.Cut(line, ":")
			target = strings.TrimSpace(target)
			recipes[target] += ""
		default:
			target = ""
		}
	}
	if err := scanner.Err(); err != nil {
		t.Fatal(err)
	}
	return recipes
}

// isMainPackage reports whether dir holds a non-test Go file of package main.
func isMainPackage(t *testing.T, dir string) bool {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "package ") {
				if strings.TrimSpace(strings.TrimPrefix(line, "package ")) == "main" {
					return true
				}
				break
			}
		}
	}
	return false
}

// storeSchema is core/store's table schema in the template's shape.
var storeSchema = func() (s struct{ attributes, keys, indexes []any }) {
	in := store.CreateTableInput("x")
	for _, a := range in.AttributeDefinitions {
		s.attributes = append(s.attributes, map[string]any{"AttributeName": *a.AttributeName, "AttributeType": string(a.AttributeType)})
	}
	keys := func(schema []types.KeySchemaElement) []any {
		var out []any
		for _, k := range schema {
			out = append(out, map[string]any{"AttributeName": *k.AttributeName, "KeyType": string(k.KeyType)})
		}
		return out
	}
	s.keys = keys(in.KeySchema)
	for _, g := range in.GlobalSecondaryIndexes {
		s.indexes = append(s.indexes, map[string]any{
			"IndexName": *g.IndexName, "KeySchema": keys(g.KeySchema),
			"Projection": map[string]any{"ProjectionType": string(g.Projection.ProjectionType)},
		})
	}
	return s
}()
