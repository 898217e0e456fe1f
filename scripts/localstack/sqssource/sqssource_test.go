package sqssource_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"handoff/core/awstest"
	"handoff/scripts/localstack/sqssource"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// function is a stand-in for the transfer function: it records each batch and answers with
// respond (nil: every message handled).
type function struct {
	mu      sync.Mutex
	batches []events.SQSEvent
	respond func(events.SQSEvent) ([]byte, error)
}

func (f *function) Invoke(_ context.Context, payload []byte) ([]byte, error) {
	var e events.SQSEvent
	if err := json.Unmarshal(payload, &e); err != nil {
		return nil, err
	}
	out, err := []byte(`{"batchItemFailures":[]}`), error(nil)
	if f.respond != nil {
		out, err = f.respond(e)
	}
	f.mu.Lock()
	f.batches = append(f.batches, e)
	f.mu.Unlock()
	return out, err
}

// bodies is the bodies of each batch so far.
func (f *function) bodies() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out [][]string
	for _, b := range f.batches {
		var bodies []string
		for _, m := range b.Records {
			bodies = append(bodies, m.Body)
		}
		out = append(out, bodies)
	}
	return out
}

// deliveries counts how often each body was delivered.
func (f *function) deliveries() map[string]int {
	n := map[string]int{}
	for _, b := range f.bodies() {
		for _, body := range b {
			n[body]++
		}
	}
	return n
}

func failing(bodies ...string) func(events.SQSEvent) ([]byte, error) {
	return func(e events.SQSEvent) ([]byte, error) {
		var resp events.SQSEventResponse
		for _, m := range e.Records {
			if slices.Contains(bodies, m.Body) && m.Attributes["ApproximateReceiveCount"] == "1" {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
			}
		}
		return json.Marshal(resp)
	}
}

type env struct {
	t   *testing.T
	sqs *sqs.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return &env{t: t, sqs: sqs.NewFromConfig(awstest.New(t).Config)}
}

// queue creates a queue (FIFO when name ends in .fifo) with the given visibility timeout.
func (e *env) queue(name string, visibility int) string {
	e.t.Helper()
	attrs := map[string]string{"VisibilityTimeout": strconv.Itoa(visibility)}
	if strings.HasSuffix(name, ".fifo") {
		attrs["FifoQueue"] = "true"
		attrs["ContentBasedDeduplication"] = "false"
	}
	out, err := e.sqs.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		e.t.Fatal(err)
	}
	return aws.ToString(out.QueueUrl)
}

// send sends bodies in order; on a FIFO queue to group, each body its own deduplication id.
func (e *env) send(url, group string, bodies ...string) {
	e.t.Helper()
	for _, b := range bodies {
		in := &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(b),
			MessageAttributes: map[string]types.MessageAttributeValue{
				"tenant": {DataType: aws.String("String"), StringValue: aws.String("acme")},
			}}
		if group != "" {
			in.MessageGroupId, in.MessageDeduplicationId = aws.String(group), aws.String(b)
		}
		if _, err := e.sqs.SendMessage(context.Background(), in); err != nil {
			e.t.Fatal(err)
		}
	}
}

// run starts a poller and stops it at the end of the test.
func (e *env) run(cfg sqssource.Config) {
	e.t.Helper()
	cfg.SQS = e.sqs
	cfg.Log = slog.New(slog.DiscardHandler)
	p := sqssource.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			e.t.Error(err)
		}
	})
}

// empty reports whether the queue holds no message, visible or in flight.
func (e *env) empty(url string) bool {
	out, err := e.sqs.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url),
		AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out.Attributes["ApproximateNumberOfMessages"] == "0" && out.Attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
}

// waitFor waits until cond holds. The limit is generous: it only stops a test that would
// otherwise hang, and is no assertion about speed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func numbered(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%02d", prefix, i+1)
	}
	return out
}

