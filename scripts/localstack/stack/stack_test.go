package stack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"handoff/core/awstest"
	"handoff/core/testkit"
	"handoff/scripts/localstack/eventbus"
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
		Addr: "127.0.0.1:0", Output: output, Log: slog.New(slog.DiscardHandler),
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
	var created map[string]string
	json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || created["id"] != "a" || created["body"] != `{"n":1}` {
		t.Fatalf("POST /items/a = %d %v\n%s", resp.StatusCode, created, output.String())
	}
	if created["callbackBase"] != s.URL || created["functionName"] != "handoff-local-writer" {
		t.Errorf("environment: CALLBACK_BASE_URL %q (want %s), AWS_LAMBDA_FUNCTION_NAME %q", created["callbackBase"], s.URL, created["functionName"])
	}
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
	if len(s.Routes) != 1 || s.Routes[0].Key != "POST /items/{id}" || s.Routes[0].Function != "writer" {
		t.Errorf("routes = %+v", s.Routes)
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
