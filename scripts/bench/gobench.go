package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Budgets of the Go benchmarks (README, Performance).
const (
	ownWorkBudget   = 30 * time.Microsecond
	ownAllocsBudget = 150
	fullPathBudget  = 1.03
)

// goBenchmarks runs the budgeted Go benchmarks again, so their verdicts join the table: the
// transfer handler's own work five times each (the median counts: this machine is shared), and
// the full path with enough pairs for a steady median, a duplicate's answer, and the
// duplicate-cost test.
func goBenchmarks(ctx context.Context, w io.Writer) ([]line, error) {
	var lines []line
	for _, b := range []struct{ pkg, name, what string }{
		{"./core/transfer", "BenchmarkStart", "transfer use case, memstore and an in-process vendor (BenchmarkStart)"},
		{"./core/handler", "BenchmarkTransferHTTP", "transfer handler, HTTP event → Start → response JSON (BenchmarkTransferHTTP)"},
	} {
		runs, err := goBench(ctx, b.pkg, b.name, "-count", "5")
		if err != nil {
			return nil, err
		}
		ns, allocs := median(runs, "ns/op"), median(runs, "allocs/op")
		lines = append(lines, line{
			what:     b.what + ", median of 5",
			measured: fmt.Sprintf("%.1f µs, %.0f allocs", ns/1000, allocs),
			budget:   fmt.Sprintf("< %d µs, < %d allocs", ownWorkBudget.Microseconds(), ownAllocsBudget),
			ok:       ns < float64(ownWorkBudget.Nanoseconds()) && allocs < ownAllocsBudget,
		})
	}
	runs, err := goBench(ctx, "./core/store", "BenchmarkFullPath", "-benchtime", "200x")
	if err != nil {
		return nil, err
	}
	r := runs[0]
	lines = append(lines, line{
		what: fmt.Sprintf("full path on moto + Bitrix24 sandbox vs its I/O floor, p50 (200 pairs: %.2f ms vs %.2f ms; paired %.3f×)",
			r["p50-ms"], r["floor-p50-ms"], r["paired-ratio"]),
		measured: fmt.Sprintf("%.3f×", r["ratio"]), budget: fmt.Sprintf("≤ %.2f×", fullPathBudget), ok: r["ratio"] <= fullPathBudget,
	})
	if runs, err = goBench(ctx, "./core/store", "BenchmarkFullPathDuplicate", "-benchtime", "200x"); err != nil {
		return nil, err
	}
	lines = append(lines, line{
		what:     "a duplicate's answer on moto, p50: from the container that completed it / from another (BenchmarkFullPathDuplicate)",
		measured: fmt.Sprintf("%.3f / %.2f ms", runs[0]["here-p50-ms"], runs[0]["elsewhere-p50-ms"]), budget: "(beside the peer's)", ok: true,
	})
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-run", "^TestDuplicatesCostAtMostOneRequest$", "./core/store")
	out, err := cmd.CombinedOutput()
	lines = append(lines, line{
		what:     "DynamoDB requests of a duplicate: completed here / anywhere else (TestDuplicatesCostAtMostOneRequest)",
		measured: map[bool]string{true: "0 / 1", false: "test failed"}[err == nil], budget: "0 / 1", ok: err == nil,
	})
	if err != nil {
		fmt.Fprintf(w, "%s\n", out)
	}
	return lines, nil
}

// goBench runs one benchmark of pkg and returns each result line's metrics by unit.
func goBench(ctx context.Context, pkg, name string, args ...string) ([]map[string]float64, error) {
	all := append([]string{"test", "-run", "^$", "-bench", "^" + name + "$", "-benchmem"}, args...)
	cmd := exec.CommandContext(ctx, "go", append(all, pkg)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go %s: %w\n%s", strings.Join(all, " "), err, out.Bytes())
	}
	var runs []map[string]float64
	for _, l := range strings.Split(out.String(), "\n") {
		f := strings.Fields(l)
		if len(f) < 4 || !strings.HasPrefix(f[0], name+"-") {
			continue
		}
		m := map[string]float64{}
		for i := 2; i+1 < len(f); i += 2 { // after the name and the iterations: value unit pairs
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				m[f[i+1]] = v
			}
		}
		runs = append(runs, m)
	}
	if len(runs) == 0 {
		return nil, fmt.Errorf("%s printed no result:\n%s", name, out.Bytes())
	}
	return runs, nil
}

func median(runs []map[string]float64, unit string) float64 {
	var vs []float64
	for _, r := range runs {
		vs = append(vs, r[unit])
	}
	slices.Sort(vs)
	return vs[len(vs)/2]
}
