// Package transferqueue sends queued transfers to the transfer queue, an SQS FIFO queue: one
// message group per tenant and vendor keeps each group in order, and a deduplication id derived
// from the tenant and idempotency key drops a message sent twice within SQS's five minutes.
package transferqueue

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"handoff/core/handoff"
	"handoff/core/transfer"
)

// Client is the one SQS call the queue makes (*sqs.Client implements it).
type Client interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// Queue is transfer.Queue over one SQS FIFO queue.
type Queue struct {
	client Client
	url    string
}

// New returns the queue at url on a ready client.
func New(client Client, url string) *Queue { return &Queue{client: client, url: url} }

// Send puts m on the queue in its group; a failure is UNAVAILABLE (the caller may retry).
func (q *Queue) Send(ctx context.Context, m transfer.Message) error {
	const op = "transferqueue.Send"
	if m.Group == "" || m.DeduplicationID == "" {
		return handoff.E(handoff.CodeInternal, op, "a queued transfer needs a message group and a deduplication id", nil)
	}
	body, err := json.Marshal(m)
	if err != nil {
		return handoff.E(handoff.CodeInternal, op, "encoding the message", err)
	}
	_, err = q.client.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl: aws.String(q.url), MessageBody: aws.String(string(body)),
		MessageGroupId: aws.String(m.Group), MessageDeduplicationId: aws.String(m.DeduplicationID),
	})
	if err != nil {
		return handoff.E(handoff.CodeUnavailable, op, "the transfer queue is unavailable", err)
	}
	return nil
}
