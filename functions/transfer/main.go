// Command transfer is the Lambda behind POST /transfers, GET /transfers/{id} and the
// Escalation Requested rule: it wires the transfer use case to its trigger and starts.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"handoff/core/access"
	"handoff/core/handler"
	"handoff/core/telemetry"
	"handoff/core/transfer"
	"handoff/functions/internal/boot"
)

func main() {
	h, err := Main(context.Background(), os.Getenv)
	if err != nil {
		boot.Fail(os.Getenv, "transfer", err)
	}
	lambda.Start(telemetry.Wrap(h.Invoke))
}

// Main builds the handler from the environment, and fails when its configuration is wrong;
// tests call it with their own getenv.
func Main(ctx context.Context, getenv func(string) string) (*handler.Transfer, error) {
	cfg, p, err := boot.Setup(ctx, getenv, boot.Callbacks, boot.Idempotency)
	if err != nil {
		return nil, err
	}
	return handler.NewTransfer(transfer.New(p.Store, p.Vendors, p.Log,
		transfer.WithCallbackTimeout(cfg.CallbackTimeout), transfer.WithCallbackBase(cfg.CallbackBaseURL)),
		access.New(p.Store), p.Log, cfg.CallbackBaseURL), nil
}
