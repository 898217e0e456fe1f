package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"handoff/core/handoff"
	"handoff/core/store"
	"handoff/core/vendors/koreai/koreaisandbox"
	"handoff/core/vendors/liveperson/livepersonsandbox"
	"handoff/core/vendors/webhook/webhooksandbox"
	"handoff/scripts/localstack/demo"
	"handoff/scripts/localstack/eventbus"
	"handoff/scripts/localstack/gateway"
)

// The queue (docs/pacing.md), on the stack's moto SQS with the local event source: a small
// storm beyond acme's LivePerson rate (vendorRates: 2 a second) is queued, not refused, and
// drained in order with the vendor called once per transfer; a duplicate of a queued transfer
// returns it; and a transfer is cancelled in each state.
func testQueue(t *testing.T, e *env) {
	s := e.stack(t)
	t.Run("small storm", func(t *testing.T) { queueStorm(t, e, s.URL) })
	t.Run("cancel", func(t *testing.T) { queueCancel(t, e, s.URL) })
}

// queueStorm sends 20 transfers at 5 a second to a vendor paced at 2 a second.
func queueStorm(t *testing.T, e *env, base string) {
	const n = 20
	ids := make([]string, n)
	queued := 0
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for i := range n {
		<-tick.C
		chat := fmt.Sprintf("%s%03d", livepersonsandbox.DemoChatPrefix, 900+i)
		body := fmt.Sprintf(`{"tenant":"acme","vendor":"liveperson","conversation":{"id":%q},"target":{"type":"skill","id":%q}}`,
			chat, livepersonsandbox.SkillSupportID)
		key := fmt.Sprintf("e2e-queue-storm-%02d", i)
		a := postTransfer(t, base, key, body)
		switch a.status {
		case http.StatusCreated:
			ids[i] = wantTransfer(t, a, http.StatusCreated).ID
		case http.StatusAccepted:
			tr := wantTransfer(t, a, http.StatusAccepted)
			if tr.Status != handoff.StatusQueued || tr.ExpectedStartAt == nil {
				t.Errorf("202 for %s: %s with expected start %v, want queued with one", key, tr.Status, tr.ExpectedStartAt)
			}
			ids[i] = tr.ID
			queued++
			// A duplicate of a queued transfer returns it, and does not queue it twice.
			again := postTransfer(t, base, key, body)
			if got := answerTransfer(t, again); got.ID != tr.ID || again.header.Get("Idempotent-Replayed") != "true" {
				t.Errorf("duplicate of queued %s = %s, want its replay", tr.ID, again)
			}
		default:
			t.Fatalf("POST %s = %s, want 201 or 202 queued (never refused below the bound)", key, a)
		}
	}
	t.Logf("%d transfers at 5 a second: %d queued", n, queued)
	if queued == 0 {
		t.Error("no transfer was queued: the storm did not exceed the rate")
	}
	timelines := store.New(dynamodb.NewFromConfig(e.aws.Config), tableName(t, e))
	var starts []time.Time
	var trace []string
	for i, id := range ids {
		tr := awaitTransfer(t, base, id, "transferred", final(handoff.StatusTransferred, handoff.AckNotRequired))
		chat := tr.Conversation.ID
		if calls := livePersonTransfers(e.acmeLivePerson, chat); calls != 1 {
			t.Errorf("transfer %d (%s): LivePerson received %d transfers of %s, want 1", i, id, calls, chat)
		}
		events, err := timelines.Timeline(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if started, ok := startedAt(events); ok {
			trace = append(trace, fmt.Sprintf("%d %s %+v", i, id, events))
			if !slices.ContainsFunc(events, func(ev handoff.Event) bool { return ev.Status == handoff.StatusQueued }) {
				t.Errorf("transfer %s started from the queue without a queued event: %+v", id, events)
			}
			starts = append(starts, started)
		}
	}
	if len(starts) != queued {
		t.Errorf("%d transfers have a started event, want the %d queued", len(starts), queued)
	}
	if !slices.IsSortedFunc(starts, func(a, b time.Time) int { return a.Compare(b) }) {
		t.Errorf("the queued transfers started out of order: %v\n%s", starts, strings.Join(trace, "\n"))
	}
}

// startedAt is when a queued transfer left the queue, per its timeline.
func startedAt(events []handoff.Event) (time.Time, bool) {
	for _, ev := range events {
		if ev.Status == handoff.StatusPending && ev.Detail == "started" {
			return ev.At, true
		}
	}
	return time.Time{}, false
}

// answerTransfer is the transfer of a 201 or 202 answer.
func answerTransfer(t *testing.T, a answer) handoff.Transfer {
	t.Helper()
	if a.status != http.StatusCreated && a.status != http.StatusAccepted {
		t.Fatalf("answer %s, want 201 or 202", a)
	}
	return wantTransfer(t, a, a.status)
}

// queueCancel cancels transfers of the pacer tenant, whose Kore.ai takes one call an hour: the
// first transfer reaches Kore.ai (pending, awaiting its callback), the others stay queued.
func queueCancel(t *testing.T, e *env, base string) {
	s := e.running
	kore := func(key, session string) handoff.Transfer {
		a := postTransfer(t, base, key, fmt.Sprintf(`{"tenant":"pacer","vendor":"koreai","conversation":{"id":%q},
			"target":{"type":"agent","id":%q},"bot":{"vendor":"webhook"}}`, session, koreaisandbox.AgentID))
		return wantTransfer(t, a, http.StatusAccepted)
	}
	pendingSession, queuedSession, eventSession := "653a06c9aae89c5fbb4e1401", "653a06c9aae89c5fbb4e1402", "653a06c9aae89c5fbb4e1403"
	pending := kore("e2e-queue-cancel-1", pendingSession)
	if pending.Status != handoff.StatusPending {
		t.Fatalf("the first transfer is %s, want pending (the bucket had its token)", pending.Status)
	}
	queued := kore("e2e-queue-cancel-2", queuedSession)
	if queued.Status != handoff.StatusQueued {
		t.Fatalf("the second transfer is %s, want queued", queued.Status)
	}

	t.Run("another tenant's caller is refused", func(t *testing.T) {
		grantInitech(t, e)
		wantProblem(t, call(t, http.MethodDelete, base+"/transfers/"+queued.ID, map[string]string{gateway.PrincipalHeader: initechBot}, ""), http.StatusForbidden, handoff.CodeForbidden)
		if got := getTransfer(t, base, queued.ID); got.Status != handoff.StatusQueued {
			t.Errorf("after a refused cancel: %s", got.Status)
		}
	})
	t.Run("queued", func(t *testing.T) {
		a := call(t, http.MethodDelete, base+"/transfers/"+queued.ID, nil, "")
		var tr handoff.Transfer
		if a.decode(t, &tr); a.status != http.StatusOK || tr.Status != handoff.StatusCancelled || tr.Error == nil || tr.Error.Code != handoff.CodeCancelled {
			t.Fatalf("DELETE of a queued transfer = %s, want 200 cancelled with CANCELLED", a)
		}
		tr = awaitTransfer(t, base, queued.ID, "cancelled and acked", final(handoff.StatusCancelled, handoff.AckSent))
		awaitPublished(t, base, "Transfer Failed", tr)
		if n := len(koreAssigns(e.pacerKoreAI, queuedSession)); n != 0 {
			t.Errorf("Kore.ai received %d assigns for the cancelled queued transfer, want none", n)
		}
		if acks := webhookAcks(demo.SandboxOf[*webhooksandbox.Sandbox](s.Sandboxes, "webhook"), queued.ID); len(acks) != 1 || acks[0].Status != handoff.StatusCancelled {
			t.Errorf("the bot received %+v, want one ack that the transfer was cancelled", acks)
		}
	})
	t.Run("pending", func(t *testing.T) {
		a := call(t, http.MethodDelete, base+"/transfers/"+pending.ID, nil, "")
		var tr handoff.Transfer
		if a.decode(t, &tr); a.status != http.StatusOK || tr.Status != handoff.StatusCancelled || tr.AwaitUntil != nil {
			t.Fatalf("DELETE of a pending transfer = %s, want 200 cancelled, no deadline left", a)
		}
		tr = awaitTransfer(t, base, pending.ID, "cancelled and acked", final(handoff.StatusCancelled, handoff.AckSent))
		awaitPublished(t, base, "Transfer Failed", tr)
		if acks := webhookAcks(demo.SandboxOf[*webhooksandbox.Sandbox](s.Sandboxes, "webhook"), pending.ID); len(acks) != 1 || acks[0].Error == nil || acks[0].Error.Code != handoff.CodeCancelled {
			t.Errorf("the bot received %+v, want one ack with error CANCELLED", acks)
		}
	})
	t.Run("final", func(t *testing.T) {
		wantProblem(t, call(t, http.MethodDelete, base+"/transfers/"+pending.ID, nil, ""), http.StatusConflict, handoff.CodeConflict)
		wantProblem(t, call(t, http.MethodDelete, base+"/transfers/7hq3m9x2c5v8k1n4p6r0t3w5yz", nil, ""), http.StatusNotFound, handoff.CodeNotFound)
	})
	t.Run("by an Escalation Cancelled event naming the key", func(t *testing.T) {
		tr := kore("e2e-queue-cancel-3", eventSession)
		if tr.Status != handoff.StatusQueued {
			t.Fatalf("the transfer is %s, want queued", tr.Status)
		}
		entries := mustJSON(t, map[string]any{"Entries": []eventbus.Entry{{
			Source: "com.example.chatbot", DetailType: "Escalation Cancelled",
			Detail: `{"tenant":"pacer","idempotencyKey":"e2e-queue-cancel-3"}`, EventBusName: escalationBus(t, e.tmpl),
		}}})
		if a := call(t, http.MethodPost, base+"/_local/events", nil, string(entries)); a.status != http.StatusOK || strings.Contains(string(a.body), `"FailedEntryCount":1`) {
			t.Fatalf("POST /_local/events = %s", a)
		}
		awaitTransfer(t, base, tr.ID, "cancelled by the event", final(handoff.StatusCancelled, handoff.AckSent))
		if n := len(koreAssigns(e.pacerKoreAI, eventSession)); n != 0 {
			t.Errorf("Kore.ai received %d assigns for the cancelled transfer, want none", n)
		}
	})
}
