// Command transfer is the Lambda behind POST /transfers, GET and DELETE /transfers/{id}, the
// Escalation Requested and Escalation Cancelled rules, the sweep's schedule and the transfer
// queue: it wires the transfer use case to its triggers and starts.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"handoff/core/access"
	"handoff/core/handler"
	"handoff/core/pacing"
	"handoff/core/store"
	"handoff/core/telemetry"
	"handoff/core/transfer"
	"handoff/core/transferqueue"
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
	cfg, p, err := boot.Setup(ctx, getenv, boot.Callbacks, boot.Idempotency, boot.Pacing)
	if err != nil {
		return nil, err
	}
	buckets := store.NewPacing(dynamodb.NewFromConfig(p.AWS), cfg.TableName)
	pacer := pacing.New(buckets, buckets, cfg.VendorRates, cfg.QueueBound)
	queue := transferqueue.New(sqs.NewFromConfig(p.AWS), cfg.TransferQueueURL)
	p.Log.Info("pacing", "rates", cfg.VendorRates.String(), "queueBound", cfg.QueueBound)
	return handler.NewTransfer(transfer.New(p.Store, p.Vendors, p.Log,
		transfer.WithCallbackTimeout(cfg.CallbackTimeout), transfer.WithCallbackBase(cfg.CallbackBaseURL),
		transfer.WithPacing(pacer, queue)),
		access.New(p.Store), p.Log, cfg.CallbackBaseURL), nil
}
