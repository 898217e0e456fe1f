package ctl

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"handoff/core/store"
	"os"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// deadLetter is one dead letter, from either queue, read into what a redrive needs.
type deadLetter struct {
	queue  string // "escalations", "acks" or "sweeps"
	id     string
	reason string
	// event is the EventBridge event of a dead-lettered escalation.
	event *busEvent
	// transfers are the transfers of a dead-lettered stream batch (their acks were not sent).
	transfers []string
	// handle removes it: an SQS receipt handle, or the local log's line.
	handle string
}

type busEvent struct {
	ID         string          `json:"id"`
	Source     string          `json:"source"`
	DetailType string          `json:"detail-type"`
	Detail     json.RawMessage `json:"detail"`
}

func (t *tool) deadLettersList(ctx context.Context) error {
	letters, err := t.deadLetters(ctx, 0)
	if err != nil {
		return err
	}
	if len(letters) == 0 {
		fmt.Fprintln(t.out, "no dead letters")
	}
	for _, d := range letters {
		what := ""
		if d.event != nil {
			what = fmt.Sprintf("%s from %s, event %s", d.event.DetailType, d.event.Source, d.event.ID)
		}
		if len(d.transfers) > 0 {
			what = "ack of " + strings.Join(d.transfers, ", ")
		}
		fmt.Fprintf(t.out, "%-11s %s  %s  %s\n", d.queue, d.id, what, d.reason)
	}
	return nil
}

// deadLettersRedrive replays each dead letter and removes the ones replayed.
func (t *tool) deadLettersRedrive(ctx context.Context) error {
	letters, err := t.deadLetters(ctx, 120)
	if err != nil {
		return err
	}
	var done []deadLetter
	var failed int
	for _, d := range letters {
		if err := t.redrive(ctx, d); err != nil {
			failed++
			fmt.Fprintf(t.out, "%s %s: not replayed: %v\n", d.queue, d.id, err)
			continue
		}
		fmt.Fprintf(t.out, "%s %s: replayed\n", d.queue, d.id)
		done = append(done, d)
	}
	if err := t.removeDeadLetters(ctx, done); err != nil {
		return err
	}
	fmt.Fprintf(t.out, "%d replayed, %d left\n", len(done), failed)
	if failed > 0 {
		return fmt.Errorf("%d dead letters could not be replayed", failed)
	}
	return nil
}

func (t *tool) redrive(ctx context.Context, d deadLetter) error {
	switch {
	case d.queue == "sweeps" || (d.event != nil && d.event.DetailType == "Scheduled Event"):
		return nil // a missed sweep needs no replay: the schedule runs the next one within a minute
	case d.event != nil:
		out, err := t.events.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
			EventBusName: aws.String(t.cfg.EventBus), Source: aws.String(d.event.Source),
			DetailType: aws.String(d.event.DetailType), Detail: aws.String(string(d.event.Detail)),
		}}})
		if err != nil {
			return err
		}
		if out.FailedEntryCount > 0 {
			return fmt.Errorf("the bus refused it: %s", aws.ToString(out.Entries[0].ErrorMessage))
		}
		return nil
	case len(d.transfers) > 0:
		for _, id := range d.transfers {
			if err := t.ackRetry(ctx, id); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("nothing in it to replay")
}

// deadLetters reads the dead letters: the local stack's log, or both queues. visibility hides
// the messages read for that many seconds (a redrive's time to replay them).
func (t *tool) deadLetters(ctx context.Context, visibility int32) ([]deadLetter, error) {
	if t.cfg.DeadLettersFile != "" {
		return readLocalDeadLetters(t.cfg.DeadLettersFile)
	}
	var all []deadLetter
	for _, q := range []struct{ name, url string }{{"escalations", t.cfg.EscalationQueueURL},
		{"acks", t.cfg.AckQueueURL}, {"sweeps", t.cfg.SweepQueueURL}} {
		if q.url == "" {
			continue
		}
		seen := map[string]bool{}
		for range 10 { // at most 100 per queue and run
			out, err := t.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.url),
				MaxNumberOfMessages: 10, VisibilityTimeout: visibility, MessageAttributeNames: []string{"All"}})
			if err != nil {
				return nil, err
			}
			fresh := 0
			for _, m := range out.Messages {
				id := aws.ToString(m.MessageId)
				if seen[id] {
					continue
				}
				seen[id], fresh = true, fresh+1
				d := deadLetter{queue: q.name, id: id, handle: q.url + "\n" + aws.ToString(m.ReceiptHandle)}
				if a, ok := m.MessageAttributes["ERROR_MESSAGE"]; ok {
					d.reason = aws.ToString(a.StringValue)
				}
				if err := t.readMessage(ctx, &d, []byte(aws.ToString(m.Body))); err != nil {
					d.reason += " (" + err.Error() + ")"
				}
				all = append(all, d)
			}
			if fresh == 0 {
				break
			}
		}
	}
	return all, nil
}

