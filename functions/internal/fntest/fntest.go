// Package fntest is the world the functions' tests run in: moto for DynamoDB and Secrets
// Manager, every vendor's sandbox, the demo tenant's secrets, a local EventBridge that records
// what is published, the sample events of events/, and each function's environment as its
// resource in template.yaml declares it — so each function's real Main is tested with the same
// events `sam local invoke -e` takes and the configuration Lambda gives it, against real parts.
package fntest

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"handoff/core/access"
	"handoff/core/awstest"
	"handoff/core/handler"
	"handoff/core/handoff"
	"handoff/core/store"
	"handoff/core/transfer"
	"handoff/functions/internal/boot"
	"handoff/scripts/localstack/demo"
	"handoff/scripts/localstack/eventbus"
	"handoff/scripts/localstack/sqssource"
	"handoff/scripts/localstack/template"
)

// Env is a running test world.
type Env struct {
	AWS       *awstest.Env
	DB        *dynamodb.Client
	Store     *store.Store
	Sandboxes *demo.Sandboxes
	Bus       *eventbus.Bus
	tmpl      *template.Template
	vars      map[string]string // the function's environment
	table     string
	queueURL  string // the transfer queue, when the function declares one
}

// New starts the world for one test of function (its logical ID in template.yaml, such as
// TransferFunction). The functions read the AWS SDK's settings from the process environment,
// so tests using it must not run in parallel.
func New(t *testing.T, function string) *Env {
	t.Helper()
	ctx := Ctx(t)
	tmpl := Template(t)
	vars := Declared(t, tmpl, function)
	table := vars["TABLE_NAME"]
	aw := awstest.New(t)
	db := dynamodb.NewFromConfig(aw.Config)
	if err := store.CreateTable(ctx, db, table); err != nil {
		t.Fatal(err)
	}
	var queueURL string
	if name, ok := vars["TRANSFER_QUEUE_URL"]; ok {
		// The transfer queue on moto, as template.yaml declares it; the function gets its URL.
		q, err := sqssource.CreateTransferQueue(ctx, sqs.NewFromConfig(aw.Config), name, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		queueURL, vars["TRANSFER_QUEUE_URL"] = q.URL, q.URL
	}
	sb, err := demo.StartSandboxes()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	// The demo tenant's secrets, one per registered sandbox (infra/local-secrets.json is their
	// copy, which scripts/localstack/demo checks).
	seeded, err := demo.Seed(ctx, secretsmanager.NewFromConfig(aw.Config), "handoff/", sb.DemoSecrets())
	if err != nil {
		t.Fatal(err)
	}
	// The local stack's access records, and one for "ghost", a tenant allowed in but without
	// secrets, so that the tests of an unknown tenant's secrets get past tenant access.
	if err := demo.SeedAccess(ctx, db, table, append(demo.TenantsOf(seeded), "ghost")); err != nil {
		t.Fatal(err)
	}
	bus := eventbus.New(eventbus.Config{})
	busServer := httptest.NewServer(bus)
	t.Cleanup(func() { busServer.Close(); bus.Close() })

	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL": aw.URL, "AWS_ENDPOINT_URL_EVENTBRIDGE": busServer.URL,
		"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_SESSION_TOKEN": "",
		"AWS_REGION": awstest.Region, "AWS_EC2_METADATA_DISABLED": "true", "AWS_PROFILE": "",
		"AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
	} {
		t.Setenv(k, v)
	}
	return &Env{
		AWS: aw, DB: db, Store: store.New(db, table), Sandboxes: sb, Bus: bus,
		tmpl: tmpl, vars: vars, table: table, queueURL: queueURL,
	}
}

