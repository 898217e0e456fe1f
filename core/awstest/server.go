package awstest

import (
	"bytes"
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

// shared is the one moto_server of this test binary.
var shared server

const (
	startAttempts = 3                // a port picked free can be taken before moto binds it
	startTimeout  = 30 * time.Second // moto imports every service on start: seconds, not minutes
)

// server is a moto_server child process, started once.
type server struct {
	once sync.Once
	url  string
	err  error

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd has been waited for
}

// start starts moto_server on the first call and returns its URL, or why it could not start.
func (s *server) start() (string, error) {
	s.once.Do(func() {
		path, err := exec.LookPath("moto_server")
		if err != nil {
			s.err = errors.New(MissingMessage)
			return
		}
		for range startAttempts {
			if s.url, s.err = s.run(path); s.err == nil {
				return
			}
		}
	})
	return s.url, s.err
}

// run starts one moto_server on a free loopback port and waits until it answers HTTP.
func (s *server) run(path string) (string, error) {
	port, err := freePort()
	if err != nil {
		return "", fmt.Errorf("awstest: finding a free port: %w", err)
	}
	out := &lastBytes{}
	cmd := exec.Command(path, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = out, out
	// Pdeathsig kills moto when the test binary dies without reaching Main's stop (a panic, a
	// timeout, a kill). Setpgid lets stop kill whatever moto_server's wrapper scripts started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	// Pdeathsig fires when the thread that forked the child exits, not the process. The Go
	// runtime only ends a thread when a goroutine exits while locked to it, so forking from a
	// locked goroutine that unlocks afterwards leaves the child tied to a thread that lives on.
	runtime.LockOSThread()
	err = cmd.Start()
	runtime.UnlockOSThread()
	if err != nil {
		return "", fmt.Errorf("awstest: starting moto_server: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()

	url := "http://127.0.0.1:" + strconv.Itoa(port)
	deadline := time.After(startTimeout)
	for {
		if answers(url) {
			s.mu.Lock()
			s.cmd, s.exited = cmd, exited
			s.mu.Unlock()
			return url, nil
		}
		select {
		case <-exited:
			return "", fmt.Errorf("awstest: moto_server exited on port %d: %s", port, out.String())
		case <-deadline:
			kill(cmd)
			<-exited
			return "", fmt.Errorf("awstest: moto_server did not answer on port %d within %s", port, startTimeout)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop kills the running moto_server, if any, and reaps it so no zombie is left behind.
func (s *server) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	kill(s.cmd)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
	}
	s.cmd = nil
}

// kill ends moto_server's whole process group.
func kill(cmd *exec.Cmd) {
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}

// freePort asks the kernel for a loopback port nobody is listening on.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// answers reports whether an HTTP server answers at url.
func answers(url string) bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(url + "/moto-api/")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return true
}

// lastBytes keeps the end of moto's output, where the reason it stopped is, and forgets the
// log line moto writes for every request.
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
