package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"handoff/scripts/localstack/rie"
	"handoff/scripts/localstack/template"
)

// functions are the template's functions, in its order.
func functions() ([]template.Function, error) {
	tmpl, err := template.Load("template.yaml", template.Options{})
	if err != nil {
		return nil, err
	}
	return tmpl.Functions, nil
}

// binarySizes builds the arm64 bootstraps with `make build` (the flags SAM's build uses) and
// measures each.
func binarySizes(ctx context.Context) ([]line, error) {
	fns, err := functions()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "make", "build")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("make build: %w\n%s", err, out)
	}
	var lines []line
	for _, f := range fns {
		st, err := os.Stat(filepath.Join("build", f.Name, "bootstrap"))
		if err != nil {
			return nil, fmt.Errorf("make build left no bootstrap for %s: %w", f.Name, err)
		}
		lines = append(lines, line{
			what: "binary size, " + f.Name + " (linux/arm64, make build)", measured: mb(st.Size()),
			budget: "< " + mb(sizeBudget), ok: st.Size() < sizeBudget,
		})
	}
	return lines, nil
}

// firstEvent is, per function, an event its handler answers without any I/O, so a cold start
// measures the process: its start, its init (configuration, SDK clients: no request is made
// before the first invocation needs one) and one round trip through the Runtime API, which the
// Lambda Runtime Interface Emulator serves as Lambda does.
var firstEvent = map[string]string{
	"transfer":          "", // events/transfer-post-malformed.json: 400 before any I/O
	"callback-receiver": `{"version":"2.0","routeKey":"POST /callbacks/{vendor}","rawPath":"/callbacks/Nobody","pathParameters":{"vendor":"Nobody"},"requestContext":{"http":{"method":"POST","path":"/callbacks/Nobody"}},"body":"{}"}`,
	"skill-check":       `{"version":"2.0","routeKey":"GET /availability","rawPath":"/availability","rawQueryString":"","requestContext":{"http":{"method":"GET","path":"/availability"}}}`,
	"bot-ack":           `{"Records":[]}`,
}

// coldStarts builds the bootstraps for this machine with the Lambda build's flags and times,
// n times per function, a new process from its start to the answer of its first invocation.
func coldStarts(ctx context.Context, n int) ([]line, error) {
	fns, err := functions()
	if err != nil {
		return nil, err
	}
	emulator, err := rie.Locate(ctx, ".")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "handoff-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	malformed, err := os.ReadFile(filepath.Join("events", "transfer-post-malformed.json"))
	if err != nil {
		return nil, err
	}
	firstEvent["transfer"] = string(malformed)
	var lines []line
	for _, f := range fns {
		bin := filepath.Join(dir, f.Name, "bootstrap")
		if err := lambdaBuild(ctx, bin, "./"+filepath.ToSlash(f.SourceDir)); err != nil {
			return nil, err
		}
		payload, ok := firstEvent[f.Name]
		if !ok {
			return nil, fmt.Errorf("no first event for function %s", f.Name)
		}
		times := make([]time.Duration, 0, n)
		for range n {
			d, err := coldStart(ctx, emulator, f, bin, []byte(payload))
			if err != nil {
				return nil, fmt.Errorf("cold start of %s: %w", f.Name, err)
			}
			times = append(times, d)
		}
		slices.Sort(times)
		p50 := times[len(times)/2]
		lines = append(lines, line{
			what:     fmt.Sprintf("cold start, %s (p50 of %d; max %s)", f.Name, n, msec(times[len(times)-1])),
			measured: msec(p50), budget: "< " + msec(coldStartBudget), ok: p50 < coldStartBudget,
		})
	}
	return lines, nil
}

// coldStart runs one new emulator of f and times its first invocation: the bootstrap's start,
// its init and the invocation, as Lambda's Init Duration plus Duration. The emulator's own start
// is left out, as Lambda's sandbox start is not the function's.
func coldStart(ctx context.Context, emulator string, f template.Function, bin string, payload []byte) (time.Duration, error) {
	env := map[string]string{}
	for k, v := range f.Environment {
		env[k] = v
	}
	// Nothing here should reach AWS; if something tried, it would meet a closed loopback port.
	env["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"
	fn := rie.New(rie.Config{
		Emulator: emulator, Name: f.FunctionName, Binary: bin, Handler: f.Handler, Env: env,
		Timeout: f.Timeout, MemorySize: f.MemorySize, MaxConcurrency: 1, Output: io.Discard,
		AccessKeyID: "bench", SecretAccessKey: "bench",
	})
	defer fn.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := fn.Start(ctx); err != nil {
		return 0, err
	}
	start := time.Now()
	answer, err := fn.Invoke(ctx, payload)
	took := time.Since(start)
	if err != nil {
		return 0, err
	}
	if !json.Valid(answer) {
		return 0, fmt.Errorf("the first answer is not JSON: %s", answer)
	}
	return took, nil
}

// lambdaBuild builds pkg as the Makefile's LAMBDA_BUILD does, for this machine.
func lambdaBuild(ctx context.Context, out, pkg string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, output.Bytes())
	}
	return nil
}
