package transfer_test

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"handoff/core/handoff"
	"handoff/core/store/memstore"
	"handoff/core/transfer"
	"handoff/core/vendors"
)

// scripted is a transferer whose answers per target id are set by the test.
type scripted struct {
	mu        sync.Mutex
	answers   map[string]error // target id → error (nil = success)
	async     bool
	calls     atomic.Int32
	reconcile []bool
	urls      []string         // the callback URL of each call
	convs     []string         // the conversation of each call, in the order they came
	first     map[string]error // conversation → the error its first call answers
	gate      chan struct{}    // when set, each call waits for it
}

func (s *scripted) Supports(t handoff.TargetType) bool { return t != handoff.TargetSkill }

func (s *scripted) Transfer(_ context.Context, req vendors.TransferRequest) (vendors.TransferResult, error) {
	s.calls.Add(1)
	s.mu.Lock()
	s.convs = append(s.convs, req.Conversation.ID)
	firstErr := s.first[req.Conversation.ID]
	delete(s.first, req.Conversation.ID)
	s.mu.Unlock()
	if firstErr != nil {
		return vendors.TransferResult{}, firstErr
	}
	if s.gate != nil {
		<-s.gate
	}
	s.mu.Lock()
	s.reconcile = append(s.reconcile, req.Reconcile)
	s.urls = append(s.urls, req.CallbackURL)
	err := s.answers[req.Target.ID]
	s.mu.Unlock()
	if err != nil {
		return vendors.TransferResult{}, err
	}
	if s.async {
		return vendors.TransferResult{Outcome: handoff.OutcomeAwaiting, VendorRef: "vref-" + req.Conversation.ID}, nil
	}
	return vendors.TransferResult{Outcome: handoff.OutcomeTransferred}, nil
}

type registry struct {
	tr     vendors.Transferer
	parser vendors.CallbackParser
}

func (r registry) Transferer(name string) (vendors.Transferer, bool) {
	if name == "picky" {
		return pickyVendor{r.tr}, true
	}
	return r.tr, name == "acme"
}

// pickyVendor is a transfer adapter with requirements of its own (vendors.Validator).
type pickyVendor struct{ vendors.Transferer }

func (pickyVendor) Validate(req handoff.Request) error {
	return handoff.Invalid("target.id", "this vendor's ids are numbers")
}
func (r registry) Acker(name string) (vendors.Acker, bool) {
	if name == "picky" {
		return pickyBot{}, true
	}
	return nil, name == "webhook"
}

// pickyBot is a bot adapter with requirements of its own (vendors.Validator): a session id.
type pickyBot struct{}

func (pickyBot) Ack(context.Context, handoff.Transfer) (vendors.AckResult, error) {
	return vendors.AckResult{}, nil
}

func (pickyBot) Validate(req handoff.Request) error {
	if req.Bot.SessionID == "" {
		return handoff.Invalid("bot.sessionId", "bot.sessionId is required")
	}
	return nil
}
func (r registry) CallbackParser(name string) (vendors.CallbackParser, bool) {
	return r.parser, name == "acme" && r.parser != nil
}

func request() handoff.Request {
	return handoff.Request{
		Tenant: "t1", Vendor: "acme", Conversation: handoff.Conversation{ID: "c-1"},
		Target:    handoff.Target{Type: handoff.TargetAgent, ID: "a-1"},
		Fallbacks: []handoff.Target{{Type: handoff.TargetQueue, ID: "q-1"}},
	}
}

