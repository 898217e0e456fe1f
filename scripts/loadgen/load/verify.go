package load

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"handoff/core/vendors/sandbox"
	"handoff/scripts/localstack/demo"
)

// stored is what GET /transfers/{id} says of a transfer, as far as the checks need.
type stored struct {
	found    bool
	missing  bool // GET answered 404
	err      string
	Status   string `json:"status"`
	Vendor   string `json:"vendor"`
	Attempts []struct {
		Outcome string `json:"outcome"`
	} `json:"attempts"`
	Ack struct {
		Status string `json:"status"`
	} `json:"ack"`
}

// Verify checks the run: each key answered with one transfer id, each transfer found and
// transferred (callbacks awaited up to Settle), acked once, after exactly one vendor transfer
// call; and it measures what the run took. It is bounded by cfg.Settle.
func (r *Run) Verify(ctx context.Context) Report {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Settle)
	defer cancel()
	rep := r.summary()
	keys := r.keyOutcomes(&rep)
	transfers := r.fetchAll(ctx, keys)
	for _, k := range keys {
		if k.id == "" {
			continue
		}
		t := transfers[k.id]
		switch {
		case t.missing:
			rep.Lost++
			rep.problem("lost: key %s answered with transfer %s, which GET does not find", k.key, k.id)
		case !t.found:
			rep.Failed++
			rep.problem("transfer %s (key %s) could not be read: %s", k.id, k.key, t.err)
		case t.Status != "transferred":
			rep.Failed++
			rep.problem("transfer %s (%s, key %s) is %s after %s", k.id, t.Vendor, k.key, t.Status, r.cfg.Settle)
		}
	}
	if !r.counters {
		rep.problem("the stack serves no %s: vendor calls and acks are not checked (run the stack of this repository)", demo.CountersPath)
		rep.Failed++
		return rep
	}
	after := r.awaitAcks(ctx, keys)
	r.checkVendorCalls(&rep, keys, after)
	r.checkAcks(&rep, keys, after)
	return rep
}

// keyOutcome is one distinct key that was sent, and the one transfer id it got (if exactly one).
type keyOutcome struct {
	transfer
	id string
}

// keyOutcomes classifies the keys by their answers: one id, more (doubled), none (failed).
func (r *Run) keyOutcomes(rep *Report) []keyOutcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []keyOutcome
	for _, t := range r.plan.transfers {
		res, sent := r.results[t.key]
		if !sent {
			continue
		}
		k := keyOutcome{transfer: t}
		switch len(res.ids) {
		case 0:
			rep.Failed++
			rep.problem("key %s (%s) got no transfer: %v", t.key, t.vendor, res.failures)
		case 1:
			for id := range res.ids {
				k.id = id
			}
			rep.Transfers++
		default:
			rep.Doubled++
			rep.problem("doubled: key %s got %d transfers: %v", t.key, len(res.ids), sortedKeys(res.ids))
		}
		if len(res.ids) > 0 && len(res.failures) > 0 {
			rep.Failed++
			rep.problem("key %s: a repeat was refused: %v", t.key, res.failures)
		}
		out = append(out, k)
	}
	return out
}

// fetchAll GETs every transfer, then those still pending (a callback is due) again every half
// second, until none is or Settle is up.
func (r *Run) fetchAll(ctx context.Context, keys []keyOutcome) map[string]stored {
	out := map[string]stored{}
	var todo []string
	for _, k := range keys {
		if k.id != "" {
			todo = append(todo, k.id)
		}
	}
	for len(todo) > 0 {
		for id, t := range r.fetchOnce(ctx, todo) {
			out[id] = t
		}
		todo = todo[:0]
		for id, t := range out {
			if t.found && t.Status == "pending" {
				todo = append(todo, id)
			}
		}
		if len(todo) == 0 || !sleep(ctx, 500*time.Millisecond) {
			break
		}
	}
	return out
}

// fetchOnce GETs each transfer once, Concurrency at a time.
func (r *Run) fetchOnce(ctx context.Context, ids []string) map[string]stored {
	out := map[string]stored{}
	var mu sync.Mutex
	next := make(chan string)
	var wg sync.WaitGroup
	for range r.cfg.Concurrency {
		wg.Go(func() {
			for id := range next {
				t := r.fetch(ctx, id)
				mu.Lock()
				out[id] = t
				mu.Unlock()
			}
		})
	}
	for _, id := range ids {
		next <- id
	}
	close(next)
	wg.Wait()
	return out
}

