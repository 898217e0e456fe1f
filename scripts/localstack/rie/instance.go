package rie

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// invocationsPath is where the emulator takes invocations, as Lambda's Invoke API.
const invocationsPath = "/2015-03-31/functions/function/invocations"

// instance is one emulator process, which runs the bootstrap as its child.
type instance struct {
	cfg     Config
	cmd     *exec.Cmd
	url     string // the invocations URL
	client  *http.Client
	streams []io.Closer // the emulator's stdout and stderr lines
	exited  chan struct{}

	mu     sync.Mutex
	exit   error
	killed bool
}

// startInstance starts an emulator on two free loopback ports, for invocations and for the
// Runtime API, and waits until it listens. A port taken between our choosing it and the
// emulator binding it makes the emulator exit; that is retried with others.
func startInstance(cfg Config, out *lineOutput) (*instance, error) {
	var err error
	for range 3 {
		var inst *instance
		if inst, err = tryStart(cfg, out); err == nil {
			return inst, nil
		}
	}
	return nil, err
}

func tryStart(cfg Config, out *lineOutput) (*instance, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	return startOn(cfg, out, ports[0], ports[1])
}

// startOn starts an emulator taking invocations on invokeAddr and serving the Runtime API on
// runtimeAddr, and waits until it listens on both.
func startOn(cfg Config, out *lineOutput, invokeAddr, runtimeAddr string) (*instance, error) {
	cmd := exec.Command(cfg.Emulator,
		"--log-level", "error",
		"--runtime-interface-emulator-address", invokeAddr,
		"--runtime-api-address", runtimeAddr,
		cfg.Binary)
	cmd.Dir = filepath.Dir(cfg.Binary) // the emulator's working directory is the bootstrap's
	cmd.Env = environment(cfg)
	stdout, stderr := out.stream(), out.stream()
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// Its own process group, so the terminal's Ctrl-C reaches only the stack, which then stops
	// it. Pdeathsig sends SIGTERM when the stack dies without Close: the emulator then stops
	// its bootstrap (which runs in a process group of its own) before it exits.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	cmd.WaitDelay = time.Second
	inst := &instance{
		cfg: cfg, cmd: cmd, url: "http://" + invokeAddr + invocationsPath,
		// The client's timeout frees an invocation an emulator never answers; Lambda's own
		// timeout, which the emulator enforces, comes well before it.
		client:  &http.Client{Transport: &http.Transport{}, Timeout: cfg.Timeout + 2*cfg.StartTimeout},
		streams: []io.Closer{stdout, stderr},
		exited:  make(chan struct{}),
	}
	if err := startLocked(cmd); err != nil {
		return nil, err
	}
	go inst.wait()
	if err := inst.awaitListening(invokeAddr, runtimeAddr); err != nil {
		inst.stop()
		return nil, err
	}
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

// freePorts picks n loopback addresses that are free now.
func freePorts(n int) ([]string, error) {
	var addrs []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs, nil
}

// awaitListening waits until the emulator itself listens on every one of addrs. The emulator
// binds the two independently (the Runtime API from a goroutine of its own), so an invocation
// that finds the first listening may reach an emulator whose other bind then fails: it panics,
// and the invocation is reset. A connect cannot tell whose listener answered (another process
// may have taken the port since we chose it, or a connect to a free loopback port may meet
// itself), so the sockets are read from /proc instead: LISTEN sockets that are the emulator's.
func (i *instance) awaitListening(addrs ...string) error {
	deadline := time.Now().Add(i.cfg.StartTimeout)
	for {
		ok, err := listensOn(i.cmd.Process.Pid, addrs)
		switch {
		case ok:
			return nil
		case err != nil:
			return err
		case !time.Now().Before(deadline):
			return fmt.Errorf("the emulator did not listen on %s within %s", strings.Join(addrs, " and "), i.cfg.StartTimeout)
		}
		select {
		case <-i.exited:
			return fmt.Errorf("the emulator exited: %v", i.exitErr())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// listensOn reports whether process pid holds a listening TCP socket on the port of each of
// addrs (loopback IPv4 addresses, as freePorts gives): its socket inodes, from /proc/<pid>/fd,
// against the LISTEN entries of /proc/<pid>/net/tcp. A process that is gone holds none.
func listensOn(pid int, addrs []string) (bool, error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return false, nil // exited, or not yet readable
	}
	own := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if inode, ok := strings.CutPrefix(link, "socket:["); err == nil && ok {
			own[strings.TrimSuffix(inode, "]")] = true
		}
	}
	table, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/tcp", pid))
	if err != nil {
		return false, nil
	}
	listening := map[uint64]bool{} // ports
	for _, line := range strings.Split(string(table), "\n")[1:] {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
		f := strings.Fields(line)
		if len(f) < 10 || f[3] != "0A" || !own[f[9]] { // 0A: TCP_LISTEN
			continue
		}
		_, hexPort, _ := strings.Cut(f[1], ":")
		if port, err := strconv.ParseUint(hexPort, 16, 16); err == nil {
			listening[port] = true
		}
	}
	for _, addr := range addrs {
		_, p, err := net.SplitHostPort(addr)
		if err != nil {
			return false, err
		}
		port, err := strconv.ParseUint(p, 10, 16)
		if err != nil {
			return false, fmt.Errorf("rie: bad address %q", addr)
		}
		if !listening[port] {
			return false, nil
		}
	}
	return true, nil
}

// wait reaps the emulator.
func (i *instance) wait() {
	err := i.cmd.Wait()
	for _, s := range i.streams {
		s.Close()
	}
	i.mu.Lock()
	i.exit = err
	i.mu.Unlock()
	close(i.exited)
}

func (i *instance) exitErr() error {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.exit
}

// alive reports whether the emulator runs and was not stopped.
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

// stop ends the emulator and its bootstrap. SIGTERM makes the emulator stop the bootstrap,
// even one busy with an invocation. If it has not exited a few seconds later, its children's
// process groups (the bootstrap has one of its own) and its own are killed; it is still
// running then, so its children are still its own.
func (i *instance) stop() {
	i.mu.Lock()
	i.killed = true
	i.mu.Unlock()
	select {
	case <-i.exited:
		return // reaped: its PID may be another process's now
	default:
	}
	pid := i.cmd.Process.Pid
	syscall.Kill(pid, syscall.SIGTERM)
	select {
	case <-i.exited:
		return
	case <-time.After(3 * time.Second):
	}
	for _, child := range childPIDs(pid) {
		syscall.Kill(-child, syscall.SIGKILL)
	}
	syscall.Kill(-pid, syscall.SIGKILL)
	<-i.exited
}

// childPIDs lists the children of a process, from /proc.
func childPIDs(pid int) []int {
	var pids []int
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, t := range tasks {
		data, _ := os.ReadFile(t)
		for _, field := range strings.Fields(string(data)) {
			if n, err := strconv.Atoi(field); err == nil {
				pids = append(pids, n)
			}
		}
	}
	return pids
}

// invoke posts one invocation to the emulator and reads its answer. It is not bound to the
// caller's context: as in Lambda, an invocation runs until it ends or times out.
func (i *instance) invoke(payload []byte) ([]byte, error) {
	resp, err := i.client.Post(i.url, "application/json", bytes.NewReader(payload))
	if err != nil {
		i.stop() // unreachable or wedged: no later invocation may meet it
		return nil, fmt.Errorf("rie: invoking %s: %w", i.cfg.Name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		i.stop()
		return nil, fmt.Errorf("rie: reading %s's answer: %w", i.cfg.Name, err)
	}
	return result(resp.StatusCode, body)
}

// result reads the emulator's answer. It answers 200 for a response, for a function error and
// for a timeout alike, and 502 for a failed init or a crash: a function error is told from a
// response by its shape, as SAM tells them apart.
func result(status int, body []byte) ([]byte, error) {
	switch {
	case status == http.StatusOK && bytes.HasPrefix(body, []byte("Task timed out after ")):
		return nil, &Error{Type: "Sandbox.Timedout", Message: string(body)}
	case status == http.StatusOK:
		if e := functionError(body); e != nil {
			return nil, e
		}
		return body, nil
	case status == http.StatusBadGateway:
		if e := functionError(body); e != nil {
			return nil, e
		}
		return nil, &Error{Type: "Runtime.Unknown", Message: string(body)}
	}
	return nil, fmt.Errorf("rie: the emulator answered %d: %.200s", status, body)
}

// functionError reads an error payload: a JSON object with errorMessage and errorType and no
// other keys than Lambda's error fields.
func functionError(body []byte) *Error {
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil {
		return nil
	}
	for name := range fields {
		switch name {
		case "errorMessage", "errorType", "stackTrace", "cause":
		default:
			return nil
		}
	}
	if fields["errorMessage"] == nil || fields["errorType"] == nil {
		return nil
	}
	e := &Error{}
	if json.Unmarshal(body, e) != nil {
		return nil
	}
	return e
}