// Queued receives what waits in the transfer queue, as Lambda's event source would hand it to
// the function: one SQS event, its messages in their groups' order. The messages are deleted
// (handled); a test that returns some sends them again itself.
func (e *Env) Queued(t *testing.T) events.SQSEvent {
	t.Helper()
	client := sqs.NewFromConfig(e.AWS.Config)
	var ev events.SQSEvent
	for {
		out, err := client.ReceiveMessage(Ctx(t), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(e.queueURL), MaxNumberOfMessages: 10,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			return ev
		}
		for _, m := range out.Messages {
			ev.Records = append(ev.Records, events.SQSMessage{
				MessageId: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle),
				Body: aws.ToString(m.Body), Attributes: m.Attributes, EventSource: "aws:sqs",
			})
			if _, err := client.DeleteMessage(Ctx(t), &sqs.DeleteMessageInput{QueueUrl: aws.String(e.queueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// Set gives one variable of the function's environment another value, for a test that needs
// it; the variable must be one the resource declares.
func (e *Env) Set(t *testing.T, name, value string) {
	t.Helper()
	if _, ok := e.vars[name]; !ok {
		t.Fatalf("fntest: %s is not declared for the function in template.yaml", name)
	}
	e.vars[name] = value
}

// Table is the name of the table the function's environment names.
func (e *Env) Table() string { return e.table }

// Getenv is the function's environment, as its resource in template.yaml declares it.
func (e *Env) Getenv(name string) string { return e.vars[name] }

// TransferHandler is the transfer function's handler, wired as its main wires it with its own
// environment, for tests of the other functions that need a transfer to exist.
func (e *Env) TransferHandler(t *testing.T) *handler.Transfer {
	t.Helper()
	vars := Declared(t, e.tmpl, "TransferFunction")
	vars["TABLE_NAME"] = e.table
	cfg, p, err := boot.Setup(Ctx(t), func(name string) string { return vars[name] }, boot.Callbacks, boot.Idempotency)
	if err != nil {
		t.Fatal(err)
	}
	return handler.NewTransfer(transfer.New(p.Store, p.Vendors, p.Log,
		transfer.WithCallbackTimeout(cfg.CallbackTimeout), transfer.WithCallbackBase(cfg.CallbackBaseURL)),
		access.New(p.Store), p.Log, cfg.CallbackBaseURL)
}

// Items counts the table's items but the tenants' access records (seeded, never written by a
// function) and the pacing's buckets and queue counts (a request refused after it took its
// token still spent it: rate accounting, not a record of the request): tests check that
// refused input left the table as it was.
func (e *Env) Items(t *testing.T) int {
	t.Helper()
	out, err := e.DB.Scan(Ctx(t), &dynamodb.ScanInput{TableName: aws.String(e.table), Select: "COUNT",
		FilterExpression:         aws.String("NOT #kind IN (:access, :bucket, :backlog)"),
		ExpressionAttributeNames: map[string]string{"#kind": store.AttrKind},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":access":  &types.AttributeValueMemberS{Value: store.KindAccess},
			":bucket":  &types.AttributeValueMemberS{Value: store.KindBucket},
			":backlog": &types.AttributeValueMemberS{Value: store.KindBacklog},
		}})
	if err != nil {
		t.Fatal(err)
	}
	return int(out.Count)
}

// Get reads a transfer from the table.
func (e *Env) Get(t *testing.T, id string) handoff.Transfer {
	t.Helper()
	tr, err := e.Store.Get(Ctx(t), id)
	if err != nil {
		t.Fatalf("transfer %s: %v", id, err)
	}
	return tr
}

// Root is the repository root.
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for !exists(filepath.Join(dir, "go.mod")) {
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("fntest: no go.mod above the test's directory")
		}
		dir = parent
	}
	return dir
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

// Sample reads events/<name>, the file `sam local invoke -e` takes.
func Sample(t *testing.T, name string) json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Root(t), "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// HTTPSample decodes an HTTP API sample event.
func HTTPSample(t *testing.T, name string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	var req events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(Sample(t, name), &req); err != nil {
		t.Fatal(err)
	}
	return req
}

// Encode marshals an event for a handler that takes raw JSON.
func Encode(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Answer is an HTTP answer's status and decoded body.
type Answer struct {
	Status   int
	Headers  map[string]string
	Transfer handoff.Transfer
	Error    struct {
		Code       handoff.Code `json:"code"`
		VendorCode string       `json:"vendorCode"`
	}
	Raw string
}

// Decode reads an HTTP answer: the transfer resource, or the error beside it.
func Decode(t *testing.T, resp events.APIGatewayV2HTTPResponse) Answer {
	t.Helper()
	a := Answer{Status: resp.StatusCode, Headers: resp.Headers, Raw: resp.Body}
	if resp.StatusCode >= 400 {
		var body struct {
			Error    json.RawMessage   `json:"error"`
			Transfer *handoff.Transfer `json:"transfer"`
		}
		if err := json.Unmarshal([]byte(resp.Body), &body); err != nil || body.Error == nil {
			t.Fatalf("error answer %d is not a JSON error: %.300s", resp.StatusCode, resp.Body)
		}
		_ = json.Unmarshal(body.Error, &a.Error)
		if body.Transfer != nil {
			a.Transfer = *body.Transfer
		}
		return a
	}
	if strings.HasPrefix(strings.TrimSpace(resp.Body), "{") {
		_ = json.Unmarshal([]byte(resp.Body), &a.Transfer)
	}
	return a
}

// Ctx is a context bounded for one test.
func Ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}
