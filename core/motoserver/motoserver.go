// Package motoserver runs moto_server — a local DynamoDB (with streams), Secrets Manager and
// EventBridge — as a child process on a free loopback port. The tests (core/awstest) and the
// local stack (`make run`) both start it here, so the care it takes to never leave a moto behind
// is written once.
package motoserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Missing is the error text on a machine without moto_server: it says how to get it.
const Missing = "moto_server not found: install it with pip install 'moto[server]' cfn-lint"

// ErrMissing is returned by Start when moto_server is not on PATH.
var ErrMissing = errors.New(Missing)

// Server is a running moto_server.
type Server struct {
	URL    string
	cmd    *exec.Cmd
	exited chan struct{}
	out    *lastBytes
}

// Start starts moto_server and waits until it answers HTTP, at most timeout. A port picked free
// can be taken before moto binds it: callers that must not fail for that retry Start.
func Start(ctx context.Context, timeout time.Duration) (*Server, error) {
	path, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, ErrMissing
	}
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("moto_server: finding a free port: %w", err)
	}
	s := &Server{URL: "http://127.0.0.1:" + strconv.Itoa(port), exited: make(chan struct{}), out: &lastBytes{}}
	s.cmd = exec.Command(path, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	// Pdeathsig kills moto when its parent dies without stopping it (a panic, a kill); Setpgid
	// lets Stop kill whatever moto_server's wrapper scripts started. Pdeathsig fires when the
	// thread that forked the child exits, not the process: the Go runtime ends a thread only when
	// a goroutine exits while locked to it, so forking from a locked goroutine that unlocks
	// afterwards ties the child to a thread that lives on.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	runtime.LockOSThread()
	err = s.cmd.Start()
	runtime.UnlockOSThread()
	if err != nil {
		return nil, fmt.Errorf("starting moto_server: %w", err)
	}
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	if err := s.awaitAnswer(ctx, port, timeout); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Server) awaitAnswer(ctx context.Context, port int, timeout time.Duration) error {
	deadline := time.After(timeout)
	client := http.Client{Timeout: time.Second}
	for {
		if resp, err := client.Get(s.URL + "/moto-api/"); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("moto_server exited on port %d: %s", port, s.out)
		case <-deadline:
			return fmt.Errorf("moto_server did not answer on port %d within %s: %s", port, timeout, s.out)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Exited is closed once moto_server has exited.
func (s *Server) Exited() <-chan struct{} { return s.exited }

// Stop kills moto_server's process group and reaps it (waiting at most a few seconds), so no
// process or zombie is left.
func (s *Server) Stop() {
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// lastBytes keeps the end of moto's output, where the reason it stopped is, and forgets the log
// line moto writes for every request.
type lastBytes struct {
	mu  sync.Mutex
	buf []byte
}

func (b *lastBytes) Write(p []byte) (int, error) {
	const keep = 4096
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > keep {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-keep:]...)
	}
	return len(p), nil
}

func (b *lastBytes) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(bytes.TrimSpace(b.buf))
}
