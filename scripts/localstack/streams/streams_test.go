package streams_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"handoff/core/awstest"
	"handoff/core/testkit"
	"handoff/scripts/localstack/pattern"
	"handoff/scripts/localstack/streams"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// The bot-ack filters of template.yaml.
var botAckFilters = []*pattern.Pattern{
	pattern.MustParse(`{"eventName":["INSERT"],"dynamodb":{"NewImage":{"kind":{"S":["transfer"]},"status":{"S":["transferred","failed"]}}}}`),
	pattern.MustParse(`{"eventName":["MODIFY"],"dynamodb":{"NewImage":{"kind":{"S":["transfer"]},"status":{"S":["transferred","failed"]}},"OldImage":{"status":{"S":["pending"]}}}}`),
}

// function is a fake bot-ack: it records each batch and answers with respond.
type function struct {
	mu      sync.Mutex
	batches []events.DynamoDBEvent
	raw     [][]byte
	got     chan events.DynamoDBEvent
	respond func(events.DynamoDBEvent) ([]byte, error)
}

func newFunction(respond func(events.DynamoDBEvent) ([]byte, error)) *function {
	return &function{got: make(chan events.DynamoDBEvent, 100), respond: respond}
}

func (f *function) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var e events.DynamoDBEvent
	if err := json.Unmarshal(payload, &e); err != nil {
		return nil, err
	}
	out, err := []byte(`{"batchItemFailures":[]}`), error(nil)
	if f.respond != nil {
		out, err = f.respond(e)
	}
	f.mu.Lock()
	f.batches = append(f.batches, e)
	f.raw = append(f.raw, payload)
	f.mu.Unlock()
	f.got <- e // after respond, so what respond did is visible to whoever receives
	return out, err
}

// env is a table with a stream in a fresh moto.
type env struct {
	t     *testing.T
	db    *dynamodb.Client
	cfg   streams.Config
	table string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	aws := awstest.New(t)
	e := &env{t: t, db: dynamodb.NewFromConfig(aws.Config), table: "sessions"}
	e.cfg = streams.Config{
		DynamoDB:                dynamodb.NewFromConfig(aws.Config),
		Streams:                 dynamodbstreams.NewFromConfig(aws.Config),
		Table:                   e.table,
		Filters:                 botAckFilters,
		BatchSize:               10,
		StartingPosition:        "TRIM_HORIZON",
		ReportBatchItemFailures: true,
		MaxRetryAttempts:        5,
		Backoff:                 func(int) time.Duration { return 0 },
		PollInterval:            20 * time.Millisecond,
		Log:                     slog.New(slog.DiscardHandler),
	}
	e.createTable()
	return e
}

func (e *env) createTable() {
	e.t.Helper()
	key := func(name string, kt types.KeyType) types.KeySchemaElement {
		return types.KeySchemaElement{AttributeName: &name, KeyType: kt}
	}
	_, err := e.db.CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName: &e.table,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("sk"), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema:           []types.KeySchemaElement{key("pk", types.KeyTypeHash), key("sk", types.KeyTypeRange)},
		BillingMode:         types.BillingModePayPerRequest,
		StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages},
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// run starts a poller with the env's config and stops it at the end of the test.
func (e *env) run(target streams.Invoker) *streams.Poller {
	e.t.Helper()
	cfg := e.cfg
	cfg.Target = target
	p := streams.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			e.t.Error(err)
		}
	})
	return p
}

// transfer writes a transfer item in status.
func (e *env) transfer(id, status string) {
	e.t.Helper()
	e.put(map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "TRANSFER#" + id}, "sk": &types.AttributeValueMemberS{Value: "TRANSFER"},
		"kind": &types.AttributeValueMemberS{Value: "transfer"}, "status": &types.AttributeValueMemberS{Value: status},
	})
}

func (e *env) put(item map[string]types.AttributeValue) {
	e.t.Helper()
	if _, err := e.db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: &e.table, Item: item}); err != nil {
		e.t.Fatal(err)
	}
}

// receive waits for the function's next batch.
func receive(t *testing.T, f *function) events.DynamoDBEvent {
	t.Helper()
	select {
	case e := <-f.got:
		return e
	case <-time.After(20 * time.Second):
		t.Fatal("no batch arrived")
		return events.DynamoDBEvent{}
	}
}

