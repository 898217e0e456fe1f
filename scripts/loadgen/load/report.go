package load

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"
)

// Report is what a run did and what its checks found.
type Report struct {
	Config Config
	// Sent and Unsent count the planned requests (transfers and availability queries) that were
	// and were not started within Duration.
	Sent, Unsent int
	Keys         int // distinct idempotency keys sent
	Duplicates   int // repeats of a key sent
	Elapsed      time.Duration
	// PerSecond is requests answered per second; TransfersPerSecond distinct keys per second.
	PerSecond, TransfersPerSecond float64
	Latency                       Percentiles // each POST /transfers, IN_PROGRESS answers included
	// FirstTenth and LastTenth are the p50 of the first and last tenth of the POSTs: how latency
	// drifted as the table grew (moto's TransactWriteItems copies the whole table and its stream).
	FirstTenth, LastTenth       time.Duration
	EndToEnd                    Percentiles // from a request's first send to its final answer
	Statuses                    map[int]int
	InProgressRetries           int // 409 IN_PROGRESS answers that were retried
	OtherRetries                int // 429/503/504 answers that were retried
	Availability                Percentiles
	Vendors                     map[string]VendorCalls
	Callbacks                   int // outcomes the vendors posted (Kore.ai's callbacks)
	Transfers                   int // keys answered with exactly one transfer id
	Acked, Unacked, DoubledAcks int
	// Lost: a transfer answered but not found, or fewer vendor calls than transfers. Doubled: a
	// key with two transfers, or more vendor calls than transfers. Failed: everything else that
	// went wrong (an error answer, a transfer not transferred, an ack missing).
	Lost, Doubled, Failed int
	// Repeats are LivePerson and Kore.ai transfer calls beyond one per transfer, which their
	// sandboxes refuse (a conversation is handed over once): reconciles after a failure.
	Repeats  int
	Problems []string // the first few, in detail
	Notes    []string // what is worth knowing but not wrong
	problems int
}

// VendorCalls are the transfer calls one vendor's sandbox counted during the run, and the
// number the run's transfers called for.
type VendorCalls struct{ Made, Expected int }

// Percentiles of a set of durations.
type Percentiles struct {
	N                  int
	P50, P95, P99, Max time.Duration
}

// OK reports whether nothing was lost, doubled or failed.
func (r Report) OK() bool {
	return r.Lost == 0 && r.Doubled == 0 && r.Failed == 0 && r.Unacked == 0 && r.DoubledAcks == 0
}

const maxProblems = 20

func (r *Report) problem(format string, args ...any) {
	r.problems++
	if len(r.Problems) < maxProblems {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	}
}

func (r *Report) note(format string, args ...any) {
	if len(r.Notes) < maxProblems {
		r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
	}
}

// summary is the part of the report measured while sending.
func (r *Run) summary() Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := Report{
		Config: r.cfg, Unsent: r.unsent, Sent: len(r.plan.jobs) - r.unsent, Elapsed: r.elapsed,
		Latency: percentiles(r.attempts), EndToEnd: percentiles(r.requests), Availability: percentiles(r.avail),
		FirstTenth: percentiles(r.attempts[:len(r.attempts)/10]).P50, LastTenth: percentiles(r.attempts[len(r.attempts)-len(r.attempts)/10:]).P50,
		Statuses: r.statuses, InProgressRetries: r.inFlight, OtherRetries: r.retried,
	}
	for _, res := range r.results {
		rep.Keys++
		rep.Duplicates += res.answered + len(res.failures) - 1
	}
	if s := r.elapsed.Seconds(); s > 0 {
		rep.PerSecond = float64(len(r.requests)+len(r.avail)) / s
		rep.TransfersPerSecond = float64(rep.Keys) / s
	}
	for _, f := range r.availFail {
		rep.Failed++
		rep.problem("availability: %s", f)
	}
	return rep
}

func percentiles(ds []time.Duration) Percentiles {
	if len(ds) == 0 {
		return Percentiles{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return Percentiles{N: len(s), P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: s[len(s)-1]}
}

func (p Percentiles) String() string {
	return fmt.Sprintf("p50 %s, p95 %s, p99 %s, max %s (%d)", ms(p.P50), ms(p.P95), ms(p.P99), ms(p.Max), p.N)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// Print writes the report for people.
func (r Report) Print(w io.Writer) {
	c := r.Config
	fmt.Fprintf(w, "Load: %d requests (%d keys + %d duplicates, share %.2f), %d concurrent, vendor %s, at most %d conversations where one is reused, against %s\n",
		c.Total, r.Keys, r.Duplicates, c.DupShare, c.Concurrency, c.Vendor, c.Conversations, c.URL)
	if r.Unsent > 0 {
		fmt.Fprintf(w, "  -duration %s ran out: %d planned requests were not sent\n", c.Duration, r.Unsent)
	}
	fmt.Fprintf(w, "  sent in %s: %.1f requests/s, %.1f transfers/s\n", r.Elapsed.Round(time.Millisecond), r.PerSecond, r.TransfersPerSecond)
	fmt.Fprintf(w, "  POST /transfers latency, each request: %s\n", r.Latency)
	fmt.Fprintf(w, "  first send to final answer:            %s\n", r.EndToEnd)
	if r.Latency.N >= 20 {
		fmt.Fprintf(w, "  p50 of the first tenth of the POSTs %s, of the last tenth %s\n", ms(r.FirstTenth), ms(r.LastTenth))
	}
	if r.Availability.N > 0 {
		fmt.Fprintf(w, "  GET /availability latency:             %s\n", r.Availability)
	}
	var st []string
	for _, code := range sortedInts(r.Statuses) {
		st = append(st, fmt.Sprintf("%d×%d", code, r.Statuses[code]))
	}
	fmt.Fprintf(w, "  answers: %s; retried: %d IN_PROGRESS, %d other\n", strings.Join(st, " "), r.InProgressRetries, r.OtherRetries)
	var vc []string
	for _, v := range sortedKeys(r.Vendors) {
		vc = append(vc, fmt.Sprintf("%s %d/%d", v, r.Vendors[v].Made, r.Vendors[v].Expected))
	}
	if len(vc) > 0 {
		fmt.Fprintf(w, "  vendor transfer calls made/expected: %s", strings.Join(vc, ", "))
		if r.Callbacks > 0 {
			fmt.Fprintf(w, "; vendor callbacks %d", r.Callbacks)
		}
		if r.Repeats > 0 {
			fmt.Fprintf(w, "; %d repeats refused by the vendor", r.Repeats)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "  acks: %d once, %d missing, %d doubled\n", r.Acked, r.Unacked, r.DoubledAcks)
	fmt.Fprintf(w, "  transfers: %d keys → %d transfers; lost %d, doubled %d, failed %d\n", r.Keys, r.Transfers, r.Lost, r.Doubled, r.Failed)
	for _, n := range r.Notes {
		fmt.Fprintf(w, "    note: %s\n", n)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "    %s\n", p)
	}
	if r.problems > len(r.Problems) {
		fmt.Fprintf(w, "    … and %d more\n", r.problems-len(r.Problems))
	}
	if r.OK() {
		fmt.Fprintln(w, "PASS: nothing lost, nothing doubled")
	} else {
		fmt.Fprintln(w, "FAIL")
	}
}

func sortedInts(m map[int]int) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}
