// Package telemetry is what an operator sees of a running function: log lines that carry the
// invocation they belong to (request id, function, cold start, and the transfer, tenant and
// caller once known), and metrics in CloudWatch's Embedded Metric Format, written to the log so
// that no API call is made for them. docs/metrics.md names every metric.
package telemetry

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// Keys of the invocation fields on every log line (and on every metric line, as properties).
const (
	KeyRequestID = "requestId"
	KeyFunction  = "function"
	KeyColdStart = "coldStart"
	KeyTransfer  = "transfer"
	KeyTenant    = "tenant"
	KeyCaller    = "caller"
)

// scope is one invocation: set by Wrap, filled in by Annotate as the handler learns more.
type scope struct {
	requestID string
	function  string
	cold      bool
	mu        sync.Mutex
	fields    []slog.Attr // transfer, tenant, caller: at most one of each, in the order learnt
}

type scopeKey struct{}

var (
	// current is the invocation in progress. Lambda hands a Go function one invocation at a time
	// per process, so log calls made without the invocation's context (most of core's) still
	// find it here.
	current atomic.Pointer[scope]
	// warm is set by the first invocation: only that one is a cold start.
	warm atomic.Bool
)

// Wrap makes fn an invocation scope: every log line and metric written while it runs carries the
// request id (from the Lambda context), the function's name and, on the process's first
// invocation, coldStart=true.
func Wrap[E, R any](fn func(context.Context, E) (R, error)) func(context.Context, E) (R, error) {
	return func(ctx context.Context, ev E) (R, error) {
		ctx, end := Begin(ctx)
		defer end()
		return fn(ctx, ev)
	}
}

// Begin starts an invocation scope outside Wrap (tests, the local stack); end closes it.
func Begin(ctx context.Context) (context.Context, func()) {
	s := &scope{function: lambdacontext.FunctionName, cold: !warm.Swap(true)}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		s.requestID = lc.AwsRequestID
		if lc.InvokedFunctionArn != "" && s.function == "" {
			s.function = lc.InvokedFunctionArn
		}
	}
	prev := current.Swap(s)
	return context.WithValue(ctx, scopeKey{}, s), func() { current.CompareAndSwap(s, prev) }
}

// Annotate records what the handler has learnt about the invocation (Transfer, Tenant, Caller)
// so that every later line carries it. Empty values are ignored; a key given again is replaced.
func Annotate(ctx context.Context, attrs ...slog.Attr) {
	s := scopeOf(ctx)
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
next:
	for _, a := range attrs {
		if a.Value.String() == "" {
			continue
		}
		for i := range s.fields {
			if s.fields[i].Key == a.Key {
				s.fields[i] = a
				continue next
			}
		}
		s.fields = append(s.fields, a)
	}
}

// Transfer, Tenant and Caller are the attributes Annotate takes.
func Transfer(id string) slog.Attr      { return slog.String(KeyTransfer, id) }
func Tenant(name string) slog.Attr      { return slog.String(KeyTenant, name) }
func Caller(principal string) slog.Attr { return slog.String(KeyCaller, principal) }

// scopeOf is the invocation ctx belongs to, else the one in progress, else nil.
func scopeOf(ctx context.Context) *scope {
	if ctx != nil {
		if s, ok := ctx.Value(scopeKey{}).(*scope); ok {
			return s
		}
	}
	return current.Load()
}

// attrs are the scope's fields, the ones a line already has left out.
func (s *scope) attrs(has func(string) bool) []slog.Attr {
	out := make([]slog.Attr, 0, 6)
	add := func(a slog.Attr) {
		if !has(a.Key) {
			out = append(out, a)
		}
	}
	if s.requestID != "" {
		add(slog.String(KeyRequestID, s.requestID))
	}
	if s.function != "" {
		add(slog.String(KeyFunction, s.function))
	}
	if s.cold {
		add(slog.Bool(KeyColdStart, true))
	}
	s.mu.Lock()
	for _, a := range s.fields {
		add(a)
	}
	s.mu.Unlock()
	return out
}

// properties writes the scope's fields into a metric line (they are not dimensions).
func (s *scope) properties(into map[string]json.RawMessage) {
	for _, a := range s.attrs(func(k string) bool { _, ok := into[k]; return ok }) {
		b, _ := json.Marshal(a.Value.Any())
		into[a.Key] = b
	}
}
