package load

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Stack is a local stack started for a run: `go run ./scripts/localstack` on a free loopback
// port, with the Kore.ai sandbox's per-minute limit off (one sandbox is one account; a load test
// sends more than Kore's 60 a minute).
type Stack struct {
	URL string
	// PID is the `go run` process; the functions' processes are its descendants.
	PID    int
	cmd    *exec.Cmd
	exited chan struct{}
	log    *os.File
}

// UnpacedRates is the environment of a load test's stack: the load test measures Handoff under
// concurrency, not the vendors' rate limits, so its stack paces every vendor far above what the
// load sends, and nothing waits in the queue (the storm has rates of its own).
const UnpacedRates = "HANDOFF_LOCAL_VENDOR_RATES=bitrix24=100/s:50, liveperson=100/s:50, koreai=6000/m:50"

// StartStack starts the stack from the repository at root and waits until it serves, at most
// timeout (the first start compiles the stack and the functions). Its output goes to a file
// (LogPath). Stop it with Stop. env adds to, or overrides, the stack's environment (the storm's
// rates).
func StartStack(ctx context.Context, root string, timeout time.Duration, env ...string) (*Stack, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	log, err := os.CreateTemp("", "handoff-load-stack-*.log")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("go", "run", "./scripts/localstack")
	cmd.Dir = root
	cmd.Env = append(append(os.Environ(), "PORT="+strconv.Itoa(port), "HANDOFF_LOCAL_KOREAI_RATE=-1"), env...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	// Its own process group, so Stop's signal reaches go run and the stack it runs; Pdeathsig
	// (from a thread-locked goroutine, as the stack does for its children) ends it with us.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	runtime.LockOSThread()
	err = cmd.Start()
	runtime.UnlockOSThread()
	if err != nil {
		log.Close()
		return nil, fmt.Errorf("starting the local stack: %w", err)
	}
	s := &Stack{PID: cmd.Process.Pid, cmd: cmd, exited: make(chan struct{}), log: log}
	ready := make(chan string, 1)
	go s.copyOutput(pr, ready)
	go func() { cmd.Wait(); pw.Close(); close(s.exited) }()

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case s.URL = <-ready:
		return s, nil
	case <-s.exited:
		return nil, fmt.Errorf("the local stack exited before serving; its output: %s\n%s", log.Name(), tail(log.Name()))
	case <-timer.C:
		err = fmt.Errorf("the local stack did not serve within %s; its output: %s", timeout, log.Name())
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.Stop()
	return nil, err
}

var servesAt = regexp.MustCompile(`Handoff runs at (http://127\.0\.0\.1:\d+)`)

// copyOutput writes the stack's output to its log, and sends its URL once the banner names it.
func (s *Stack) copyOutput(r io.Reader, ready chan<- string) {
	var once sync.Once
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(s.log, line)
		if m := servesAt.FindStringSubmatch(line); m != nil {
			once.Do(func() { ready <- m[1] })
		}
	}
	_, _ = io.Copy(io.Discard, r)
}

// LogPath is the file holding the stack's output.
func (s *Stack) LogPath() string { return s.log.Name() }

// RemoveLog deletes the stack's output, after a run that needs no looking into.
func (s *Stack) RemoveLog() { _ = os.Remove(s.log.Name()) }

// Stop interrupts the stack as Ctrl-C would (it stops moto, the sandboxes and the functions),
// waits for it, and kills its process group if it has not ended within 20 s.
func (s *Stack) Stop() error {
	defer s.log.Close()
	_ = syscall.Kill(-s.PID, syscall.SIGINT)
	deadline := time.After(20 * time.Second)
	select {
	case <-s.exited:
	case <-deadline:
	}
	// go run may end before the stack it runs has stopped: wait for the whole group.
	for syscall.Kill(-s.PID, 0) == nil {
		select {
		case <-deadline:
			_ = syscall.Kill(-s.PID, syscall.SIGKILL)
			<-s.exited
			return errors.New("the local stack did not stop within 20 s of an interrupt and was killed")
		case <-time.After(50 * time.Millisecond):
		}
	}
	<-s.exited
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tail is the end of a file, for an error message.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	s := strings.TrimSpace(string(b))
	if len(s) > 2000 {
		s = "…" + s[len(s)-2000:]
	}
	return s
}
