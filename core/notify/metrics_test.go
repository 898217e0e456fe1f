package notify_test

import (
	"context"
	"testing"

	"handoff/core/handoff"
	"handoff/core/store/memstore"
	"handoff/core/telemetry"
	"handoff/core/telemetry/emftest"
)

// metricsCtx captures the EMF lines written under it.
func metricsCtx() (context.Context, *emftest.Buffer) {
	buf := &emftest.Buffer{}
	return telemetry.WithMetrics(context.Background(), telemetry.NewMetrics(buf, "Handoff", false)), buf
}

func TestNotifyCountsTheOutcomeAndTheAckOnce(t *testing.T) {
	st, a, b := memstore.New(nil), &acker{}, &bus{}
	tr := final(t, st, handoff.StatusTransferred, true)
	ctx, buf := metricsCtx()
	for range 2 { // a redelivered record counts nothing more
		if err := newNotifier(st, a, b).Notify(ctx, tr.ID); err != nil {
			t.Fatal(err)
		}
	}
	points, err := emftest.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if got := emftest.Sum(points, "TransfersSucceeded", map[string]string{"Vendor": "v"}); got != 1 {
		t.Errorf("TransfersSucceeded = %v, want 1", got)
	}
	if got := emftest.Sum(points, "AcksSent", map[string]string{"Vendor": "webhook"}); got != 1 {
		t.Errorf("AcksSent = %v, want 1", got)
	}
}

func TestNotifyCountsAFailedTransferAndAFailedAck(t *testing.T) {
	st, b := memstore.New(nil), &bus{}
	refused := handoff.E(handoff.CodeVendorRejected, "test", "no", nil)
	a := &acker{errs: []error{refused}}
	tr := final(t, st, handoff.StatusFailed, true)
	ctx, buf := metricsCtx()
	if err := newNotifier(st, a, b).Notify(ctx, tr.ID); err != nil {
		t.Fatal(err)
	}
	points, err := emftest.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if got := emftest.Sum(points, "TransfersFailed", map[string]string{"Vendor": "v"}); got != 1 {
		t.Errorf("TransfersFailed = %v, want 1", got)
	}
	if got := emftest.Sum(points, "AcksFailed", map[string]string{"Vendor": "webhook"}); got != 1 {
		t.Errorf("AcksFailed = %v, want 1", got)
	}
	if got := emftest.Sum(points, "AcksSent", nil); got != 0 {
		t.Errorf("AcksSent = %v for a refused ack", got)
	}
}
