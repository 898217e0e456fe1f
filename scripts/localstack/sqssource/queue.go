package sqssource

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// The transfer queue's settings, as template.yaml declares them (TransferQueue,
// TransferDeadLetterQueue, TransferQueueMapping; infra's tests hold the two together).
const (
	BatchSize         = 10
	VisibilityTimeout = 180 * time.Second // at least six times the transfer function's timeout
	MaxReceiveCount   = 10                // receives before a message goes to the dead-letter queue
)

// Queue is a FIFO queue and its dead-letter queue, as CreateTransferQueue made them.
type Queue struct {
	URL, ARN                     string
	DeadLetterURL, DeadLetterARN string
}

// CreateTransferQueue creates the transfer queue name (it must end in .fifo) and its
// dead-letter queue on moto, as template.yaml declares them: FIFO, deduplication by the ids the
// senders set, the visibility timeout, and the redrive after maxReceive receives (0: the
// template's MaxReceiveCount). visibility zero is the template's VisibilityTimeout.
func CreateTransferQueue(ctx context.Context, client *sqs.Client, name string, visibility time.Duration, maxReceive int) (Queue, error) {
	if visibility <= 0 {
		visibility = VisibilityTimeout
	}
	if maxReceive <= 0 {
		maxReceive = MaxReceiveCount
	}
	const suffix = ".fifo"
	if len(name) <= len(suffix) || name[len(name)-len(suffix):] != suffix {
		return Queue{}, fmt.Errorf("sqssource: queue name %q: a FIFO queue's name ends in .fifo", name)
	}
	var q Queue
	var err error
	dlq := name[:len(name)-len(suffix)] + "-dlq" + suffix
	if q.DeadLetterURL, q.DeadLetterARN, err = create(ctx, client, dlq, map[string]string{"FifoQueue": "true"}); err != nil {
		return Queue{}, err
	}
	redrive, _ := json.Marshal(map[string]any{"deadLetterTargetArn": q.DeadLetterARN, "maxReceiveCount": maxReceive})
	q.URL, q.ARN, err = create(ctx, client, name, map[string]string{
		"FifoQueue":                 "true",
		"ContentBasedDeduplication": "false",
		"VisibilityTimeout":         strconv.Itoa(int(visibility / time.Second)),
		"RedrivePolicy":             string(redrive),
	})
	return q, err
}

func create(ctx context.Context, client *sqs.Client, name string, attrs map[string]string) (url, arn string, err error) {
	out, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		return "", "", fmt.Errorf("sqssource: creating queue %s: %w", name, err)
	}
	got, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: out.QueueUrl, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return "", "", fmt.Errorf("sqssource: reading queue %s: %w", name, err)
	}
	return aws.ToString(out.QueueUrl), got.Attributes[string(types.QueueAttributeNameQueueArn)], nil
}
