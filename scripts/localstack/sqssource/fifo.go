package sqssource

import (
	"context"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// keepMargin is how much longer than their timeout kept FIFO messages are hidden, so that the
// poller's own return always comes before moto's.
const keepMargin = 5 * time.Second

// keep returns the messages of a FIFO queue that were not handled, all at once, when their
// visibility timeout ends; on a standard queue SQS's own timeout does it.
//
// This stands in for moto, not Lambda: when a FIFO group's messages come back by their timeout,
// moto skips each one while another of the group is still marked in flight, so it hands out the
// group's last message first. So the poller first hides the messages a little longer than their
// timeout (moto never expires them itself), then at the timeout makes them all visible in one
// request, after which moto hands them out in order, as SQS does.
func (p *Poller) keep(ctx context.Context, msgs []types.Message) {
	if !p.fifo || len(msgs) == 0 {
		return
	}
	p.setVisibility(ctx, msgs, p.visibility+keepMargin)
	p.returning.Add(1)
	timer := time.AfterFunc(p.visibility, func() {
		defer p.returning.Done()
		p.setVisibility(context.Background(), msgs, 0)
	})
	p.mu.Lock()
	p.timers = append(p.timers, returnTimer{timer: timer, msgs: msgs})
	p.mu.Unlock()
}

type returnTimer struct {
	timer *time.Timer
	msgs  []types.Message
}

// returnAll makes every kept message visible at once, when the poller stops.
func (p *Poller) returnAll() {
	p.mu.Lock()
	timers := p.timers
	p.timers = nil
	p.mu.Unlock()
	for _, t := range timers {
		if t.timer.Stop() {
			p.setVisibility(context.Background(), t.msgs, 0)
			p.returning.Done()
		}
	}
	p.returning.Wait()
}

func (p *Poller) setVisibility(ctx context.Context, msgs []types.Message, d time.Duration) {
	for len(msgs) > 0 {
		n := min(10, len(msgs))
		entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, n)
		for i, m := range msgs[:n] {
			entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{
				Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: int32(d / time.Second),
			}
		}
		out, err := p.cfg.SQS.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{
			QueueUrl: aws.String(p.cfg.QueueURL), Entries: entries,
		})
		if err != nil || len(out.Failed) > 0 {
			p.cfg.Log.Warn("sqssource: changing the visibility of kept messages", "queue", p.cfg.QueueURL, "error", err)
		}
		msgs = msgs[n:]
	}
}
