package load

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"time"
)

// StormReport is what a storm run found.
type StormReport struct {
	Sent, Transferred, Failed int
	Lost                      int // escalations with no final transfer
	Doubled                   int // escalations with two transfers
	Repeated                  int // vendor calls beyond one per escalation (429s answered, then sent again)
	OutOfOrder                int // transfers that started before one queued earlier
	// SendRaces are transfers that started before one queued less than SendRace earlier: two
	// sends racing into the queue, not an order broken (see SendRace). Counted, not failed.
	SendRaces int
	// DrainPerMinute is the rate the vendor answered the transfers' first calls at, first to
	// last; ConfiguredPerMinute the stack's.
	DrainPerMinute, ConfiguredPerMinute float64
	Drain                               time.Duration
	// Pauses are the gaps between two vendor calls longer than twice the configured spacing,
	// and Paused the time they lost beyond it.
	Pauses   int
	Paused   time.Duration
	Problems []string
}

// SendRace is how close two sends to the queue may be and still land in either order. SQS
// stamps SentTimestamp when a send arrives, and the queue orders a message when it adds it to
// its group, a moment later: moto checks the new message against every queued one for a
// duplicate in between (tens of milliseconds with 500 queued), so concurrent sends can take
// their places in the other order than their stamps. Their transfers then start in the
// queue's order, which the stamps do not show.
const SendRace = 100 * time.Millisecond

// OK is the storm's acceptance: all transferred, none lost or doubled, in order, and the drain
// rate within a tenth of the configured one.
func (r StormReport) OK() bool {
	return r.Sent > 0 && r.Transferred == r.Sent && r.Lost == 0 && r.Doubled == 0 && r.OutOfOrder == 0 && r.rateWithin()
}

func (r StormReport) rateWithin() bool {
	if r.Sent < 2 {
		return true
	}
	d := r.DrainPerMinute - r.ConfiguredPerMinute
	return d <= r.ConfiguredPerMinute/10 && -d <= r.ConfiguredPerMinute/10
}

// Print writes the figures.
func (r StormReport) Print(w io.Writer) {
	fmt.Fprintf(w, "Storm: %d escalations, %d transferred, %d failed, %d lost, %d doubled, %d out of order (%d sent within %s of another, in either order)\n",
		r.Sent, r.Transferred, r.Failed, r.Lost, r.Doubled, r.OutOfOrder, r.SendRaces, SendRace)
	fmt.Fprintf(w, "Drain: %.1f a minute over %s (configured %.0f a minute; within 10%%: %v); vendor calls repeated after a 429: %d\n",
		r.DrainPerMinute, r.Drain.Round(time.Millisecond), r.ConfiguredPerMinute, r.rateWithin(), r.Repeated)
	fmt.Fprintf(w, "Pauses between vendor calls longer than twice the spacing: %d, losing %s\n", r.Pauses, r.Paused.Round(time.Millisecond))
	for _, p := range r.Problems {
		fmt.Fprintln(w, "  -", p)
	}
}

// analyseStorm checks the outcomes against what was sent. calls are the Kore.ai transfer calls
// by conversation during the run (nil: not read yet). A transfer's start is when it left the
// queue (its first vendor attempt when the outcome does not say); the drain is measured by the
// vendor's answers to the first calls.
func analyseStorm(sent []stormEscalation, outcomes []stormOutcome, calls map[string]int, perMinute int) StormReport {
	rep := StormReport{Sent: len(sent), ConfiguredPerMinute: float64(perMinute)}
	byConv := map[string][]stormOutcome{}
	for _, o := range outcomes {
		byConv[o.Conversation.ID] = append(byConv[o.Conversation.ID], o)
	}
	type start struct {
		seq    int
		at     time.Time // when it left the queue (startedAt), else its first vendor attempt
		called time.Time // when the vendor answered its first call (zero: no attempt)
		// queued is its place in the queue: when the queue took its message (enqueuedAt), else
		// when it was created; zero when the outcome says neither: the order sent stands in.
		queued time.Time
	}
	var starts []start
	for _, e := range sent {
		got := byConv[e.conversation]
		ids := map[string]bool{}
		for _, o := range got {
			ids[o.ID] = true
		}
		switch {
		case len(got) == 0:
			rep.Lost++
			rep.problem("escalation %d (conversation %s) has no final transfer", e.seq, e.conversation)
			continue
		case len(ids) > 1:
			rep.Doubled++
			rep.problem("escalation %d made %d transfers", e.seq, len(ids))
		}
		o := got[0]
		if o.Status != "transferred" {
			rep.Failed++
			rep.problem("escalation %d ended %s", e.seq, o.Status)
			continue
		}
		rep.Transferred++
		if calls != nil {
			switch n := calls[e.conversation]; {
			case n == 0:
				rep.Lost++
				rep.problem("escalation %d is transferred, but the sandbox saw no transfer call", e.seq)
			case n > 1:
				rep.Repeated += n - 1
			}
		}
		st := start{seq: e.seq, queued: o.CreatedAt}
		if o.EnqueuedAt != nil {
			st.queued = *o.EnqueuedAt
		}
		if len(o.Attempts) > 0 {
			st.called = o.Attempts[0].At
		}
		switch {
		case o.StartedAt != nil:
			st.at = *o.StartedAt
		case !st.called.IsZero():
			st.at = st.called
		default:
			continue
		}
		starts = append(starts, st)
	}
	sort.SliceStable(starts, func(i, j int) bool { return starts[i].at.Before(starts[j].at) })
	// In order: no transfer started before one queued earlier in its group (one tenant, one
	// vendor: one group). Sends within SendRace of each other are in no order (see SendRace).
	highest, latest := -1, time.Time{}
	for _, s := range starts {
		switch {
		case s.queued.IsZero() && s.seq < highest || !s.queued.IsZero() && s.queued.Before(latest.Add(-SendRace)):
			rep.OutOfOrder++
			rep.problem("escalation %d started at %s, queued %s before one that started earlier",
				s.seq, s.at.Format("15:04:05.000"), latest.Sub(s.queued))
		case !s.queued.IsZero() && s.queued.Before(latest):
			rep.SendRaces++
		}
		highest = max(highest, s.seq)
		if s.queued.After(latest) {
			latest = s.queued
		}
	}
	if rep.OutOfOrder > 0 {
		rep.problem("%d transfers started before one queued earlier", rep.OutOfOrder)
	}
	// The drain is the vendor's side of it: the calls it answered, first to last.
	var called []time.Time
	for _, s := range starts {
		if !s.called.IsZero() {
			called = append(called, s.called)
		}
	}
	slices.SortFunc(called, time.Time.Compare)
	if len(called) >= 2 {
		rep.Drain = called[len(called)-1].Sub(called[0])
		if rep.Drain > 0 {
			rep.DrainPerMinute = float64(len(called)-1) / rep.Drain.Minutes()
		}
		// Pauses: time between two calls beyond twice the configured spacing, which the
		// drain lost (the queue running dry, a batch's turnaround, a 429's wait).
		every := time.Duration(float64(time.Minute) / float64(max(perMinute, 1)))
		for i := 1; i < len(called); i++ {
			if gap := called[i].Sub(called[i-1]); gap > 2*every {
				rep.Pauses++
				rep.Paused += gap - every
			}
		}
	}
	return rep
}

func (r *StormReport) problem(format string, args ...any) {
	if len(r.Problems) < 20 {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	}
}
