// Command bot-ack is the Lambda on the table's stream: when a transfer reaches its final state
// it tells the bot that asked and publishes Transfer Succeeded / Transfer Failed.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"handoff/core/handler"
	"handoff/core/notify"
	"handoff/core/telemetry"
	"handoff/functions/internal/boot"
)

func main() {
	h, err := Main(context.Background(), os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bot-ack:", err)
		os.Exit(1)
	}
	lambda.Start(telemetry.Wrap(h.Batch))
}

// Main builds the handler from the environment; tests call it with their own.
func Main(ctx context.Context, getenv func(string) string) (*handler.Stream, error) {
	_, p, err := boot.Setup(ctx, getenv)
	if err != nil {
		return nil, err
	}
	return handler.NewStream(notify.New(p.Store, p.Vendors, p.Bus, p.Log), p.Log), nil
}