// receiveUntil collects the records of batches until one holds the transfer id.
func receiveUntil(t *testing.T, f *function, id string) []events.DynamoDBEventRecord {
	t.Helper()
	var records []events.DynamoDBEventRecord
	for {
		for _, r := range receive(t, f).Records {
			records = append(records, r)
			if pk(r) == "TRANSFER#"+id {
				return records
			}
		}
	}
}

func pk(r events.DynamoDBEventRecord) string { return r.Change.Keys["pk"].String() }

func pks(records []events.DynamoDBEventRecord) []string {
	var out []string
	for _, r := range records {
		out = append(out, r.EventName+" "+strings.TrimPrefix(pk(r), "TRANSFER#"))
	}
	return out
}

func TestDeliversTransfersReachingAFinalState(t *testing.T) {
	e := newEnv(t)
	f := newFunction(nil)
	e.run(f)
	e.transfer("a", "pending")     // INSERT pending: filtered out
	e.transfer("a", "transferred") // MODIFY pending → transferred: delivered
	e.transfer("a", "transferred") // MODIFY transferred → transferred: filtered out
	e.put(map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "TRANSFER#a"}, "sk": &types.AttributeValueMemberS{Value: "EVENT#1"}, "kind": &types.AttributeValueMemberS{Value: "event"}, "status": &types.AttributeValueMemberS{Value: "failed"}})
	e.transfer("b", "failed") // INSERT final: delivered

	records := receiveUntil(t, f, "b")
	if got := pks(records); !reflect.DeepEqual(got, []string{"MODIFY a", "INSERT b"}) {
		t.Fatalf("records = %v", got)
	}
	r := records[0]
	if r.EventSource != "aws:dynamodb" || r.AWSRegion != "us-east-1" || !strings.Contains(r.EventSourceArn, ":table/sessions/stream/") || r.EventID == "" || r.EventVersion == "" {
		t.Errorf("record = %+v", r)
	}
	c := r.Change
	if c.NewImage["status"].String() != "transferred" || c.OldImage["status"].String() != "pending" || c.StreamViewType != "NEW_AND_OLD_IMAGES" || c.SequenceNumber == "" || c.SizeBytes <= 0 || c.ApproximateCreationDateTime.IsZero() {
		t.Errorf("dynamodb = %+v", c)
	}
}

// TestRecordHasTheFieldsOfARealOne compares a delivered record's fields with the INSERT in
// events/stream-transfer-final.json, a batch as Lambda delivers it.
func TestRecordHasTheFieldsOfARealOne(t *testing.T) {
	e := newEnv(t)
	f := newFunction(nil)
	e.run(f)
	e.transfer("a", "transferred")
	receive(t, f)
	var ours, real struct{ Records []map[string]any }
	json.Unmarshal(f.raw[0], &ours)
	data, err := os.ReadFile("../../../events/stream-transfer-final.json")
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(data, &real)
	local, lambda := fields(ours.Records[0]), fields(real.Records[0])
	if !reflect.DeepEqual(local, lambda) {
		t.Errorf("fields differ:\nlocal  %v\nlambda %v", local, lambda)
	}
}

// fields lists a record's keys and those of its dynamodb block, but not of the item images.
func fields(record map[string]any) []string {
	var out []string
	for k := range record {
		out = append(out, k)
	}
	for k := range record["dynamodb"].(map[string]any) {
		out = append(out, "dynamodb."+k)
	}
	slices.Sort(out)
	return out
}

func TestBatchSize(t *testing.T) {
	e := newEnv(t)
	e.cfg.BatchSize = 2
	for i := range 5 {
		e.transfer(fmt.Sprint(i), "transferred")
	}
	f := newFunction(nil)
	e.run(f)
	var got []string
	for len(got) < 5 {
		batch := receive(t, f)
		if len(batch.Records) > 2 {
			t.Errorf("a batch of %d records", len(batch.Records))
		}
		got = append(got, pks(batch.Records)...)
	}
	if want := []string{"INSERT 0", "INSERT 1", "INSERT 2", "INSERT 3", "INSERT 4"}; !reflect.DeepEqual(got, want) {
		t.Errorf("records = %v", got)
	}
}

