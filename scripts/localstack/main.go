// Command localstack is `make run`: all of Handoff on one machine, with no Docker and no AWS
// account. It starts moto_server (DynamoDB with streams, Secrets Manager), the vendors'
// sandboxes, and the functions of template.yaml built as for Lambda and run under the Lambda
// Runtime Interface Emulator (the tool line of go.mod) behind a local API Gateway, EventBridge
// and stream poller; seeds the local tenants' secrets; prints what to try; and stops everything
// on Ctrl-C.
//
// Environment: PORT (the gateway's port, default 3000), HANDOFF_LOCAL_SECRETS (the secrets
// file, default infra/local-secrets.json), HANDOFF_LOCAL_KOREAI_RATE (the Kore.ai sandbox's
// limit per minute: Kore's 60 by default, negative for none, as load tests need),
// HANDOFF_LOCAL_VENDOR_RATES (the template's VendorRates: the transfer function's pacing). Run it from
// the repository root.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"handoff/core/motoserver"
	"handoff/core/pacing"
	"handoff/scripts/localstack/awsproxy"
	"handoff/scripts/localstack/demo"
	"handoff/scripts/localstack/stack"
	"handoff/scripts/localstack/template"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C ends the process at once; Pdeathsig then ends the children
	}()
	if err := Main(ctx, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "make run:", err)
		stop()
		os.Exit(1)
	}
}

// settings are what the command reads from its environment.
type settings struct {
	port        int
	secretsFile string
	root        string
	koreaiRate  int // HANDOFF_LOCAL_KOREAI_RATE: the Kore.ai sandbox's limit per minute
	// vendorRates is HANDOFF_LOCAL_VENDOR_RATES: the template's VendorRates parameter (the
	// transfer function's pacing, docs/pacing.md), e.g. koreai=600/m for the storm.
	vendorRates string
}

func readSettings(getenv func(string) string) (settings, error) {
	s := settings{port: 3000, secretsFile: "infra/local-secrets.json", root: "."}
	if p := getenv("PORT"); p != "" {
		port, err := strconv.Atoi(p)
		if err != nil || port < 1 || port > 65535 {
			return s, fmt.Errorf("PORT=%q is not a port number", p)
		}
		s.port = port
	}
	if f := getenv("HANDOFF_LOCAL_SECRETS"); f != "" {
		s.secretsFile = f
	}
	if r := getenv("HANDOFF_LOCAL_VENDOR_RATES"); r != "" {
		if _, err := pacing.ParseLimits(r); err != nil {
			return s, fmt.Errorf("HANDOFF_LOCAL_VENDOR_RATES=%q: %w", r, err)
		}
		s.vendorRates = r
	}
	if r := getenv("HANDOFF_LOCAL_KOREAI_RATE"); r != "" {
		rate, err := strconv.Atoi(r)
		if err != nil {
			return s, fmt.Errorf("HANDOFF_LOCAL_KOREAI_RATE=%q is not a number (per minute; negative for no limit)", r)
		}
		s.koreaiRate = rate
	}
	return s, nil
}

// Main runs the stack until ctx ends (Ctrl-C).
func Main(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
	set, err := readSettings(getenv)
	if err != nil {
		return err
	}
	if _, err := exec.LookPath("moto_server"); err != nil {
		return motoserver.ErrMissing // before anything else: nothing else is needed beyond Go
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	tmpl, err := template.Load(filepath.Join(set.root, "template.yaml"), template.Options{})
	if err != nil {
		return err
	}
	for _, w := range tmpl.Warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}

	fmt.Fprintln(stdout, "Starting moto_server and building the functions…")
	// Two moto_servers, one for SQS (see awsproxy.Gate), started side by side.
	motoReady := make(chan error, 2)
	var m, mq *motoserver.Server
	go func() { var err error; m, err = motoserver.Start(ctx, 30*time.Second); motoReady <- err }()
	go func() { var err error; mq, err = motoserver.Start(ctx, 30*time.Second); motoReady <- err }()
	buildDir, err := os.MkdirTemp("", "handoff-localstack-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(buildDir)
	binaries, buildErr := stack.Build(ctx, tmpl, buildDir)
	errA, errB := <-motoReady, <-motoReady
	for _, s := range []*motoserver.Server{m, mq} {
		if s != nil {
			defer s.Stop()
		}
	}
	if err := errors.Join(errA, errB); err != nil {
		return err
	}
	if buildErr != nil {
		return buildErr
	}
	return runStack(ctx, set, tmpl, binaries, awsproxy.Upstreams{AWS: m.URL, SQS: mq.URL}, stdout, stderr, log)
}

// runStack starts the sandboxes and the stack on a running moto, and waits for ctx to end.
func runStack(ctx context.Context, set settings, tmpl *template.Template, binaries map[string]string, moto awsproxy.Upstreams, stdout, stderr io.Writer, log *slog.Logger) error {
	gate, err := awsproxy.StartGate(moto, nil) // everything reaches moto through it: see awsproxy.Gate
	if err != nil {
		return err
	}
	defer gate.Close()
	deadLetterPath := filepath.Join(set.root, "build", "localstack", "dead-letters.jsonl")
	if err := os.MkdirAll(filepath.Dir(deadLetterPath), 0o755); err != nil {
		return err
	}
	deadLetters, err := os.OpenFile(deadLetterPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer deadLetters.Close()
	s, err := demo.Start(ctx, demo.Config{
		Template: tmpl, Binaries: binaries, AWSEndpoint: gate.URL,
		AWS:  aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""), BaseEndpoint: aws.String(gate.URL)},
		Addr: "127.0.0.1:" + strconv.Itoa(set.port), SecretsFile: set.secretsFile,
		DeadLetters: deadLetters, Output: stdout, Log: log,
		Sandboxes:  demo.SandboxOptions{RatePerMinute: set.koreaiRate},
		Parameters: vendorRates(set.vendorRates),
	})
	if err != nil {
		return err
	}
	defer s.Close()
	removeState, err := writeState(set.root, LocalState{URL: s.Stack.URL, AWSEndpoint: gate.URL, EventBridgeEndpoint: s.Stack.EventBridgeURL,
		Region: "us-east-1", EventBus: escalationBus(tmpl), DeadLetters: deadLetterPath}, tmpl)
	if err != nil {
		return err
	}
	defer removeState()
	printBanner(stdout, s.Stack, s.Sandboxes, s.Tenants, deadLetterPath, set.root, escalationBus(tmpl))
	<-ctx.Done()
	fmt.Fprintln(stdout, "\nStopping…")
	return nil
}

// escalationBus is the bus of the template's EventBridge rules (Handoff's own), or "default".
func escalationBus(tmpl *template.Template) string {
	for _, f := range tmpl.Functions {
		for _, r := range f.Rules {
			return r.EventBusName
		}
	}
	return "default"
}

// vendorRates is the template parameter a HANDOFF_LOCAL_VENDOR_RATES sets; none when empty.
func vendorRates(rates string) map[string]string {
	if rates == "" {
		return nil
	}
	return map[string]string{"VendorRates": rates}
}
