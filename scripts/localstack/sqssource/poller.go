// Package sqssource delivers an SQS queue to a function the way Lambda's SQS event source
// mapping does, for the local stack on moto's SQS: pollers receive batches of at most
// BatchSize messages, invoke the function with them as an events.SQSEvent, and delete the
// messages it handled. A function error leaves the whole batch in the queue; with
// ReportBatchItemFailures only the messages the function names stay. Messages that stay come
// back when their visibility timeout ends (SQS's doing; on FIFO queues the poller's, to keep
// moto in order, see keep), and the queue's redrive policy moves them to its dead-letter queue
// after maxReceiveCount receives.
//
// FIFO queues keep their order because SQS hands out no message of a group while another of
// the group is in flight, whichever poller holds it; and, as Lambda asks of a function, a
// failure keeps the later messages of its group in the batch in the queue too, so they are
// never handled before it.
package sqssource

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Invoker runs a function with an event; *rie.Function is one.
type Invoker interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

// Config is one event source mapping: a queue to a function.
type Config struct {
	SQS      *sqs.Client
	QueueURL string
	Target   Invoker
	// BatchSize is the most messages per invocation (default 10). A poller gathers them from
	// several receives when more than 10 (SQS's most per receive) are asked for.
	BatchSize               int
	ReportBatchItemFailures bool
	// VisibilityTimeout is asked for on every receive; zero keeps the queue's own.
	VisibilityTimeout time.Duration
	// Pollers is how many batches may be in flight at once (default 2). On a FIFO queue, SQS
	// still lets only one batch of each message group be in flight.
	Pollers int
	// Wait is the long poll of each receive (default 1s, at most 20s).
	Wait   time.Duration
	Region string // awsRegion of the messages; default us-east-1
	Log    *slog.Logger
}

// Poller runs one event source mapping.
type Poller struct {
	cfg        Config
	queueARN   string
	fifo       bool
	visibility time.Duration // the mapping's, else the queue's

	mu        sync.Mutex
	timers    []returnTimer   // kept FIFO messages waiting to return (see keep)
	held      map[string]bool // FIFO groups a batch of this poller's holds (see hold)
	released  chan struct{}   // closed, and replaced, each time a batch's groups are released
	receiving sync.Mutex      // one FIFO receive at a time (see receiveAndHold)
	returning sync.WaitGroup
}

// New returns a poller; Run starts it.
func New(cfg Config) *Poller {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 10
	}
	if cfg.Pollers <= 0 {
		cfg.Pollers = 2
	}
	if cfg.Wait <= 0 {
		cfg.Wait = time.Second
	}
	cfg.Wait = min(cfg.Wait, 20*time.Second)
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Poller{cfg: cfg, fifo: strings.HasSuffix(cfg.QueueURL, ".fifo"), released: make(chan struct{})}
}

// Run delivers the queue until ctx ends, then returns nil once every batch in flight has been
// handled. It returns an error when the queue does not exist.
func (p *Poller) Run(ctx context.Context) error {
	out, err := p.cfg.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(p.cfg.QueueURL),
		AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameQueueArn, types.QueueAttributeNameVisibilityTimeout,
		},
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("sqssource: reading queue %s: %w", p.cfg.QueueURL, err)
	}
	p.queueARN = out.Attributes[string(types.QueueAttributeNameQueueArn)]
	p.visibility = p.cfg.VisibilityTimeout
	if p.visibility <= 0 {
		seconds, _ := strconv.Atoi(out.Attributes[string(types.QueueAttributeNameVisibilityTimeout)])
		p.visibility = time.Duration(max(seconds, 0)) * time.Second
	}
	var wg sync.WaitGroup
	for range p.cfg.Pollers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.poll(ctx)
		}()
	}
	wg.Wait()
	p.returnAll()
	return nil
}

// poll receives and delivers batches until ctx ends. A batch whose invocation ctx cut short is
// left in the queue: its messages come back after their visibility timeout, as after a crash.
func (p *Poller) poll(ctx context.Context) {
	for ctx.Err() == nil {
		batch, err := p.receiveAndHold(ctx)
		if err != nil {
			if ctx.Err() == nil {
				p.cfg.Log.Warn("sqssource: receiving", "queue", p.cfg.QueueURL, "error", err)
				sleep(ctx, time.Second)
			}
		}
		if len(batch) > 0 {
			p.deliver(ctx, batch)
			p.release(batch)
		} else if p.fifo && err == nil {
			p.idle(ctx)
		}
	}
}

