package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"handoff/core/handoff"
	"handoff/core/telemetry"
	"handoff/core/telemetry/emftest"
)

func TestEveryMetricIsValidEMF(t *testing.T) {
	var buf emftest.Buffer
	ctx := telemetry.WithMetrics(context.Background(), telemetry.NewMetrics(&buf, "Handoff", false))
	for _, n := range telemetry.Names() {
		telemetry.Put(ctx, n, 2, telemetry.Dims{Vendor: "koreai", Code: "TARGET_UNAVAILABLE", Operation: "transfer", Tenant: "acme"})
	}
	points, err := emftest.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(points) != len(telemetry.Names()) {
		t.Fatalf("%d points for %d metrics", len(points), len(telemetry.Names()))
	}
	for _, p := range points {
		if p.Namespace != "Handoff" || p.Value != 2 {
			t.Errorf("%s: namespace %q value %v", p.Name, p.Namespace, p.Value)
		}
		for _, set := range p.Sets {
			if _, ok := set["Tenant"]; ok {
				t.Errorf("%s carries a Tenant dimension though it was not asked for", p.Name)
			}
		}
		if _, ok := p.Root["Tenant"]; ok {
			t.Errorf("%s: the tenant is written though it was not asked for", p.Name)
		}
	}
}

func TestTenantDimensionOnlyWhenAsked(t *testing.T) {
	var buf emftest.Buffer
	ctx := telemetry.WithMetrics(context.Background(), telemetry.NewMetrics(&buf, "Handoff", true))
	telemetry.Ended(ctx, handoff.Transfer{Vendor: "koreai", Tenant: "acme", Status: handoff.StatusFailed,
		Error: &handoff.Problem{Code: handoff.CodeVendorRejected}})
	points, err := emftest.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if got := emftest.Sum(points, "TransfersFailed", map[string]string{"Vendor": "koreai", "Tenant": "acme"}); got != 1 {
		t.Fatalf("per-tenant failures %v, want 1", got)
	}
	if got := emftest.Sum(points, "TransfersFailed", map[string]string{"Vendor": "koreai", "Code": "VENDOR_REJECTED"}); got != 1 {
		t.Fatalf("failures by code %v, want 1", got)
	}
}

func TestOutcomeHelpers(t *testing.T) {
	var buf emftest.Buffer
	ctx := telemetry.WithMetrics(context.Background(), telemetry.NewMetrics(&buf, "Handoff", false))
	telemetry.Ended(ctx, handoff.Transfer{Vendor: "bitrix24", Status: handoff.StatusTransferred})
	telemetry.Ended(ctx, handoff.Transfer{Vendor: "bitrix24", Status: handoff.StatusPending}) // not an end
	for _, a := range []struct{ bot, status string }{{"salesforce", "sent"}, {"salesforce", "uncertain"},
		{"webhook", "failed"}, {"webhook", "pending"} /* to be retried: not counted */} {
		telemetry.Acked(ctx, handoff.Transfer{Bot: &handoff.Bot{Vendor: a.bot}, Ack: handoff.Ack{Status: handoff.AckStatus(a.status)}})
	}
	telemetry.Acked(ctx, handoff.Transfer{Ack: handoff.Ack{Status: handoff.AckSent}}) // no bot: nothing
	points, err := emftest.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"TransfersSucceeded": 1, "AcksSent": 1, "AcksUncertain": 1, "AcksFailed": 1}
	if len(points) != len(want) {
		t.Fatalf("%d points, want %d", len(points), len(want))
	}
	for name, n := range want {
		if got := emftest.Sum(points, name, nil); got != n {
			t.Errorf("%s = %v, want %v", name, got, n)
		}
	}
}

