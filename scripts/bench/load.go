package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"handoff/scripts/loadgen/load"
)

// underLoad starts a local stack, warms it (every process the run will use started), runs the
// load test and measures the functions' processes: the transfer function's CPU time (utime +
// stime) over the run divided by its transfers, and each function's peak memory (VmHWM).
func underLoad(ctx context.Context, cfg load.Config, out io.Writer) ([]line, error) {
	fmt.Fprintln(out, "\nStarting a local stack for the load run…")
	s, err := load.StartStack(ctx, ".", 5*time.Minute, load.UnpacedRates)
	if err != nil {
		return nil, err
	}
	passed := false
	defer func() {
		if err := s.Stop(); err != nil {
			fmt.Fprintln(out, "bench:", err)
		}
		if passed {
			s.RemoveLog()
		}
	}()
	cfg.URL = s.URL

	warm := cfg
	warm.Total, warm.DupShare, warm.Availability = 6*cfg.Concurrency, 0, 4
	fmt.Fprintf(out, "Warming (%d transfers)…\n", warm.Total)
	run, err := load.Drive(ctx, warm)
	if err != nil {
		return nil, err
	}
	if rep := run.Verify(ctx); !rep.OK() {
		rep.Print(out)
		fmt.Fprintf(out, "(the warm-up run failed: measuring anyway; the stack's output: %s)\n", s.LogPath())
	}

	procs, err := functionProcesses(s.PID)
	if err != nil {
		return nil, err
	}
	before := cpuByProcess(procs)
	cfg.Availability = cfg.Total / 20
	fmt.Fprintf(out, "Load run (%d requests, %d concurrent, %s)…\n", cfg.Total, cfg.Concurrency, cfg.Vendor)
	run, err = load.Drive(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if procs, err = functionProcesses(s.PID); err != nil {
		return nil, err
	}
	after := cpuByProcess(procs)
	rep := run.Verify(ctx)
	fmt.Fprintln(out)
	rep.Print(out)
	if passed = rep.OK(); !passed {
		fmt.Fprintf(out, "(the stack's output: %s)\n", s.LogPath())
	}

	cpu := map[string]time.Duration{}
	count := map[string]int{}
	for _, p := range procs {
		cpu[p.function] += after[p.pid] - before[p.pid] // a process started during the run had 0
		count[p.function]++
	}
	var lines []line
	transfers := max(rep.Keys, 1)
	perTransfer := cpu["transfer"] / time.Duration(transfers)
	lines = append(lines, line{
		what:     fmt.Sprintf("process CPU per transfer, transfer function (%s over %d transfers + %d duplicates, %d processes)", msec(cpu["transfer"]), rep.Keys, rep.Duplicates, count["transfer"]),
		measured: msec(perTransfer), budget: "< " + msec(cpuBudget), ok: perTransfer < cpuBudget,
	})
	all := cpu["transfer"]
	for _, fn := range []string{"callback-receiver", "bot-ack", "skill-check"} {
		all += cpu[fn]
		lines = append(lines, line{
			what:     fmt.Sprintf("process CPU during the run, %s (%d processes; per transfer)", fn, count[fn]),
			measured: msec(cpu[fn] / time.Duration(transfers)), budget: "(no budget)", ok: true,
		})
	}
	allPerTransfer := all / time.Duration(transfers)
	lines = append(lines, line{
		what:     fmt.Sprintf("process CPU per transfer, all four functions (%s)", msec(all)),
		measured: msec(allPerTransfer), budget: "< " + msec(allCPUBudget), ok: allPerTransfer < allCPUBudget,
	})

	peak := map[string]int64{}
	for _, p := range procs {
		if hwm, err := peakMemory(p.pid); err == nil {
			peak[p.function] = max(peak[p.function], hwm)
		}
	}
	for _, fn := range slices.Sorted(maps.Keys(peak)) {
		lines = append(lines, line{
			what:     fmt.Sprintf("peak memory, %s (VmHWM, largest of %d processes)", fn, count[fn]),
			measured: mb(peak[fn]), budget: "< " + mb(memoryBudget), ok: peak[fn] < memoryBudget,
		})
	}
	lines = append(lines, line{
		what:     fmt.Sprintf("load test: %d keys → %d transfers; lost / doubled / failed", rep.Keys, rep.Transfers),
		measured: fmt.Sprintf("%d / %d / %d", rep.Lost, rep.Doubled, rep.Failed+rep.Unacked+rep.DoubledAcks),
		budget:   "0 / 0 / 0", ok: rep.OK(),
	})
	return lines, nil
}
