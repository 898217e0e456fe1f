// Package boot is the wiring the four Lambda mains share: the configuration they read from the
// environment (once, in main, checked before the first request) and the clients and adapters
// built from it. It holds no logic of its own; everything it builds is a ready part for core.
package boot

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"handoff/core/pacing"
)

// Config is every setting a function reads from its environment. Each main reads only the
// variables its resource in template.yaml declares: the Globals' ones (TABLE_NAME,
// SECRET_PREFIX, EVENT_BUS_NAME, LOG_LEVEL), and the groups it asks Load for.
type Config struct {
	TableName    string
	SecretPrefix string
	EventBusName string
	LogLevel     slog.Level
	// Callbacks
	CallbackBaseURL string // no trailing slash; empty: the transfer function uses the request's domain
	CallbackTimeout time.Duration
	// Idempotency; zero when not read (the store's default then applies)
	IdempotencyTTL time.Duration
	// Metrics: the CloudWatch namespace, and whether every metric carries a Tenant dimension
	// (one metric per tenant: off unless a deployment asks).
	MetricsNamespace       string
	MetricsTenantDimension bool
	// Pacing (docs/pacing.md): the FIFO queue of transfers waiting for their vendor's rate,
	// how many one tenant may have queued, and the rates over the vendors' defaults.
	TransferQueueURL string
	QueueBound       int
	VendorRates      pacing.Limits
}

// A Group is a set of variables only some functions declare, and so read.
type Group func(*reader, *Config)

// Callbacks reads CALLBACK_BASE_URL and CALLBACK_TIMEOUT: for the functions that hand vendors a
// callback URL or give up on callbacks that never came.
func Callbacks(r *reader, c *Config) {
	c.CallbackBaseURL = r.callbackURL("CALLBACK_BASE_URL")
	c.CallbackTimeout = r.duration("CALLBACK_TIMEOUT", "15m")
}

// Idempotency reads IDEMPOTENCY_TTL: for the function that takes POST /transfers.
func Idempotency(r *reader, c *Config) {
	c.IdempotencyTTL = r.duration("IDEMPOTENCY_TTL", "24h")
}

// Pacing reads TRANSFER_QUEUE_URL, QUEUE_BOUND and VENDOR_RATES: for the function that queues
// and drains transfers. The queue is a FIFO queue (its URL ends in .fifo); the bound a whole
// number of at least 1 (default 1000); the rates as pacing.ParseLimits reads them.
func Pacing(r *reader, c *Config) {
	c.TransferQueueURL = r.required("TRANSFER_QUEUE_URL")
	if c.TransferQueueURL != "" && !strings.HasSuffix(c.TransferQueueURL, ".fifo") {
		r.problem("TRANSFER_QUEUE_URL %q must be a FIFO queue's URL (ending in .fifo)", c.TransferQueueURL)
	}
	c.QueueBound = pacing.DefaultQueueBound
	if v := r.getenv("QUEUE_BOUND"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			r.problem("QUEUE_BOUND %q must be a whole number of at least 1", v)
		}
		c.QueueBound = n
	}
	limits, err := pacing.ParseLimits(r.getenv("VENDOR_RATES"))
	if err != nil {
		r.problem("VENDOR_RATES: %v", err)
	}
	c.VendorRates = limits
}

// Load reads the configuration through getenv (os.Getenv in main) and checks all of it, so a
// function fails its init, not its first request. The error names every setting that is wrong,
// on one line.
func Load(getenv func(string) string, groups ...Group) (Config, error) {
	r := &reader{getenv: getenv}
	c := Config{
		TableName:              r.required("TABLE_NAME"),
		SecretPrefix:           r.required("SECRET_PREFIX"),
		EventBusName:           r.required("EVENT_BUS_NAME"),
		LogLevel:               r.logLevel("LOG_LEVEL"),
		MetricsNamespace:       orDefault(r.getenv("METRICS_NAMESPACE"), "Handoff"),
		MetricsTenantDimension: r.boolean("METRICS_TENANT_DIMENSION"),
	}
	if strings.ContainsAny(c.SecretPrefix, "*?") {
		r.problem("SECRET_PREFIX %q must not hold a wildcard", c.SecretPrefix)
	}
	for _, g := range groups {
		g(r, &c)
	}
	if len(r.problems) > 0 {
		return Config{}, fmt.Errorf("invalid configuration: %s", strings.Join(r.problems, "; "))
	}
	return c, nil
}

// reader reads variables and collects what is wrong with them.
type reader struct {
	getenv   func(string) string
	problems []string
}

func (r *reader) problem(format string, args ...any) {
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

func (r *reader) required(name string) string {
	v := r.getenv(name)
	if v == "" {
		r.problem("%s is not set", name)
	}
	return v
}

func (r *reader) logLevel(name string) slog.Level {
	var level slog.Level
	v := r.getenv(name)
	if v == "" {
		return slog.LevelInfo
	}
	if err := level.UnmarshalText([]byte(v)); err != nil {
		r.problem("%s %q is not one of debug, info, warn, error", name, v)
	}
	return level
}

// boolean reads true or false; empty is false.
func (r *reader) boolean(name string) bool {
	switch v := r.getenv(name); v {
	case "", "false":
		return false
	case "true":
		return true
	default:
		r.problem("%s %q must be true or false", name, v)
		return false
	}
}

// duration reads a positive Go duration; def applies when the variable is empty.
func (r *reader) duration(name, def string) time.Duration {
	v := r.getenv(name)
	if v == "" {
		v = def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		r.problem("%s %q must be a positive duration such as %s", name, v, def)
		return 0
	}
	return d
}

// callbackURL reads a base URL vendors can call back: https, or http on a loopback host (the
// local stack's gateway). Empty is allowed: see Config.CallbackBaseURL.
func (r *reader) callbackURL(name string) string {
	v := strings.TrimRight(r.getenv(name), "/")
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	switch {
	case err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "":
		r.problem("%s %q must be a URL such as https://api.example.com", name, v)
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	default:
		r.problem("%s %q must be https (http only on a loopback host)", name, v)
	}
	return v
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
