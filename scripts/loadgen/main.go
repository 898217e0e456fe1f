// Command loadgen drives a running local stack (`make run`) with N concurrent transfers over M
// conversations, a share of them duplicates, and reports throughput, latency, vendor calls made
// against expected, and lost or doubled transfers, exiting non-zero unless there are none.
// With -stack it starts a stack of its own on a free port first and stops it after (make load).
//
//	go run ./scripts/loadgen -url http://127.0.0.1:3000 -n 100 -c 2 -dup 0.2 -vendor mixed
//	go run ./scripts/loadgen -stack
//
// It talks to 127.0.0.1 only. Run it against a stack nobody else is using: it reads the
// sandboxes' counters (GET /_local/sandboxes) before and after, and counts what changed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"handoff/scripts/loadgen/load"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code, err := Main(ctx, os.Args[1:], os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
	}
	stop()
	os.Exit(code)
}

// Main parses args, runs the load and prints the report; it returns the exit code: 0 when
// nothing was lost, doubled or failed, 1 when something was, 2 when the run could not be made.
func Main(ctx context.Context, args []string, out io.Writer) (int, error) {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	cfg := load.Config{Tenant: "demo"}
	fs.StringVar(&cfg.URL, "url", "http://127.0.0.1:3000", "the local stack's gateway (127.0.0.1 only)")
	fs.IntVar(&cfg.Total, "n", 100, "POST /transfers requests in all, duplicates included")
	fs.IntVar(&cfg.Concurrency, "c", 2, "requests in flight at once (the local stack's moto serves one request at a time: more only queues)")
	fs.IntVar(&cfg.Conversations, "conversations", 4, "conversations to spread transfers over where the vendor takes one again (Bitrix24: at most its 4 chats); LivePerson and Kore.ai transfers get one each")
	fs.Float64Var(&cfg.DupShare, "dup", 0.2, "share of the requests that repeat an earlier one (same key, same body)")
	fs.StringVar(&cfg.Vendor, "vendor", load.VendorMixed, strings.Join(load.Vendors(), ", ")+" or "+load.VendorMixed)
	fs.IntVar(&cfg.Availability, "availability", 0, "GET /availability requests to mix in")
	fs.DurationVar(&cfg.Duration, "duration", 5*time.Minute, "bound on the sending; what is not sent by then is not sent")
	fs.DurationVar(&cfg.Settle, "settle", 30*time.Second, "bound on the wait for callbacks and acks after the sending")
	fs.StringVar(&cfg.Tenant, "tenant", "demo", "the tenant whose secrets point at the sandboxes")
	withStack := fs.Bool("stack", false, "start a local stack on a free port first (go run ./scripts/localstack), and stop it after")
	storm := load.StormConfig{Tenant: "demo", Source: "com.example.chatbot", Bus: "handoff-local", Settle: 3 * time.Minute}
	withStorm := fs.Bool("storm", false, "the storm scenario instead (docs/pacing.md): -storm-n Kore.ai escalations within -storm-within, paced at -storm-rate a minute; with -stack the stack runs at that rate and the sandbox allows it")
	fs.IntVar(&storm.Total, "storm-n", 500, "the storm's escalations")
	fs.DurationVar(&storm.Within, "storm-within", 10*time.Second, "the window the storm's escalations are sent in")
	fs.IntVar(&storm.PerMinute, "storm-rate", 420, "the Kore.ai limit a minute the sandbox allows; the stack paces just under it (docs/pacing.md)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, nil
		}
		return 2, err
	}
	passed := false
	if *withStack {
		fmt.Fprintln(out, "Starting a local stack (go run ./scripts/localstack)…")
		env := []string{load.UnpacedRates}
		if *withStorm {
			// The sandbox allows the storm's rate, a minute at a time, and answers 429 past it;
			// the stack paces Kore.ai just under it (StormConfig.Pacing).
			env = []string{"HANDOFF_LOCAL_VENDOR_RATES=" + storm.VendorRates(), "HANDOFF_LOCAL_KOREAI_RATE=" + strconv.Itoa(storm.PerMinute)}
		}
		s, err := load.StartStack(ctx, ".", 5*time.Minute, env...)
		if err != nil {
			return 2, err
		}
		defer func() {
			if err := s.Stop(); err != nil {
				fmt.Fprintln(os.Stderr, "loadgen:", err)
			}
			if passed {
				s.RemoveLog()
			}
		}()
		cfg.URL = s.URL
		fmt.Fprintf(out, "Stack at %s (its output: %s)\n", s.URL, s.LogPath())
	}
	if *withStorm {
		storm.URL = cfg.URL
		return runStorm(ctx, storm, out, &passed)
	}
	if err := cfg.Check(); err != nil {
		return 2, err
	}
	run, err := load.Drive(ctx, cfg)
	if err != nil {
		return 2, err
	}
	rep := run.Verify(ctx)
	rep.Print(out)
	if !rep.OK() {
		return 1, nil
	}
	passed = true
	return 0, nil
}

// runStorm sends the storm, waits for its outcomes and prints the figures; its exit code is as
// Main's.
func runStorm(ctx context.Context, cfg load.StormConfig, out io.Writer, passed *bool) (int, error) {
	rate, burst := cfg.Pacing()
	fmt.Fprintf(out, "Storm: %d Kore.ai escalations within %s, against a limit of %d a minute, paced at %d a minute with bursts of %d…\n",
		cfg.Total, cfg.Within, cfg.PerMinute, rate, burst)
	run, err := load.Storm(ctx, cfg)
	if err != nil {
		return 2, err
	}
	rep, err := run.Verify(ctx)
	if err != nil {
		return 2, err
	}
	rep.Print(out)
	if !rep.OK() {
		return 1, nil
	}
	*passed = true
	return 0, nil
}
