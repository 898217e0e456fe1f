package docs_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"handoff/docs"
	"handoff/scripts/localstack/template"
)

func spec(t *testing.T) *docs.Spec {
	t.Helper()
	s, err := docs.Load()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestOpenAPINamesTheTemplatesRoutes: a route added to one must be added to the other.
func TestOpenAPINamesTheTemplatesRoutes(t *testing.T) {
	tmpl, err := template.Load("../template.yaml", template.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var routes []string
	for _, f := range tmpl.Functions {
		for _, r := range f.Routes {
			routes = append(routes, r.Key())
		}
	}
	sort.Strings(routes)
	if got := spec(t).Routes(); !slices.Equal(got, routes) {
		t.Errorf("openapi.yaml routes %v,\ntemplate.yaml routes %v", got, routes)
	}
}

// TestSampleEventsValidate: every HTTP sample's body is a request the spec describes (the
// malformed one is not), and the Escalation Requested detail matches its schema and the
// POST /transfers body alike.
func TestSampleEventsValidate(t *testing.T) {
	s := spec(t)
	paths, err := filepath.Glob("../events/*.json")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	checked := 0
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var shape struct {
			RouteKey   string          `json:"routeKey"`
			DetailType string          `json:"detail-type"`
			Detail     json.RawMessage `json:"detail"`
		}
		if err := json.Unmarshal(raw, &shape); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		name := filepath.Base(p)
		switch {
		case shape.RouteKey != "":
			var req events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(raw, &req); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(req.Headers["content-type"], "json") || req.RequestContext.HTTP.Method == http.MethodGet {
				if _, _, ok := strings.Cut(req.RouteKey, " "); !ok {
					t.Errorf("%s: route key %q", name, req.RouteKey)
				}
				checked++
				continue // form bodies and GETs: nothing to validate as JSON
			}
			err := s.ValidateRequest(req.RequestContext.HTTP.Method, req.RawPath, []byte(req.Body))
			if strings.Contains(name, "malformed") {
				if err == nil {
					t.Errorf("%s: validates though it is malformed", name)
				}
			} else if err != nil && !strings.HasPrefix(req.RawPath, "/callbacks/") {
				t.Errorf("%s: %v", name, err)
			}
			checked++
		case shape.DetailType == "Escalation Requested":
			if err := s.ValidateEvent(docs.EscalationRequestedSchema, shape.Detail); err != nil {
				t.Errorf("%s: %v", name, err)
			}
			if err := s.ValidateRequest("POST", "/transfers", shape.Detail); err != nil {
				t.Errorf("%s as a POST /transfers body: %v", name, err)
			}
			checked++
		}
	}
	if checked < 8 {
		t.Errorf("only %d samples checked", checked)
	}
}

func TestOutcomeExamplesValidate(t *testing.T) {
	s := spec(t)
	for _, name := range []string{"transfer-succeeded.json", "transfer-failed.json"} {
		raw, err := os.ReadFile(filepath.Join("schemas", "examples", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.ValidateEvent(docs.TransferOutcomeSchema, raw); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		// Without its version, or failed without an error, the detail is not valid.
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		delete(m, "schemaVersion")
		delete(m, "error")
		b, _ := json.Marshal(m)
		if err := s.ValidateEvent(docs.TransferOutcomeSchema, b); err == nil {
			t.Errorf("%s without schemaVersion validates", name)
		}
	}
}

func TestResponsesAreHeldToTheSpec(t *testing.T) {
	s := spec(t)
	json201 := http.Header{"Content-Type": {"application/json"}, "Location": {"/transfers/abc"}}
	example, _ := os.ReadFile("schemas/examples/transfer-succeeded.json")
	var tr map[string]any
	_ = json.Unmarshal(example, &tr)
	delete(tr, "schemaVersion")
	transfer, _ := json.Marshal(tr)
	jsonH := http.Header{"Content-Type": {"application/json"}}
	cases := []struct {
		name         string
		method, path string
		status       int
		header       http.Header
		body         string
		valid        bool
	}{
		{"created", "POST", "/transfers", 201, json201, string(transfer), true},
		{"created without Location", "POST", "/transfers", 201, jsonH, string(transfer), false},
		{"replayed header must be true", "POST", "/transfers", 201, http.Header{"Content-Type": {"application/json"}, "Location": {"/transfers/abc"}, "Idempotent-Replayed": {"yes"}}, string(transfer), false},
		{"an undescribed status", "POST", "/transfers", 418, jsonH, `{}`, false},
		{"API error", "GET", "/transfers/x", 404, jsonH, `{"error":{"code":"NOT_FOUND","message":"no such transfer"}}`, true},
		{"unknown code", "GET", "/transfers/x", 404, jsonH, `{"error":{"code":"GONE","message":"?"}}`, false},
		{"gateway's 403", "POST", "/transfers", 403, jsonH, `{"message":"Forbidden"}`, true},
		{"gateway's 429", "GET", "/availability", 429, jsonH, `{"message":"Too Many Requests"}`, true},
		{"gateway's 503", "POST", "/transfers", 503, jsonH, `{"message":"Service Unavailable"}`, true},
		{"in progress with Retry-After", "POST", "/transfers", 409, http.Header{"Content-Type": {"application/json"}, "Retry-After": {"2"}}, `{"error":{"code":"IN_PROGRESS","message":"running"}}`, true},
		{"Retry-After not seconds", "POST", "/transfers", 409, http.Header{"Content-Type": {"application/json"}, "Retry-After": {"soon"}}, `{"error":{"code":"IN_PROGRESS","message":"running"}}`, false},
		{"unknown route answered by the gateway", "GET", "/nope", 404, jsonH, `{"message":"Not Found"}`, true},
		{"unknown route answered by a function", "GET", "/nope", 404, jsonH, `{"error":{"code":"NOT_FOUND","message":"x"}}`, false},
		{"callback answer", "POST", "/callbacks/koreai", 200, jsonH, `{"id":"x","status":"transferred"}`, true},
		{"availability", "GET", "/availability", 200, jsonH, `{"targets":[{"type":"skill","id":"2","name":"Sales","available":true,"onlineAgents":1}]}`, true},
		{"availability null", "GET", "/availability", 200, jsonH, `{"targets":null}`, false},
	}
	for _, tc := range cases {
		err := s.ValidateResponse(tc.method, tc.path, tc.status, tc.header, []byte(tc.body))
		if (err == nil) != tc.valid {
			t.Errorf("%s: err = %v, want valid=%v", tc.name, err, tc.valid)
		}
	}
}
