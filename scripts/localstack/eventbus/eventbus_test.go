package eventbus_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/smithy-go"

	"handoff/scripts/localstack/eventbus"
	"handoff/scripts/localstack/pattern"
)

// target is a fake function: it fails its first failures invocations and records every payload.
type target struct {
	mu       sync.Mutex
	failures int
	payloads [][]byte
	called   chan struct{}
}

func newTarget(failures int) *target {
	return &target{failures: failures, called: make(chan struct{}, 100)}
}

func (t *target) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.payloads = append(t.payloads, payload)
	t.called <- struct{}{}
	if len(t.payloads) <= t.failures {
		return nil, errors.New("vendor down")
	}
	return []byte("null"), nil
}

func (t *target) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.payloads)
}

func escalationRule(to eventbus.Invoker, retries int) eventbus.Rule {
	return eventbus.Rule{
		Name:             "TransferFunctionEscalationRequested",
		Pattern:          pattern.MustParse(`{"detail-type":["Escalation Requested"]}`),
		Target:           to,
		MaxRetryAttempts: retries,
	}
}

func newBus(dlq *bytes.Buffer, rules ...eventbus.Rule) *eventbus.Bus {
	cfg := eventbus.Config{Rules: rules, Backoff: func(int) time.Duration { return 0 }, Log: slog.New(slog.DiscardHandler)}
	if dlq != nil {
		cfg.DeadLetters = dlq
	}
	return eventbus.New(cfg)
}

// client is the real SDK client pointed at the bus, as AWS_ENDPOINT_URL_EVENTBRIDGE would.
func client(t *testing.T, bus *eventbus.Bus) *eventbridge.Client {
	t.Helper()
	srv := httptest.NewServer(bus)
	t.Cleanup(srv.Close)
	return eventbridge.NewFromConfig(aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(srv.URL),
	})
}

func TestSDKPutEventsDeliversToMatchingRules(t *testing.T) {
	escalations, outcomes, otherBus := newTarget(0), newTarget(0), newTarget(0)
	bus := newBus(nil,
		escalationRule(escalations, 2),
		eventbus.Rule{Name: "outcomes", Pattern: pattern.MustParse(`{"source":["handoff"]}`), Target: outcomes},
		eventbus.Rule{Name: "elsewhere", EventBusName: "other", Pattern: pattern.MustParse(`{}`), Target: otherBus},
	)
	out, err := client(t, bus).PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
		{Source: aws.String("bot"), DetailType: aws.String("Escalation Requested"), Detail: aws.String(`{"tenant":"demo"}`)},
		{Source: aws.String("handoff"), DetailType: aws.String("Transfer Succeeded"), Detail: aws.String(`{"id":"t1"}`), EventBusName: aws.String("arn:aws:events:us-east-1:123456789012:event-bus/default")},
		{Source: aws.String("bot"), DetailType: aws.String("Escalation Requested"), Detail: aws.String(`not json`)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if out.FailedEntryCount != 1 || aws.ToString(out.Entries[0].EventId) == "" || aws.ToString(out.Entries[2].ErrorCode) != "InvalidArgument" {
		t.Errorf("PutEvents = %d failed, entries %+v", out.FailedEntryCount, out.Entries)
	}
	bus.Wait()
	if escalations.count() != 1 || outcomes.count() != 1 || otherBus.count() != 0 {
		t.Fatalf("deliveries: escalations %d, outcomes %d, other bus %d", escalations.count(), outcomes.count(), otherBus.count())
	}
	var event map[string]any
	if err := json.Unmarshal(escalations.payloads[0], &event); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"version": "0", "id": aws.ToString(out.Entries[0].EventId), "detail-type": "Escalation Requested", "source": "bot",
		"account": "123456789012", "region": "us-east-1", "resources": []any{}, "detail": map[string]any{"tenant": "demo"},
	}
	for k, v := range want {
		if got, _ := json.Marshal(event[k]); string(got) != mustJSON(v) {
			t.Errorf("event %s = %s, want %s", k, got, mustJSON(v))
		}
	}
	if _, err := time.Parse(time.RFC3339, event["time"].(string)); err != nil {
		t.Errorf("time = %v", event["time"])
	}
}

func TestSDKSeesValidationErrors(t *testing.T) {
	c := client(t, newBus(nil))
	entries := make([]ebtypes.PutEventsRequestEntry, 11)
	for i := range entries {
		entries[i] = ebtypes.PutEventsRequestEntry{Source: aws.String("s"), DetailType: aws.String("d"), Detail: aws.String("{}")}
	}
	_, err := c.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: entries})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ValidationException" {
		t.Errorf("11 entries: error = %v, want ValidationException", err)
	}
	_, err = c.ListRules(context.Background(), &eventbridge.ListRulesInput{})
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "UnknownOperationException" {
		t.Errorf("ListRules: error = %v, want UnknownOperationException", err)
	}
}

func TestRetriesUntilDelivered(t *testing.T) {
	fn := newTarget(2)
	bus := newBus(nil, escalationRule(fn, 4))
	bus.Put([]eventbus.Entry{{Source: "bot", DetailType: "Escalation Requested", Detail: `{}`}})
	bus.Wait()
	if fn.count() != 3 {
		t.Errorf("%d attempts, want 3", fn.count())
	}
	d := bus.Events()[0].Deliveries[0]
	if d.Status != "delivered" || d.Attempts != 3 || d.LastError != "" {
		t.Errorf("delivery = %+v", d)
	}
}

