package boot_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"handoff/functions/internal/boot"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestLoadFillsDefaults(t *testing.T) {
	c, err := boot.Load(env(map[string]string{"TABLE_NAME": "t", "CALLBACK_BASE_URL": "https://api.example.com/"}))
	if err != nil {
		t.Fatal(err)
	}
	want := boot.Config{TableName: "t", SecretPrefix: "handoff/", EventBusName: "default",
		CallbackBaseURL: "https://api.example.com", LogLevel: slog.LevelInfo,
		IdempotencyTTL: 24 * time.Hour, SecretTTL: 5 * time.Minute, AvailabilityTTL: 10 * time.Second,
		CallbackTimeout: 15 * time.Minute, MetricsNamespace: "Handoff"}
	if c != want {
		t.Errorf("Load = %+v, want %+v", c, want)
	}
}

func TestLoadRefusesBadSettingsNamingThem(t *testing.T) {
	cases := map[string]map[string]string{
		"TABLE_NAME":               {},
		"LOG_LEVEL":                {"TABLE_NAME": "t", "LOG_LEVEL": "loud"},
		"IDEMPOTENCY_TTL":          {"TABLE_NAME": "t", "IDEMPOTENCY_TTL": "a day"},
		"SECRET_TTL":               {"TABLE_NAME": "t", "SECRET_TTL": "-1m"},
		"METRICS_TENANT_DIMENSION": {"TABLE_NAME": "t", "METRICS_TENANT_DIMENSION": "yes"},
	}
	for name, vars := range cases {
		if _, err := boot.Load(env(vars)); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err = %v, want one naming %s", name, err, name)
		}
	}
}
