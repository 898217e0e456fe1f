package transfer_test

import (
	"testing"

	"handoff/core/handoff"
	"handoff/core/transfer"
)

// TestATransferConfigurationPreventsIsRecordedFailed: a vendor call that our configuration stops
// (Kore.ai without a callback base URL, a secret missing a field) is a failed transfer with code
// CONFIGURATION, recorded with the caller, with the bot's ack pending, so bot-ack tells the bot and
// publishes Transfer Failed; it is not an error that leaves nothing behind.
func TestATransferConfigurationPreventsIsRecordedFailed(t *testing.T) {
	tr := &scripted{answers: map[string]error{
		"a-1": handoff.E(handoff.CodeConfiguration, "koreai.Transfer", "Kore.ai needs an absolute http(s) callback URL", nil),
	}}
	svc, _ := setup(tr)
	req := request()
	req.Bot = &handoff.Bot{Vendor: "webhook"}
	res, err := svc.Start(ctx(t), transfer.Input{Request: req, Key: "k1", Caller: "event:com.acme.bot@111122223333"})
	if err != nil {
		t.Fatalf("Start = %v, want the failed transfer recorded", err)
	}
	tf := res.Transfer
	if tf.Status != handoff.StatusFailed || tf.Error == nil || tf.Error.Code != handoff.CodeConfiguration ||
		tf.Error.Message != "Kore.ai needs an absolute http(s) callback URL" {
		t.Fatalf("transfer = %+v, want failed with CONFIGURATION", tf)
	}
	if n := tr.calls.Load(); n != 1 {
		t.Errorf("vendor calls = %d, want 1: configuration stops the fallbacks too", n)
	}
	if len(tf.Attempts) != 1 || tf.Attempts[0].Outcome != handoff.OutcomeError {
		t.Errorf("attempts = %+v, want the one stopped attempt", tf.Attempts)
	}
	if tf.Ack.Status != handoff.AckPending {
		t.Errorf("ack = %+v, want pending: the bot must be told", tf.Ack)
	}
	stored, err := svc.Get(ctx(t), tf.ID)
	if err != nil || stored.Status != handoff.StatusFailed || stored.Caller != "event:com.acme.bot@111122223333" {
		t.Fatalf("stored = %+v, %v; want the failed transfer with its caller", stored, err)
	}
}