// fifoPollInterval is the pause between a FIFO queue's empty short polls (see receive), and
// fifoHeldPoll the longest while a batch is in flight.
const (
	fifoPollInterval = 200 * time.Millisecond
	fifoHeldPoll     = time.Second
)

// idle waits after an empty receive from a FIFO queue. While a batch is in flight its group's
// messages are there but not deliverable, and each receive makes moto walk every one of them
// (80 ms of its CPU per receive with 500 queued, every 200 ms from each poller: most of what it
// had for the functions): so the poller waits for a batch to finish, or at most a second for
// messages of other groups, instead of asking again.
func (p *Poller) idle(ctx context.Context) {
	p.mu.Lock()
	held, released := len(p.held) > 0, p.released
	p.mu.Unlock()
	if !held {
		sleep(ctx, fifoPollInterval)
		return
	}
	select {
	case <-ctx.Done():
	case <-released:
	case <-time.After(fifoHeldPoll):
	}
}

// receiveAndHold receives a batch and holds its FIFO groups (see hold). On a FIFO queue the
// pollers receive one at a time: moto reads which groups are in flight when a receive starts,
// so two receives at once could each get messages of one group, the later messages to the
// poller that holds the group first, which would then run them before the earlier ones.
func (p *Poller) receiveAndHold(ctx context.Context) ([]types.Message, error) {
	if p.fifo {
		p.receiving.Lock()
		defer p.receiving.Unlock()
	}
	batch, err := p.receive(ctx)
	return p.hold(ctx, batch), err
}

// hold marks the FIFO groups of batch as in flight with this poller (idle waits on them), and
// gives back at once the messages of a group another poller's batch holds. SQS hands out no
// message of a group while another of it is in flight. moto did, when a message arrived during
// a long poll; FIFO receives are now short and one at a time (receiveAndHold), so the give-back
// is a guard, kept because two batches of one group would run at once, out of order.
func (p *Poller) hold(ctx context.Context, batch []types.Message) []types.Message {
	if !p.fifo || len(batch) == 0 {
		return batch
	}
	var mine, back []types.Message
	p.mu.Lock()
	if p.held == nil {
		p.held = map[string]bool{}
	}
	taken := map[string]bool{}
	for _, m := range batch {
		g := m.Attributes[string(types.MessageSystemAttributeNameMessageGroupId)]
		if p.held[g] && !taken[g] {
			back = append(back, m)
			continue
		}
		taken[g] = true
		mine = append(mine, m)
	}
	for g := range taken {
		p.held[g] = true
	}
	p.mu.Unlock()
	if len(back) > 0 {
		p.setVisibility(ctx, back, 0)
		if len(mine) == 0 {
			sleep(ctx, 50*time.Millisecond) // the group's batch is still running
		}
	}
	return mine
}

// release ends hold's claim on batch's groups.
func (p *Poller) release(batch []types.Message) {
	if !p.fifo {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range batch {
		delete(p.held, m.Attributes[string(types.MessageSystemAttributeNameMessageGroupId)])
	}
	close(p.released)
	p.released = make(chan struct{})
}

// receive gathers up to BatchSize messages: it long-polls for the first ones, then takes what
// is there at once until the batch is full or the queue has no more to give.
//
// A FIFO queue is short-polled instead (poll pauses between empty answers): moto's long poll
// spins a CPU for its whole wait while the queue holds visible messages of a group in flight
// (its wait for messages ends at once when any is visible, deliverable or not), which during a
// storm starves every other request moto serves. SQS hands out the same messages either way.
func (p *Poller) receive(ctx context.Context) ([]types.Message, error) {
	var batch []types.Message
	wait := int32(p.cfg.Wait / time.Second)
	if p.fifo {
		wait = 0
	}
	for len(batch) < p.cfg.BatchSize {
		in := &sqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(p.cfg.QueueURL),
			MaxNumberOfMessages:         int32(min(10, p.cfg.BatchSize-len(batch))),
			WaitTimeSeconds:             wait,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
			MessageAttributeNames:       []string{"All"},
		}
		if p.cfg.VisibilityTimeout > 0 {
			in.VisibilityTimeout = int32(p.cfg.VisibilityTimeout / time.Second)
		}
		out, err := p.cfg.SQS.ReceiveMessage(ctx, in)
		if err != nil {
			return batch, err
		}
		batch = append(batch, out.Messages...)
		if len(out.Messages) < int(in.MaxNumberOfMessages) {
			return batch, nil
		}
		wait = 0
	}
	return batch, nil
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