func setup(tr *scripted) (*transfer.Service, *memstore.Store) {
	st := memstore.New(nil)
	log := slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))
	return transfer.New(st, registry{tr: tr}, log), st
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestStartTransfersToTheTargetInTwoWrites(t *testing.T) {
	tr := &scripted{}
	svc, st := setup(tr)
	res, err := svc.Start(ctx(t), transfer.Input{Request: request(), Key: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Transfer.Status != handoff.StatusTransferred || len(res.Transfer.Attempts) != 1 {
		t.Fatalf("transfer = %+v, want transferred after one attempt", res.Transfer)
	}
	if st.Writes != 2 {
		t.Errorf("writes = %d, want 2 (claim + complete)", st.Writes)
	}
	got, err := svc.Get(ctx(t), res.Transfer.ID)
	if err != nil || got.Status != handoff.StatusTransferred {
		t.Fatalf("Get = %+v, %v", got, err)
	}
}

func TestStartMovesToTheFallbackWhenTheTargetRefuses(t *testing.T) {
	tr := &scripted{answers: map[string]error{"a-1": &handoff.Error{Code: handoff.CodeTargetUnavailable, VendorCode: "OPERATOR_WRONG"}}}
	svc, _ := setup(tr)
	res, err := svc.Start(ctx(t), transfer.Input{Request: request()})
	if err != nil {
		t.Fatal(err)
	}
	a := res.Transfer.Attempts
	if res.Transfer.Status != handoff.StatusTransferred || len(a) != 2 ||
		a[0].Outcome != handoff.OutcomeUnavailable || a[0].VendorCode != "OPERATOR_WRONG" ||
		a[1].Target.ID != "q-1" || a[1].Outcome != handoff.OutcomeTransferred {
		t.Fatalf("transfer = %+v", res.Transfer)
	}
}

func TestStartFailsWhenEveryTargetRefuses(t *testing.T) {
	tr := &scripted{answers: map[string]error{
		"a-1": &handoff.Error{Code: handoff.CodeVendorRejected, VendorCode: "X"},
		"q-1": &handoff.Error{Code: handoff.CodeTargetUnavailable, VendorCode: "Y"},
	}}
	svc, _ := setup(tr)
	req := request()
	req.Bot = &handoff.Bot{Vendor: "webhook"}
	res, err := svc.Start(ctx(t), transfer.Input{Request: req})
	if err != nil {
		t.Fatal(err)
	}
	tf := res.Transfer
	if tf.Status != handoff.StatusFailed || tf.Error == nil || tf.Error.Code != handoff.CodeTargetUnavailable || tf.Error.VendorCode != "Y" {
		t.Fatalf("transfer = %+v, want failed with the last target's error", tf)
	}
	if tf.Ack.Status != handoff.AckPending || tf.Ack.SequenceID == 0 {
		t.Errorf("ack = %+v, want pending with a sequence id", tf.Ack)
	}
}

func TestStartRefusesBeforeAnyCallOrWrite(t *testing.T) {
	cases := map[string]func(*handoff.Request){
		"unsupported fallback":    func(r *handoff.Request) { r.Fallbacks = []handoff.Target{{Type: handoff.TargetSkill, ID: "s"}} },
		"unknown vendor":          func(r *handoff.Request) { r.Vendor = "nobody" },
		"unknown bot":             func(r *handoff.Request) { r.Bot = &handoff.Bot{Vendor: "salesforce", SessionID: "s"} },
		"bot its adapter refuses": func(r *handoff.Request) { r.Bot = &handoff.Bot{Vendor: "picky"} },
		"ids its vendor refuses":  func(r *handoff.Request) { r.Vendor = "picky" },
	}
	want := map[string]handoff.Code{"unsupported fallback": handoff.CodeUnsupportedTarget,
		"unknown vendor": handoff.CodeInvalidRequest, "unknown bot": handoff.CodeInvalidRequest,
		"bot its adapter refuses": handoff.CodeInvalidRequest, "ids its vendor refuses": handoff.CodeInvalidRequest}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			tr := &scripted{}
			svc, st := setup(tr)
			req := request()
			change(&req)
			_, err := svc.Start(ctx(t), transfer.Input{Request: req})
			if handoff.ErrorCode(err) != want[name] {
				t.Fatalf("err = %v, want %s", err, want[name])
			}
			if tr.calls.Load() != 0 || st.Writes != 0 {
				t.Errorf("calls = %d, writes = %d, want none", tr.calls.Load(), st.Writes)
			}
		})
	}
}

