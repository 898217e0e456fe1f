package telemetry

import (
	"context"
	"encoding/json"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// Name is a metric's name in CloudWatch. docs/metrics.md has one row for each.
type Name string

// The metrics. Their dimension sets are in specs; adding one here means a row in docs/metrics.md
// (a test compares them).
const (
	TransfersStarted        Name = "TransfersStarted"
	TransfersSucceeded      Name = "TransfersSucceeded"
	TransfersFailed         Name = "TransfersFailed"
	VendorLatency           Name = "VendorLatency"
	VendorErrors            Name = "VendorErrors"
	AcksSent                Name = "AcksSent"
	AcksFailed              Name = "AcksFailed"
	AcksUncertain           Name = "AcksUncertain"
	EscalationsDeadLettered Name = "EscalationsDeadLettered"
	SweepGiveUps            Name = "SweepGiveUps"
	CallbacksRefused        Name = "CallbacksRefused"
	IdempotentReplays       Name = "IdempotentReplays"
)

// Dimension names.
const (
	DimVendor    = "Vendor"
	DimCode      = "Code"
	DimOperation = "Operation"
	DimTenant    = "Tenant"
)

type spec struct {
	unit string
	// sets are the dimension sets the metric is published under. Every value is from a closed
	// set (vendor keys, error codes, operations), so cardinality stays bounded.
	sets [][]string
}

var specs = map[Name]spec{
	TransfersStarted:        {"Count", [][]string{{DimVendor}}},
	TransfersSucceeded:      {"Count", [][]string{{DimVendor}}},
	TransfersFailed:         {"Count", [][]string{{DimVendor}, {DimVendor, DimCode}}},
	VendorLatency:           {"Milliseconds", [][]string{{DimVendor}, {DimVendor, DimOperation}}},
	VendorErrors:            {"Count", [][]string{{DimVendor}, {DimVendor, DimCode}}},
	AcksSent:                {"Count", [][]string{{DimVendor}}},
	AcksFailed:              {"Count", [][]string{{DimVendor}}},
	AcksUncertain:           {"Count", [][]string{{DimVendor}}},
	EscalationsDeadLettered: {"Count", [][]string{{DimCode}}},
	SweepGiveUps:            {"Count", [][]string{{DimVendor}}},
	CallbacksRefused:        {"Count", [][]string{{DimVendor}}},
	IdempotentReplays:       {"Count", [][]string{{DimVendor}}},
}

// Names lists every metric (docs and tests).
func Names() []Name {
	out := make([]Name, 0, len(specs))
	for n := range specs {
		out = append(out, n)
	}
	return out
}

// Dims are a metric's dimension values; a metric uses those its dimension sets name.
type Dims struct {
	Vendor, Code, Operation string
	// Tenant is published only when the Metrics were built with the tenant dimension on.
	Tenant string
}

func (d Dims) value(name string) string {
	v := map[string]string{DimVendor: d.Vendor, DimCode: d.Code, DimOperation: d.Operation,
		DimTenant: d.Tenant}[name]
	if v == "" {
		return "none" // CloudWatch drops a metric whose dimension is missing; keep it visible
	}
	return v
}

// Metrics writes EMF lines to w (the function's stdout, which Lambda sends to CloudWatch Logs,
// where they become metrics). One line per data point: no buffering to lose when a function
// is frozen or dies.
type Metrics struct {
	mu        sync.Mutex
	w         io.Writer
	namespace string
	tenant    bool
	now       func() time.Time
}

// NewMetrics builds the emitter. tenantDimension adds a Tenant dimension to every set (one
// metric per tenant: costs grow with tenants, so it is off unless asked for).
func NewMetrics(w io.Writer, namespace string, tenantDimension bool) *Metrics {
	return &Metrics{w: w, namespace: namespace, tenant: tenantDimension, now: time.Now}
}

var defaultMetrics atomic.Pointer[Metrics]

// SetDefault makes m the process's emitter (boot does, once); nil turns metrics off.
func SetDefault(m *Metrics) { defaultMetrics.Store(m) }

type metricsKey struct{}

// WithMetrics makes m the emitter for work under ctx (tests).
func WithMetrics(ctx context.Context, m *Metrics) context.Context {
	return context.WithValue(ctx, metricsKey{}, m)
}

func metricsOf(ctx context.Context) *Metrics {
	if ctx != nil {
		if m, ok := ctx.Value(metricsKey{}).(*Metrics); ok {
			return m
		}
	}
	return defaultMetrics.Load()
}

// Count adds 1 to a counting metric.
func Count(ctx context.Context, name Name, d Dims) { Put(ctx, name, 1, d) }

// Latency records a duration, in milliseconds.
func Latency(ctx context.Context, name Name, took time.Duration, d Dims) {
	Put(ctx, name, float64(took.Microseconds())/1000, d)
}

// Put records one value of a metric. Unknown names are ignored (never a crash for a metric).
func Put(ctx context.Context, name Name, value float64, d Dims) {
	m := metricsOf(ctx)
	sp, ok := specs[name]
	if m == nil || !ok {
		return
	}
	m.write(ctx, name, sp, value, d)
}

type directive struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []metricDef `json:"Metrics"`
}

type metricDef struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

type awsMeta struct {
	Timestamp         int64       `json:"Timestamp"`
	CloudWatchMetrics []directive `json:"CloudWatchMetrics"`
}

func (m *Metrics) write(ctx context.Context, name Name, sp spec, value float64, d Dims) {
	sets := sp.sets
	if m.tenant && d.Tenant != "" {
		sets = make([][]string, 0, 2*len(sp.sets))
		for _, s := range sp.sets {
			sets = append(sets, s, append(append([]string{}, s...), DimTenant))
		}
	}
	line := map[string]json.RawMessage{}
	put := func(k string, v any) { b, _ := json.Marshal(v); line[k] = b }
	for _, s := range sets {
		for _, dim := range s {
			put(dim, d.value(dim))
		}
	}
	put(string(name), value)
	put("_aws", awsMeta{Timestamp: m.now().UnixMilli(), CloudWatchMetrics: []directive{{
		Namespace: m.namespace, Dimensions: sets, Metrics: []metricDef{{Name: string(name), Unit: sp.unit}},
	}}})
	if s := scopeOf(ctx); s != nil {
		s.properties(line)
	}
	b, err := json.Marshal(line)
	if err != nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	_, _ = m.w.Write(append(b, '\n'))
}
