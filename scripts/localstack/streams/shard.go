package streams

import (
	"context"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"handoff/scripts/localstack/pattern"
)

// shardReader reads one shard to its end (or until the poller stops) and delivers its records.
type shardReader struct {
	p         *Poller
	streamARN string
	shardID   string
	position  types.ShardIteratorType
	initial   bool   // one of the first listing's shards: counted in the poller's readiness
	lastRead  string // sequence number of the last record read, to renew an expired iterator
}

// run waits for the parent shard to be read, then reads this one.
func (r *shardReader) run(ctx context.Context, parent <-chan struct{}, initial *sync.WaitGroup) {
	if parent != nil {
		select {
		case <-parent:
		case <-ctx.Done():
		}
	}
	iterator := r.iterator(ctx)
	if r.initial {
		initial.Done()
	}
	var last time.Time
	for iterator != nil && ctx.Err() == nil {
		r.p.sleep(ctx, time.Until(last.Add(r.p.cfg.PollInterval)))
		last = time.Now()
		out, err := r.p.cfg.Streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iterator, Limit: aws.Int32(1000)})
		switch {
		case ctx.Err() != nil:
			return
		case isExpired(err):
			iterator = r.iterator(ctx)
			continue
		case err != nil:
			r.p.cfg.Log.Warn("streams: reading records", "shard", r.shardID, "error", err)
			r.p.sleep(ctx, r.p.cfg.PollInterval)
			continue
		}
		r.deliver(ctx, out.Records)
		iterator = out.NextShardIterator // nil once a closed shard is read to its end
	}
}

// deliver filters the records read and hands them to the function in batches, in order.
func (r *shardReader) deliver(ctx context.Context, read []types.Record) {
	var matched []record
	for _, raw := range read {
		rec := lambdaRecord(raw, r.streamARN, r.p.cfg.Region)
		r.lastRead = rec.sequenceNumber()
		if pattern.AnyMatch(r.p.cfg.Filters, rec.json) {
			matched = append(matched, rec)
		}
	}
	for len(matched) > 0 && ctx.Err() == nil {
		n := min(len(matched), r.p.cfg.BatchSize)
		r.p.deliver(ctx, matched[:n], 0)
		matched = matched[n:]
	}
}

// iterator gets a shard iterator: after the last record read when there is one, else at the
// reader's starting position. It retries until it succeeds or ctx ends (then nil).
func (r *shardReader) iterator(ctx context.Context) *string {
	in := &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(r.streamARN), ShardId: aws.String(r.shardID), ShardIteratorType: r.position}
	if r.lastRead != "" {
		in.ShardIteratorType, in.SequenceNumber = types.ShardIteratorTypeAfterSequenceNumber, aws.String(r.lastRead)
	}
	for ctx.Err() == nil {
		out, err := r.p.cfg.Streams.GetShardIterator(ctx, in)
		if err == nil {
			return out.ShardIterator
		}
		r.p.cfg.Log.Warn("streams: getting a shard iterator", "shard", r.shardID, "error", err)
		r.p.sleep(ctx, r.p.cfg.PollInterval)
	}
	return nil
}

// sleep waits for d or until ctx ends.
func (p *Poller) sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
