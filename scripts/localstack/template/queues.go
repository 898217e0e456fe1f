package template

import (
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

const (
	mappingType = "AWS::Lambda::EventSourceMapping"
	queueType   = "AWS::SQS::Queue"
)

// QueueSource is an AWS::Lambda::EventSourceMapping from an SQS queue to a function: Lambda
// polls the queue and invokes the function with batches of its messages.
type QueueSource struct {
	Mapping  string // the mapping's logical ID
	Function string // the function's logical ID
	// Queue is the queue's name (QueueName, resolved); the environment's !Ref of the queue is
	// this name, which the local stack replaces with the queue's URL on moto.
	Queue                   string
	FIFO                    bool
	BatchSize               int // default 10
	ReportBatchItemFailures bool
	VisibilityTimeout       time.Duration // the queue's; default 30s
	MaxReceiveCount         int           // the queue's redrive policy; 0: none
}

// readQueueSource reads an event source mapping whose source is a queue of the template
// (EventSourceArn: !GetAtt Queue.Arn) and target a function of it (FunctionName: !Ref F).
// ok is false for a mapping from anything else (a stream, a queue outside the template).
func readQueueSource(logicalID string, node, resources *yaml.Node, r *resolver) (QueueSource, bool, error) {
	props := child(node, "Properties")
	fn, src := child(props, "FunctionName"), child(props, "EventSourceArn")
	if fn == nil || src == nil || fn.Tag != "!Ref" || src.Tag != "!GetAtt" {
		return QueueSource{}, false, nil
	}
	queueID, attr, _ := strings.Cut(src.Value, ".")
	queue := child(resources, queueID)
	if attr != "Arn" || textOf(child(queue, "Type")) != queueType {
		return QueueSource{}, false, nil
	}
	q := QueueSource{Mapping: logicalID, Function: fn.Value, BatchSize: 10, VisibilityTimeout: 30 * time.Second}
	qprops := child(queue, "Properties")
	name, err := r.value(child(qprops, "QueueName"))
	if err != nil {
		return q, false, err
	}
	q.Queue, _ = name.(string)
	if q.Queue == "" {
		return q, false, fmt.Errorf("queue %s has no QueueName", queueID)
	}
	q.FIFO = strings.HasSuffix(q.Queue, ".fifo")
	if n := child(props, "BatchSize"); n != nil {
		if q.BatchSize, err = intOf(n.Value, "BatchSize"); err != nil {
			return q, false, err
		}
	}
	if types := child(props, "FunctionResponseTypes"); types != nil {
		for _, t := range types.Content {
			q.ReportBatchItemFailures = q.ReportBatchItemFailures || t.Value == "ReportBatchItemFailures"
		}
	}
	if n := child(qprops, "VisibilityTimeout"); n != nil {
		secs, err := intOf(n.Value, "VisibilityTimeout")
		if err != nil {
			return q, false, err
		}
		q.VisibilityTimeout = time.Duration(secs) * time.Second
	}
	if n := child(child(qprops, "RedrivePolicy"), "maxReceiveCount"); n != nil {
		if q.MaxReceiveCount, err = intOf(n.Value, "maxReceiveCount"); err != nil {
			return q, false, err
		}
	}
	return q, true, nil
}
