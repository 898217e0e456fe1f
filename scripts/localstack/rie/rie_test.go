package rie_test

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
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"handoff/core/testkit"
	"handoff/scripts/localstack/rie"
)

// binary is the test function (testdata/fn) built for this machine; emulator is aws-lambda-rie.
var binary, emulator string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "rie-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "bootstrap")
	build := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", binary, "./testdata/fn")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the test function:", err)
		return 1
	}
	if emulator, err = rie.Locate(context.Background(), "."); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// newFunction runs the test function with cfg's settings and closes it after the test.
func newFunction(t *testing.T, cfg rie.Config) *rie.Function {
	t.Helper()
	cfg.Name, cfg.Binary, cfg.Emulator = "fn", binary, emulator
	if cfg.Output == nil {
		cfg.Output = &testkit.Buffer{}
	}
	f := rie.New(cfg)
	t.Cleanup(func() { f.Close() })
	return f
}

func invoke(t *testing.T, f *rie.Function, event string) []byte {
	t.Helper()
	out, err := f.Invoke(context.Background(), []byte(event))
	if err != nil {
		t.Fatalf("Invoke(%s): %v", event, err)
	}
	return out
}

func invokeError(t *testing.T, f *rie.Function, event string) *rie.Error {
	t.Helper()
	out, err := f.Invoke(context.Background(), []byte(event))
	var fnErr *rie.Error
	if !errors.As(err, &fnErr) {
		t.Fatalf("Invoke(%s) = %s, %v; want a function error", event, out, err)
	}
	return fnErr
}

func TestInvokeRoundTrip(t *testing.T) {
	f := newFunction(t, rie.Config{Timeout: 5 * time.Second})
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
	if len(lc.RequestID) != 36 || !strings.HasSuffix(lc.ARN, ":function:fn") {
		t.Errorf("context = %+v", lc)
	}
	if lc.DeadlineIn <= 0 || lc.DeadlineIn > 5 {
		t.Errorf("deadline in %vs, want within the 5s timeout", lc.DeadlineIn)
	}
}

// TestEnvironmentIsExactlyTheFunctionsAndLambdas: the function sees its own variables and
// Lambda's reserved ones, nothing of the caller's environment, and cannot spoof a reserved one.
func TestEnvironmentIsExactlyTheFunctionsAndLambdas(t *testing.T) {
	t.Setenv("HANDOFF_ONLY_IN_THE_STACK", "leaked")
	f := newFunction(t, rie.Config{
		MemorySize: 256, Region: "eu-west-1", AccessKeyID: "AKID", SecretAccessKey: "secret",
		Env: map[string]string{"TABLE_NAME": "sessions", "AWS_LAMBDA_FUNCTION_NAME": "spoofed"},
	})
	var environ []string
	if err := json.Unmarshal(invoke(t, f, `{"environ":true}`), &environ); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		got[name] = value
		if name != "TABLE_NAME" && !slices.Contains(rie.Reserved, name) {
			t.Errorf("%s=%s is neither the function's nor Lambda's", name, value)
		}
	}
	for name, want := range map[string]string{
		"TABLE_NAME":                      "sessions",
		"AWS_LAMBDA_FUNCTION_NAME":        "fn",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
		"AWS_REGION":                      "eu-west-1",
		"AWS_ACCESS_KEY_ID":               "AKID",
		"AWS_SECRET_ACCESS_KEY":           "secret",
		"_HANDLER":                        "bootstrap",
		"LAMBDA_TASK_ROOT":                filepath.Dir(binary),
	} {
		if got[name] != want {
			t.Errorf("%s = %q, want %q", name, got[name], want)
		}
	}
	if !strings.HasPrefix(got["AWS_LAMBDA_RUNTIME_API"], "127.0.0.1:") {
		t.Errorf("AWS_LAMBDA_RUNTIME_API = %q, want a loopback address", got["AWS_LAMBDA_RUNTIME_API"])
	}
}

func TestFunctionError(t *testing.T) {
	f := newFunction(t, rie.Config{})
	e := invokeError(t, f, `{"fail":"vendor down"}`)
	if e.Type != "errorString" || e.Message != "vendor down" {
		t.Errorf("error = %+v", e)
	}
	// A response shaped like an error but with other fields is a response.
	if got := invoke(t, f, `{"echo":{"errorMessage":"m","errorType":"t","statusCode":200}}`); !strings.Contains(string(got), "statusCode") {
		t.Errorf("echo = %s", got)
	}
}

