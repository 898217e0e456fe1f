package template_test

import (
	"testing"
	"time"

	"handoff/scripts/localstack/template"
)

// The repository's template: the transfer queue's mapping is read with the queue's settings.
func TestQueueSourcesOfTheRepositoryTemplate(t *testing.T) {
	tmpl, err := template.Load("../../../template.yaml", template.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(tmpl.QueueSources) != 1 {
		t.Fatalf("queue sources %+v, want the transfer queue's", tmpl.QueueSources)
	}
	want := template.QueueSource{Mapping: "TransferQueueMapping", Function: "TransferFunction",
		Queue: "handoff-local-transfers.fifo", FIFO: true, BatchSize: 10, ReportBatchItemFailures: true,
		VisibilityTimeout: 180 * time.Second, MaxReceiveCount: 10}
	if got := tmpl.QueueSources[0]; got != want {
		t.Errorf("queue source %+v, want %+v", got, want)
	}
	for _, w := range tmpl.Warnings {
		t.Errorf("warning: %s", w)
	}
}
