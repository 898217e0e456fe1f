package access_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"handoff/core/access"
	"handoff/core/handoff"
	"handoff/core/store/memstore"
	"handoff/core/testkit"
)

const (
	bot    = "arn:aws:sts::111122223333:assumed-role/chatbot/s-1"
	source = "com.acme.chatbot"
	acct   = "111122223333"
)

// counting counts the reads of a memstore, and can fail them.
type counting struct {
	*memstore.Store
	reads int
	fail  error
}

func (c *counting) GetAccess(ctx context.Context, tenant string) (handoff.Access, error) {
	c.reads++
	if c.fail != nil {
		return handoff.Access{}, c.fail
	}
	return c.Store.GetAccess(ctx, tenant)
}

func fixture(t *testing.T) (*counting, *testkit.Clock, *access.Checker) {
	t.Helper()
	clk := testkit.NewClock(time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC))
	rec := &counting{Store: memstore.New(clk.Now)}
	err := rec.PutAccess(context.Background(), handoff.Access{Tenant: "acme",
		Principals:   []string{"arn:aws:sts::111122223333:assumed-role/chatbot/*"},
		EventSources: []handoff.EventSource{{Source: source, Account: acct}}})
	if err != nil {
		t.Fatal(err)
	}
	return rec, clk, access.New(rec, access.WithClock(clk.Now))
}

func TestCallerIsAllowedOnlyByTheTenantsRecord(t *testing.T) {
	_, _, c := fixture(t)
	ctx := context.Background()
	if err := c.Caller(ctx, "acme", bot); err != nil {
		t.Fatalf("listed caller: %v", err)
	}
	for _, tc := range []struct{ tenant, caller string }{
		{"acme", "arn:aws:sts::111122223333:assumed-role/other/s-1"},
		{"acme", ""},
		{"globex", bot}, // no record: nobody
	} {
		if err := c.Caller(ctx, tc.tenant, tc.caller); handoff.ErrorCode(err) != handoff.CodeForbidden {
			t.Errorf("Caller(%q, %q) = %v, want FORBIDDEN", tc.tenant, tc.caller, err)
		}
	}
}

func TestSourceIsAllowedOnlyFromItsAccountAndSaysWhyNot(t *testing.T) {
	_, _, c := fixture(t)
	ctx := context.Background()
	if err := c.Source(ctx, "acme", source, acct); err != nil {
		t.Fatalf("listed source: %v", err)
	}
	err := c.Source(ctx, "acme", "com.evil", acct)
	if handoff.ErrorCode(err) != handoff.CodeForbidden || !strings.Contains(err.Error(), `source "com.evil" from account "111122223333"`) {
		t.Errorf("unlisted source: %v, want FORBIDDEN naming source and account", err)
	}
	if err := c.Source(ctx, "acme", source, "999999999999"); handoff.ErrorCode(err) != handoff.CodeForbidden {
		t.Errorf("listed source from another account: %v, want FORBIDDEN", err)
	}
	if err := c.Source(ctx, "globex", source, acct); handoff.ErrorCode(err) != handoff.CodeForbidden ||
		!strings.Contains(err.Error(), "no access record") {
		t.Errorf("tenant without a record: %v, want FORBIDDEN saying so", err)
	}
}

// TestRecordsAreCachedForAtMostAMinute: one read serves the questions of a minute, absence
// included; after it, the operator's change shows.
func TestRecordsAreCachedForAtMostAMinute(t *testing.T) {
	rec, clk, c := fixture(t)
	ctx := context.Background()
	for range 5 {
		_ = c.Caller(ctx, "acme", bot)
		_ = c.Caller(ctx, "globex", bot)
	}
	if rec.reads != 2 {
		t.Fatalf("reads = %d for two tenants, want 2", rec.reads)
	}
	_ = rec.PutAccess(ctx, handoff.Access{Tenant: "acme"}) // the operator revokes everyone
	_ = rec.PutAccess(ctx, handoff.Access{Tenant: "globex", Principals: []string{bot}})
	clk.Advance(59 * time.Second)
	if err := c.Caller(ctx, "acme", bot); err != nil {
		t.Fatalf("within the minute the cached record still answers: %v", err)
	}
	clk.Advance(time.Second)
	if err := c.Caller(ctx, "acme", bot); handoff.ErrorCode(err) != handoff.CodeForbidden {
		t.Errorf("a minute later, a revoked caller: %v, want FORBIDDEN", err)
	}
	if err := c.Caller(ctx, "globex", bot); err != nil {
		t.Errorf("a minute later, a newly granted caller: %v", err)
	}
}

func TestLongerTTLIsCutToAMinute(t *testing.T) {
	rec, clk, _ := fixture(t)
	c := access.New(rec, access.WithClock(clk.Now), access.WithTTL(time.Hour))
	ctx := context.Background()
	_ = c.Caller(ctx, "acme", bot)
	clk.Advance(time.Minute)
	_ = c.Caller(ctx, "acme", bot)
	if rec.reads != 2 {
		t.Errorf("reads = %d, want 2: a record is trusted a minute at most", rec.reads)
	}
}

// TestAFailedReadIsNeitherCachedNorARefusal: a store that is down is the store's error (a retry
// may pass), not FORBIDDEN, and the next question reads again.
func TestAFailedReadIsNeitherCachedNorARefusal(t *testing.T) {
	rec, _, c := fixture(t)
	down := handoff.E(handoff.CodeUnavailable, "test", "storage is busy", nil)
	rec.fail = down
	if err := c.Caller(context.Background(), "acme", bot); !errors.Is(err, down) {
		t.Fatalf("err = %v, want the store's", err)
	}
	rec.fail = nil
	if err := c.Caller(context.Background(), "acme", bot); err != nil {
		t.Fatalf("after the store recovered: %v", err)
	}
	if rec.reads != 2 {
		t.Errorf("reads = %d, want 2", rec.reads)
	}
}
