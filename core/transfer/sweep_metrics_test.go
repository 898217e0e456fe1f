package transfer_test

import (
	"bytes"
	"log/slog"
	"testing"
	"time"

	"handoff/core/store/memstore"
	"handoff/core/telemetry"
	"handoff/core/telemetry/emftest"
	"handoff/core/transfer"
)

func TestSweepCountsEachGiveUp(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	st := memstore.New(clock)
	svc := transfer.New(st, registry{tr: &scripted{async: true}, parser: &parser{}}, slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)),
		transfer.WithClock(clock), transfer.WithCallbackTimeout(10*time.Minute))
	if _, err := svc.Start(ctx(t), transfer.Input{Request: request(), Key: "a"}); err != nil {
		t.Fatal(err)
	}
	var buf emftest.Buffer
	mctx := telemetry.WithMetrics(ctx(t), telemetry.NewMetrics(&buf, "Handoff", false))
	if n, err := svc.Sweep(mctx); n != 0 || err != nil {
		t.Fatalf("early sweep = %d, %v", n, err)
	}
	for range 2 { // the agent, then the queue fallback, never call back
		now = now.Add(11 * time.Minute)
		if n, err := svc.Sweep(mctx); n != 1 || err != nil {
			t.Fatalf("sweep = %d, %v, want 1", n, err)
		}
	}
	points, err := emftest.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if got := emftest.Sum(points, "SweepGiveUps", map[string]string{"Vendor": "acme"}); got != 2 {
		t.Errorf("SweepGiveUps = %v, want 2", got)
	}
}