func TestExhaustedRetriesGoToTheDeadLetterLog(t *testing.T) {
	var dlq bytes.Buffer
	fn := newTarget(100)
	bus := newBus(&dlq, escalationRule(fn, 2))
	results := bus.Put([]eventbus.Entry{{Source: "bot", DetailType: "Escalation Requested", Detail: `{"tenant":"demo"}`}})
	bus.Wait()
	if fn.count() != 3 {
		t.Errorf("%d attempts, want 1 + 2 retries", fn.count())
	}
	var line struct {
		Rule, Reason, LastError string
		Attempts                int
		Event                   eventbus.Event
	}
	if err := json.Unmarshal(dlq.Bytes(), &line); err != nil {
		t.Fatalf("dead-letter log %q: %v", dlq.String(), err)
	}
	if line.Rule != "TransferFunctionEscalationRequested" || line.Attempts != 3 || line.LastError != "vendor down" || line.Event.ID != results[0].EventID || line.Reason != "retries exhausted" {
		t.Errorf("dead letter = %+v", line)
	}
	if d := bus.Events()[0].Deliveries[0]; d.Status != "failed" {
		t.Errorf("delivery = %+v", d)
	}
}

func TestOldEventsAreNotRetried(t *testing.T) {
	var dlq bytes.Buffer
	fn := newTarget(100)
	rule := escalationRule(fn, 10)
	rule.MaxEventAge = time.Hour
	bus := newBus(&dlq, rule)
	bus.Put([]eventbus.Entry{{Source: "bot", DetailType: "Escalation Requested", Detail: `{}`, Time: float64(time.Now().Add(-2 * time.Hour).Unix())}})
	bus.Wait()
	if fn.count() != 1 || !strings.Contains(dlq.String(), "event too old") {
		t.Errorf("%d attempts, dead letters %q", fn.count(), dlq.String())
	}
}

func TestCloseDeadLettersWhatIsStillRetrying(t *testing.T) {
	var dlq bytes.Buffer
	fn := newTarget(100)
	bus := eventbus.New(eventbus.Config{
		Rules:       []eventbus.Rule{escalationRule(fn, 5)},
		Backoff:     func(int) time.Duration { return time.Hour },
		DeadLetters: &dlq,
		Log:         slog.New(slog.DiscardHandler),
	})
	bus.Put([]eventbus.Entry{{Source: "bot", DetailType: "Escalation Requested", Detail: `{}`}})
	<-fn.called
	bus.Close()
	if !strings.Contains(dlq.String(), "the bus closed") {
		t.Errorf("dead letters = %q", dlq.String())
	}
	bus.Put([]eventbus.Entry{{Source: "bot", DetailType: "Escalation Requested", Detail: `{}`}})
	if d := bus.Events()[1].Deliveries[0]; d.Status != "failed" || fn.count() != 1 {
		t.Errorf("after Close: delivery %+v, %d attempts", d, fn.count())
	}
}

func TestLocalRoute(t *testing.T) {
	fn := newTarget(0)
	bus := newBus(nil, escalationRule(fn, 0))
	srv := httptest.NewServer(bus.LocalHandler())
	defer srv.Close()

	body := `{"Entries":[{"Source":"bot","DetailType":"Escalation Requested","Detail":"{\"tenant\":\"demo\"}"}]}`
	resp, err := http.Post(srv.URL, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var put struct {
		FailedEntryCount int
		Entries          []struct{ EventId string }
	}
	json.NewDecoder(resp.Body).Decode(&put)
	resp.Body.Close()
	if resp.StatusCode != 200 || put.FailedEntryCount != 0 || len(put.Entries) != 1 || put.Entries[0].EventId == "" {
		t.Fatalf("POST = %d %+v", resp.StatusCode, put)
	}
	bus.Wait()

	resp, err = http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	var list struct{ Events []eventbus.Published }
	json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if len(list.Events) != 1 {
		t.Fatalf("GET listed %d events", len(list.Events))
	}
	e := list.Events[0]
	if e.ID != put.Entries[0].EventId || e.DetailType != "Escalation Requested" || e.EventBusName != "default" || string(e.Detail) != `{"tenant":"demo"}` {
		t.Errorf("listed event = %+v", e)
	}
	if len(e.Deliveries) != 1 || e.Deliveries[0].Status != "delivered" || e.Deliveries[0].Rule != "TransferFunctionEscalationRequested" {
		t.Errorf("deliveries = %+v", e.Deliveries)
	}

	resp, _ = http.Post(srv.URL, "application/json", strings.NewReader(`{"Entries":[]}`))
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("no entries: %d", resp.StatusCode)
	}
}

func TestKeepsTheLatestEvents(t *testing.T) {
	bus := eventbus.New(eventbus.Config{Keep: 2, Log: slog.New(slog.DiscardHandler)})
	for _, s := range []string{"a", "b", "c"} {
		bus.Put([]eventbus.Entry{{Source: s, DetailType: "d", Detail: "{}"}})
	}
	events := bus.Events()
	if len(events) != 2 || events[0].Source != "b" || events[1].Source != "c" {
		t.Errorf("events = %+v", events)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
