// Package eventbus is a local EventBridge: it takes PutEvents over the AWS JSON 1.1 protocol (so
// the real SDK client publishes to it) and on a friendlier local route, matches each event
// against the rules' patterns, and delivers it asynchronously to the rules' functions, retrying
// failures with backoff and writing what never succeeds to a dead-letter log. It keeps the events
// it saw, with how their deliveries went, for GET /_local/events.
package eventbus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"time"

	"handoff/scripts/localstack/pattern"
)

// Invoker runs a function with an event; *rie.Function is one.
type Invoker interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

// Rule sends the events of a bus that match Pattern to Target.
type Rule struct {
	Name         string // shown in GET /_local/events and the dead-letter log
	EventBusName string // default "default"
	Pattern      *pattern.Pattern
	Target       Invoker
	// MaxRetryAttempts is how often a failed delivery is retried. With a Lambda target, a
	// function error is retried by Lambda's asynchronous invocation (the function's
	// EventInvokeConfig), not by the rule's RetryPolicy, which only covers failing to reach Lambda;
	// the local stack has only the former to model.
	MaxRetryAttempts int
	// MaxEventAge stops retrying an event older than this; zero means no limit.
	MaxEventAge time.Duration
}

// Config configures a Bus.
type Config struct {
	Rules     []Rule
	Region    string // default us-east-1
	AccountID string // default 123456789012
	// DeadLetters receives one JSON line per event a rule could not deliver; nil discards them.
	DeadLetters io.Writer
	// Backoff is the wait before retry n (1, 2, …); default 1s, doubling, at most 30s: quicker
	// than Lambda's minutes, so a failure shows while someone watches.
	Backoff func(retry int) time.Duration
	Keep    int          // how many events GET /_local/events lists; default 1000
	Log     *slog.Logger // default slog.Default()
}

// Bus is a local event bus. Its zero value is not usable; call New.
type Bus struct {
	cfg    Config
	ctx    context.Context // ends on Close: retries stop
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex // guards records, their deliveries and closed
	records []*record  // oldest first, at most cfg.Keep
	closed  bool
	dlqMu   sync.Mutex
}

// New returns a bus for the rules.
func New(cfg Config) *Bus {
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.AccountID == "" {
		cfg.AccountID = "123456789012"
	}
	if cfg.Backoff == nil {
		cfg.Backoff = doubling
	}
	if cfg.Keep <= 0 {
		cfg.Keep = 1000
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	for i := range cfg.Rules {
		if cfg.Rules[i].EventBusName == "" {
			cfg.Rules[i].EventBusName = "default"
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Bus{cfg: cfg, ctx: ctx, cancel: cancel}
}

func doubling(retry int) time.Duration {
	d := time.Second << (retry - 1)
	if retry > 6 || d > 30*time.Second {
		return 30 * time.Second
	}
	return d
}

// Entry is one PutEvents request entry.
type Entry struct {
	Source       string   `json:"Source"`
	DetailType   string   `json:"DetailType"`
	Detail       string   `json:"Detail"`
	EventBusName string   `json:"EventBusName,omitempty"`
	Resources    []string `json:"Resources,omitempty"`
	// Time is the event's time in epoch seconds, as the SDK sends it; zero means now.
	Time float64 `json:"Time,omitempty"`
}

// Result is one PutEvents response entry: an EventId, or an error code and message.
type Result struct {
	EventID      string `json:"EventId,omitempty"`
	ErrorCode    string `json:"ErrorCode,omitempty"`
	ErrorMessage string `json:"ErrorMessage,omitempty"`
}

// Event is an event as EventBridge delivers it to a target.
type Event struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

// Put publishes entries, as PutEvents does: each valid entry gets an EventId and is delivered in
// the background to every matching rule; an invalid one gets an error code.
func (b *Bus) Put(entries []Entry) []Result {
	results := make([]Result, len(entries))
	for i, entry := range entries {
		event, bus, problem := b.newEvent(entry)
		if problem != "" {
			results[i] = Result{ErrorCode: "InvalidArgument", ErrorMessage: problem}
			continue
		}
		results[i] = Result{EventID: event.ID}
		b.publish(event, bus)
	}
	return results
}

// Events lists the events published, oldest first, with their deliveries.
func (b *Bus) Events() []Published {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Published, len(b.records))
	for i, r := range b.records {
		out[i] = r.snapshot()
	}
	return out
}

// Wait blocks until every delivery started so far has ended, delivered or dead-lettered. Call
// it when nothing else is publishing (tests do, between a Put and their checks).
func (b *Bus) Wait() {
	b.wg.Wait()
}

// Close stops retrying (events still waiting go to the dead-letter log) and waits for the
// deliveries in flight.
func (b *Bus) Close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.cancel()
	b.wg.Wait()
}

// eventValue is the event as the pattern matcher reads it.
func eventValue(event Event) any {
	data, _ := json.Marshal(event)
	var v any
	json.Unmarshal(data, &v)
	return v
}

// newID is a random UUID, the shape of EventBridge's event IDs.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
