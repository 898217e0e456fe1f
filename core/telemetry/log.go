package telemetry

import (
	"context"
	"log/slog"
	"slices"
)

// logHandler adds the invocation's fields to every record the inner handler writes, unless the
// record (or the logger, through With) already has a field of that name: the call site knows
// better, e.g. bot-ack logging one transfer of a batch.
type logHandler struct {
	inner slog.Handler
	keys  []string // keys added through WithAttrs
}

// NewLogHandler wraps inner so each line carries the invocation it was written in.
func NewLogHandler(inner slog.Handler) slog.Handler { return &logHandler{inner: inner} }

func (h *logHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *logHandler) Handle(ctx context.Context, r slog.Record) error {
	if s := scopeOf(ctx); s != nil {
		has := func(k string) bool {
			if slices.Contains(h.keys, k) {
				return true
			}
			found := false
			r.Attrs(func(a slog.Attr) bool { found = a.Key == k; return !found })
			return found
		}
		r = r.Clone()
		r.AddAttrs(s.attrs(has)...)
	}
	return h.inner.Handle(ctx, r)
}

func (h *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	keys := slices.Clone(h.keys)
	for _, a := range attrs {
		keys = append(keys, a.Key)
	}
	return &logHandler{inner: h.inner.WithAttrs(attrs), keys: keys}
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	return &logHandler{inner: h.inner.WithGroup(name), keys: h.keys}
}