func TestValidateRefusesBrokenLines(t *testing.T) {
	for name, line := range map[string]string{
		"no _aws":           `{"A":1}`,
		"timestamp string":  `{"_aws":{"Timestamp":"x","CloudWatchMetrics":[{"Namespace":"N","Dimensions":[],"Metrics":[{"Name":"A"}]}]},"A":1}`,
		"dimension missing": `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["Vendor"]],"Metrics":[{"Name":"A"}]}]},"A":1}`,
		"value missing":     `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[],"Metrics":[{"Name":"A"}]}]}}`,
		"bad unit":          `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[],"Metrics":[{"Name":"A","Unit":"Things"}]}]},"A":1}`,
		"no namespace":      `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Dimensions":[],"Metrics":[{"Name":"A"}]}]},"A":1}`,
	} {
		if _, err := emftest.Validate([]byte(line)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestLogLinesCarryTheInvocation(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(telemetry.NewLogHandler(slog.NewJSONHandler(&buf, nil)))
	invoke := telemetry.Wrap(func(ctx context.Context, in string) (string, error) {
		log.Info("before") // no context: found through the invocation in progress
		telemetry.Annotate(ctx, telemetry.Tenant("acme"), telemetry.Caller("arn:aws:iam::1:role/bot"), telemetry.Transfer(""))
		log.InfoContext(ctx, "after")
		log.With("transfer", "batch-item").Info("own transfer")
		return in, nil
	})
	for i, id := range []string{"req-1", "req-2"} {
		ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: id})
		if _, err := invoke(ctx, "x"); err != nil {
			t.Fatal(err)
		}
		lines := decodeLines(t, &buf)
		if len(lines) != 3 {
			t.Fatalf("%d lines", len(lines))
		}
		for _, l := range lines {
			if l["requestId"] != id {
				t.Errorf("line %v: requestId %v, want %s", l["msg"], l["requestId"], id)
			}
			if cold, _ := l["coldStart"].(bool); cold != (i == 0) {
				t.Errorf("invocation %d: coldStart %v", i, l["coldStart"])
			}
		}
		if _, ok := lines[0]["tenant"]; ok {
			t.Error("tenant logged before it was known")
		}
		if lines[1]["tenant"] != "acme" || lines[1]["caller"] != "arn:aws:iam::1:role/bot" {
			t.Errorf("annotated line: %v", lines[1])
		}
		if _, ok := lines[1]["transfer"]; ok {
			t.Error("an empty transfer id was logged")
		}
		if lines[2]["transfer"] != "batch-item" {
			t.Errorf("the logger's own transfer was replaced: %v", lines[2]["transfer"])
		}
	}
	log.Info("between invocations")
	if l := decodeLines(t, &buf)[0]; l["requestId"] != nil {
		t.Errorf("a line outside any invocation carries %v", l["requestId"])
	}
}

func TestMetricLinesCarryTheInvocation(t *testing.T) {
	var buf emftest.Buffer
	m := telemetry.NewMetrics(&buf, "Handoff", false)
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-9"})
	ctx, end := telemetry.Begin(telemetry.WithMetrics(ctx, m))
	telemetry.Latency(ctx, telemetry.VendorLatency, 1500*time.Microsecond, telemetry.Dims{Vendor: "koreai", Operation: "transfer"})
	end()
	points, err := emftest.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(points) != 1 || points[0].Value != 1.5 || points[0].Unit != "Milliseconds" || points[0].Root["requestId"] != "req-9" {
		t.Fatalf("points %+v", points)
	}
}

// TestDocsNameEveryMetric holds docs/metrics.md's table to the metrics the code emits.
func TestDocsNameEveryMetric(t *testing.T) {
	doc, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, _ := strings.Cut(string(doc), "## The metrics")
	table, _, _ = strings.Cut(table, "\n## ")
	row := regexp.MustCompile("(?m)^\\| `([A-Za-z]+)`")
	documented := map[string]bool{}
	for _, m := range row.FindAllStringSubmatch(table, -1) {
		documented[m[1]] = true
	}
	for _, n := range telemetry.Names() {
		if !documented[string(n)] {
			t.Errorf("docs/metrics.md has no row for %s", n)
		}
		delete(documented, string(n))
	}
	for n := range documented {
		t.Errorf("docs/metrics.md names %s, which the code does not emit", n)
	}
}

func decodeLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		out = append(out, m)
	}
	buf.Reset()
	return out
}
