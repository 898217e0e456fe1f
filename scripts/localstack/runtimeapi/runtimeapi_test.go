package runtimeapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"handoff/core/testkit"
	"handoff/scripts/localstack/runtimeapi"
)

// binary is the test function (testdata/fn) built for this machine.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "runtimeapi-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "bootstrap")
	build := exec.Command("go", "build", "-o", binary, "./testdata/fn")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the test function:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// newFunction runs the test function with cfg's settings and closes it after the test.
func newFunction(t *testing.T, cfg runtimeapi.Config) *runtimeapi.Function {
	t.Helper()
	cfg.Name, cfg.Binary = "fn", binary
	if cfg.Output == nil {
		cfg.Output = &testkit.Buffer{}
	}
	f := runtimeapi.New(cfg)
	t.Cleanup(func() { f.Close() })
	return f
}

func invoke(t *testing.T, f *runtimeapi.Function, event string) []byte {
	t.Helper()
	out, err := f.Invoke(context.Background(), []byte(event))
	if err != nil {
		t.Fatalf("Invoke(%s): %v", event, err)
	}
	return out
}

func invokeError(t *testing.T, f *runtimeapi.Function, event string) *runtimeapi.Error {
	t.Helper()
	out, err := f.Invoke(context.Background(), []byte(event))
	var fnErr *runtimeapi.Error
	if !errors.As(err, &fnErr) {
		t.Fatalf("Invoke(%s) = %s, %v; want a function error", event, out, err)
	}
	return fnErr
}

func TestInvokeRoundTrip(t *testing.T) {
	f := newFunction(t, runtimeapi.Config{Timeout: 5 * time.Second})
	if got := invoke(t, f, `{"echo":{"a":[1,"two"]}}`); string(got) != `{"a":[1,"two"]}` {
		t.Errorf("echo = %s", got)
	}
	var lc struct {
		RequestID  string  `json:"requestId"`
		ARN        string  `json:"arn"`
		DeadlineIn float64 `json:"deadlineIn"`
	}
	if err := json.Unmarshal(invoke(t, f, `{"context":true}`), &lc); err != nil {
		t.Fatal(err)
	}
	if len(lc.RequestID) != 36 || lc.ARN != "arn:aws:lambda:us-east-1:123456789012:function:fn" || lc.ARN != f.ARN() {
		t.Errorf("context = %+v", lc)
	}
	if lc.DeadlineIn <= 0 || lc.DeadlineIn > 5 {
		t.Errorf("deadline in %vs, want within the 5s timeout", lc.DeadlineIn)
	}
}

