package runtimeapi

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// instance is one bootstrap process and the Runtime API server it talks to.
type instance struct {
	cfg      Config
	arn      string
	listener net.Listener
	server   *http.Server
	cmd      *exec.Cmd
	streams  []io.Closer // the process's stdout and stderr lines

	queue      chan *invocation // the invocation waiting for the process's next request
	ready      chan struct{}    // closed on the process's first request for work
	readyOnce  sync.Once
	initFailed chan *Error   // the error the process reported at /runtime/init/error
	exited     chan struct{} // closed once the process has exited and been reaped
	exitErr    error

	mu      sync.Mutex
	current *invocation // handed to the process, not yet answered
	killed  bool
}

// startInstance listens on a loopback port and starts the bootstrap pointed at it.
func startInstance(cfg Config, arn string, out *lineOutput) (*instance, error) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	inst := &instance{
		cfg:        cfg,
		arn:        arn,
		listener:   listener,
		queue:      make(chan *invocation, 1),
		ready:      make(chan struct{}),
		initFailed: make(chan *Error, 1),
		exited:     make(chan struct{}),
	}
	inst.server = &http.Server{Handler: inst.routes(), ReadHeaderTimeout: 10 * time.Second}
	go inst.server.Serve(listener)

	cmd := exec.Command(cfg.Binary)
	cmd.Dir = filepath.Dir(cfg.Binary)
	cmd.Env = environment(cfg, listener.Addr().String())
	stdout, stderr := out.stream(), out.stream()
	cmd.Stdout, cmd.Stderr = stdout, stderr
	inst.streams = []io.Closer{stdout, stderr}
	// Its own process group, so a kill takes whatever the function started too, and so the
	// terminal's Ctrl-C reaches only the stack, which then kills the group. Pdeathsig kills it
	// when the stack dies without Close.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = time.Second
	inst.cmd = cmd
	if err := startLocked(cmd); err != nil {
		inst.server.Close()
		return nil, err
	}
	go inst.wait()
	return inst, nil
}

// startLocked starts cmd from a goroutine locked to its thread. Pdeathsig fires when the thread
// that forked the child exits; the Go runtime only ends a thread when a goroutine exits while
// locked to it, so a fork from a goroutine that unlocks afterwards ties the child to a thread
// that lives as long as the stack.
func startLocked(cmd *exec.Cmd) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return cmd.Start()
}

// wait reaps the process, then stops its server so the port is free again.
func (i *instance) wait() {
	err := i.cmd.Wait()
	for _, s := range i.streams {
		s.Close()
	}
	i.mu.Lock()
	i.exitErr = err
	i.mu.Unlock()
	i.server.Close()
	close(i.exited)
}

// alive reports whether the process is running and was not killed.
func (i *instance) alive() bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	select {
	case <-i.exited:
		return false
	default:
		return !i.killed
	}
}

// kill ends the process's whole group.
func (i *instance) kill() {
	i.mu.Lock()
	i.killed = true
	i.mu.Unlock()
	syscall.Kill(-i.cmd.Process.Pid, syscall.SIGKILL)
}

// awaitReady waits for the process's first request for work.
func (i *instance) awaitReady(ctx context.Context) error {
	timer := time.NewTimer(i.cfg.InitTimeout)
	defer timer.Stop()
	select {
	case <-i.ready:
		return nil
	case e := <-i.initFailed:
		i.kill()
		return e
	case <-i.exited:
		return i.exitError("init")
	case <-timer.C:
		i.kill()
		return &Error{Type: "Runtime.InitTimeout", Message: fmt.Sprintf("init did not finish within %s", i.cfg.InitTimeout)}
	case <-ctx.Done():
		i.kill()
		return ctx.Err()
	}
}

// invoke hands inv to the process and waits for its answer, its exit or its deadline.
func (i *instance) invoke(inv *invocation) result {
	i.queue <- inv
	if err := i.awaitStart(inv); err != nil {
		return result{err: err}
	}
	timer := time.NewTimer(time.Until(inv.deadline))
	defer timer.Stop()
	select {
	case r := <-inv.done:
		return r
	case <-i.exited:
		select {
		case r := <-inv.done: // answered, then exited
			return r
		default:
			return result{err: i.exitError(inv.id)}
		}
	case <-timer.C:
		i.kill()
		return result{err: timeoutError(inv.id, i.cfg.Timeout)}
	}
}

// awaitStart waits until the process took inv, which a new process does after its init.
func (i *instance) awaitStart(inv *invocation) error {
	timer := time.NewTimer(i.cfg.InitTimeout)
	defer timer.Stop()
	select {
	case <-inv.started:
		return nil
	case e := <-i.initFailed:
		i.kill()
		return e
	case <-i.exited:
		return i.exitError(inv.id)
	case <-timer.C:
		i.kill()
		return &Error{Type: "Runtime.InitTimeout", Message: fmt.Sprintf("RequestId: %s Error: the runtime did not ask for work within %s", inv.id, i.cfg.InitTimeout)}
	}
}

// exitError describes a process that exited (or was killed) before answering.
func (i *instance) exitError(requestID string) *Error {
	<-i.exited
	i.mu.Lock()
	defer i.mu.Unlock()
	reason := "exit status 0"
	if i.exitErr != nil {
		reason = i.exitErr.Error()
	}
	return &Error{Type: "Runtime.ExitError", Message: fmt.Sprintf("RequestId: %s Error: Runtime exited with error: %s", requestID, reason)}
}
