package load

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"handoff/scripts/localstack/demo"
)

// outcome is a final transfer of conversation that started at start+offset.
func outcome(id, conversation, status string, start time.Time, offset time.Duration) stormOutcome {
	var o stormOutcome
	o.ID, o.Status, o.Conversation.ID = id, status, conversation
	o.Attempts = append(o.Attempts, struct {
		At time.Time `json:"at"`
	}{start.Add(offset)})
	return o
}

func TestAnalyseStorm(t *testing.T) {
	start := time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC)
	sent := []stormEscalation{{0, "c0"}, {1, "c1"}, {2, "c2"}, {3, "c3"}}
	calls := map[string]int{"c0": 1, "c1": 2, "c2": 1, "c3": 1}
	good := []stormOutcome{
		outcome("t0", "c0", "transferred", start, 0),
		outcome("t1", "c1", "transferred", start, 100*time.Millisecond),
		outcome("t2", "c2", "transferred", start, 200*time.Millisecond),
		outcome("t3", "c3", "transferred", start, 300*time.Millisecond),
	}
	rep := analyseStorm(sent, good, calls, 600)
	if !rep.OK() || rep.Transferred != 4 || rep.Repeated != 1 || rep.DrainPerMinute != 600 {
		t.Errorf("a clean storm at 600/m: %+v", rep)
	}
	if rep := analyseStorm(sent, good, calls, 500); rep.OK() {
		t.Errorf("600/m against 500/m configured passed: %+v", rep)
	}

	swapped := append([]stormOutcome(nil), good...)
	swapped[1] = outcome("t1", "c1", "transferred", start, 250*time.Millisecond)
	if rep := analyseStorm(sent, swapped, calls, 600); rep.OutOfOrder != 1 || rep.OK() {
		t.Errorf("c1 started after c2: %+v", rep)
	}
	// Queued (createdAt) in another order than sent, as EventBridge's concurrent delivery does:
	// started in the order queued is in order; started against it is not.
	queuedOrder := append([]stormOutcome(nil), good...)
	for i, at := range []time.Duration{0, 400, 200, 600} {
		queuedOrder[i].CreatedAt = start.Add(-time.Second + at*time.Millisecond)
	}
	if rep := analyseStorm(sent, queuedOrder, calls, 600); rep.OutOfOrder != 1 || rep.OK() {
		t.Errorf("c2 queued before c1 but started after it: %+v", rep)
	}
	// (fresh outcomes: the copies share their attempts with good)
	c1, c2 := outcome("t1", "c1", "transferred", start, 200*time.Millisecond), outcome("t2", "c2", "transferred", start, 100*time.Millisecond)
	c1.CreatedAt, c2.CreatedAt = queuedOrder[1].CreatedAt, queuedOrder[2].CreatedAt
	queuedOrder[1], queuedOrder[2] = c1, c2
	if rep := analyseStorm(sent, queuedOrder, calls, 600); rep.OutOfOrder != 0 {
		t.Errorf("started in the order queued: %+v", rep)
	}
	// Created in one order, queued in another (concurrent escalations race to the queue): the
	// queue's order (enqueuedAt) is the one the starts are held to.
	racing := []stormOutcome{good[0], outcome("t1", "c1", "transferred", start, 100*time.Millisecond),
		outcome("t2", "c2", "transferred", start, 200*time.Millisecond), good[3]}
	enq1, enq2 := start.Add(-500*time.Millisecond), start.Add(-700*time.Millisecond)
	racing[1].CreatedAt, racing[1].EnqueuedAt = start.Add(-time.Second), &enq1
	racing[2].CreatedAt, racing[2].EnqueuedAt = start.Add(-900*time.Millisecond), &enq2
	if rep := analyseStorm(sent, racing, calls, 600); rep.OutOfOrder != 1 {
		t.Errorf("c1 created first but queued after c2, and started before it: %+v", rep)
	}
	racing[1].EnqueuedAt, racing[2].EnqueuedAt = &enq2, &enq1
	if rep := analyseStorm(sent, racing, calls, 600); rep.OutOfOrder != 0 {
		t.Errorf("created out of order, started in the queue's order: %+v", rep)
	}
	// Sends racing into the queue (stamped within SendRace) are in no order: counted apart.
	enq3 := enq2.Add(SendRace / 2)
	racing[1].EnqueuedAt, racing[2].EnqueuedAt = &enq3, &enq2
	if rep := analyseStorm(sent, racing, calls, 600); rep.OutOfOrder != 0 || rep.SendRaces != 1 {
		t.Errorf("sends stamped %s apart: %+v; want one send race, none out of order", SendRace/2, rep)
	}
	lost := good[:3]
	if rep := analyseStorm(sent, lost, calls, 600); rep.Lost != 1 || rep.OK() {
		t.Errorf("c3 has no outcome: %+v", rep)
	}
	doubled := append(append([]stormOutcome(nil), good...), outcome("t3b", "c3", "transferred", start, time.Second))
	if rep := analyseStorm(sent, doubled, calls, 600); rep.Doubled != 1 || rep.OK() {
		t.Errorf("c3 made two transfers: %+v", rep)
	}
	failed := append([]stormOutcome(nil), good...)
	failed[2].Status = "failed"
	if rep := analyseStorm(sent, failed, calls, 600); rep.Failed != 1 || rep.OK() {
		t.Errorf("c2 failed: %+v", rep)
	}
	if rep := analyseStorm(sent, good, map[string]int{"c0": 1, "c1": 1, "c2": 1}, 600); rep.Lost != 1 || rep.OK() {
		t.Errorf("c3 transferred without a vendor call: %+v", rep)
	}
	var out bytes.Buffer
	rep.Print(&out)
	if !strings.Contains(out.String(), "4 escalations, 4 transferred") || !strings.Contains(out.String(), "600.0 a minute") {
		t.Errorf("report:\n%s", out.String())
	}
}

