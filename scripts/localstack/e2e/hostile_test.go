package e2e_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"handoff/core/handoff"
	"handoff/core/store"
)

// Requests no client should send, through the gateway: each is answered with the API's JSON
// error (never a trace, never a secret), reaches no vendor, and leaves nothing in the table.
func testHostileHTTP(t *testing.T, e *env) {
	s := e.stack(t)
	valid := func(edit func(map[string]any)) string {
		r := map[string]any{"tenant": "demo", "vendor": "liveperson", "conversation": map[string]any{"id": "H-hostile-1"},
			"target": map[string]any{"type": "skill", "id": "2"}}
		edit(r)
		return string(mustJSON(t, r))
	}
	none := func(map[string]any) {}
	fallbacks := make([]map[string]string, handoff.MaxFallbacks+1)
	for i := range fallbacks {
		fallbacks[i] = map[string]string{"type": "agent", "id": "6"}
	}
	post, get := http.MethodPost, http.MethodGet
	cases := []struct {
		name         string
		method, path string
		key, body    string
		status       int
		code         handoff.Code
		field        string
	}{
		{"malformed JSON", post, "/transfers", "", `{"tenant":"demo","vendor":`, 400, handoff.CodeInvalidRequest, ""},
		{"an array", post, "/transfers", "", `["demo"]`, 400, handoff.CodeInvalidRequest, ""},
		{"no body", post, "/transfers", "", ``, 400, handoff.CodeInvalidRequest, ""},
		{"two objects", post, "/transfers", "", valid(none) + `{}`, 400, handoff.CodeInvalidRequest, ""},
		{"target a string", post, "/transfers", "", valid(func(r map[string]any) { r["target"] = "skill" }), 400, handoff.CodeInvalidRequest, "target"},
		{"leave a string", post, "/transfers", "", valid(func(r map[string]any) { r["options"] = map[string]any{"leave": "yes"} }), 400, handoff.CodeInvalidRequest, "options.leave"},
		{"tenant a number", post, "/transfers", "", valid(func(r map[string]any) { r["tenant"] = 7 }), 400, handoff.CodeInvalidRequest, "tenant"},
		{"no conversation", post, "/transfers", "", valid(func(r map[string]any) { delete(r, "conversation") }), 400, handoff.CodeInvalidRequest, "conversation.id"},
		{"no target", post, "/transfers", "", valid(func(r map[string]any) { delete(r, "target") }), 400, handoff.CodeInvalidRequest, "target.type"},
		{"no tenant", post, "/transfers", "", valid(func(r map[string]any) { delete(r, "tenant") }), 400, handoff.CodeInvalidRequest, "tenant"},
		{"a misspelt field", post, "/transfers", "", valid(func(r map[string]any) { r["fallback"] = []any{} }), 400, handoff.CodeInvalidRequest, "fallback"},
		{"an unknown target type", post, "/transfers", "", valid(func(r map[string]any) { r["target"] = map[string]any{"type": "supervisor", "id": "1"} }), 400, handoff.CodeInvalidRequest, "target.type"},
		{"a target the vendor lacks", post, "/transfers", "", valid(func(r map[string]any) { r["target"] = map[string]any{"type": "queue", "id": "1"} }), 400, handoff.CodeUnsupportedTarget, ""},
		{"an unknown vendor", post, "/transfers", "", valid(func(r map[string]any) { r["vendor"] = "genesys" }), 400, handoff.CodeInvalidRequest, "vendor"},
		// globex has no access record: nobody may act for it.
		{"a tenant nobody may act for", post, "/transfers", "", valid(func(r map[string]any) { r["tenant"] = "globex" }), 403, handoff.CodeForbidden, ""},
		{"a tenant name in another case", post, "/transfers", "", strings.Replace(valid(none), `"tenant":"demo"`, `"tenant":"demo","TENANT":"acme"`, 1), 400, handoff.CodeInvalidRequest, "TENANT"},
		{"a tenant with a path", post, "/transfers", "", valid(func(r map[string]any) { r["tenant"] = "demo/../acme" }), 400, handoff.CodeInvalidRequest, "tenant"},
		{"a tenant not set up for the vendor", post, "/transfers", "", valid(func(r map[string]any) {
			r["tenant"], r["vendor"] = "acme", "bitrix24"
			r["conversation"], r["target"] = map[string]any{"id": "112"}, map[string]any{"type": "agent", "id": "12"}
		}), 404, handoff.CodeUnknownTenant, ""},
		{"a conversation id with a path", post, "/transfers", "", valid(func(r map[string]any) { r["conversation"] = map[string]any{"id": "../../etc/passwd"} }), 400, handoff.CodeInvalidRequest, "conversation.id"},
		{"a note too long", post, "/transfers", "", valid(func(r map[string]any) { r["note"] = strings.Repeat("n", handoff.MaxNoteChars+1) }), 400, handoff.CodeInvalidRequest, "note"},
		{"nested metadata", post, "/transfers", "", valid(func(r map[string]any) { r["metadata"] = map[string]any{"a": map[string]any{"b": 1}} }), 400, handoff.CodeInvalidRequest, "metadata.a"},
		{"too many fallbacks", post, "/transfers", "", valid(func(r map[string]any) { r["fallbacks"] = fallbacks }), 400, handoff.CodeInvalidRequest, "fallbacks"},
		{"an unknown bot", post, "/transfers", "", valid(func(r map[string]any) { r["bot"] = map[string]any{"vendor": "dialogflow"} }), 400, handoff.CodeInvalidRequest, "bot.vendor"},
		{"an Idempotency-Key too long", post, "/transfers", strings.Repeat("k", handoff.MaxKeyChars+1), valid(none), 400, handoff.CodeInvalidRequest, "Idempotency-Key"},
		{"a body over 64 KiB", post, "/transfers", "", valid(func(r map[string]any) { r["note"] = strings.Repeat("x", handoff.MaxBodyBytes) }), 413, handoff.CodeTooLarge, ""},
		{"an id that climbs", get, "/transfers/..%2F..%2Fetc%2Fpasswd", "", "", 400, handoff.CodeInvalidRequest, "id"},
		{"an id with a space", get, "/transfers/a%20b", "", "", 400, handoff.CodeInvalidRequest, "id"},
		{"an id with a NUL", get, "/transfers/a%00b", "", "", 400, handoff.CodeInvalidRequest, "id"},
		{"an id too long", get, "/transfers/" + strings.Repeat("i", handoff.MaxIDChars+1), "", "", 400, handoff.CodeInvalidRequest, "id"},
		{"an unknown id", get, "/transfers/0nosuchtransfer", "", "", 404, handoff.CodeNotFound, ""},
		{"callbacks of no vendor", post, "/callbacks/genesys?tenant=demo", "", `{}`, 404, handoff.CodeNotFound, ""},
		{"callbacks of a climbing vendor", post, "/callbacks/..%2Fkoreai?tenant=demo", "", `{}`, 404, handoff.CodeNotFound, ""},
		{"a callback without a tenant", post, "/callbacks/koreai", "", `{}`, 400, handoff.CodeInvalidRequest, "tenant"},
		{"availability for a tenant nobody may act for", get, "/availability?tenant=globex&vendor=liveperson&conversationId=H1", "", "", 403, handoff.CodeForbidden, ""},
	}

	table := tableName(t, e)
	before := scan(t, e, table)
	calls := vendorCalls(e)
	secrets := secretValues(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			header := map[string]string{}
			if c.key != "" {
				header["Idempotency-Key"] = c.key
			}
			a := call(t, c.method, s.URL+c.path, header, c.body)
			p := wantProblem(t, a, c.status, c.code)
			if c.field != "" && p.Error.Field != c.field {
				t.Errorf("field %q, want %q: %s", p.Error.Field, c.field, a)
			}
			for _, v := range secrets {
				if strings.Contains(string(a.body), v) {
					t.Errorf("the answer holds a tenant's secret: %s", a)
				}
			}
		})
	}
	if after := vendorCalls(e); after != calls {
		t.Errorf("the vendors received %d requests, want none", after-calls)
	}
	// The table may change under a transfer stored earlier (its ack, a timeline entry), but no
	// hostile request may add a transfer, an idempotency claim, a vendor reference, or a
	// timeline entry of a transfer that was not there.
	known := map[string]bool{}
	for key := range before {
		known[strings.SplitN(key, " ", 2)[0]] = true
	}
	for key := range scan(t, e, table) {
		if _, ok := before[key]; !ok && (!strings.HasPrefix(key, "TRANSFER#") || !known[strings.SplitN(key, " ", 2)[0]]) {
			t.Errorf("the table holds a new item %s", key)
		}
	}
}

