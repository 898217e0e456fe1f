// Command bot-ack is the Lambda on the table's stream: when a transfer reaches its final state
// it tells the bot that asked and publishes Transfer Succeeded / Transfer Failed. On a schedule
// it also re-sends the acks the stream left pending.
package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"handoff/core/handler"
	"handoff/core/notify"
	"handoff/core/telemetry"
	"handoff/functions/internal/boot"
)

func main() {
	h, err := Main(context.Background(), os.Getenv)
	if err != nil {
		boot.Fail(os.Getenv, "bot-ack", err)
	}
	lambda.Start(telemetry.Wrap(h.Handle))
}

// BotAck handles the stream's batches and the re-send schedule's ticks.
type BotAck struct {
	*handler.Stream
	notifier *notify.Notifier
	log      *slog.Logger
}

// Main builds the handler from the environment, and fails when its configuration is wrong;
// tests call it with their own getenv.
func Main(ctx context.Context, getenv func(string) string) (*BotAck, error) {
	_, p, err := boot.Setup(ctx, getenv)
	if err != nil {
		return nil, err
	}
	n := notify.New(p.Store, p.Vendors, p.Bus, p.Log)
	return &BotAck{Stream: handler.NewStream(n, p.Log), notifier: n, log: p.Log}, nil
}

// Handle tells a scheduled tick (by its detail-type) from a stream batch. A tick's failure is
// logged, not returned: the next tick scans again.
func (b *BotAck) Handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var probe struct {
		DetailType string `json:"detail-type"`
	}
	if json.Unmarshal(raw, &probe) == nil && probe.DetailType == handler.ScheduledDetailType {
		n, err := b.notifier.Rescan(ctx)
		if err != nil {
			b.log.Warn("ack re-send scan failed; the next run retries", "op", "bot-ack.Rescan", "error", err)
		} else if n > 0 {
			b.log.Info("re-sent pending acks", "op", "bot-ack.Rescan", "count", n)
		}
		return nil, nil
	}
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, err
	}
	return b.Batch(ctx, ev)
}
