// Package streams delivers a DynamoDB table's stream to a function the way Lambda's event
// source mapping does: it reads every shard in order (parents before children), drops the
// records no filter matches, invokes the function with batches of at most BatchSize records as
// an events.DynamoDBEvent, retries a failed batch (from the first reported failure with
// ReportBatchItemFailures, halving it with BisectBatchOnFunctionError) up to MaxRetryAttempts,
// and writes what never succeeds to a dead-letter log before moving on.
package streams

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"handoff/scripts/localstack/pattern"
)

// Invoker runs a function with an event; *rie.Function is one.
type Invoker interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

// Config is one event source mapping: a table's stream to a function.
type Config struct {
	DynamoDB *dynamodb.Client        // finds the table's stream
	Streams  *dynamodbstreams.Client // reads it
	Table    string
	Target   Invoker
	Filters  []*pattern.Pattern // a record must match one; none lets every record through
	// BatchSize is the most records per invocation (default 100).
	BatchSize int
	// StartingPosition is TRIM_HORIZON (every record the stream holds) or LATEST (records
	// written after the poller started; the default).
	StartingPosition           string
	ReportBatchItemFailures    bool
	BisectBatchOnFunctionError bool
	// MaxRetryAttempts is how often a failed batch is retried; -1 retries until the records
	// are older than MaxRecordAge (Lambda's default).
	MaxRetryAttempts int
	MaxRecordAge     time.Duration // zero: no limit
	// Backoff is the wait before retry n (1, 2, …); default 500ms doubling to at most 10s.
	Backoff func(retry int) time.Duration
	// PollInterval is the least time between two reads of a shard, as Lambda polls each shard
	// four times a second (default 250ms); shards are listed every 40 of them.
	PollInterval time.Duration
	Region       string // awsRegion of records that lack one; default us-east-1
	// DeadLetters receives one JSON line per batch given up on, records included.
	DeadLetters io.Writer
	Log         *slog.Logger
}

// Poller runs one event source mapping.
type Poller struct {
	cfg       Config
	ready     chan struct{}
	readyOnce sync.Once
	dlqMu     sync.Mutex
}

// New returns a poller; Run starts it.
func New(cfg Config) *Poller {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 100
	}
	if cfg.StartingPosition == "" {
		cfg.StartingPosition = string(types.ShardIteratorTypeLatest)
	}
	if cfg.Backoff == nil {
		cfg.Backoff = doubling
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 250 * time.Millisecond
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Poller{cfg: cfg, ready: make(chan struct{})}
}

func doubling(retry int) time.Duration {
	d := 500 * time.Millisecond << (retry - 1)
	if retry > 5 || d > 10*time.Second {
		return 10 * time.Second
	}
	return d
}

// Ready is closed once the poller holds an iterator for each of the stream's first shards:
// with LATEST, records written from then on are delivered.
func (p *Poller) Ready() <-chan struct{} { return p.ready }

// Run delivers the stream until ctx ends, then returns nil once its shard readers have stopped.
// It returns an error when the table has no stream.
func (p *Poller) Run(ctx context.Context) error {
	streamARN, err := p.streamARN(ctx)
	if err != nil || ctx.Err() != nil {
		return err
	}
	t := &tracker{p: p, streamARN: streamARN, started: map[string]bool{}, done: map[string]chan struct{}{}}
	defer t.wg.Wait()
	first := true
	for {
		if err := t.discover(ctx, first); err != nil && ctx.Err() == nil {
			p.cfg.Log.Warn("streams: listing shards", "table", p.cfg.Table, "error", err)
		} else if first && err == nil {
			first = false
			t.whenStarted(func() { p.readyOnce.Do(func() { close(p.ready) }) })
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(shardListings * p.cfg.PollInterval):
		}
	}
}

// shardListings is how many poll intervals apart the shards are listed: a DynamoDB stream's
// shards change every few hours, and each listing is a DescribeStream that moto serves on the
// same CPU as the functions' DynamoDB requests (every 250 ms, a storm's requests waited on
// them).
const shardListings = 40

// streamARN waits for the table to exist and returns its latest stream.
func (p *Poller) streamARN(ctx context.Context) (string, error) {
	for {
		out, err := p.cfg.DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(p.cfg.Table)})
		if err == nil {
			if arn := aws.ToString(out.Table.LatestStreamArn); arn != "" {
				return arn, nil
			}
			return "", fmt.Errorf("streams: table %s has no stream", p.cfg.Table)
		}
		p.cfg.Log.Debug("streams: waiting for the table", "table", p.cfg.Table, "error", err)
		select {
		case <-ctx.Done():
			return "", nil
		case <-time.After(p.cfg.PollInterval):
		}
	}
}

// tracker starts one reader per shard, each after its parent has finished.
type tracker struct {
	p         *Poller
	streamARN string
	wg        sync.WaitGroup
	started   map[string]bool
	done      map[string]chan struct{} // closed when the shard's reader has read it to its end
	initial   sync.WaitGroup           // readers of the first listing that hold an iterator
}

// discover lists the stream's shards and starts readers for new ones. Shards of the first
// listing start at StartingPosition; shards that appear later are read from their start.
func (t *tracker) discover(ctx context.Context, first bool) error {
	shards, err := t.listShards(ctx)
	if err != nil {
		return err
	}
	for _, s := range shards {
		id := aws.ToString(s.ShardId)
		if t.started[id] {
			continue
		}
		t.started[id] = true
		done := make(chan struct{})
		t.done[id] = done
		position := types.ShardIteratorTypeTrimHorizon
		if first {
			position = types.ShardIteratorType(t.p.cfg.StartingPosition)
			t.initial.Add(1)
		}
		r := &shardReader{p: t.p, streamARN: t.streamARN, shardID: id, position: position, initial: first}
		parent := t.done[aws.ToString(s.ParentShardId)] // nil when the parent is gone or unknown
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			defer close(done)
			r.run(ctx, parent, &t.initial)
		}()
	}
	return nil
}

// whenStarted calls fn once every reader of the first listing holds its iterator.
func (t *tracker) whenStarted(fn func()) {
	go func() {
		t.initial.Wait()
		fn()
	}()
}

func (t *tracker) listShards(ctx context.Context) ([]types.Shard, error) {
	var shards []types.Shard
	var start *string
	for {
		out, err := t.p.cfg.Streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(t.streamARN), ExclusiveStartShardId: start})
		if err != nil {
			return nil, err
		}
		shards = append(shards, out.StreamDescription.Shards...)
		start = out.StreamDescription.LastEvaluatedShardId
		if start == nil {
			return shards, nil
		}
	}
}

// isExpired reports whether an iterator can no longer be used and must be renewed.
func isExpired(err error) bool {
	var expired *types.ExpiredIteratorException
	var trimmed *types.TrimmedDataAccessException
	return errors.As(err, &expired) || errors.As(err, &trimmed)
}
