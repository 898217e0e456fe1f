// Package rie runs a Lambda function's bootstrap under the AWS Lambda Runtime Interface
// Emulator (aws-lambda-rie, the emulator SAM runs inside its containers), pinned by the tool line
// of go.mod. The emulator serves the Lambda Runtime API to the bootstrap and takes invocations on
// /2015-03-31/functions/function/invocations; this package is the glue around it: one emulator
// per concurrent invocation (an emulator runs one at a time), each on loopback ports of its own,
// the function's environment given exactly, results and errors read back, and every process
// stopped on Close.
//
// As in Lambda, a function initialises on its first invocation (on-demand init); an init error
// is the error of that invocation, and of the next, which tries the init again.
package rie

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"
)

// Config describes one function.
type Config struct {
	// Emulator is the path of the aws-lambda-rie binary (see Locate).
	Emulator string
	Name     string // the function name: AWS_LAMBDA_FUNCTION_NAME
	Label    string // prefixes each line of the function's output; default Name
	Binary   string // path of the bootstrap executable; its directory is LAMBDA_TASK_ROOT
	Handler  string // _HANDLER; default "bootstrap"
	// Env is the function's environment, exactly: nothing of the caller's environment is
	// inherited. Lambda's reserved variables (Reserved) are added, and win.
	Env        map[string]string
	Timeout    time.Duration // whole seconds, as Lambda's; default 3s
	MemorySize int           // MB, default 128
	// MaxConcurrency caps the emulators running at once (default 4); further invocations wait.
	MaxConcurrency int
	// StartTimeout bounds an emulator's start, until it listens (default 10s).
	StartTimeout time.Duration
	Region       string // AWS_REGION; default us-east-1
	// The function's credentials, as Lambda gives them from the execution role.
	AccessKeyID, SecretAccessKey, SessionToken string
	Output                                     io.Writer // the function's output, by line; default os.Stderr
}

// ErrClosed is returned by Invoke after Close.
var ErrClosed = errors.New("rie: function closed")

// Error is a function error, as Lambda reports it to the invoker: the function's own error,
// its init error, a timeout (Sandbox.Timedout) or a crash (Runtime.ExitError).
type Error struct {
	Type    string `json:"errorType"`
	Message string `json:"errorMessage"`
}

func (e *Error) Error() string { return e.Type + ": " + e.Message }

// Locate returns the path of the aws-lambda-rie that go.mod's tool line pins, building it
// into Go's build cache when needed (`go tool -n`); dir is a directory of the module, "" for the
// working directory.
func Locate(ctx context.Context, dir string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "tool", "-n", "aws-lambda-rie")
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("rie: go tool -n aws-lambda-rie: %w\n%s", err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

// Function runs invocations of one function on a pool of emulators.
type Function struct {
	cfg Config
	out *lineOutput
	// free holds MaxConcurrency tokens, one per invocation that may run: an idle emulator, or
	// nil for one not started yet (or stopped, to be started again).
	free chan *instance
	// async holds the tokens of asynchronous invocations (Async): one fewer than free's.
	async chan struct{}
	done  chan struct{} // closed by Close

	mu      sync.Mutex
	started []*instance
}

// New prepares a function; emulators start on Start or the first Invoke.
func New(cfg Config) *Function {
	cfg = cfg.withDefaults()
	f := &Function{
		cfg:   cfg,
		out:   &lineOutput{w: cfg.Output, prefix: "[" + cfg.Label + "] "},
		free:  make(chan *instance, cfg.MaxConcurrency),
		async: make(chan struct{}, max(cfg.MaxConcurrency-1, 1)),
		done:  make(chan struct{}),
	}
	for range cfg.MaxConcurrency {
		f.free <- nil
	}
	return f
}

func (c Config) withDefaults() Config {
	if c.Label == "" {
		c.Label = c.Name
	}
	if c.Handler == "" {
		c.Handler = "bootstrap"
	}
	if c.Timeout <= 0 {
		c.Timeout = 3 * time.Second
	}
	if c.MemorySize <= 0 {
		c.MemorySize = 128
	}
	if c.MaxConcurrency <= 0 {
		c.MaxConcurrency = 4
	}
	if c.StartTimeout <= 0 {
		c.StartTimeout = 10 * time.Second
	}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if c.Output == nil {
		c.Output = os.Stderr
	}
	return c
}

// Async is f as an asynchronous caller (EventBridge) reaches it: its invocations may hold all
// of f's emulators but one. Lambda takes asynchronous invocations into a queue of its own and
// runs them as concurrency allows; here a flood of events (a storm of escalations) would
// otherwise hold every emulator, and the function's synchronous callers and the pollers of its
// event sources (the transfer queue's drain) would wait behind the whole flood.
func (f *Function) Async() AsyncFunction { return AsyncFunction{f} }

// AsyncFunction invokes its function as an asynchronous caller (see Function.Async).
type AsyncFunction struct{ f *Function }

// Invoke runs one asynchronous invocation once one of the function's asynchronous slots is free.
func (a AsyncFunction) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	select {
	case a.f.async <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-a.f.async }()
	return a.f.Invoke(ctx, payload)
}

// Name is the function's name.
func (f *Function) Name() string { return f.cfg.Name }

// Invoke runs one invocation and returns the function's response. A function error (its own,
// its init's, a timeout, a crash) is an *Error. When ctx ends first, Invoke returns ctx.Err()
// and the invocation goes on in its emulator until it ends or times out, as in Lambda.
func (f *Function) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	inst, err := f.acquire(ctx)
	if err != nil {
		return nil, err
	}
	type result struct {
		out []byte
		err error
	}
	results := make(chan result, 1)
	go func() {
		out, err := inst.invoke(payload)
		f.free <- inst
		results <- result{out, err}
	}()
	select {
	case r := <-results:
		return r.out, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Start starts one emulator and waits until it listens, so a function that cannot be run at
// all (no bootstrap, no emulator) fails at once. The function's own init waits for the first
// invocation, as Lambda's on-demand init does.
func (f *Function) Start(ctx context.Context) error {
	inst, err := f.acquire(ctx)
	if err != nil {
		return err
	}
	f.free <- inst
	return nil
}

// Close stops every emulator of the function, with its bootstrap, and waits until no
// invocation is in flight.
func (f *Function) Close() error {
	f.mu.Lock()
	select {
	case <-f.done:
		f.mu.Unlock()
		return nil
	default:
		close(f.done)
	}
	started := f.started
	f.mu.Unlock()
	var wg sync.WaitGroup
	for _, inst := range started {
		wg.Go(inst.stop)
	}
	wg.Wait()
	for range f.cfg.MaxConcurrency { // every token back: no invocation in flight
		<-f.free
	}
	return nil
}

// acquire takes a token and returns its emulator, started when it is not running.
func (f *Function) acquire(ctx context.Context) (*instance, error) {
	var inst *instance
	select {
	case inst = <-f.free:
	case <-f.done:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if inst != nil && inst.alive() {
		return inst, nil
	}
	if inst != nil {
		f.forget(inst)
	}
	inst, err := startInstance(f.cfg, f.out)
	if err != nil {
		f.free <- nil
		return nil, fmt.Errorf("rie: starting %s: %w", f.cfg.Name, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-f.done: // closed while it started
		inst.stop()
		f.free <- nil
		return nil, ErrClosed
	default:
	}
	f.started = append(f.started, inst)
	return inst, nil
}

// forget drops an emulator that exited or was stopped, before a new one takes its token.
func (f *Function) forget(inst *instance) {
	inst.stop()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = slices.DeleteFunc(f.started, func(other *instance) bool { return other == inst })
}