func TestDuplicatesReachTheVendorOnce(t *testing.T) {
	tr := &scripted{}
	svc, st := setup(tr)
	first, err := svc.Start(ctx(t), transfer.Input{Request: request(), Key: "dup"})
	if err != nil {
		t.Fatal(err)
	}
	writes := st.Writes
	again, err := svc.Start(ctx(t), transfer.Input{Request: request(), Key: "dup"})
	if err != nil || !again.Replayed || again.Transfer.ID != first.Transfer.ID {
		t.Fatalf("duplicate = %+v, %v", again, err)
	}
	if tr.calls.Load() != 1 || st.Writes != writes {
		t.Errorf("calls = %d, extra writes = %d: a duplicate this container completed must cost nothing", tr.calls.Load(), st.Writes-writes)
	}
	other := request()
	other.Note = "another body"
	if _, err := svc.Start(ctx(t), transfer.Input{Request: other, Key: "dup"}); handoff.ErrorCode(err) != handoff.CodeIdempotencyKeyReused {
		t.Fatalf("reused key: err = %v", err)
	}
	// Another container (no memo) still gets the stored result from the store.
	svc2 := transfer.New(st, registry{tr: tr}, slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)))
	if res, err := svc2.Start(ctx(t), transfer.Input{Request: request(), Key: "dup"}); err != nil || !res.Replayed {
		t.Fatalf("duplicate in another container = %+v, %v", res, err)
	}
	if _, err := svc2.Start(ctx(t), transfer.Input{Request: other, Key: "dup"}); handoff.ErrorCode(err) != handoff.CodeIdempotencyKeyReused {
		t.Fatalf("reused key in another container: err = %v", err)
	}
}

func TestConcurrentDuplicatesReachTheVendorOnce(t *testing.T) {
	tr := &scripted{gate: make(chan struct{})}
	svc, _ := setup(tr)
	var wg sync.WaitGroup
	codes := make(chan handoff.Code, 20)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := svc.Start(ctx(t), transfer.Input{Request: request(), Key: "storm"})
			codes <- handoff.ErrorCode(err)
		}()
	}
	// The 19 losers answer without waiting; only then is the winner let through.
	for range 19 {
		if c := <-codes; c != handoff.CodeInProgress {
			t.Errorf("a duplicate answered %q while the first was running, want IN_PROGRESS", c)
		}
	}
	close(tr.gate)
	wg.Wait()
	if c := <-codes; c != "" {
		t.Errorf("the winner answered %q, want success", c)
	}
	if tr.calls.Load() != 1 {
		t.Errorf("vendor calls = %d, want 1", tr.calls.Load())
	}
}

func TestRetryableFailureReleasesTheKeyAndTheRetryReconciles(t *testing.T) {
	tr := &scripted{answers: map[string]error{"a-1": &handoff.Error{Code: handoff.CodeVendorTimeout}}}
	svc, _ := setup(tr)
	_, err := svc.Start(ctx(t), transfer.Input{Request: request(), Key: "r"})
	if handoff.ErrorCode(err) != handoff.CodeVendorTimeout {
		t.Fatalf("err = %v, want VENDOR_TIMEOUT", err)
	}
	tr.mu.Lock()
	delete(tr.answers, "a-1")
	tr.mu.Unlock()
	res, err := svc.Start(ctx(t), transfer.Input{Request: request(), Key: "r"})
	if err != nil || res.Transfer.Status != handoff.StatusTransferred {
		t.Fatalf("retry = %+v, %v", res, err)
	}
	if len(tr.reconcile) != 2 || tr.reconcile[0] || !tr.reconcile[1] {
		t.Errorf("reconcile flags = %v, want [false true]: the timed-out call may have reached the vendor", tr.reconcile)
	}
}