// readMessage reads a queue message: an EventBridge event (the rule's dead letter), a Lambda
// invocation record holding one (the function's OnFailure), or stream coordinates (bot-ack's).
func (t *tool) readMessage(ctx context.Context, d *deadLetter, body []byte) error {
	var m struct {
		busEvent
		RequestPayload  *busEvent `json:"requestPayload"`
		ResponsePayload struct {
			ErrorMessage string `json:"errorMessage"`
		} `json:"responsePayload"`
		Batch *struct {
			ShardID       string `json:"shardId"`
			StartSequence string `json:"startSequenceNumber"`
			EndSequence   string `json:"endSequenceNumber"`
			StreamArn     string `json:"streamArn"`
		} `json:"DDBStreamBatchInfo"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return fmt.Errorf("unreadable message")
	}
	switch {
	case m.RequestPayload != nil:
		d.event = m.RequestPayload
		if d.reason == "" {
			d.reason = m.ResponsePayload.ErrorMessage
		}
	case m.DetailType != "":
		ev := m.busEvent
		d.event = &ev
	case m.Batch != nil:
		ids, err := t.streamTransfers(ctx, m.Batch.StreamArn, m.Batch.ShardID, m.Batch.StartSequence, m.Batch.EndSequence)
		d.transfers = ids
		return err
	}
	return nil
}

// streamTransfers reads the stream records between two sequence numbers (kept by the stream for
// 24 hours) and returns the transfers they are about.
func (t *tool) streamTransfers(ctx context.Context, arn, shard, from, to string) ([]string, error) {
	it, err := t.streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(arn),
		ShardId: aws.String(shard), ShardIteratorType: streamtypes.ShardIteratorTypeAtSequenceNumber, SequenceNumber: aws.String(from)})
	if err != nil {
		return nil, fmt.Errorf("the stream records are gone (kept 24 hours): %w", err)
	}
	var ids []string
	seen := map[string]bool{}
	iter := it.ShardIterator
	for range 100 {
		out, err := t.streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter})
		if err != nil {
			return ids, err
		}
		for _, r := range out.Records {
			if r.Dynamodb == nil {
				continue
			}
			// The item names its transfer: its key is the transfer's slot, not its id.
			if id, ok := r.Dynamodb.NewImage[store.AttrTransferID].(*streamtypes.AttributeValueMemberS); ok && id.Value != "" && !seen[id.Value] {
				seen[id.Value] = true
				ids = append(ids, id.Value)
			}
			if seq := aws.ToString(r.Dynamodb.SequenceNumber); len(seq) > len(to) || (len(seq) == len(to) && seq >= to) {
				return ids, nil
			}
		}
		if out.NextShardIterator == nil || len(out.Records) == 0 {
			return ids, nil
		}
		iter = out.NextShardIterator
	}
	return ids, nil
}

func (t *tool) removeDeadLetters(ctx context.Context, done []deadLetter) error {
	if t.cfg.DeadLettersFile != "" {
		return removeLocalDeadLetters(t.cfg.DeadLettersFile, done)
	}
	for _, d := range done {
		url, receipt, _ := strings.Cut(d.handle, "\n")
		if _, err := t.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: aws.String(receipt)}); err != nil {
			return err
		}
	}
	return nil
}

// readLocalDeadLetters reads the local stack's dead-letter log (one JSON object a line).
func readLocalDeadLetters(path string) ([]deadLetter, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []deadLetter
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for n := 1; sc.Scan(); n++ {
		var l struct {
			Source  string            `json:"source"`
			Reason  string            `json:"reason"`
			Last    string            `json:"lastError"`
			Event   *busEvent         `json:"event"`
			Records []json.RawMessage `json:"records"`
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		d := deadLetter{id: fmt.Sprintf("line-%d", n), reason: strings.TrimSpace(l.Reason + " " + l.Last), handle: sc.Text()}
		if l.Source == "eventbus" && l.Event != nil {
			d.queue, d.event = "escalations", l.Event
		} else {
			d.queue = "acks"
			for _, r := range l.Records {
				var rec struct {
					Dynamodb struct {
						NewImage map[string]struct {
							S string `json:"S"`
						} `json:"NewImage"`
					} `json:"dynamodb"`
				}
				if json.Unmarshal(r, &rec) == nil {
					// The item names its transfer: its key is the transfer's slot, not its id.
					if id := rec.Dynamodb.NewImage[store.AttrTransferID].S; id != "" && !slices.Contains(d.transfers, id) {
						d.transfers = append(d.transfers, id)
					}
				}
			}
		}
		out = append(out, d)
	}
	return out, sc.Err()
}

// removeLocalDeadLetters rewrites the log without the lines replayed.
func removeLocalDeadLetters(path string, done []deadLetter) error {
	if len(done) == 0 {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	drop := map[string]bool{}
	for _, d := range done {
		drop[d.handle] = true
	}
	var keep bytes.Buffer
	for _, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		if line != "" && !drop[line] {
			keep.WriteString(line + "\n")
		}
	}
	return os.WriteFile(path, keep.Bytes(), 0o644)
}
