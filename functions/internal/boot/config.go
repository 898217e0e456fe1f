// Package boot is the wiring the four Lambda mains share: the configuration they read from the
// environment (once, in main) and the clients and adapters built from it. It holds no logic of
// its own; everything it builds is a ready part for core.
package boot

import (
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Config is every setting a function reads from its environment (see template.yaml).
type Config struct {
	TableName       string
	SecretPrefix    string
	EventBusName    string
	CallbackBaseURL string
	LogLevel        slog.Level
	IdempotencyTTL  time.Duration
	SecretTTL       time.Duration
	AvailabilityTTL time.Duration
	CallbackTimeout time.Duration
	// MetricsNamespace is the CloudWatch namespace of the functions' metrics.
	MetricsNamespace string
	// MetricsTenantDimension adds a Tenant dimension to every metric (one metric per tenant).
	MetricsTenantDimension bool
}

// Load reads the configuration through getenv (os.Getenv in main) and checks it.
func Load(getenv func(string) string) (Config, error) {
	c := Config{
		TableName:       getenv("TABLE_NAME"),
		SecretPrefix:    orDefault(getenv("SECRET_PREFIX"), "handoff/"),
		EventBusName:    orDefault(getenv("EVENT_BUS_NAME"), "default"),
		CallbackBaseURL: strings.TrimRight(getenv("CALLBACK_BASE_URL"), "/"),

		MetricsNamespace: orDefault(getenv("METRICS_NAMESPACE"), "Handoff"),
	}
	if c.TableName == "" {
		return Config{}, fmt.Errorf("TABLE_NAME is not set")
	}
	if err := c.LogLevel.UnmarshalText([]byte(orDefault(getenv("LOG_LEVEL"), "info"))); err != nil {
		return Config{}, fmt.Errorf("LOG_LEVEL: %w", err)
	}
	switch v := getenv("METRICS_TENANT_DIMENSION"); v {
	case "", "false":
	case "true":
		c.MetricsTenantDimension = true
	default:
		return Config{}, fmt.Errorf("METRICS_TENANT_DIMENSION must be true or false, not %q", v)
	}
	durations := []struct {
		name string
		into *time.Duration
		def  string
	}{
		{"IDEMPOTENCY_TTL", &c.IdempotencyTTL, "24h"},
		{"SECRET_TTL", &c.SecretTTL, "5m"},
		{"AVAILABILITY_TTL", &c.AvailabilityTTL, "10s"},
		{"CALLBACK_TIMEOUT", &c.CallbackTimeout, "15m"},
	}
	for _, d := range durations {
		v, err := time.ParseDuration(orDefault(getenv(d.name), d.def))
		if err != nil || v < 0 {
			return Config{}, fmt.Errorf("%s must be a duration such as %s", d.name, d.def)
		}
		*d.into = v
	}
	return c, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