func TestBatchItemFailureRetriesFromTheFirstFailedRecord(t *testing.T) {
	e := newEnv(t)
	for _, id := range []string{"a", "b", "c", "d"} {
		e.transfer(id, "failed")
	}
	var calls atomic.Int32
	f := newFunction(func(batch events.DynamoDBEvent) ([]byte, error) {
		if calls.Add(1) > 1 {
			return []byte(`{"batchItemFailures":[]}`), nil
		}
		// Report c and b: processing resumes at b, the earliest.
		c, b := batch.Records[2].Change.SequenceNumber, batch.Records[1].Change.SequenceNumber
		return fmt.Appendf(nil, `{"batchItemFailures":[{"itemIdentifier":%q},{"itemIdentifier":%q}]}`, c, b), nil
	})
	e.run(f)
	first, second := receive(t, f), receive(t, f)
	if got := pks(first.Records); !reflect.DeepEqual(got, []string{"INSERT a", "INSERT b", "INSERT c", "INSERT d"}) {
		t.Fatalf("first batch = %v (the records must arrive in one batch for this test)", got)
	}
	if got := pks(second.Records); !reflect.DeepEqual(got, []string{"INSERT b", "INSERT c", "INSERT d"}) {
		t.Errorf("retried batch = %v, want b, c, d", got)
	}
}

func TestFailingBatchIsRetriedThenDeadLettered(t *testing.T) {
	e := newEnv(t)
	var dlq testkit.Buffer
	e.cfg.MaxRetryAttempts, e.cfg.DeadLetters = 2, &dlq
	var attempts atomic.Int32
	f := newFunction(func(batch events.DynamoDBEvent) ([]byte, error) {
		if pk(batch.Records[0]) == "TRANSFER#bad" {
			attempts.Add(1)
			return nil, errors.New("bot unreachable")
		}
		return nil, nil
	})
	e.run(f)
	e.transfer("bad", "failed")
	receiveUntil(t, f, "bad")
	e.transfer("next", "failed") // the stream moves on after the dead letter
	receiveUntil(t, f, "next")
	if n := attempts.Load(); n != 3 {
		t.Errorf("%d attempts, want 1 + 2 retries", n)
	}
	var line struct {
		Reason, LastError string
		Retries           int
		Records           []events.DynamoDBEventRecord
	}
	if err := json.Unmarshal([]byte(dlq.String()), &line); err != nil {
		t.Fatalf("dead letters %q: %v", dlq.String(), err)
	}
	if line.Reason != "retries exhausted" || line.LastError != "bot unreachable" || line.Retries != 3 || len(line.Records) != 1 || pk(line.Records[0]) != "TRANSFER#bad" {
		t.Errorf("dead letter = %+v", line)
	}
}

func TestBisectIsolatesTheFailingRecord(t *testing.T) {
	e := newEnv(t)
	var dlq testkit.Buffer
	e.cfg.MaxRetryAttempts, e.cfg.DeadLetters, e.cfg.BisectBatchOnFunctionError = 1, &dlq, true
	for _, id := range []string{"a", "bad", "c"} {
		e.transfer(id, "failed")
	}
	holdsBad := func(batch events.DynamoDBEvent) bool {
		return slices.Contains(pks(batch.Records), "INSERT bad")
	}
	f := newFunction(func(batch events.DynamoDBEvent) ([]byte, error) {
		if holdsBad(batch) {
			return nil, errors.New("bot unreachable")
		}
		return nil, nil
	})
	e.run(f)
	// [a bad c] fails → [a] succeeds, [bad c] fails → [bad] fails twice (dead letter), [c].
	var delivered []string
	for !slices.Contains(delivered, "INSERT c") {
		if batch := receive(t, f); !holdsBad(batch) {
			delivered = append(delivered, pks(batch.Records)...)
		}
	}
	if !reflect.DeepEqual(delivered, []string{"INSERT a", "INSERT c"}) {
		t.Errorf("delivered = %v", delivered)
	}
	if !strings.Contains(dlq.String(), "TRANSFER#bad") || strings.Contains(dlq.String(), "TRANSFER#a") {
		t.Errorf("dead letters = %q", dlq.String())
	}
}

func TestLatestSkipsEarlierRecords(t *testing.T) {
	e := newEnv(t)
	e.cfg.StartingPosition = "LATEST"
	e.transfer("before", "failed")
	f := newFunction(nil)
	p := e.run(f)
	select {
	case <-p.Ready():
	case <-time.After(20 * time.Second):
		t.Fatal("the poller never got ready")
	}
	e.transfer("after", "failed")
	if got := pks(receiveUntil(t, f, "after")); !reflect.DeepEqual(got, []string{"INSERT after"}) {
		t.Errorf("records = %v", got)
	}
}
