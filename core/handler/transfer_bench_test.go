package handler_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"handoff/core/handler"
	"handoff/core/handoff"
	"handoff/core/store/memstore"
	"handoff/core/transfer"
	"handoff/core/vendors"
)

// BenchmarkTransferHTTP is the transfer function's own work for one POST /transfers, as Lambda
// hands it over: the HTTP API event's JSON decoded, the body decoded and validated, Start run on
// memstore with a vendor that answers at once in process, and the response encoded to the JSON
// the Runtime API is sent. Budget (README, Performance): under 30 µs and 150 allocations.
func BenchmarkTransferHTTP(b *testing.B) {
	newHandler := func() *handler.Transfer {
		return handler.NewTransfer(transfer.New(memstore.New(nil), benchVendors{}, benchLog()), allowAll{}, benchLog(), "")
	}
	h := newHandler()
	payload, digits := benchEvent(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i > 0 && i%benchContainer == 0 {
			b.StopTimer()
			h = newHandler()
			b.StartTimer()
		}
		setKey(payload[digits:digits+keyDigits], i)
		out, err := h.Invoke(ctx, payload)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(out); err != nil {
			b.Fatal(err)
		}
		if resp := out.(events.APIGatewayV2HTTPResponse); resp.StatusCode != 201 {
			b.Fatalf("answer %d: %s", resp.StatusCode, resp.Body)
		}
	}
}

// benchContainer is how many transfers one handler (one container) serves before the benchmark
// starts a new one, untimed. memstore stands in for DynamoDB in the process, so every transfer
// of the run would stay on the heap and the garbage collector would mark them all, time a
// container never spends on a table that lives elsewhere: a third of the benchmark's time at
// b.N in the tens of thousands. Each container still fills its memo (1,024 keys) for most of its
// run, as a long-lived container does.
const benchContainer = 4096

// BenchmarkTransferHTTPDuplicate is the same request again, the key already completed here.
func BenchmarkTransferHTTPDuplicate(b *testing.B) {
	h := handler.NewTransfer(transfer.New(memstore.New(nil), benchVendors{}, benchLog()), allowAll{}, benchLog(), "")
	payload, _ := benchEvent(b)
	ctx := context.Background()
	if _, err := h.Invoke(ctx, payload); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		out, err := h.Invoke(ctx, payload)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(out); err != nil {
			b.Fatal(err)
		}
	}
}

// keyDigits is the width of the counter written into the Idempotency-Key of benchEvent.
const keyDigits = 12

// benchEvent is events/transfer-post-bitrix24.json with an Idempotency-Key ending in keyDigits
// zeros, and the offset of those digits, so each operation can write a new key in place.
func benchEvent(b *testing.B) (json.RawMessage, int) {
	b.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "events", "transfer-post-bitrix24.json"))
	if err != nil {
		b.Fatal(err)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		b.Fatal(err)
	}
	marker := "bench-" + string(bytes.Repeat([]byte("0"), keyDigits))
	ev.Headers["idempotency-key"] = marker
	payload, err := json.Marshal(ev)
	if err != nil {
		b.Fatal(err)
	}
	at := bytes.Index(payload, []byte(marker))
	if at < 0 {
		b.Fatal("key marker not found")
	}
	return payload, at + len("bench-")
}

// setKey writes n into dst as zero-padded decimal digits.
func setKey(dst []byte, n int) {
	var buf [20]byte
	s := strconv.AppendInt(buf[:0], int64(n), 10)
	for i := range dst {
		dst[i] = '0'
	}
	copy(dst[len(dst)-len(s):], s)
}

func benchLog() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }

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
