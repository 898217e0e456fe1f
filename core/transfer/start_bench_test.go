package transfer_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strconv"
	"testing"

	"handoff/core/handoff"
	"handoff/core/store/memstore"
	"handoff/core/transfer"
	"handoff/core/vendors"
)

// The benchmarks here measure the transfer use case's own work: the store is memstore and the
// vendor answers at once, in process, so what is left is validation, claiming, the attempt loop,
// the timeline and the memo. Budget (README, Performance): under 30 µs and 150 allocations per
// transfer.

// instantVendor accepts every transfer at once, as a synchronous vendor that confirmed would.
type instantVendor struct{}

func (instantVendor) Supports(handoff.TargetType) bool { return true }

func (instantVendor) Transfer(_ context.Context, req vendors.TransferRequest) (vendors.TransferResult, error) {
	return vendors.TransferResult{Outcome: handoff.OutcomeTransferred, VendorRef: req.Conversation.ID}, nil
}

// benchVendors registers instantVendor as "bitrix24" and a webhook bot.
type benchVendors struct{}

func (benchVendors) Transferer(name string) (vendors.Transferer, bool) {
	return instantVendor{}, name == "bitrix24"
}
func (benchVendors) Acker(name string) (vendors.Acker, bool) { return nil, name == "webhook" }
func (benchVendors) CallbackParser(string) (vendors.CallbackParser, bool) {
	return nil, false
}

// benchRequest is the README's Bitrix24 example: a target, two fallbacks, a note, a bot and
// metadata, as POST /transfers decodes it.
func benchRequest(b *testing.B) handoff.Request {
	b.Helper()
	r, err := handoff.DecodeRequest([]byte(`{"tenant":"demo","vendor":"bitrix24","conversation":{"id":"112"},
		"target":{"type":"agent","id":"12"},"fallbacks":[{"type":"queue","id":"1"},{"type":"next"}],
		"note":"Customer asks about a refund for order A-17.","options":{"leave":false},
		"bot":{"vendor":"webhook","sessionId":"web-5f1c9a"},"metadata":{"orderId":"A-17"}}`))
	if err != nil {
		b.Fatal(err)
	}
	return r
}

func benchService() *transfer.Service {
	return transfer.New(memstore.New(nil), benchVendors{}, slog.New(slog.NewJSONHandler(io.Discard, nil)))
}

// BenchmarkStart is one new transfer per operation: a fresh idempotency key each time.
func BenchmarkStart(b *testing.B) {
	svc, req, ctx := benchService(), benchRequest(b), context.Background()
	keys := make([]string, b.N)
	for i := range keys {
		keys[i] = "bench-" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		res, err := svc.Start(ctx, transfer.Input{Request: req, Key: keys[i]})
		if err != nil || res.Transfer.Status != handoff.StatusTransferred {
			b.Fatalf("Start = %+v, %v", res, err)
		}
	}
}

// BenchmarkStartDuplicate is a duplicate of a key this container completed: served from the
// memo, with no store request.
func BenchmarkStartDuplicate(b *testing.B) {
	svc, req, ctx := benchService(), benchRequest(b), context.Background()
	in := transfer.Input{Request: req, Key: "bench-dup"}
	if _, err := svc.Start(ctx, in); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		res, err := svc.Start(ctx, in)
		if err != nil || !res.Replayed {
			b.Fatalf("Start = %+v, %v", res, err)
		}
	}
}

// BenchmarkStartJSON adds what every answer costs on top of Start: the transfer as JSON.
func BenchmarkStartJSON(b *testing.B) {
	svc, req, ctx := benchService(), benchRequest(b), context.Background()
	keys := make([]string, b.N)
	for i := range keys {
		keys[i] = "bench-" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		res, err := svc.Start(ctx, transfer.Input{Request: req, Key: keys[i]})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(res.Transfer); err != nil {
			b.Fatal(err)
		}
	}
}
