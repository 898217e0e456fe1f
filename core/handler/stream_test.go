package handler_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"handoff/core/handler"
	"handoff/core/handoff"
)

// fakeNotifier counts Notify calls per transfer and fails for the ids in fail.
type fakeNotifier struct {
	fail  map[string]error
	mu    sync.Mutex
	calls map[string]int
}

func (f *fakeNotifier) Notify(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[id]++
	return f.fail[id]
}

func record(seq string, keys map[string]events.DynamoDBAttributeValue) events.DynamoDBEventRecord {
	return events.DynamoDBEventRecord{EventName: "MODIFY", Change: events.DynamoDBStreamRecord{SequenceNumber: seq, Keys: keys}}
}

func pk(v string) map[string]events.DynamoDBAttributeValue {
	return map[string]events.DynamoDBAttributeValue{"pk": events.NewStringAttribute(v), "sk": events.NewStringAttribute("TRANSFER")}
}

func failedSeqs(resp events.DynamoDBEventResponse) []string {
	var seqs []string
	for _, f := range resp.BatchItemFailures {
		seqs = append(seqs, f.ItemIdentifier)
	}
	slices.Sort(seqs)
	return seqs
}

func TestStreamBatch(t *testing.T) {
	batch := events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		record("100", pk("TRANSFER#a")),
		record("101", pk("TRANSFER#b")),
		record("102", pk("TRANSFER#a")),
		record("103", pk("IDEM#demo#k-1")),
		record("104", pk("TRANSFER#c")),
		record("105", pk("TRANSFER#")), // no id
		record("106", map[string]events.DynamoDBAttributeValue{"pk": events.NewNumberAttribute("7")}),
		record("107", nil),
		record("108", pk("TRANSFER#a")),
		record("109", pk("TRANSFER#c")),
	}}
	svc := &fakeNotifier{fail: map[string]error{
		"a": handoff.E(handoff.CodeVendorUnavailable, "salesforce.Ack", "down", nil),
		"c": errors.New("bus throttled"),
	}}
	resp, err := handler.NewStream(svc, quiet).Batch(testCtx(t), batch)
	if err != nil {
		t.Fatalf("Batch: %v", err)
	}
	if want := map[string]int{"a": 1, "b": 1, "c": 1}; !maps.Equal(svc.calls, want) {
		t.Errorf("Notify calls %v, want %v", svc.calls, want)
	}
	if got, want := failedSeqs(resp), []string{"100", "102", "104", "108", "109"}; !slices.Equal(got, want) {
		t.Errorf("batch item failures %v, want %v (every record of a and c, none of b)", got, want)
	}
}

func TestStreamBatchAllWell(t *testing.T) {
	svc := &fakeNotifier{}
	resp, err := handler.NewStream(svc, quiet).Batch(testCtx(t), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{
		record("1", pk("TRANSFER#a")), record("2", pk("TRANSFER#b")),
	}})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Errorf("Batch = %+v, %v; want no failures", resp, err)
	}
	resp, err = handler.NewStream(svc, quiet).Batch(testCtx(t), events.DynamoDBEvent{})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Errorf("empty batch: %+v, %v", resp, err)
	}
}

func TestStreamSample(t *testing.T) {
	var batch events.DynamoDBEvent
	if err := json.Unmarshal(sample(t, "stream-transfer-final.json"), &batch); err != nil {
		t.Fatal(err)
	}
	svc := &fakeNotifier{fail: map[string]error{"7hq3m9x2c5v8k1n4p6r0t3w5yz": errors.New("salesforce down")}}
	resp, err := handler.NewStream(svc, quiet).Batch(testCtx(t), batch)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"0j8kqc4v7m2x9d3f6h1n5r8t2w": 1, "7hq3m9x2c5v8k1n4p6r0t3w5yz": 1}; !maps.Equal(svc.calls, want) {
		t.Errorf("Notify calls %v, want %v", svc.calls, want)
	}
	if got := failedSeqs(resp); !slices.Equal(got, []string{"4421584600000000017450467733"}) {
		t.Errorf("failures %v, want the MODIFY record of 7hq3…", got)
	}
}

// A transfer item's key is its slot, not its id: the id comes from the new image.
func TestStreamTakesTheIDFromTheImage(t *testing.T) {
	rec := record("200", pk("TRANSFER#slot0123456789abcdef"))
	rec.Change.NewImage = map[string]events.DynamoDBAttributeValue{"transferId": events.NewStringAttribute("slot0123456789abcdefxyz012")}
	svc := &fakeNotifier{}
	if _, err := handler.NewStream(svc, quiet).Batch(testCtx(t), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{rec}}); err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"slot0123456789abcdefxyz012": 1}; !maps.Equal(svc.calls, want) {
		t.Errorf("Notify calls %v, want %v", svc.calls, want)
	}
}