// tableName is the table the functions use (their TABLE_NAME).
func tableName(t *testing.T, e *env) string {
	t.Helper()
	for _, f := range e.tmpl.Functions {
		if name := f.Environment["TABLE_NAME"]; name != "" {
			return name
		}
	}
	t.Fatal("no function of the template has a TABLE_NAME")
	return ""
}

// scan reads the whole table with the SDK, through moto, as "pk sk" → the item's kind, but
// the pacing's buckets and queue counts.
func scan(t *testing.T, e *env, table string) map[string]string {
	t.Helper()
	db := dynamodb.NewFromConfig(e.aws.Config)
	items := map[string]string{}
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("scanning %s: %v", table, err)
		}
		for _, raw := range page.Items {
			var key struct {
				PK   string `dynamodbav:"pk"`
				SK   string `dynamodbav:"sk"`
				Kind string `dynamodbav:"kind"`
			}
			if err := attributevalue.UnmarshalMap(raw, &key); err != nil {
				t.Fatal(err)
			}
			if key.Kind == store.KindBucket || key.Kind == store.KindBacklog {
				// Pacing's rate accounting, not a record of any request: a request refused
				// after it took its token (no secret for the vendor, say) still spent it.
				continue
			}
			items[key.PK+" "+key.SK] = key.Kind
		}
	}
	return items
}

// vendorCalls counts the requests every vendor sandbox received.
func vendorCalls(e *env) int {
	n := len(e.acmeLivePerson.Requests()) + len(e.acmeKoreAI.Requests())
	for _, c := range e.running.Sandboxes.Counters() {
		n += c.Requests
	}
	return n
}

// secretValues are the demo tenants' secret strings (passwords, client secrets, tokens, keys).
func secretValues(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "infra", "local-secrets.json"))
	if err != nil {
		t.Fatal(err)
	}
	var secrets map[string]map[string]any
	if err := json.Unmarshal(data, &secrets); err != nil {
		t.Fatal(err)
	}
	var out []string
	for key, fields := range secrets {
		for name, v := range fields {
			text, _ := v.(string)
			lower := strings.ToLower(name)
			if strings.Contains(lower, "secret") || strings.Contains(lower, "password") || strings.Contains(lower, "token") || strings.Contains(lower, "key") {
				if len(text) < 8 {
					t.Fatalf("%s.%s is too short to look for", key, name)
				}
				out = append(out, text)
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no secret values in infra/local-secrets.json")
	}
	return out
}