// Storm puts its escalations ten to a request, in order, each a new Kore.ai conversation with
// its own key.
func TestStormSendsEscalationsInOrder(t *testing.T) {
	var mu sync.Mutex
	var details []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case demo.CountersPath:
			json.NewEncoder(w).Encode(demo.Counters{})
		case "/_local/events":
			var req struct {
				Entries []struct{ Source, DetailType, Detail, EventBusName string }
			}
			if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Entries) > 10 {
				http.Error(w, "bad request", http.StatusBadRequest)
				return
			}
			mu.Lock()
			for _, e := range req.Entries {
				var d map[string]any
				json.Unmarshal([]byte(e.Detail), &d)
				if e.DetailType != "Escalation Requested" || e.Source != "com.example.chatbot" || e.EventBusName != "handoff-local" {
					d = nil
				}
				details = append(details, d)
			}
			mu.Unlock()
			w.Write([]byte(`{"FailedEntryCount":0,"Entries":[]}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	cfg := StormConfig{URL: srv.URL, Tenant: "demo", Source: "com.example.chatbot", Bus: "handoff-local", Total: 25, Within: 30 * time.Millisecond, PerMinute: 600, Settle: time.Second}
	run, err := Storm(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(details) != 25 || len(run.sent) != 25 {
		t.Fatalf("%d events put, %d recorded; want 25", len(details), len(run.sent))
	}
	keys := map[any]bool{}
	for i, d := range details {
		conv, _ := d["conversation"].(map[string]any)
		if d == nil || d["vendor"] != "koreai" || d["tenant"] != "demo" || conv["id"] != run.sent[i].conversation || run.sent[i].seq != i {
			t.Errorf("event %d: %v, want escalation %d of conversation %s", i, d, i, run.sent[i].conversation)
		}
		keys[d["idempotencyKey"]] = true
	}
	if len(keys) != 25 {
		t.Errorf("%d distinct idempotency keys, want 25", len(keys))
	}
	if err := (StormConfig{URL: "http://example.com", Tenant: "demo", Source: "s", Bus: "b", Total: 1, Within: 1, PerMinute: 1, Settle: 1}).Check(); err == nil {
		t.Error("a storm off this machine passed Check")
	}
}
