// Command bot-ack is the Lambda on the table's stream: when a transfer reaches its final state
// it tells the bot that asked and publishes Transfer Succeeded / Transfer Failed.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"handoff/core/handler"
	"handoff/core/notify"
	"handoff/functions/internal/boot"
)

func main() {
	h, err := Main(context.Background(), os.Getenv)
	if err != nil {
		boot.Fail(os.Getenv, "bot-ack", err)
	}
	lambda.Start(h.Batch)
}

// Main builds the handler from the environment, and fails when its configuration is wrong;
// tests call it with their own getenv.
func Main(ctx context.Context, getenv func(string) string) (*handler.Stream, error) {
	_, p, err := boot.Setup(ctx, getenv)
	if err != nil {
		return nil, err
	}
	return handler.NewStream(notify.New(p.Store, p.Vendors, p.Bus, p.Log), p.Log), nil
}
