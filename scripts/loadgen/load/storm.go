package load

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"handoff/core/vendors/koreai/koreaisandbox"
	"handoff/scripts/localstack/demo"
)

// The storm scenario (docs/pacing.md): a bot fails and every conversation it holds escalates at
// once. Total Kore.ai escalations are put on the local EventBridge within Within, all for one
// tenant, so one message group; the stack paces them to the rate it was started with. The
// checks: every escalation ends transferred, none lost, none doubled, in the order sent, and
// the drain rate within a tenth of the configured one. loadgen -storm runs it.

// VendorKoreAI is the storm's vendor: Kore.ai's per-account limit is what the pacing is for.
const VendorKoreAI = "koreai"

// StormConfig is one storm run.
type StormConfig struct {
	URL    string // the local stack's gateway; loopback only
	Tenant string // the tenant whose secrets point at the sandboxes: demo
	Source string // the events' source, one the tenant accepts
	// Bus is the event bus the escalation rule listens on: the local stack's own, named after
	// its stack (handoff-local).
	Bus    string
	Total  int // escalations, e.g. 500
	Within time.Duration
	// PerMinute is the Kore.ai limit the sandbox enforces, per minute, e.g. 600; the stack
	// paces to it as Pacing says.
	PerMinute int
	Settle    time.Duration // bound on the wait for the last transfer after the sending
}

// Pacing is the rate and burst the stack paces Kore.ai to under the sandbox's limit of
// PerMinute: a burst of a second's calls, and the rate lowered by as much, so that no minute
// ever holds more than PerMinute calls (a bucket of rate R and burst B lets through at most
// R + B in any minute), while the burst makes up for the pause between two batches of the
// queue, which a burst of one would lose for good: one message group is drained one batch of
// ten at a time, and the turn from one batch to the next takes the local stack about half a
// second, half a batch at 600 a minute.
func (c StormConfig) Pacing() (perMinute, burst int) {
	burst = max(c.PerMinute/60, 1)
	return max(c.PerMinute-burst, 1), burst
}

// VendorRates is the stack's VendorRates for the storm (see Pacing).
func (c StormConfig) VendorRates() string {
	rate, burst := c.Pacing()
	return fmt.Sprintf("koreai=%d/m:%d", rate, burst)
}

// Check refuses a config that cannot run, or that would send traffic off this machine.
func (c StormConfig) Check() error {
	if err := (Config{URL: c.URL, Total: 1, Concurrency: 1, Conversations: 1, Vendor: VendorKoreAI, Duration: 1, Settle: 1}).Check(); err != nil {
		return err
	}
	switch {
	case c.Total < 1 || c.Total > 10_000:
		return errors.New("storm: the total must be between 1 and 10000")
	case c.Within <= 0 || c.Settle <= 0:
		return errors.New("storm: the sending window and the settle bound must be positive")
	case c.PerMinute < 1:
		return errors.New("storm: the rate must be at least 1 a minute")
	case c.Tenant == "" || c.Source == "" || c.Bus == "":
		return errors.New("storm: a tenant, an event source and an event bus are required")
	}
	return nil
}

// stormEscalation is one escalation sent: its place in the order and its conversation.
type stormEscalation struct {
	seq          int
	conversation string // a Kore.ai botSessionId, new per escalation
}

// StormRun is a storm sent, to be verified.
type StormRun struct {
	cfg    StormConfig
	client *http.Client
	sent   []stormEscalation
	before demo.Counters
	start  time.Time
}

// Storm sends the escalations, ten to a PutEvents request, spread evenly over cfg.Within.
func Storm(ctx context.Context, cfg StormConfig) (*StormRun, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	r := &StormRun{cfg: cfg, client: &http.Client{Timeout: 10 * time.Second}, start: time.Now()}
	before, err := r.counters(ctx)
	if err != nil {
		return nil, err
	}
	r.before = before
	run := randomHex(4)
	requests := (cfg.Total + 9) / 10
	for i := range requests {
		var entries []map[string]any
		for j := i * 10; j < min(cfg.Total, (i+1)*10); j++ {
			e := stormEscalation{seq: j, conversation: randomHex(12)}
			detail, _ := json.Marshal(map[string]any{
				"tenant": cfg.Tenant, "vendor": VendorKoreAI, "idempotencyKey": "storm-" + run + "-" + strconv.Itoa(j),
				"conversation": map[string]string{"id": e.conversation},
				"target":       map[string]string{"type": "agent", "id": koreaisandbox.AgentID},
				"note":         "Storm " + run + ", escalation " + strconv.Itoa(j) + ".",
				"bot":          map[string]string{"vendor": "webhook"},
			})
			entries = append(entries, map[string]any{"Source": cfg.Source, "DetailType": "Escalation Requested",
				"Detail": string(detail), "EventBusName": cfg.Bus})
			r.sent = append(r.sent, e)
		}
		if err := r.put(ctx, entries); err != nil {
			return r, err
		}
		if !sleep(ctx, time.Until(r.start.Add(cfg.Within*time.Duration(i+1)/time.Duration(requests)))) {
			return r, ctx.Err()
		}
	}
	return r, nil
}

