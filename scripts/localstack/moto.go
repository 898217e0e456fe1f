package main

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

// motoHint is how to get moto_server, printed when it is missing.
const motoHint = "moto_server not found: install it with pip install 'moto[server]' cfn-lint"

// moto is a moto_server child process: the local DynamoDB (with streams) and Secrets Manager.
type moto struct {
	URL    string
	cmd    *exec.Cmd
	exited chan struct{}
}

// startMoto starts moto_server on a free loopback port and waits until it answers.
func startMoto(ctx context.Context) (*moto, error) {
	path, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, errors.New(motoHint)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	out := &tail{}
	cmd := exec.Command(path, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group (Ctrl-C reaches the stack, which then stops it, and moto's wrapper
	// scripts go with it), and Pdeathsig for a stack that dies without stopping it. The fork is
	// made from a thread-locked goroutine so Pdeathsig follows a thread that lives on.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	runtime.LockOSThread()
	err = cmd.Start()
	runtime.UnlockOSThread()
	if err != nil {
		return nil, fmt.Errorf("starting moto_server: %w", err)
	}
	m := &moto{URL: "http://127.0.0.1:" + strconv.Itoa(port), cmd: cmd, exited: make(chan struct{})}
	go func() { cmd.Wait(); close(m.exited) }()
	if err := m.awaitAnswer(ctx, out); err != nil {
		m.stop()
		return nil, err
	}
	return m, nil
}

func (m *moto) awaitAnswer(ctx context.Context, out *tail) error {
	deadline := time.After(30 * time.Second)
	for {
		if resp, err := http.Get(m.URL + "/moto-api/"); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-m.exited:
			return fmt.Errorf("moto_server exited: %s", out)
		case <-deadline:
			return fmt.Errorf("moto_server did not answer within 30s: %s", out)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop kills moto_server's process group and reaps it.
func (m *moto) stop() {
	syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
	<-m.exited
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tail keeps the end of moto's output, where the reason it stopped is.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 4096 {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-4096:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.TrimSpace(t.buf))
}