func TestTimeoutEndsTheInvocation(t *testing.T) {
	f := newFunction(t, rie.Config{Timeout: time.Second})
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

func TestCrashIsAnExitError(t *testing.T) {
	f := newFunction(t, rie.Config{})
	e := invokeError(t, f, `{"crash":true}`)
	if e.Type != "Runtime.ExitError" || !strings.Contains(e.Message, "exit status 3") {
		t.Errorf("error = %+v", e)
	}
	if got := invoke(t, f, `{"echo":"again"}`); string(got) != `"again"` {
		t.Errorf("after a crash, echo = %s", got)
	}
}

// TestInitErrorIsTheInvocationsError: an init that reports its error through the Runtime API
// fails the invocation with that error, and the next one, which tries the init again.
func TestInitErrorIsTheInvocationsError(t *testing.T) {
	f := newFunction(t, rie.Config{Env: map[string]string{"FAIL_INIT": "no TABLE_NAME"}})
	if err := f.Start(context.Background()); err != nil {
		t.Fatalf("Start = %v: the emulator starts; the init waits for the first invocation", err)
	}
	for range 2 {
		if e := invokeError(t, f, `{}`); e.Type != "ConfigError" || e.Message != "no TABLE_NAME" {
			t.Errorf("Invoke error = %+v", e)
		}
	}
}

func TestStartFailsWithoutTheEmulator(t *testing.T) {
	f := rie.New(rie.Config{Name: "fn", Binary: binary, Emulator: filepath.Join(t.TempDir(), "none"), Output: &testkit.Buffer{}})
	defer f.Close()
	if err := f.Start(context.Background()); err == nil {
		t.Error("Start succeeded with no emulator")
	}
}

func TestConcurrentInvocationsRunInSeparateEmulators(t *testing.T) {
	f := newFunction(t, rie.Config{MaxConcurrency: 4})
	// Each answer waits until three processes joined the barrier: one process could not.
	pids, _ := barrier(t, f, 3, 3)
	if len(pids) != 3 {
		t.Errorf("processes = %v, want 3", pids)
	}
}

func TestConcurrencyIsCapped(t *testing.T) {
	f := newFunction(t, rie.Config{MaxConcurrency: 2})
	pids, _ := barrier(t, f, 5, 2)
	if len(pids) != 2 {
		t.Errorf("processes = %v, want exactly 2 for 5 invocations capped at 2", pids)
	}
}

func TestCallerGivingUpDoesNotLeakTheInvocation(t *testing.T) {
	f := newFunction(t, rie.Config{MaxConcurrency: 1, Timeout: time.Second})
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
	// The hung invocation holds the only slot until its timeout ends it; then the next runs.
	if got := invoke(t, f, `{"echo":2}`); string(got) != "2" {
		t.Errorf("echo = %s", got)
	}
	awaitGone(t, pid)
}

func TestCloseLeavesNoProcessOrPort(t *testing.T) {
	f := newFunction(t, rie.Config{Timeout: 30 * time.Second})
	pids, addresses := barrier(t, f, 2, 2)
	grandchild, err := strconv.Atoi(string(invoke(t, f, `{"spawn":true}`)))
	if err != nil {
		t.Fatal(err)
	}
	// One invocation still running when Close comes.
	pidFile := filepath.Join(t.TempDir(), "pid")
	go f.Invoke(context.Background(), []byte(`{"hang":true,"pidFile":"`+pidFile+`"}`))
	hung := awaitPID(t, pidFile)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range append(pids, grandchild, hung) {
		awaitGone(t, pid)
	}
	for _, address := range addresses {
		if conn, err := net.Dial("tcp", address); err == nil {
			conn.Close()
			t.Errorf("%s still accepts connections after Close", address)
		}
	}
	if _, err := f.Invoke(context.Background(), []byte(`{}`)); !errors.Is(err, rie.ErrClosed) {
		t.Errorf("Invoke after Close = %v, want ErrClosed", err)
	}
}

func TestOutputIsPrefixedByLineWithoutPlatformLines(t *testing.T) {
	out := &testkit.Buffer{}
	f := newFunction(t, rie.Config{Output: out})
	invoke(t, f, `{"print":"hello\nworld\n"}`)
	invoke(t, f, `{"print":"unfinished"}`)
	f.Close()
	got := out.String()
	if !strings.Contains(got, "[fn] hello\n[fn] world\n") || !strings.Contains(got, "[fn] unfinished\n") {
		t.Errorf("output = %q", got)
	}
	if strings.Contains(got, "RequestId:") {
		t.Errorf("output has the emulator's START/END/REPORT lines: %q", got)
	}
}

// barrier runs n invocations at once that each wait until count processes joined, and returns
// the distinct PIDs and Runtime API addresses that answered.
func barrier(t *testing.T, f *rie.Function, n, count int) (pids []int, addresses []string) {
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

// Asynchronous invocations (EventBridge's) may hold all the emulators but one: with two, a
// second asynchronous invocation waits while the first runs, and a synchronous one still runs.
func TestAsyncInvocationsLeaveAnEmulatorFree(t *testing.T) {
	f := newFunction(t, rie.Config{MaxConcurrency: 2, Timeout: 30 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pidFile := filepath.Join(t.TempDir(), "pid")
	go f.Async().Invoke(ctx, []byte(`{"hang":true,"pidFile":"`+pidFile+`"}`))
	awaitPID(t, pidFile)
	second := make(chan error, 1)
	go func() {
		_, err := f.Async().Invoke(ctx, []byte(`{"echo":1}`))
		second <- err
	}()
	if got := invoke(t, f, `{"echo":2}`); string(got) != "2" {
		t.Errorf("synchronous echo = %s", got)
	}
	select {
	case err := <-second:
		t.Errorf("a second asynchronous invocation ran while the first held the asynchronous slot (%v)", err)
	case <-time.After(300 * time.Millisecond):
	}
}
