// Package runtimeapi runs a Lambda function's bootstrap binary the way Lambda does: as a child
// process that pulls its invocations from the documented Lambda Runtime API
// (/2018-06-01/runtime/invocation/next, …/response, …/error, /runtime/init/error), served here on
// a loopback port per process.
//
// Like Lambda, a process handles one invocation at a time; concurrent invocations start more
// processes, up to a cap. A process that overruns the function's Timeout is killed, a crashed one
// is replaced on the next invocation, and Close kills every process group it started.
package runtimeapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Config describes one function.
type Config struct {
	Name       string // the function name: AWS_LAMBDA_FUNCTION_NAME
	Label      string // prefixes each line of the processes' output; default Name
	Binary     string // path of the bootstrap executable; its directory is LAMBDA_TASK_ROOT
	Handler    string // _HANDLER; default "bootstrap"
	Env        map[string]string
	Timeout    time.Duration // default 3s, as Lambda
	MemorySize int           // MB, default 128
	// MaxConcurrency caps the processes running at once (default 4); further invocations wait.
	MaxConcurrency int
	// InitTimeout bounds a new process's start, up to its first request for work (default 10s,
	// as Lambda's init phase).
	InitTimeout time.Duration
	Region      string    // default us-east-1
	AccountID   string    // default 123456789012
	Output      io.Writer // where the processes' stdout and stderr go, by line; default os.Stderr
}

// ErrClosed is returned by Invoke after Close.
var ErrClosed = errors.New("runtimeapi: function closed")

// Function runs invocations of one function on a pool of processes.
type Function struct {
	cfg   Config
	slots chan struct{} // one per invocation in flight
	out   *lineOutput

	mu     sync.Mutex
	idle   []*instance
	all    map[*instance]struct{}
	closed bool
	busy   sync.WaitGroup // invocations in flight, including abandoned ones
}

// New prepares a function; processes start on the first Invoke or Warm.
func New(cfg Config) *Function {
	cfg = cfg.withDefaults()
	return &Function{
		cfg:   cfg,
		slots: make(chan struct{}, cfg.MaxConcurrency),
		out:   &lineOutput{w: cfg.Output, prefix: "[" + cfg.Label + "] "},
		all:   map[*instance]struct{}{},
	}
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
	if c.InitTimeout <= 0 {
		c.InitTimeout = 10 * time.Second
	}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if c.AccountID == "" {
		c.AccountID = "123456789012"
	}
	if c.Output == nil {
		c.Output = os.Stderr
	}
	return c
}

// Name is the function's name.
func (f *Function) Name() string { return f.cfg.Name }

// ARN is the function's ARN in the local account, as Lambda-Runtime-Invoked-Function-Arn.
func (f *Function) ARN() string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", f.cfg.Region, f.cfg.AccountID, f.cfg.Name)
}

// Invoke runs one invocation and returns the function's response. A function error (one the
// function reported, a timeout, a crash) is an *Error. When ctx ends first, Invoke returns
// ctx.Err() and the invocation goes on in its process until it ends or times out, as in Lambda.
func (f *Function) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	inst, err := f.acquire(ctx)
	if err != nil {
		return nil, err
	}
	results := make(chan result, 1)
	go func() {
		r := inst.invoke(newInvocation(payload))
		f.release(inst)
		results <- r
	}()
	select {
	case r := <-results:
		return r.payload, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Warm starts one process and waits until it asks for work, so the function's init errors show
// at once and the first invocation does not pay for the start.
func (f *Function) Warm(ctx context.Context) error {
	inst, err := f.acquire(ctx)
	if err != nil {
		return err
	}
	defer f.release(inst)
	return inst.awaitReady(ctx)
}

// Close kills every process of the function, with its process group, and waits for them.
func (f *Function) Close() error {
	f.mu.Lock()
	f.closed = true
	instances := make([]*instance, 0, len(f.all))
	for inst := range f.all {
		instances = append(instances, inst)
	}
	f.mu.Unlock()
	for _, inst := range instances {
		inst.kill()
	}
	for _, inst := range instances {
		<-inst.exited
	}
	f.busy.Wait()
	return nil
}

// acquire takes a slot and an idle process, starting one when none is idle.
func (f *Function) acquire(ctx context.Context) (*instance, error) {
	select {
	case f.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		<-f.slots
		return nil, ErrClosed
	}
	f.busy.Add(1)
	for len(f.idle) > 0 {
		inst := f.idle[len(f.idle)-1]
		f.idle = f.idle[:len(f.idle)-1]
		if inst.alive() {
			f.mu.Unlock()
			return inst, nil
		}
	}
	f.mu.Unlock()
	inst, err := f.start()
	if err != nil {
		f.busy.Done()
		<-f.slots
		return nil, err
	}
	return inst, nil
}

// release returns a healthy process to the idle pool and frees the slot.
func (f *Function) release(inst *instance) {
	f.mu.Lock()
	if inst.alive() && !f.closed {
		f.idle = append(f.idle, inst)
	} else {
		inst.kill()
	}
	f.mu.Unlock()
	<-f.slots
	f.busy.Done()
}

// start launches a process and registers it, so Close finds it.
func (f *Function) start() (*instance, error) {
	inst, err := startInstance(f.cfg, f.ARN(), f.out)
	if err != nil {
		return nil, fmt.Errorf("runtimeapi: starting %s: %w", f.cfg.Name, err)
	}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		inst.kill()
		<-inst.exited
		return nil, ErrClosed
	}
	f.all[inst] = struct{}{}
	f.mu.Unlock()
	go func() {
		<-inst.exited
		f.forget(inst)
	}()
	return inst, nil
}

// forget drops an exited process from the pool.
func (f *Function) forget(inst *instance) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.all, inst)
	for i, idle := range f.idle {
		if idle == inst {
			f.idle = append(f.idle[:i], f.idle[i+1:]...)
			break
		}
	}
}