func TestEnvironment(t *testing.T) {
	t.Setenv("HANDOFF_ONLY_IN_THE_STACK", "leaked")
	f := newFunction(t, runtimeapi.Config{MemorySize: 256, Env: map[string]string{"TABLE_NAME": "sessions", "AWS_LAMBDA_FUNCTION_NAME": "spoofed"}})
	for name, want := range map[string]string{
		"TABLE_NAME":                      `"sessions"`,
		"AWS_LAMBDA_FUNCTION_NAME":        `"fn"`,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": `"256"`,
		"_HANDLER":                        `"bootstrap"`,
		"AWS_REGION":                      `"us-east-1"`,
		"LAMBDA_TASK_ROOT":                strconv.Quote(filepath.Dir(binary)),
		"HANDOFF_ONLY_IN_THE_STACK":       `""`,
	} {
		if got := invoke(t, f, `{"env":"`+name+`"}`); string(got) != want {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}
	if got := invoke(t, f, `{"env":"AWS_LAMBDA_RUNTIME_API"}`); !strings.HasPrefix(string(got), `"127.0.0.1:`) {
		t.Errorf("AWS_LAMBDA_RUNTIME_API = %s, want a loopback address", got)
	}
}

func TestFunctionError(t *testing.T) {
	f := newFunction(t, runtimeapi.Config{})
	e := invokeError(t, f, `{"fail":"vendor down"}`)
	if e.Type != "errorString" || e.Message != "vendor down" {
		t.Errorf("error = %+v", e)
	}
	var payload map[string]any
	if err := json.Unmarshal(e.JSON(), &payload); err != nil || payload["errorMessage"] != "vendor down" {
		t.Errorf("JSON = %s", e.JSON())
	}
	if got := invoke(t, f, `{"echo":1}`); string(got) != "1" {
		t.Errorf("after an error, echo = %s", got)
	}
}

func TestTimeoutKillsTheProcess(t *testing.T) {
	f := newFunction(t, runtimeapi.Config{Timeout: time.Second})
	pidFile := filepath.Join(t.TempDir(), "pid")
	e := invokeError(t, f, `{"hang":true,"pidFile":"`+pidFile+`"}`)
	if e.Type != "Sandbox.Timedout" || !strings.Contains(e.Message, "Task timed out after 1.00 seconds") {
		t.Errorf("error = %+v", e)
	}
	awaitGone(t, readPID(t, pidFile))
	if got := invoke(t, f, `{"echo":"again"}`); string(got) != `"again"` {
		t.Errorf("after a timeout, echo = %s", got)
	}
}

func TestCrashedProcessIsReplaced(t *testing.T) {
	f := newFunction(t, runtimeapi.Config{})
	e := invokeError(t, f, `{"crash":true}`)
	if e.Type != "Runtime.ExitError" || !strings.Contains(e.Message, "exit status 3") {
		t.Errorf("error = %+v", e)
	}
	if got := invoke(t, f, `{"echo":"again"}`); string(got) != `"again"` {
		t.Errorf("after a crash, echo = %s", got)
	}
}

func TestInitError(t *testing.T) {
	f := newFunction(t, runtimeapi.Config{Env: map[string]string{"FAIL_INIT": "no TABLE_NAME"}})
	err := f.Warm(context.Background())
	var e *runtimeapi.Error
	if !errors.As(err, &e) || e.Type != "ConfigError" || e.Message != "no TABLE_NAME" {
		t.Errorf("Warm = %v", err)
	}
	if e := invokeError(t, f, `{}`); e.Type != "ConfigError" {
		t.Errorf("Invoke error = %+v", e)
	}
}

func TestConcurrentInvocationsRunInSeparateProcesses(t *testing.T) {
	f := newFunction(t, runtimeapi.Config{MaxConcurrency: 4})
	// Each answer waits until three processes joined the barrier: one process could not.
	pids, _ := barrier(t, f, 3, 3)
	if len(pids) != 3 {
		t.Errorf("processes = %v, want 3", pids)
	}
}

func TestConcurrencyIsCapped(t *testing.T) {
	f := newFunction(t, runtimeapi.Config{MaxConcurrency: 2})
	pids, _ := barrier(t, f, 5, 2)
	if len(pids) != 2 {
		t.Errorf("processes = %v, want exactly 2 for 5 invocations capped at 2", pids)
	}
}

func TestCallerGivingUpDoesNotLeakTheProcess(t *testing.T) {
	f := newFunction(t, runtimeapi.Config{MaxConcurrency: 1, Timeout: time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	pidFile := filepath.Join(t.TempDir(), "pid")
	done := make(chan error)
	go func() {
		_, err := f.Invoke(ctx, []byte(`{"hang":true,"pidFile":"`+pidFile+`"}`))
		done <- err
	}()
	pid := awaitPID(t, pidFile)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Invoke = %v, want context.Canceled", err)
	}
	// The hung invocation holds the only slot until its timeout kills it; then the next runs.
	if got := invoke(t, f, `{"echo":2}`); string(got) != "2" {
		t.Errorf("echo = %s", got)
	}
	awaitGone(t, pid)
}

func TestCloseLeavesNoProcessOrPort(t *testing.T) {
	f := newFunction(t, runtimeapi.Config{})
	pids, addresses := barrier(t, f, 2, 2)
	grandchild, err := strconv.Atoi(string(invoke(t, f, `{"spawn":true}`)))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range append(pids, grandchild) {
		awaitGone(t, pid)
	}
	for _, address := range addresses {
		if conn, err := net.Dial("tcp", address); err == nil {
			conn.Close()
			t.Errorf("%s still accepts connections after Close", address)
		}
	}
	if _, err := f.Invoke(context.Background(), []byte(`{}`)); !errors.Is(err, runtimeapi.ErrClosed) {
		t.Errorf("Invoke after Close = %v, want ErrClosed", err)
	}
}

func TestOutputIsPrefixedByLine(t *testing.T) {
	out := &testkit.Buffer{}
	f := newFunction(t, runtimeapi.Config{Output: out})
	invoke(t, f, `{"print":"hello\nwor"}`)
	invoke(t, f, `{"print":"ld\n"}`)
	f.Close()
	if got := out.String(); !strings.Contains(got, "[fn] hello\n[fn] world\n") {
		t.Errorf("output = %q", got)
	}
}

// barrier runs n invocations at once that each wait until count processes joined, and returns
// the distinct PIDs and Runtime API addresses that answered.
func barrier(t *testing.T, f *runtimeapi.Function, n, count int) (pids []int, addresses []string) {
	t.Helper()
	event := fmt.Sprintf(`{"barrier":%q,"count":%d}`, t.TempDir(), count)
	var wg sync.WaitGroup
	answers := make(chan string, n)
	for range n {
		wg.Go(func() {
			out, err := f.Invoke(context.Background(), []byte(event))
			if err != nil {
				t.Error(err)
				return
			}
			var answer string
			json.Unmarshal(out, &answer)
			answers <- answer
		})
	}
	wg.Wait()
	close(answers)
	seen := map[string]bool{}
	for answer := range answers {
		if seen[answer] {
			continue
		}
		seen[answer] = true
		pid, address, _ := strings.Cut(answer, " ")
		n, _ := strconv.Atoi(pid)
		pids, addresses = append(pids, n), append(addresses, address)
	}
	return pids, addresses
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(string(data))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// awaitPID waits for the function to write its PID file.
func awaitPID(t *testing.T, path string) int {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if data, err := os.ReadFile(path); err == nil && len(data) > 0 {
			return readPID(t, path)
		}
	}
	t.Fatalf("no PID in %s", path)
	return 0
}

// awaitGone waits for a process to end; a zombie counts as gone (it has stopped running, and
// the container's init may be slow to reap an orphan).
func awaitGone(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		if _, rest, _ := bytes.Cut(stat, []byte(") ")); len(rest) > 0 && rest[0] == 'Z' {
			return
		}
	}
	t.Errorf("process %d still runs", pid)
}
