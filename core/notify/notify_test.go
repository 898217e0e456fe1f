package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"handoff/core/handoff"
	"handoff/core/notify"
	"handoff/core/store/memstore"
	"handoff/core/vendors"
)

type acker struct {
	errs   []error // answers, in order; nil once exhausted
	result vendors.AckResult
	calls  []int64 // sequence ids seen
}

func (a *acker) Ack(_ context.Context, t handoff.Transfer) (vendors.AckResult, error) {
	a.calls = append(a.calls, t.Ack.SequenceID)
	if len(a.errs) == 0 {
		return a.result, nil
	}
	err := a.errs[0]
	a.errs = a.errs[1:]
	return vendors.AckResult{}, err
}

type ackers struct{ a *acker }

func (r ackers) Acker(name string) (vendors.Acker, bool) { return r.a, name == "webhook" }

type bus struct {
	mu      sync.Mutex
	fail    int
	events  []string
	details []any
}

func (b *bus) Publish(_ context.Context, detailType string, detail any) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fail > 0 {
		b.fail--
		return handoff.E(handoff.CodeUnavailable, "test", "bus down", nil)
	}
	b.events = append(b.events, detailType)
	b.details = append(b.details, detail)
	return nil
}

// final stores a final transfer the way the transfer service would.
func final(t *testing.T, st *memstore.Store, status handoff.Status, bot bool) handoff.Transfer {
	t.Helper()
	c := handoff.Claim{Tenant: "t", Key: "k-" + string(status), Fingerprint: "f", Owner: "o", LeaseUntil: time.Now().Add(time.Minute), TransferID: "tr-" + string(status)}
	pending := handoff.Transfer{ID: c.TransferID, Tenant: "t", Vendor: "v", Status: handoff.StatusPending, Ack: handoff.Ack{Status: handoff.AckNotRequired}}
	won, err := st.Claim(context.Background(), c, pending)
	if err != nil {
		t.Fatal(err)
	}
	tr := pending
	tr.ID, tr.Version, tr.Status, tr.UpdatedAt = won.TransferID, won.Version, status, time.Now().UTC()
	if bot {
		tr.Bot = &handoff.Bot{Vendor: "webhook"}
		tr.Ack = handoff.Ack{Status: handoff.AckPending, SequenceID: 1700000000000}
	}
	tr, err = st.Complete(context.Background(), c, tr, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func newNotifier(st *memstore.Store, a *acker, b *bus) *notify.Notifier {
	return notify.New(st, ackers{a}, b, slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)))
}