func TestBatchesOfAtMostBatchSizeAndHandledMessagesDeleted(t *testing.T) {
	e := newEnv(t)
	url := e.queue("transfers", 1) // undeleted messages would come back within a second
	sent := numbered("m", 25)
	e.send(url, "", sent...)
	f := &function{}
	e.run(sqssource.Config{QueueURL: url, Target: f, BatchSize: 12, ReportBatchItemFailures: true, Pollers: 1})

	waitFor(t, "every message delivered", func() bool { return len(f.deliveries()) == len(sent) })
	waitFor(t, "the queue empty", func() bool { return e.empty(url) })
	for body, n := range f.deliveries() {
		if n != 1 {
			t.Errorf("%s delivered %d times", body, n)
		}
	}
	for i, b := range f.bodies() {
		if len(b) > 12 {
			t.Errorf("batch %d has %d messages, more than the batch size", i, len(b))
		}
	}
	if got := f.bodies()[0]; len(got) != 12 {
		t.Errorf("first batch %v: want 12 messages gathered from two receives", got)
	}
	m := f.batches[0].Records[0]
	if m.EventSource != "aws:sqs" || !strings.HasSuffix(m.EventSourceARN, ":transfers") || m.AWSRegion != "us-east-1" ||
		m.ReceiptHandle == "" || m.Attributes["ApproximateReceiveCount"] != "1" ||
		m.MessageAttributes["tenant"].StringValue == nil || *m.MessageAttributes["tenant"].StringValue != "acme" {
		t.Errorf("a record is not as Lambda sends it: %+v", m)
	}
}

// With ReportBatchItemFailures only the messages the function names come back, after the
// mapping's visibility timeout (here 1s, shorter than the queue's 60s: a test that gave up
// after 30s would notice the queue's being used).
func TestPartialBatchFailureReturnsOnlyTheFailedMessages(t *testing.T) {
	e := newEnv(t)
	url := e.queue("transfers", 60)
	e.send(url, "", "a", "b", "c")
	f := &function{respond: failing("b")}
	e.run(sqssource.Config{QueueURL: url, Target: f, ReportBatchItemFailures: true, Pollers: 1, VisibilityTimeout: time.Second})

	waitFor(t, "b delivered again", func() bool { return f.deliveries()["b"] == 2 })
	waitFor(t, "the queue empty", func() bool { return e.empty(url) })
	if got, want := f.deliveries(), map[string]int{"a": 1, "b": 2, "c": 1}; !reflect.DeepEqual(got, want) {
		t.Errorf("deliveries %v, want %v", got, want)
	}
}

// A function error, or a batch response that names a message not in the batch, fails the
// whole batch: every message comes back.
func TestWholeBatchFailures(t *testing.T) {
	for name, respond := range map[string]func(events.SQSEvent) ([]byte, error){
		"function error": func(e events.SQSEvent) ([]byte, error) {
			if e.Records[0].Attributes["ApproximateReceiveCount"] == "1" {
				return nil, errors.New("boom")
			}
			return nil, nil
		},
		"unknown item": func(e events.SQSEvent) ([]byte, error) {
			if e.Records[0].Attributes["ApproximateReceiveCount"] == "1" {
				return []byte(`{"batchItemFailures":[{"itemIdentifier":"not-in-the-batch"}]}`), nil
			}
			return nil, nil
		},
		"not JSON": func(e events.SQSEvent) ([]byte, error) {
			if e.Records[0].Attributes["ApproximateReceiveCount"] == "1" {
				return []byte(`{"batchItemFailures":`), nil
			}
			return []byte(`null`), nil
		},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			url := e.queue("transfers", 1)
			e.send(url, "", "x", "y")
			f := &function{respond: respond}
			e.run(sqssource.Config{QueueURL: url, Target: f, ReportBatchItemFailures: true, Pollers: 1})
			waitFor(t, "both delivered twice", func() bool {
				d := f.deliveries()
				return d["x"] == 2 && d["y"] == 2
			})
			waitFor(t, "the queue empty", func() bool { return e.empty(url) })
		})
	}
}

