// Package eventbus publishes Handoff's outgoing events (Transfer Succeeded / Transfer Failed) on
// an EventBridge bus.
package eventbus

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"handoff/core/handoff"
)

// Source is the source of every event Handoff publishes.
const Source = "handoff"

// Bus publishes to one EventBridge bus.
type Bus struct {
	client *eventbridge.Client
	name   string
}

// New returns a Bus over a ready client. It does no I/O.
func New(client *eventbridge.Client, busName string) *Bus {
	return &Bus{client: client, name: busName}
}

// Publish puts one event with the detail as JSON. A refused entry is an error, like a failed call:
// PutEvents reports per-entry failures in a successful response.
func (b *Bus) Publish(ctx context.Context, detailType string, detail any) error {
	const op = "eventbus.Publish"
	body, err := json.Marshal(detail)
	if err != nil {
		return handoff.E(handoff.CodeInternal, op, "event detail does not encode", err)
	}
	out, err := b.client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{{
		EventBusName: aws.String(b.name),
		Source:       aws.String(Source),
		DetailType:   aws.String(detailType),
		Detail:       aws.String(string(body)),
	}}})
	if err != nil {
		return handoff.E(handoff.CodeUnavailable, op, "the event bus is unavailable", err)
	}
	if out.FailedEntryCount > 0 {
		reason := ""
		if len(out.Entries) > 0 && out.Entries[0].ErrorCode != nil {
			reason = *out.Entries[0].ErrorCode
		}
		return handoff.E(handoff.CodeUnavailable, op, fmt.Sprintf("the event bus refused the event (%s)", reason), nil)
	}
	return nil
}