func (r *StormRun) put(ctx context.Context, entries []map[string]any) error {
	body, _ := json.Marshal(map[string]any{"Entries": entries})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.cfg.URL+"/_local/events", bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var out struct {
		FailedEntryCount int `json:"FailedEntryCount"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out); err != nil || resp.StatusCode != http.StatusOK || out.FailedEntryCount > 0 {
		return fmt.Errorf("storm: putting events: %s, %d failed entries, %v", resp.Status, out.FailedEntryCount, err)
	}
	return nil
}

func (r *StormRun) counters(ctx context.Context) (demo.Counters, error) {
	var c demo.Counters
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.cfg.URL+demo.CountersPath, nil)
	if err != nil {
		return c, err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return c, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return c, fmt.Errorf("storm: %s answered %s", demo.CountersPath, resp.Status)
	}
	return c, json.NewDecoder(resp.Body).Decode(&c)
}

// stormOutcome is a final transfer as its Transfer Succeeded / Transfer Failed event tells it.
type stormOutcome struct {
	ID           string `json:"id"`
	Status       string `json:"status"`
	Conversation struct {
		ID string `json:"id"`
	} `json:"conversation"`
	Attempts []struct {
		At time.Time `json:"at"`
	} `json:"attempts"`
	// EnqueuedAt is when the queue took the transfer's message: the queue's order. EventBridge
	// delivers a storm's events concurrently, in no set order, so neither the order sent nor
	// the order created (CreatedAt, the fallback) is the order queued.
	EnqueuedAt *time.Time `json:"enqueuedAt"`
	CreatedAt  time.Time  `json:"createdAt"`
	// StartedAt is when it left the queue; its first attempt stands in when absent.
	StartedAt *time.Time `json:"startedAt"`
}

// outcomes reads the final transfers published so far.
func (r *StormRun) outcomes(ctx context.Context) ([]stormOutcome, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.cfg.URL+"/_local/events", nil)
	if err != nil {
		return nil, err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var page struct {
		Events []struct {
			DetailType string          `json:"detail-type"`
			Detail     json.RawMessage `json:"detail"`
		} `json:"events"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		return nil, fmt.Errorf("storm: reading published events: %w", err)
	}
	var out []stormOutcome
	for _, e := range page.Events {
		if e.DetailType != "Transfer Succeeded" && e.DetailType != "Transfer Failed" {
			continue
		}
		var o stormOutcome
		if json.Unmarshal(e.Detail, &o) == nil {
			out = append(out, o)
		}
	}
	return out, nil
}

// pacedPerMinute is the rate the drain is held to: the stack's (see Pacing).
func (r *StormRun) pacedPerMinute() int {
	rate, _ := r.cfg.Pacing()
	return rate
}

// Verify waits (at most Settle) until every escalation has a final transfer, then checks.
func (r *StormRun) Verify(ctx context.Context) (StormReport, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Settle)
	defer cancel()
	var outcomes []stormOutcome
	for {
		var err error
		if outcomes, err = r.outcomes(ctx); err != nil {
			return StormReport{}, err
		}
		if rep := analyseStorm(r.sent, outcomes, nil, r.pacedPerMinute()); rep.Transferred+rep.Failed >= len(r.sent) || !sleep(ctx, time.Second) {
			break
		}
	}
	after, err := r.counters(context.WithoutCancel(ctx))
	if err != nil {
		return StormReport{}, err
	}
	calls := map[string]int{}
	for conv, n := range after[VendorKoreAI].ByConversation {
		calls[conv] = n - r.before[VendorKoreAI].ByConversation[conv]
	}
	return analyseStorm(r.sent, outcomes, calls, r.pacedPerMinute()), nil
}
