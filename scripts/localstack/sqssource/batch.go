package sqssource

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// deliver invokes the function with batch and deletes the messages it handled; the others stay
// in the queue and come back after their visibility timeout.
func (p *Poller) deliver(ctx context.Context, batch []types.Message) {
	payload, err := json.Marshal(events.SQSEvent{Records: p.lambdaMessages(batch)})
	if err != nil {
		p.cfg.Log.Error("sqssource: encoding a batch", "error", err)
		return
	}
	out, err := p.cfg.Target.Invoke(ctx, payload)
	if ctx.Err() != nil {
		p.cfg.Log.Warn("sqssource: stopped during a batch; its messages return after the visibility timeout",
			"queue", p.cfg.QueueURL, "messages", len(batch))
		return
	}
	var failed map[string]bool
	if err == nil && p.cfg.ReportBatchItemFailures {
		failed, err = failures(out, batch)
	}
	if err != nil {
		p.cfg.Log.Warn("sqssource: batch failed; its messages return after the visibility timeout",
			"queue", p.cfg.QueueURL, "messages", len(batch), "error", err)
		p.keep(ctx, batch)
		return
	}
	done := p.handled(batch, failed)
	if len(done) < len(batch) {
		p.cfg.Log.Info("sqssource: messages failed; they return after the visibility timeout",
			"queue", p.cfg.QueueURL, "failed", len(batch)-len(done), "of", len(batch))
		p.keep(ctx, unhandled(batch, done))
	}
	p.delete(ctx, done)
}

// unhandled is batch less done (a subsequence of it).
func unhandled(batch, done []types.Message) []types.Message {
	var out []types.Message
	for _, m := range batch {
		if len(done) > 0 && aws.ToString(done[0].MessageId) == aws.ToString(m.MessageId) {
			done = done[1:]
			continue
		}
		out = append(out, m)
	}
	return out
}

// handled is the messages of batch to delete: all but the failed ones, and on a FIFO queue all
// but those from a group's first failure on, which must come back in their order.
func (p *Poller) handled(batch []types.Message, failed map[string]bool) []types.Message {
	stopped := map[string]bool{} // message groups with a failure earlier in the batch
	var done []types.Message
	for _, m := range batch {
		group := m.Attributes[string(types.MessageSystemAttributeNameMessageGroupId)]
		if failed[aws.ToString(m.MessageId)] {
			stopped[group] = true
			continue
		}
		if p.fifo && stopped[group] {
			continue
		}
		done = append(done, m)
	}
	return done
}

// batchResponse is the answer of a function with ReportBatchItemFailures.
type batchResponse struct {
	BatchItemFailures []struct {
		ItemIdentifier *string `json:"itemIdentifier"`
	} `json:"batchItemFailures"`
}

// failures reads a batch response as Lambda does: no response, or no failures, is success; a
// response that is not JSON, or names no message or one not in the batch, fails the whole batch.
func failures(out []byte, batch []types.Message) (map[string]bool, error) {
	if len(bytes.TrimSpace(out)) == 0 {
		return nil, nil
	}
	var resp *batchResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		return nil, fmt.Errorf("the function's batch response is not valid: %w", err)
	}
	if resp == nil {
		return nil, nil
	}
	ids := map[string]bool{}
	for _, m := range batch {
		ids[aws.ToString(m.MessageId)] = true
	}
	failed := map[string]bool{}
	for _, f := range resp.BatchItemFailures {
		if f.ItemIdentifier == nil || !ids[*f.ItemIdentifier] {
			return nil, errors.New("the function reported a failed item that is not in the batch")
		}
		failed[*f.ItemIdentifier] = true
	}
	return failed, nil
}

// delete removes handled messages, ten to a request.
func (p *Poller) delete(ctx context.Context, done []types.Message) {
	for len(done) > 0 {
		n := min(10, len(done))
		entries := make([]types.DeleteMessageBatchRequestEntry, n)
		for i, m := range done[:n] {
			entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle}
		}
		out, err := p.cfg.SQS.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(p.cfg.QueueURL), Entries: entries})
		switch {
		case err != nil:
			p.cfg.Log.Warn("sqssource: deleting handled messages; they will be delivered again", "queue", p.cfg.QueueURL, "error", err)
		case len(out.Failed) > 0:
			p.cfg.Log.Warn("sqssource: some handled messages were not deleted; they will be delivered again",
				"queue", p.cfg.QueueURL, "failed", len(out.Failed))
		}
		done = done[n:]
	}
}

// lambdaMessages turns received messages into the records Lambda puts in an SQSEvent.
func (p *Poller) lambdaMessages(batch []types.Message) []events.SQSMessage {
	out := make([]events.SQSMessage, len(batch))
	for i, m := range batch {
		rec := events.SQSMessage{
			MessageId:              aws.ToString(m.MessageId),
			ReceiptHandle:          aws.ToString(m.ReceiptHandle),
			Body:                   aws.ToString(m.Body),
			Md5OfBody:              aws.ToString(m.MD5OfBody),
			Md5OfMessageAttributes: aws.ToString(m.MD5OfMessageAttributes),
			Attributes:             m.Attributes,
			MessageAttributes:      map[string]events.SQSMessageAttribute{},
			EventSourceARN:         p.queueARN,
			EventSource:            "aws:sqs",
			AWSRegion:              p.cfg.Region,
		}
		if rec.Attributes == nil {
			rec.Attributes = map[string]string{}
		}
		for name, a := range m.MessageAttributes {
			rec.MessageAttributes[name] = events.SQSMessageAttribute{
				StringValue: a.StringValue, BinaryValue: a.BinaryValue,
				StringListValues: a.StringListValues, BinaryListValues: a.BinaryListValues,
				DataType: aws.ToString(a.DataType),
			}
		}
		out[i] = rec
	}
	return out
}
