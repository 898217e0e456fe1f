// Command bench measures Handoff against its budgets (README, Performance): it reruns the
// budgeted Go benchmarks (the transfer handler's own work, the full path against its I/O floor,
// the cost of duplicates), then measures what `go test -bench` cannot: the four bootstraps'
// binary sizes (arm64, as `make build` and SAM build them), their cold start under the Lambda
// Runtime Interface Emulator, and, under the load test against a local stack, the process CPU
// per transfer (the transfer function's, and all four functions' together) and every function's
// peak memory. It prints one line per figure with its budget and verdict, and exits non-zero
// when a figure is over budget or the load test lost, doubled or failed a transfer.
//
//	go run ./scripts/bench              (make bench runs it after the Go benchmarks)
//	go run ./scripts/bench -skip-load   (sizes and cold starts only)
//
// Run it from the repository root, on Linux (it reads /proc). Everything it starts listens on
// 127.0.0.1 and is stopped before it exits.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"text/tabwriter"
	"time"

	"handoff/scripts/loadgen/load"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code, err := Main(ctx, os.Args[1:], os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
	}
	stop()
	os.Exit(code)
}

// Budgets (README, Performance).
const (
	sizeBudget      = 15 << 20
	coldStartBudget = 20 * time.Millisecond
	cpuBudget       = time.Millisecond
	allCPUBudget    = 3 * time.Millisecond // the four functions' processes together
	memoryBudget    = 60 << 20
)

// line is one row of the table.
type line struct {
	what, measured, budget string
	ok                     bool
}

// Main runs the measurements and prints the table; it returns the exit code: 0 when everything
// is within budget, 1 when something is not, 2 when a measurement could not be made.
func Main(ctx context.Context, args []string, out io.Writer) (int, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	cold := fs.Int("coldstarts", 10, "cold starts per function")
	skipLoad := fs.Bool("skip-load", false, "skip the load run (CPU per transfer, peak memory)")
	skipGo := fs.Bool("skip-go", false, "skip the budgeted Go benchmarks (own work, full path, duplicates)")
	cfg := load.Config{Tenant: "demo", Conversations: 4, DupShare: 0.2, Vendor: load.VendorMixed, Duration: 5 * time.Minute, Settle: 45 * time.Second}
	fs.IntVar(&cfg.Total, "n", 100, "the load run's requests")
	fs.IntVar(&cfg.Concurrency, "c", 2, "the load run's concurrency (the local stack's moto serves one request at a time)")
	fs.StringVar(&cfg.Vendor, "vendor", load.VendorMixed, "the load run's vendor")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, nil
		}
		return 2, err
	}
	if runtime.GOOS != "linux" {
		return 2, errors.New("bench reads /proc: run it on Linux")
	}
	fmt.Fprintf(out, "Machine: %s/%s, %d CPUs, %s\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())

	var lines []line
	if !*skipGo {
		fmt.Fprintln(out, "Running the budgeted Go benchmarks…")
		gb, err := goBenchmarks(ctx, out)
		if err != nil {
			return 2, err
		}
		lines = append(lines, gb...)
	}
	sizes, err := binarySizes(ctx)
	if err != nil {
		return 2, err
	}
	lines = append(lines, sizes...)
	starts, err := coldStarts(ctx, *cold)
	if err != nil {
		return 2, err
	}
	lines = append(lines, starts...)
	if !*skipLoad {
		measured, err := underLoad(ctx, cfg, out)
		if err != nil {
			return 2, err
		}
		lines = append(lines, measured...)
	}

	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "measure\tmeasured\tbudget\tverdict")
	code := 0
	for _, l := range lines {
		verdict := "ok"
		if !l.ok {
			verdict, code = "OVER BUDGET", 1
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", l.what, l.measured, l.budget, verdict)
	}
	tw.Flush()
	return code, nil
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/(1<<20)) }

func msec(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }
