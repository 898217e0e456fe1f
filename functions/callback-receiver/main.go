// Command callback-receiver is the Lambda behind POST /callbacks/{vendor}: vendor webhooks that
// report how a transfer ended.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"handoff/core/handler"
	"handoff/core/telemetry"
	"handoff/core/transfer"
	"handoff/functions/internal/boot"
)

func main() {
	h, err := Main(context.Background(), os.Getenv)
	if err != nil {
		boot.Fail(os.Getenv, "callback-receiver", err)
	}
	lambda.Start(telemetry.Wrap(h.HTTP))
}

// Main builds the handler from the environment, and fails when its configuration is wrong;
// tests call it with their own getenv.
func Main(ctx context.Context, getenv func(string) string) (*handler.Callback, error) {
	cfg, p, err := boot.Setup(ctx, getenv, boot.Callbacks)
	if err != nil {
		return nil, err
	}
	return handler.NewCallback(transfer.New(p.Store, p.Vendors, p.Log,
		transfer.WithCallbackTimeout(cfg.CallbackTimeout), transfer.WithCallbackBase(cfg.CallbackBaseURL)), p.Log), nil
}