func TestNotifyAcksAndPublishesOnceEvenWhenRedelivered(t *testing.T) {
	st, a, b := memstore.New(nil), &acker{}, &bus{}
	tr := final(t, st, handoff.StatusTransferred, true)
	n := newNotifier(st, a, b)
	for range 3 { // the stream delivers at least once
		if err := n.Notify(context.Background(), tr.ID); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := st.Get(context.Background(), tr.ID)
	if got.Ack.Status != handoff.AckSent || got.NotifiedAt == nil {
		t.Fatalf("transfer = %+v, want ack sent and published", got)
	}
	if len(a.calls) != 1 || len(b.events) != 1 || b.events[0] != notify.DetailSucceeded {
		t.Errorf("acks = %v, events = %v, want one of each", a.calls, b.events)
	}
}

func TestNotifyRetriesARetryableAckWithTheSameSequenceThenGivesUp(t *testing.T) {
	st, b := memstore.New(nil), &bus{}
	down := handoff.E(handoff.CodeVendorUnavailable, "test", "down", nil)
	a := &acker{errs: []error{down, down, down, down, down, down}}
	tr := final(t, st, handoff.StatusFailed, true)
	n := newNotifier(st, a, b)
	retries := 0
	for n.Notify(context.Background(), tr.ID) != nil {
		retries++
		if retries > 10 {
			t.Fatal("the ack is retried forever")
		}
	}
	got, _ := st.Get(context.Background(), tr.ID)
	if got.Ack.Status != handoff.AckFailed || got.Ack.Attempts != 5 {
		t.Fatalf("ack = %+v, want failed after 5 attempts", got.Ack)
	}
	for _, seq := range a.calls {
		if seq != tr.Ack.SequenceID {
			t.Errorf("ack sent with sequence %d, want the fixed %d", seq, tr.Ack.SequenceID)
		}
	}
	if len(b.events) != 1 || b.events[0] != notify.DetailFailed {
		t.Errorf("events = %v, want one Transfer Failed even though the ack failed", b.events)
	}
}

func TestNotifyRecordsTheAckBeforeRetryingAFailedPublish(t *testing.T) {
	st, a, b := memstore.New(nil), &acker{}, &bus{fail: 1}
	tr := final(t, st, handoff.StatusTransferred, true)
	n := newNotifier(st, a, b)
	if err := n.Notify(context.Background(), tr.ID); !handoff.Retryable(err) {
		t.Fatalf("err = %v, want a retryable error", err)
	}
	if err := n.Notify(context.Background(), tr.ID); err != nil {
		t.Fatal(err)
	}
	if len(a.calls) != 1 || len(b.events) != 1 {
		t.Errorf("acks = %d, events = %d, want 1 and 1: the retry must not ack again", len(a.calls), len(b.events))
	}
}

func TestNotifyWithoutBotOnlyPublishes(t *testing.T) {
	st, a, b := memstore.New(nil), &acker{}, &bus{}
	tr := final(t, st, handoff.StatusTransferred, false)
	if err := newNotifier(st, a, b).Notify(context.Background(), tr.ID); err != nil {
		t.Fatal(err)
	}
	if len(a.calls) != 0 || len(b.events) != 1 {
		t.Errorf("acks = %d, events = %d, want 0 and 1", len(a.calls), len(b.events))
	}
}

// The bot's reply to the ack is kept on the transfer and published with the outcome, so the
// channel can show it.
func TestNotifyKeepsTheBotsReply(t *testing.T) {
	st, b := memstore.New(nil), &bus{}
	reply := []handoff.BotMessage{{Type: "text", Message: "Sorry, no agent is available."}}
	a := &acker{result: vendors.AckResult{BotMessages: reply}}
	tr := final(t, st, handoff.StatusFailed, true)
	if err := newNotifier(st, a, b).Notify(context.Background(), tr.ID); err != nil {
		t.Fatal(err)
	}
	got, _ := st.Get(context.Background(), tr.ID)
	if got.Ack.Status != handoff.AckSent || len(got.Ack.BotMessages) != 1 || got.Ack.BotMessages[0].Message != reply[0].Message {
		t.Fatalf("ack = %+v, want sent with the bot's reply", got.Ack)
	}
	if len(b.details) != 1 {
		t.Fatalf("published %d events, want 1", len(b.details))
	}
	// As EventBridge gets it: the transfer resource plus schemaVersion.
	raw, _ := json.Marshal(b.details[0])
	var pub struct {
		handoff.Transfer
		SchemaVersion string `json:"schemaVersion"`
	}
	if err := json.Unmarshal(raw, &pub); err != nil || len(pub.Ack.BotMessages) != 1 || pub.SchemaVersion != notify.SchemaVersion {
		t.Errorf("published detail %s, want the transfer with ack.botMessages and schemaVersion", raw)
	}
}

// An uncertain ack (the bot may have processed it) is recorded with its reason and never
// sent again, even when the stream redelivers the record.
func TestNotifyRecordsAnUncertainAckAndDoesNotResendIt(t *testing.T) {
	st, b := memstore.New(nil), &bus{}
	a := &acker{result: vendors.AckResult{Uncertain: "HTTP 503: the bot timed out after it ran"}}
	tr := final(t, st, handoff.StatusTransferred, true)
	n := newNotifier(st, a, b)
	for range 2 {
		if err := n.Notify(context.Background(), tr.ID); err != nil {
			t.Fatalf("Notify = %v, want nil: an uncertain ack is not retried", err)
		}
	}
	got, _ := st.Get(context.Background(), tr.ID)
	if got.Ack.Status != handoff.AckUncertain || got.Ack.Error != a.result.Uncertain {
		t.Fatalf("ack = %+v, want uncertain with the reason", got.Ack)
	}
	if len(a.calls) != 1 || len(b.events) != 1 {
		t.Errorf("acks = %d, events = %d, want 1 and 1", len(a.calls), len(b.events))
	}
}

// A cancelled transfer did not transfer: the bot is acked and Transfer Failed is published.
func TestNotifyTellsOfACancelledTransferAsFailed(t *testing.T) {
	st, a, b := memstore.New(nil), &acker{}, &bus{}
	tr := final(t, st, handoff.StatusCancelled, true)
	if err := newNotifier(st, a, b).Notify(context.Background(), tr.ID); err != nil {
		t.Fatal(err)
	}
	if len(a.calls) != 1 || len(b.events) != 1 || b.events[0] != notify.DetailFailed {
		t.Errorf("acks = %v, events = %v, want one ack and one Transfer Failed", a.calls, b.events)
	}
}