func (r *Run) fetch(ctx context.Context, id string) stored {
	var t stored
	status, _, b, err := r.do(ctx, http.MethodGet, "/transfers/"+id, "", nil)
	switch {
	case err != nil:
		t.err = err.Error()
	case status != http.StatusOK:
		t.err = fmt.Sprintf("%d %s", status, snippet(b))
		t.missing = status == http.StatusNotFound
	default:
		if err := json.Unmarshal(b, &t); err != nil {
			t.err = err.Error()
		} else {
			t.found = true
		}
	}
	return t
}

// awaitAcks reads the sandboxes' counters until every transfer has its ack, or Settle is up.
func (r *Run) awaitAcks(ctx context.Context, keys []keyOutcome) demo.Counters {
	for {
		after, _, err := r.readCounters(context.WithoutCancel(ctx))
		if err != nil {
			return r.before
		}
		missing := 0
		for _, k := range keys {
			if k.id != "" && acks(after, k.id) == 0 {
				missing++
			}
		}
		if missing == 0 || !sleep(ctx, 300*time.Millisecond) {
			return after
		}
	}
}

// checkVendorCalls compares the vendor transfer calls the sandboxes counted during the run with
// one per transfer, by conversation: per key for LivePerson and Kore.ai (a conversation each),
// per chat for Bitrix24.
func (r *Run) checkVendorCalls(rep *Report, keys []keyOutcome, after demo.Counters) {
	expected := map[string]map[string]int{} // vendor → conversation → calls
	for _, k := range keys {
		if expected[k.vendor] == nil {
			expected[k.vendor] = map[string]int{}
		}
		if k.id != "" {
			expected[k.vendor][k.conversation]++
		}
	}
	rep.Vendors = map[string]VendorCalls{}
	for _, v := range sortedKeys(expected) {
		c := [2]sandbox.Counters{r.before[v], after[v]}
		vc := VendorCalls{Made: c[1].TransferCalls - c[0].TransferCalls}
		for conv, want := range expected[v] {
			vc.Expected += want
			got := c[1].ByConversation[conv] - c[0].ByConversation[conv]
			switch {
			case got > want && !reuses(v):
				// LivePerson and Kore.ai hand a conversation over once and refuse a second call
				// (404, ALREADY_ASSIGNED): a repeat is a reconcile after a failure, not a transfer.
				rep.Repeats += got - want
				rep.note("%s conversation %s got %d transfer calls for %d transfers: the sandbox refused the repeat", v, conv, got, want)
			case got > want:
				rep.Doubled++
				rep.problem("doubled: %s conversation %s got %d transfer calls for %d transfers", v, conv, got, want)
			case got < want:
				rep.Lost++
				rep.problem("lost: %s conversation %s got %d transfer calls for %d transfers", v, conv, got, want)
			}
		}
		rep.Vendors[v] = vc
	}
	failed := 0
	for v, c := range after {
		rep.Callbacks += c.Callbacks - r.before[v].Callbacks
		failed += c.CallbacksFailed - r.before[v].CallbacksFailed
	}
	// A callback the sandbox gave up on may still have been applied; a transfer it left pending
	// is found above, so a failed delivery alone is worth a note, not a failure.
	if failed > 0 {
		rep.note("%d vendor callbacks were not answered 2xx (a 404, or no answer within the sandbox's 5 s)", failed)
	}
}

// checkAcks wants every transfer acked exactly once (one webhook-id; repeats of one are fine).
func (r *Run) checkAcks(rep *Report, keys []keyOutcome, after demo.Counters) {
	for _, k := range keys {
		if k.id == "" {
			continue
		}
		switch n := acks(after, k.id); {
		case n == 1:
			rep.Acked++
		case n == 0:
			rep.Unacked++
			rep.problem("transfer %s (%s) was not acked within %s", k.id, k.vendor, r.cfg.Settle)
		default:
			rep.DoubledAcks++
			rep.problem("transfer %s (%s) was acked %d times", k.id, k.vendor, n)
		}
	}
}

// acks counts the acks the bots' sandboxes accepted for a transfer.
func acks(c demo.Counters, transfer string) int {
	n := 0
	for _, v := range c {
		n += v.ByTransfer[transfer]
	}
	return n
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
