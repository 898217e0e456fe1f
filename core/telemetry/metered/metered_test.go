package metered_test

import (
	"context"
	"testing"

	"handoff/core/handoff"
	"handoff/core/telemetry"
	"handoff/core/telemetry/emftest"
	"handoff/core/telemetry/metered"
	"handoff/core/vendors"
)

type fake struct{ err error }

func (f fake) Supports(handoff.TargetType) bool { return true }
func (f fake) Transfer(context.Context, vendors.TransferRequest) (vendors.TransferResult, error) {
	return vendors.TransferResult{Outcome: handoff.OutcomeTransferred}, f.err
}
func (f fake) Ack(context.Context, handoff.Transfer) (vendors.AckResult, error) {
	return vendors.AckResult{}, f.err
}
func (f fake) Availability(context.Context, vendors.AvailabilityRequest) ([]handoff.Availability, error) {
	return nil, f.err
}

type registry struct{ f fake }

func (r registry) Transferer(string) (vendors.Transferer, bool)            { return r.f, true }
func (r registry) Acker(string) (vendors.Acker, bool)                      { return r.f, true }
func (r registry) Availability(string) (vendors.AvailabilityChecker, bool) { return r.f, true }
func (r registry) CallbackParser(string) (vendors.CallbackParser, bool)    { return nil, false }

func TestEveryVendorCallIsTimedAndItsErrorsCounted(t *testing.T) {
	var buf emftest.Buffer
	ctx := telemetry.WithMetrics(context.Background(), telemetry.NewMetrics(&buf, "Handoff", false))
	ok := metered.New(registry{})
	down := metered.New(registry{fake{handoff.E(handoff.CodeVendorUnavailable, "test", "down", nil)}})
	for _, v := range []*metered.Vendors{ok, down} {
		tr, _ := v.Transferer("koreai")
		_, _ = tr.Transfer(ctx, vendors.TransferRequest{})
		if !tr.Supports(handoff.TargetAgent) {
			t.Error("the wrapped transferer lost Supports")
		}
		ack, _ := v.Acker("salesforce")
		_, _ = ack.Ack(ctx, handoff.Transfer{})
		av, _ := v.Availability("liveperson")
		_, _ = av.Availability(ctx, vendors.AvailabilityRequest{})
	}
	points, err := emftest.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ vendor, op string }{{"koreai", "transfer"}, {"salesforce", "ack"}, {"liveperson", "availability"}} {
		n := 0
		for _, p := range points {
			if p.Name == "VendorLatency" && p.Root["Vendor"] == c.vendor && p.Root["Operation"] == c.op {
				n++
			}
		}
		if n != 2 {
			t.Errorf("%s %s: %d latency points, want 2", c.vendor, c.op, n)
		}
		if got := emftest.Sum(points, "VendorErrors", map[string]string{"Vendor": c.vendor, "Code": "VENDOR_UNAVAILABLE"}); got != 1 {
			t.Errorf("%s: %v errors, want 1", c.vendor, got)
		}
	}
	if _, found := ok.CallbackParser("koreai"); found {
		t.Error("a parser the registry does not have was found")
	}
}

// strict is an adapter with request checks of its own (vendors.Validator).
type strict struct{ fake }

func (strict) Validate(handoff.Request) error { return handoff.Invalid("bot.sessionId", "required") }

type strictRegistry struct{ registry }

func (strictRegistry) Transferer(string) (vendors.Transferer, bool) { return strict{}, true }
func (strictRegistry) Acker(string) (vendors.Acker, bool)           { return strict{}, true }

// The wrappers keep the adapter's own request checks: the transfer service asks them through it.
func TestTheWrappedAdaptersKeepTheirValidation(t *testing.T) {
	v := metered.New(strictRegistry{})
	tr, _ := v.Transferer("x")
	ack, _ := v.Acker("x")
	for name, a := range map[string]any{"transferer": tr, "acker": ack} {
		if err := vendors.Validate(a, handoff.Request{}); handoff.ErrorCode(err) != handoff.CodeInvalidRequest {
			t.Errorf("%s: Validate = %v, want the adapter's INVALID_REQUEST", name, err)
		}
	}
	plain := metered.New(registry{})
	tr, _ = plain.Transferer("x")
	if err := vendors.Validate(tr, handoff.Request{}); err != nil {
		t.Errorf("an adapter without checks: Validate = %v, want nil", err)
	}
}
