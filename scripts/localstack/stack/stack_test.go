package stack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"handoff/core/awstest"
	"handoff/core/testkit"
	"handoff/scripts/localstack/eventbus"
	"handoff/scripts/localstack/rie"
	"handoff/scripts/localstack/stack"
	"handoff/scripts/localstack/template"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// start runs testdata/template.yaml, its functions built from testdata, on a fresh moto.
func start(t *testing.T) (*stack.Stack, *testkit.Buffer) {
	t.Helper()
	ctx := context.Background()
	env := awstest.New(t)
	tmpl, err := template.Load("testdata/template.yaml", template.Options{})
	if err != nil {
		t.Fatal(err)
	}
	binaries, err := stack.Build(ctx, tmpl, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	output := &testkit.Buffer{}
	s, err := stack.Start(ctx, stack.Config{
		Template: tmpl, Binaries: binaries, AWS: env.Config, AWSEndpoint: env.URL,
		Addr: "127.0.0.1:0", Output: output, Log: slog.New(slog.NewTextHandler(output, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Parameters: func(gatewayURL string) map[string]string {
			return map[string]string{"CallbackBaseUrl": gatewayURL}
		},
	})
	if err != nil {
		t.Fatalf("Start: %v\nfunction output:\n%s", err, output.String())
	}
	t.Cleanup(func() { s.Close() })
	return s, output
}

func TestStackServesRoutesRulesAndStreams(t *testing.T) {
	s, output := start(t)

	// A route of the template, through the gateway to the writer's process.
	resp, err := http.Post(s.URL+"/items/a", "application/json", strings.NewReader(`{"n":1}`))
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		ID, Body, CallbackBase, FunctionName string
		Environ                              []string
	}
	json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || created.ID != "a" || created.Body != `{"n":1}` {
		t.Fatalf("POST /items/a = %d %+v\n%s", resp.StatusCode, created, output.String())
	}
	if created.CallbackBase != s.URL || created.FunctionName != "handoff-local-writer" {
		t.Errorf("environment: CALLBACK_BASE_URL %q (want %s, the parameter's local value), AWS_LAMBDA_FUNCTION_NAME %q", created.CallbackBase, s.URL, created.FunctionName)
	}
	checkEnvironment(t, created.Environ, s.URL)
	// The item's INSERT went through the stream to the sink, which published with the SDK.
	awaitEvent(t, s, "Item Stored", `{"id":"a"}`, output)

	// A rule of the template: an event posted locally reaches the writer, and so the sink.
	post := `{"Entries":[{"Source":"test","DetailType":"Write Requested","Detail":"{\"id\":\"b\"}"}]}`
	resp, err = http.Post(s.URL+"/_local/events", "application/json", strings.NewReader(post))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	awaitEvent(t, s, "Item Stored", `{"id":"b"}`, output)

	resp, err = http.Get(s.URL + "/nowhere")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /nowhere = %d", resp.StatusCode)
	}
	if !strings.Contains(output.String(), "[writer] storing a\n") {
		t.Errorf("function output lacks the writer's prefixed line:\n%s", output.String())
	}
	if !slices.Contains(s.Routes, stack.RouteInfo{Key: "POST /items/{id}", Function: "writer"}) {
		t.Errorf("routes = %+v", s.Routes)
	}
}

// TestInitErrorIsClear: a function whose init fails does not stop the stack (Lambda initialises
// on the first invocation), and its request fails with the function's own line in the log.
func TestInitErrorIsClear(t *testing.T) {
	s, output := start(t)
	resp, err := http.Get(s.URL + "/greeting")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("GET /greeting = %d, want 500 as API Gateway answers a failed function", resp.StatusCode)
	}
	want := "InvalidConfiguration: broken: invalid configuration: GREETING is not set"
	if !strings.Contains(output.String(), want) {
		t.Errorf("the log lacks %q:\n%s", want, output.String())
	}
}

func TestCloseFreesThePorts(t *testing.T) {
	s, _ := start(t)
	addresses := []string{strings.TrimPrefix(s.URL, "http://"), strings.TrimPrefix(s.EventBridgeURL, "http://")}
	s.Close()
	for _, a := range addresses {
		if conn, err := net.Dial("tcp", a); err == nil {
			conn.Close()
			t.Errorf("%s still accepts connections", a)
		}
	}
}

func TestStartFailsOnATakenPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	tmpl, _ := template.Parse([]byte("Resources: {}"), template.Options{})
	_, err = stack.Start(context.Background(), stack.Config{Template: tmpl, AWS: awstest.Config("http://127.0.0.1:1"), Addr: ln.Addr().String()})
	if err == nil || !strings.Contains(err.Error(), "PORT") {
		t.Errorf("Start = %v, want an error that says to set PORT", err)
	}
}

// checkEnvironment: the writer runs with exactly what its resource declares (Globals'
// TABLE_NAME and AWS_ENDPOINT_URL, its own CALLBACK_BASE_URL), the local EventBridge endpoint, and
// Lambda's reserved variables; nothing of this test's environment.
func checkEnvironment(t *testing.T, environ []string, gatewayURL string) {
	t.Helper()
	declared := map[string]bool{"TABLE_NAME": true, "AWS_ENDPOINT_URL": true, "CALLBACK_BASE_URL": true, "AWS_ENDPOINT_URL_EVENTBRIDGE": true}
	seen := map[string]bool{}
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		seen[name] = true
		if !declared[name] && !slices.Contains(rie.Reserved, name) {
			t.Errorf("the writer's environment has %s, which its resource does not declare", kv)
		}
	}
	for name := range declared {
		if !seen[name] {
			t.Errorf("the writer's environment lacks %s", name)
		}
	}
}

// awaitEvent waits until GET /_local/events lists an event of this type and detail.
func awaitEvent(t *testing.T, s *stack.Stack, detailType, detail string, output *testkit.Buffer) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(s.URL + "/_local/events")
		if err != nil {
			t.Fatal(err)
		}
		var list struct{ Events []eventbus.Published }
		json.NewDecoder(resp.Body).Decode(&list)
		resp.Body.Close()
		for _, e := range list.Events {
			if e.DetailType == detailType && bytes.Equal(e.Detail, []byte(detail)) {
				return
			}
		}
	}
	t.Fatalf("no %s event with %s\nfunction output:\n%s", detailType, detail, output.String())
}
