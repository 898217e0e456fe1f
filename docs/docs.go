// Package docs holds the API's description (openapi.yaml) and the JSON Schemas of the events
// (schemas/), embedded, with the validator the tests use to hold the code to them: the sample
// events, the handlers' answers and the local stack's end-to-end traffic.
//
// The validator is github.com/santhosh-tekuri/jsonschema/v6, chosen by measurement over
// github.com/getkin/kin-openapi: both validated a transfer 20,000 times in the same ~0.14 s, but
// jsonschema implements JSON Schema 2020-12, the dialect of OpenAPI 3.1 (type arrays, const,
// $defs, if/then), and brings one module (golang.org/x/text) where kin-openapi brings seven.
package docs

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

//go:embed openapi.yaml schemas/*.json
var files embed.FS

// The event schemas in schemas/.
const (
	EscalationRequestedSchema = "schemas/escalation-requested.json"
	TransferOutcomeSchema     = "schemas/transfer-outcome.json"
)

const specURL = "mem:///openapi.json"

// Spec is openapi.yaml, ready to validate requests and answers. Build it with Load.
type Spec struct {
	doc map[string]any

	mu       sync.Mutex
	compiler *jsonschema.Compiler
	compiled map[string]*jsonschema.Schema
}

// Load reads the embedded openapi.yaml and the event schemas.
func Load() (*Spec, error) {
	raw, err := files.ReadFile("openapi.yaml")
	if err != nil {
		return nil, err
	}
	var y any
	if err := yaml.Unmarshal(raw, &y); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	// Through JSON, so the validator sees JSON's numbers and string-keyed objects.
	j, err := json.Marshal(y)
	if err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(specURL, doc); err != nil {
		return nil, err
	}
	for _, name := range []string{EscalationRequestedSchema, TransferOutcomeSchema} {
		b, err := files.ReadFile(name)
		if err != nil {
			return nil, err
		}
		s, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if err := c.AddResource("mem:///"+name, s); err != nil {
			return nil, err
		}
	}
	m, _ := doc.(map[string]any)
	return &Spec{doc: m, compiler: c, compiled: map[string]*jsonschema.Schema{}}, nil
}

// Routes are the spec's operations as route keys ("POST /transfers"), sorted.
func (s *Spec) Routes() []string {
	var out []string
	paths, _ := s.doc["paths"].(map[string]any)
	for p, item := range paths {
		ops, _ := item.(map[string]any)
		for m := range ops {
			if slices.Contains([]string{"get", "put", "post", "delete", "patch"}, m) {
				out = append(out, strings.ToUpper(m)+" "+p)
			}
		}
	}
	sort.Strings(out)
	return out
}

// ValidateEvent validates an event's detail against one of the event schemas.
func (s *Spec) ValidateEvent(schema string, detail []byte) error {
	return s.validate("mem:///"+schema, detail)
}

// ValidateRequest validates a request body against the operation's requestBody (JSON only).
func (s *Spec) ValidateRequest(method, path string, body []byte) error {
	op, ptr, err := s.operation(method, path)
	if err != nil {
		return err
	}
	rb, rbPtr := s.resolve(op["requestBody"], ptr+"/requestBody")
	if rb == nil {
		if len(body) > 0 {
			return fmt.Errorf("%s %s takes no body", method, path)
		}
		return nil
	}
	if _, ok := dig(rb, "content", "application/json", "schema"); !ok {
		return nil
	}
	return s.validate(specURL+"#"+rbPtr+"/content/application~1json/schema", body)
}

// ValidateResponse validates an answer: its status is described, its described headers have
// the described form (required ones present), and a JSON body matches the schema. An answer to
// a path the spec does not have must be API Gateway's own {"message": …}.
func (s *Spec) ValidateResponse(method, path string, status int, header http.Header, body []byte) error {
	op, ptr, err := s.operation(method, path)
	if err != nil {
		if verr := s.validate(specURL+"#/components/schemas/GatewayError", body); verr != nil {
			return fmt.Errorf("%w, and the answer is not API Gateway's own: %v", err, verr)
		}
		return nil
	}
	code := strconv.Itoa(status)
	resp, respPtr := s.resolve(mustMap(op["responses"])[code], ptr+"/responses/"+code)
	if resp == nil {
		return fmt.Errorf("%s %s: status %d is not described", method, path, status)
	}
	headers, _ := resp["headers"].(map[string]any)
	for name, h := range headers {
		hd, hPtr := s.resolve(h, respPtr+"/headers/"+escape(name))
		v := header.Get(name)
		if v == "" {
			if req, _ := hd["required"].(bool); req {
				return fmt.Errorf("%s %s %d: header %s is missing", method, path, status, name)
			}
			continue
		}
		q, _ := json.Marshal(v)
		if err := s.validate(specURL+"#"+hPtr+"/schema", q); err != nil {
			return fmt.Errorf("%s %s %d: header %s: %w", method, path, status, name, err)
		}
	}
	if _, ok := dig(resp, "content", "application/json", "schema"); !ok {
		return nil
	}
	if ct := header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("%s %s %d: Content-Type %q, want application/json", method, path, status, ct)
	}
	if err := s.validate(specURL+"#"+respPtr+"/content/application~1json/schema", body); err != nil {
		return fmt.Errorf("%s %s %d: %w", method, path, status, err)
	}
	return nil
}

// operation finds the operation for a concrete path ("/transfers/abc" matches "/transfers/{id}").
func (s *Spec) operation(method, path string) (map[string]any, string, error) {
	paths, _ := s.doc["paths"].(map[string]any)
	for p, item := range paths {
		if !matchPath(p, path) {
			continue
		}
		op, ok := mustMap(item)[strings.ToLower(method)].(map[string]any)
		if !ok {
			break
		}
		return op, "/paths/" + escape(p) + "/" + strings.ToLower(method), nil
	}
	return nil, "", fmt.Errorf("openapi.yaml has no operation %s %s", method, path)
}

func matchPath(pattern, path string) bool {
	ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(xs) {
		return false
	}
	for i := range ps {
		if strings.HasPrefix(ps[i], "{") {
			if xs[i] == "" {
				return false
			}
		} else if ps[i] != xs[i] {
			return false
		}
	}
	return true
}

// resolve follows a local $ref, returning the object and its JSON pointer.
func (s *Spec) resolve(node any, ptr string) (map[string]any, string) {
	for range 8 {
		m, ok := node.(map[string]any)
		if !ok {
			return nil, ""
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return m, ptr
		}
		ptr = strings.TrimPrefix(ref, "#")
		node = s.doc
		for _, part := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
			node = mustMap(node)[unescape(part)]
		}
	}
	return nil, ""
}

func (s *Spec) validate(loc string, body []byte) error {
	s.mu.Lock()
	sch, ok := s.compiled[loc]
	if !ok {
		var err error
		if sch, err = s.compiler.Compile(loc); err != nil {
			s.mu.Unlock()
			return fmt.Errorf("schema %s: %w", loc, err)
		}
		s.compiled[loc] = sch
	}
	s.mu.Unlock()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return sch.Validate(v)
}

func dig(m map[string]any, keys ...string) (any, bool) {
	var cur any = m
	for _, k := range keys {
		next, ok := mustMap(cur)[k]
		if !ok {
			return nil, false
		}
		cur = next
	}
	return cur, true
}

func mustMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func escape(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1") }
func unescape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
}
