// Command skill-check is the Lambda behind GET /availability: which targets can take a
// conversation now.
package main

import (
	"context"
	"handoff/core/access"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"handoff/core/availability"
	"handoff/core/handler"
	"handoff/core/telemetry"
	"handoff/functions/internal/boot"
)

func main() {
	h, err := Main(context.Background(), os.Getenv)
	if err != nil {
		boot.Fail(os.Getenv, "skill-check", err)
	}
	lambda.Start(telemetry.Wrap(h.HTTP))
}

// Main builds the handler from the environment, and fails when its configuration is wrong;
// tests call it with their own getenv.
func Main(ctx context.Context, getenv func(string) string) (*handler.Availability, error) {
	_, p, err := boot.Setup(ctx, getenv)
	if err != nil {
		return nil, err
	}
	return handler.NewAvailability(availability.New(p.Vendors, availabilityTTL), access.New(p.Store), p.Log), nil
}

// availabilityTTL is how long an availability answer is served from memory: short, as agents
// come and go, but enough to absorb a burst of checks for the same target.
const availabilityTTL = 10 * time.Second
