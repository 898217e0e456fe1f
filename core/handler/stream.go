package handler

import (
	"context"
	"log/slog"
	"strings"
	"sync"

	"github.com/aws/aws-lambda-go/events"
	"golang.org/x/sync/errgroup"
)

// Notifier is what bot-ack needs of the notify use case.
type Notifier interface {
	Notify(ctx context.Context, transferID string) error
}

// Stream handles batches of the table's stream for bot-ack.
type Stream struct {
	svc Notifier
	log *slog.Logger
}

// NewStream builds the handler from a ready notifier.
func NewStream(svc Notifier, log *slog.Logger) *Stream { return &Stream{svc: svc, log: log} }

// transferKeyPrefix is the partition-key prefix of transfer items in the table.
const transferKeyPrefix = "TRANSFER#"

// Batch notifies every transfer in the batch and reports the records to retry (Lambda's
// ReportBatchItemFailures), so one bad record never blocks or repeats the rest. Records of one
// transfer run in order; different transfers run side by side.
func (h *Stream) Batch(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	byTransfer := map[string][]events.DynamoDBEventRecord{}
	var order []string
	for _, rec := range ev.Records {
		id, ok := transferID(rec)
		if !ok {
			continue // not a transfer item: nothing to tell anyone
		}
		if _, seen := byTransfer[id]; !seen {
			order = append(order, id)
		}
		byTransfer[id] = append(byTransfer[id], rec)
	}
	var mu sync.Mutex
	var failures []events.DynamoDBBatchItemFailure
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for _, id := range order {
		g.Go(func() error {
			// Notify reads the transfer's current state, so one call serves all its records.
			if err := h.svc.Notify(gctx, id); err != nil {
				h.log.Warn("notify will be retried", "op", "handler.Stream", "transfer", id, "error", err)
				mu.Lock()
				for _, rec := range byTransfer[id] {
					failures = append(failures, events.DynamoDBBatchItemFailure{ItemIdentifier: rec.Change.SequenceNumber})
				}
				mu.Unlock()
			}
			return nil
		})
	}
	_ = g.Wait()
	return events.DynamoDBEventResponse{BatchItemFailures: failures}, nil
}

func transferID(rec events.DynamoDBEventRecord) (string, bool) {
	// The item names its transfer (its key is the transfer's slot, not the id).
	if id, ok := rec.Change.NewImage["transferId"]; ok && id.DataType() == events.DataTypeString && id.String() != "" {
		return id.String(), true
	}
	pk, ok := rec.Change.Keys["pk"]
	if !ok || pk.DataType() != events.DataTypeString {
		return "", false
	}
	id, ok := strings.CutPrefix(pk.String(), transferKeyPrefix)
	return id, ok && id != ""
}
