package handler_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"handoff/core/handler"
	"handoff/core/handoff"
	"handoff/core/telemetry"
	"handoff/core/telemetry/emftest"
	"handoff/core/transfer"
)

// metered runs fn in an invocation whose metrics and logs the test reads.
func metered(t *testing.T, fn func(ctx context.Context, log *slog.Logger)) ([]emftest.Point, []map[string]any) {
	t.Helper()
	var mbuf emftest.Buffer
	var lbuf bytes.Buffer
	log := slog.New(telemetry.NewLogHandler(slog.NewJSONHandler(&lbuf, nil)))
	ctx := lambdacontext.NewContext(testCtx(t), &lambdacontext.LambdaContext{AwsRequestID: "req-1"})
	ctx, end := telemetry.Begin(telemetry.WithMetrics(ctx, telemetry.NewMetrics(&mbuf, "Handoff", false)))
	fn(ctx, log)
	end()
	points, err := emftest.Parse(mbuf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(lbuf.String()), "\n") {
		var m map[string]any
		if l != "" && json.Unmarshal([]byte(l), &m) == nil {
			lines = append(lines, m)
		}
	}
	return points, lines
}

func TestForgedCallbackIsCountedAsRefused(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want float64
	}{
		{handoff.E(handoff.CodeUnauthorized, "koreai.ParseCallback", "bad token", nil), 1},
		{handoff.E(handoff.CodeNotFound, "transfer.Callback", "no such transfer", nil), 0},
		{nil, 0},
	} {
		points, lines := metered(t, func(ctx context.Context, log *slog.Logger) {
			_, _ = handler.NewCallback(&fakeCallbacks{err: tc.err}, log).HTTP(ctx, sampleHTTP(t, "callback-koreai.json"))
		})
		if got := emftest.Sum(points, "CallbacksRefused", map[string]string{"Vendor": "koreai"}); got != tc.want {
			t.Errorf("%v: CallbacksRefused = %v, want %v", tc.err, got, tc.want)
		}
		for _, l := range lines {
			if l["requestId"] != "req-1" || l["tenant"] != "demo" || l["transfer"] != "7hq3m9x2c5v8k1n4p6r0t3w5yz" {
				t.Errorf("log line without its invocation, tenant and transfer: %v", l)
			}
		}
	}
}

func TestPostTransferCountsStartsAndReplays(t *testing.T) {
	for _, replayed := range []bool{false, true} {
		svc := &fakeTransfers{start: func(in transfer.Input) (transfer.Result, error) {
			return transfer.Result{Transfer: transferred(in.Request), Replayed: replayed}, nil
		}}
		points, lines := metered(t, func(ctx context.Context, log *slog.Logger) {
			resp, _ := handler.NewTransfer(svc, allowAll{}, log, "").HTTP(ctx, sampleHTTP(t, "transfer-post-koreai.json"))
			log.InfoContext(ctx, "answered", "status", resp.StatusCode)
		})
		started := emftest.Sum(points, "TransfersStarted", map[string]string{"Vendor": "koreai"})
		replays := emftest.Sum(points, "IdempotentReplays", map[string]string{"Vendor": "koreai"})
		if (replayed && (started != 0 || replays != 1)) || (!replayed && (started != 1 || replays != 0)) {
			t.Errorf("replayed=%v: started %v, replays %v", replayed, started, replays)
		}
		last := lines[len(lines)-1]
		if last["caller"] != "arn:aws:sts::123456789012:assumed-role/handoff-caller/bot-runtime" ||
			last["tenant"] != "demo" || last["transfer"] != "7hq3m9x2c5v8k1n4p6r0t3w5yz" {
			t.Errorf("log line %v: want caller, tenant and transfer", last)
		}
	}
}

// refuseSources lets every caller in and no event source.
type refuseSources struct{ allowAll }

func (refuseSources) Source(context.Context, string, string, string) error {
	return handoff.E(handoff.CodeForbidden, "test", "source not listed", nil)
}

func TestDeadLetteredEscalationsAreCounted(t *testing.T) {
	cases := []struct {
		name   string
		detail string
		access handler.Access
		err    error
		code   string // "" when Lambda retries it (not dead-lettered by the handler)
	}{
		{"undecodable", `{"tenant":"demo"}`, allowAll{}, nil, "INVALID_REQUEST"},
		{"source not listed", "", refuseSources{}, nil, "FORBIDDEN"},
		{"refused by the vendor", "", allowAll{}, handoff.E(handoff.CodeVendorAuthFailed, "x", "bad", nil), "VENDOR_AUTH_FAILED"},
		{"retried", "", allowAll{}, handoff.E(handoff.CodeVendorUnavailable, "x", "down", nil), ""},
		{"handled", "", allowAll{}, nil, ""},
	}
	for _, tc := range cases {
		ev := escalation(t)
		if tc.detail != "" {
			ev.Detail = json.RawMessage(tc.detail)
		}
		svc := &fakeTransfers{start: func(in transfer.Input) (transfer.Result, error) {
			return transfer.Result{Transfer: transferred(in.Request)}, tc.err
		}}
		points, _ := metered(t, func(ctx context.Context, log *slog.Logger) {
			_ = handler.NewTransfer(svc, tc.access, log, "").Escalation(ctx, ev)
		})
		total := emftest.Sum(points, "EscalationsDeadLettered", nil)
		if tc.code == "" && total != 0 {
			t.Errorf("%s: %v dead-lettered, want none", tc.name, total)
		}
		if tc.code != "" && emftest.Sum(points, "EscalationsDeadLettered", map[string]string{"Code": tc.code}) != 1 {
			t.Errorf("%s: %v dead-lettered, want 1 with code %s", tc.name, total, tc.code)
		}
		if started := emftest.Sum(points, "TransfersStarted", nil); (tc.name == "handled") != (started == 1) {
			t.Errorf("%s: TransfersStarted = %v", tc.name, started)
		}
	}
}
