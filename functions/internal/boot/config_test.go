package boot_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"handoff/core/pacing"
	"handoff/functions/internal/boot"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// globals are the variables template.yaml's Globals give every function.
func globals(more map[string]string) map[string]string {
	vars := map[string]string{"TABLE_NAME": "t", "SECRET_PREFIX": "handoff/", "EVENT_BUS_NAME": "default", "LOG_LEVEL": "warn"}
	for k, v := range more {
		vars[k] = v
	}
	return vars
}

func TestLoadReadsTheGroupsAskedFor(t *testing.T) {
	vars := globals(map[string]string{"CALLBACK_BASE_URL": "https://api.example.com/", "CALLBACK_TIMEOUT": "5m", "IDEMPOTENCY_TTL": "1h"})
	c, err := boot.Load(env(vars), boot.Callbacks, boot.Idempotency)
	if err != nil {
		t.Fatal(err)
	}
	want := boot.Config{TableName: "t", SecretPrefix: "handoff/", EventBusName: "default", LogLevel: slog.LevelWarn,
		CallbackBaseURL: "https://api.example.com", CallbackTimeout: 5 * time.Minute, IdempotencyTTL: time.Hour,
		MetricsNamespace: "Handoff"}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load = %+v, want %+v", c, want)
	}
	// Without the groups, their variables are not read at all.
	c, err = boot.Load(env(vars))
	if err != nil || c.CallbackBaseURL != "" || c.CallbackTimeout != 0 || c.IdempotencyTTL != 0 {
		t.Errorf("Load without groups = %+v, %v", c, err)
	}
}

func TestLoadRefusesBadSettingsNamingThem(t *testing.T) {
	cases := map[string]map[string]string{
		"TABLE_NAME is not set":            {"TABLE_NAME": ""},
		"SECRET_PREFIX is not set":         {"SECRET_PREFIX": ""},
		"EVENT_BUS_NAME is not set":        {"EVENT_BUS_NAME": ""},
		"SECRET_PREFIX \"handoff/*\"":      {"SECRET_PREFIX": "handoff/*"},
		"LOG_LEVEL \"loud\"":               {"LOG_LEVEL": "loud"},
		"IDEMPOTENCY_TTL \"a day\"":        {"IDEMPOTENCY_TTL": "a day"},
		"IDEMPOTENCY_TTL \"0s\"":           {"IDEMPOTENCY_TTL": "0s"},
		"CALLBACK_TIMEOUT \"-1m\"":         {"CALLBACK_TIMEOUT": "-1m"},
		"must be https":                    {"CALLBACK_BASE_URL": "http://api.example.com"},
		"must be a URL":                    {"CALLBACK_BASE_URL": "api.example.com"},
		"CALLBACK_BASE_URL \"https://":     {"CALLBACK_BASE_URL": "https://api.example.com/?x=1"},
		"METRICS_TENANT_DIMENSION \"yes\"": {"METRICS_TENANT_DIMENSION": "yes"},
	}
	for want, vars := range cases {
		_, err := boot.Load(env(globals(vars)), boot.Callbacks, boot.Idempotency)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: err = %v, want one line with %s", vars, err, want)
		}
	}
}

func TestLoadNamesEveryProblemAtOnce(t *testing.T) {
	_, err := boot.Load(env(map[string]string{"LOG_LEVEL": "loud"}))
	for _, name := range []string{"TABLE_NAME", "SECRET_PREFIX", "EVENT_BUS_NAME", "LOG_LEVEL"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("err = %v, want it to name %s", err, name)
		}
	}
}

func TestCallbackBaseURLMayBeLoopbackHTTPOrEmpty(t *testing.T) {
	for _, base := range []string{"", "http://127.0.0.1:3000", "http://localhost:3000/", "http://[::1]:3000", "https://h.example.com/prod"} {
		if _, err := boot.Load(env(globals(map[string]string{"CALLBACK_BASE_URL": base})), boot.Callbacks); err != nil {
			t.Errorf("%q: %v", base, err)
		}
	}
}

func TestReportInitErrorPostsToTheRuntimeAPI(t *testing.T) {
	var path, kind string
	var body map[string]string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path, kind = r.URL.Path, r.Header.Get("Lambda-Runtime-Function-Error-Type")
		json.NewDecoder(r.Body).Decode(&body)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer api.Close()
	const line = "transfer: invalid configuration: TABLE_NAME is not set"
	if err := boot.ReportInitError(strings.TrimPrefix(api.URL, "http://"), line); err != nil {
		t.Fatal(err)
	}
	if path != "/2018-06-01/runtime/init/error" || kind != boot.InitErrorType ||
		body["errorMessage"] != line || body["errorType"] != boot.InitErrorType {
		t.Errorf("posted %s, type %q, body %v", path, kind, body)
	}
	if err := boot.ReportInitError("", "x"); err != nil {
		t.Errorf("without a Runtime API: %v", err)
	}
}

func TestPacingReadsTheQueueTheBoundAndTheRates(t *testing.T) {
	vars := globals(map[string]string{"TRANSFER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/t.fifo",
		"QUEUE_BOUND": "50", "VENDOR_RATES": "koreai=600/m, acme/bitrix24=5/s:50"})
	c, err := boot.Load(env(vars), boot.Pacing)
	if err != nil {
		t.Fatal(err)
	}
	if c.TransferQueueURL != vars["TRANSFER_QUEUE_URL"] || c.QueueBound != 50 ||
		c.VendorRates.For("any", "koreai") != pacing.PerMinute(600) || c.VendorRates.For("acme", "bitrix24").Burst != 50 {
		t.Errorf("Load = %+v", c)
	}
	vars["QUEUE_BOUND"], vars["VENDOR_RATES"] = "", ""
	if c, err := boot.Load(env(vars), boot.Pacing); err != nil || c.QueueBound != pacing.DefaultQueueBound ||
		c.VendorRates.For("t", "koreai") != pacing.PerMinute(60) {
		t.Errorf("defaults: %+v, %v", c, err)
	}
	for want, bad := range map[string]map[string]string{
		"TRANSFER_QUEUE_URL is not set":      {"TRANSFER_QUEUE_URL": ""},
		"must be a FIFO queue":               {"TRANSFER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/t"},
		"QUEUE_BOUND \"0\"":                  {"QUEUE_BOUND": "0"},
		"QUEUE_BOUND \"many\"":               {"QUEUE_BOUND": "many"},
		"VENDOR_RATES: rate \"koreai=fast\"": {"VENDOR_RATES": "koreai=fast"},
	} {
		v := globals(map[string]string{"TRANSFER_QUEUE_URL": "q.fifo"})
		for k, x := range bad {
			v[k] = x
		}
		if _, err := boot.Load(env(v), boot.Pacing); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: err = %v, want %s", bad, err, want)
		}
	}
}
