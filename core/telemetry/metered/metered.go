// Package metered times every vendor call and counts its errors, by vendor and operation, by
// wrapping the adapters a registry hands out: the use cases call vendors as before and need no
// metric code of their own.
package metered

import (
	"context"
	"time"

	"handoff/core/handoff"
	"handoff/core/telemetry"
	"handoff/core/vendors"
)

// Registry is what is wrapped (vendors.Registry implements it).
type Registry interface {
	Transferer(name string) (vendors.Transferer, bool)
	Acker(name string) (vendors.Acker, bool)
	Availability(name string) (vendors.AvailabilityChecker, bool)
	CallbackParser(name string) (vendors.CallbackParser, bool)
}

// Vendors hands out the registry's adapters, measured. Callback parsers are handed out as they
// are: they check a webhook, they do not call the vendor.
type Vendors struct {
	r   Registry
	now func() time.Time
}

// New wraps r.
func New(r Registry) *Vendors { return &Vendors{r: r, now: time.Now} }

// Transferer is r's transferer for name, measured.
func (v *Vendors) Transferer(name string) (vendors.Transferer, bool) {
	t, ok := v.r.Transferer(name)
	if !ok {
		return nil, false
	}
	return transferer{t, v.measure(name, "transfer")}, true
}

// Acker is r's acker for name, measured.
func (v *Vendors) Acker(name string) (vendors.Acker, bool) {
	a, ok := v.r.Acker(name)
	if !ok {
		return nil, false
	}
	return acker{a, v.measure(name, "ack")}, true
}

// Availability is r's availability checker for name, measured.
func (v *Vendors) Availability(name string) (vendors.AvailabilityChecker, bool) {
	c, ok := v.r.Availability(name)
	if !ok {
		return nil, false
	}
	return checker{c, v.measure(name, "availability")}, true
}

// CallbackParser is r's callback parser for name.
func (v *Vendors) CallbackParser(name string) (vendors.CallbackParser, bool) {
	return v.r.CallbackParser(name)
}

// measure returns a timer: call it before the vendor call, and the func it returns after.
func (v *Vendors) measure(vendor, op string) func(context.Context) func(error) {
	return func(ctx context.Context) func(error) {
		start := v.now()
		return func(err error) {
			telemetry.Latency(ctx, telemetry.VendorLatency, v.now().Sub(start), telemetry.Dims{Vendor: vendor, Operation: op})
			if err != nil {
				telemetry.Count(ctx, telemetry.VendorErrors, telemetry.Dims{Vendor: vendor, Code: string(handoff.ErrorCode(err))})
			}
		}
	}
}

type transferer struct {
	vendors.Transferer
	timer func(context.Context) func(error)
}

func (t transferer) Transfer(ctx context.Context, req vendors.TransferRequest) (vendors.TransferResult, error) {
	return timed(ctx, t.timer, func() (vendors.TransferResult, error) { return t.Transferer.Transfer(ctx, req) })
}

// Validate passes the adapter's own request checks through the wrapper (vendors.Validator).
func (t transferer) Validate(req handoff.Request) error { return vendors.Validate(t.Transferer, req) }

type acker struct {
	vendors.Acker
	timer func(context.Context) func(error)
}

func (a acker) Ack(ctx context.Context, t handoff.Transfer) (vendors.AckResult, error) {
	return timed(ctx, a.timer, func() (vendors.AckResult, error) { return a.Acker.Ack(ctx, t) })
}

// Validate passes the adapter's own request checks through the wrapper (vendors.Validator).
func (a acker) Validate(req handoff.Request) error { return vendors.Validate(a.Acker, req) }

type checker struct {
	vendors.AvailabilityChecker
	timer func(context.Context) func(error)
}

func (c checker) Availability(ctx context.Context, req vendors.AvailabilityRequest) ([]handoff.Availability, error) {
	return timed(ctx, c.timer, func() ([]handoff.Availability, error) { return c.AvailabilityChecker.Availability(ctx, req) })
}

// timed makes one vendor call under timer.
func timed[R any](ctx context.Context, timer func(context.Context) func(error), call func() (R, error)) (R, error) {
	done := timer(ctx)
	res, err := call()
	done(err)
	return res, err
}
