// Command skill-check is the Lambda behind GET /availability: which targets can take a
// conversation now.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"handoff/core/access"
	"handoff/core/availability"
	"handoff/core/handler"
	"handoff/core/telemetry"
	"handoff/functions/internal/boot"
)

func main() {
	h, err := Main(context.Background(), os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "skill-check:", err)
		os.Exit(1)
	}
	lambda.Start(telemetry.Wrap(h.HTTP))
}

// Main builds the handler from the environment; tests call it with their own.
func Main(ctx context.Context, getenv func(string) string) (*handler.Availability, error) {
	cfg, p, err := boot.Setup(ctx, getenv)
	if err != nil {
		return nil, err
	}
	return handler.NewAvailability(availability.New(p.Vendors, cfg.AvailabilityTTL), access.New(p.Store), p.Log), nil
}