// On a FIFO queue a failure keeps the rest of its group in the batch in the queue, even when
// the function names only the failed message, so the group is handled in order.
func TestFIFOFailureKeepsTheRestOfItsGroup(t *testing.T) {
	e := newEnv(t)
	url := e.queue("transfers.fifo", 1)
	e.send(url, "acme#koreai", "1", "2", "3", "4")
	f := &function{respond: failing("2")}
	e.run(sqssource.Config{QueueURL: url, Target: f, ReportBatchItemFailures: true, Pollers: 2})

	waitFor(t, "the queue empty", func() bool { return e.empty(url) })
	if got, want := f.bodies(), [][]string{{"1", "2", "3", "4"}, {"2", "3", "4"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("batches %v, want %v", got, want)
	}
}

// Several pollers drain a FIFO queue of several message groups: no two batches of one group
// are ever in flight at once, and each group is handled in the order it was sent.
func TestFIFOGroupsOneInFlightInOrder(t *testing.T) {
	e := newEnv(t)
	url := e.queue("transfers.fifo", 30)
	groups := []string{"acme#koreai", "acme#bitrix24", "other#koreai"}
	for _, g := range groups {
		e.send(url, g, numbered(g, 8)...)
	}
	var mu sync.Mutex
	inFlight := map[string]bool{}
	var overlaps []string
	f := &function{}
	f.respond = func(ev events.SQSEvent) ([]byte, error) {
		mine := map[string]bool{}
		for _, m := range ev.Records {
			mine[m.Attributes["MessageGroupId"]] = true
		}
		mu.Lock()
		for g := range mine {
			if inFlight[g] {
				overlaps = append(overlaps, g)
			}
			inFlight[g] = true
		}
		mu.Unlock()
		time.Sleep(10 * time.Millisecond) // hold the batch, so another poller would overlap it
		mu.Lock()
		for g := range mine {
			delete(inFlight, g)
		}
		mu.Unlock()
		return nil, nil
	}
	e.run(sqssource.Config{QueueURL: url, Target: f, BatchSize: 3, ReportBatchItemFailures: true, Pollers: 4})

	waitFor(t, "every message delivered", func() bool { return len(f.deliveries()) == 24 })
	waitFor(t, "the queue empty", func() bool { return e.empty(url) })
	mu.Lock()
	defer mu.Unlock()
	if len(overlaps) > 0 {
		t.Errorf("groups with two batches in flight at once: %v", overlaps)
	}
	order := map[string][]string{}
	for _, b := range f.bodies() {
		for _, body := range b {
			g := body[:strings.LastIndex(body, "-")]
			order[g] = append(order[g], body)
		}
	}
	for _, g := range groups {
		if want := numbered(g, 8); !reflect.DeepEqual(order[g], want) {
			t.Errorf("group %s handled as %v, want %v", g, order[g], want)
		}
	}
}

// The transfer queue as the template declares it: a message the function keeps failing goes to
// the dead-letter queue after maxReceiveCount receives, and the rest of its group moves on.
// Batches of one here: on a FIFO queue the messages behind a failure in its batch come back with
// it, are received as often, and would go to the dead-letter queue with it (docs/pacing.md).
func TestTransferQueueDeadLettersWhatKeepsFailing(t *testing.T) {
	e := newEnv(t)
	q, err := sqssource.CreateTransferQueue(context.Background(), e.sqs, "transfers.fifo", time.Second, 2)
	if err != nil {
		t.Fatal(err)
	}
	e.send(q.URL, "acme#koreai", "poison", "next")
	f := &function{respond: func(ev events.SQSEvent) ([]byte, error) {
		var resp events.SQSEventResponse
		for _, m := range ev.Records {
			if m.Body == "poison" {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
			}
		}
		return json.Marshal(resp)
	}}
	e.run(sqssource.Config{QueueURL: q.URL, Target: f, BatchSize: 1, ReportBatchItemFailures: true, Pollers: 2})

	waitFor(t, "the queue empty", func() bool { return e.empty(q.URL) && f.deliveries()["next"] > 0 })
	if got, want := f.bodies(), [][]string{{"poison"}, {"poison"}, {"next"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("batches %v, want %v: poison twice (maxReceiveCount 2), then the group moves on", got, want)
	}
	out, err := e.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.DeadLetterURL), MaxNumberOfMessages: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != 1 || aws.ToString(out.Messages[0].Body) != "poison" {
		t.Errorf("dead-letter queue holds %v, want the poison message", out.Messages)
	}
	if _, err := sqssource.CreateTransferQueue(context.Background(), e.sqs, "transfers", 0, 0); err == nil {
		t.Error("a queue name without .fifo was accepted")
	}
}
