package vendorkit_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors/vendorkit"
)

var table = vendorkit.Table{
	"QUERY_LIMIT_EXCEEDED": {Code: handoff.CodeRateLimited, Retryable: true},
	"expired_token":        {Code: handoff.CodeVendorAuthFailed},
	"401":                  {Code: handoff.CodeVendorAuthFailed, Name: "Unauthorized"},
	"4xx":                  {Code: handoff.CodeVendorRejected},
	"5xx":                  {Code: handoff.CodeVendorUnavailable},
}

func TestClassifyTriesCodeThenStatusThenClass(t *testing.T) {
	tests := []struct {
		status   int
		code     string
		wantKey  string
		wantCode handoff.Code
	}{
		{503, "QUERY_LIMIT_EXCEEDED", "QUERY_LIMIT_EXCEEDED", handoff.CodeRateLimited},
		{503, "query_limit_exceeded", "QUERY_LIMIT_EXCEEDED", handoff.CodeRateLimited}, // the table's spelling
		{401, "EXPIRED_TOKEN", "expired_token", handoff.CodeVendorAuthFailed},
		{401, "", "401", handoff.CodeVendorAuthFailed},
		{401, "SOMETHING_ELSE", "401", handoff.CodeVendorAuthFailed},
		{404, "", "4xx", handoff.CodeVendorRejected},
		{502, "", "5xx", handoff.CodeVendorUnavailable},
		{503, "401", "5xx", handoff.CodeVendorUnavailable}, // a body cannot choose its own status
		{503, "4XX", "5xx", handoff.CodeVendorUnavailable},
		{302, "", "", handoff.CodeVendorProtocol},
		{0, "", "", handoff.CodeVendorProtocol},
		{1000, "", "", handoff.CodeVendorProtocol},
	}
	for _, tt := range tests {
		key, row := table.Classify(tt.status, tt.code)
		if key != tt.wantKey || row.Code != tt.wantCode {
			t.Errorf("Classify(%d, %q) = %q %s, want %q %s", tt.status, tt.code, key, row.Code, tt.wantKey, tt.wantCode)
		}
	}
	if _, _, ok := table.Lookup("5xx"); ok {
		t.Error("Lookup found a status class as a vendor code")
	}
}

func TestCleanCode(t *testing.T) {
	tests := []struct {
		in, punct string
		max       int
		want      string
	}{
		{"SOME_CODE", "_", 64, "SOME_CODE"},
		{"a.b-c", "_.-", 64, "a.b-c"},
		{"a.b", "_", 64, ""},
		{"has spaces", "_", 64, ""},
		{"<b>x</b>", "_", 64, ""},
		{"токен", "_", 64, ""},
		{"bad\ncode", "_", 64, ""},
		{strings.Repeat("A", 40), "_", 40, strings.Repeat("A", 40)},
		{strings.Repeat("A", 41), "_", 40, ""},
		{"", "_", 40, ""},
	}
	for _, tt := range tests {
		if got := vendorkit.CleanCode(tt.in, tt.max, tt.punct); got != tt.want {
			t.Errorf("CleanCode(%q, %d, %q) = %q, want %q", tt.in, tt.max, tt.punct, got, tt.want)
		}
	}
}

func TestDecodeStrict(t *testing.T) {
	var v struct {
		A int `json:"a"`
	}
	if err := vendorkit.DecodeStrict(strings.NewReader(`{"a":1}`), &v); err != nil || v.A != 1 {
		t.Fatalf("DecodeStrict = %v, %+v", err, v)
	}
	for _, bad := range []string{`{"a":1,"b":2}`, `{"a":1}{}`, `{"a":"1"}`, `{"a":1} x`, ``} {
		if err := vendorkit.DecodeStrict(strings.NewReader(bad), &v); err == nil {
			t.Errorf("DecodeStrict(%s) = nil, want an error", bad)
		}
	}
}

func TestAckable(t *testing.T) {
	final := handoff.Transfer{Status: handoff.StatusTransferred, Bot: &handoff.Bot{Vendor: "mybot"}}
	if err := vendorkit.Ackable("op", "mybot", "My", final); err != nil {
		t.Fatalf("Ackable(final, own bot) = %v", err)
	}
	pending := final
	pending.Status = handoff.StatusPending
	other := final
	other.Bot = &handoff.Bot{Vendor: "otherbot"}
	none := final
	none.Bot = nil
	for name, tr := range map[string]handoff.Transfer{"pending": pending, "another bot": other, "no bot": none} {
		if err := vendorkit.Ackable("op", "mybot", "My", tr); handoff.ErrorCode(err) != handoff.CodeInvalidRequest {
			t.Errorf("%s: Ackable = %v, want INVALID_REQUEST", name, err)
		}
	}
}

type tok struct {
	v       string
	expires time.Time
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newCache(c *clock) *vendorkit.Cache[tok] {
	return vendorkit.NewCache(c.Now, func(t tok) time.Time { return t.expires })
}

func TestCacheReusesUntilExpiryAndDropsOnlyTheRefusedValue(t *testing.T) {
	c := &clock{now: time.Unix(1_000_000, 0)}
	cache := newCache(c)
	fetches := 0
	fetch := func(context.Context) (tok, error) {
		fetches++
		return tok{v: string(rune('a' + fetches - 1)), expires: c.Now().Add(time.Minute)}, nil
	}
	get := func() tok {
		v, err := cache.Get(context.Background(), "acme", time.Minute, "op", "waiting", fetch)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	first := get()
	if again := get(); again != first || fetches != 1 {
		t.Fatalf("second Get = %v after %d fetches, want the cached %v after 1", again, fetches, first)
	}
	c.add(time.Minute)
	second := get()
	if second == first || fetches != 2 {
		t.Fatalf("Get after expiry = %v after %d fetches, want a new value after 2", second, fetches)
	}
	cache.Drop("acme", first) // a caller still holding the old value cannot evict the new one
	if get() != second || fetches != 2 {
		t.Fatal("Drop of a value no longer cached evicted the current one")
	}
	cache.Drop("acme", second)
	if get() == second || fetches != 3 {
		t.Fatal("Drop of the cached value did not make the next Get fetch")
	}
}

func TestCacheSharesOneFetchAndACallerMayGiveUp(t *testing.T) {
	c := &clock{now: time.Unix(1_000_000, 0)}
	cache := newCache(c)
	started, release := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	fetches := 0
	fetch := func(ctx context.Context) (tok, error) {
		mu.Lock()
		fetches++
		mu.Unlock()
		close(started)
		<-release
		if ctx.Err() != nil {
			return tok{}, errors.New("the shared fetch was cancelled with its first caller")
		}
		return tok{v: "x", expires: c.Now().Add(time.Hour)}, nil
	}
	first, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error, 1)
	go func() {
		_, err := cache.Get(first, "acme", time.Hour, "vendor.Token", "gave up waiting", fetch)
		gaveUp <- err
	}()
	<-started
	cancel()
	if err := <-gaveUp; handoff.ErrorCode(err) != handoff.CodeVendorTimeout {
		t.Fatalf("a caller that gave up got %v, want VENDOR_TIMEOUT", err)
	}
	done := make(chan tok, 1)
	go func() {
		v, err := cache.Get(context.Background(), "acme", time.Hour, "vendor.Token", "gave up waiting", fetch)
		if err != nil {
			t.Error(err)
		}
		done <- v
	}()
	close(release)
	if v := <-done; v.v != "x" {
		t.Fatalf("the second caller got %+v, want the shared fetch's value", v)
	}
	if fetches != 1 {
		t.Errorf("%d fetches, want one shared", fetches)
	}
}

func TestEachTargetNamesTheTargetsPlace(t *testing.T) {
	req := handoff.Request{Target: handoff.Target{Type: handoff.TargetAgent, ID: "a"},
		Fallbacks: []handoff.Target{{Type: handoff.TargetQueue, ID: "q"}, {Type: handoff.TargetQueue, ID: "bad"}}}
	check := func(tg handoff.Target) error {
		if tg.ID == "bad" {
			return handoff.Invalid("target.id", "bad id")
		}
		return nil
	}
	err := vendorkit.EachTarget(req, check)
	if e := handoff.AsError(err); err == nil || e.Field != "fallbacks[1].id" || e.Code != handoff.CodeInvalidRequest {
		t.Fatalf("EachTarget = %v, want INVALID_REQUEST on fallbacks[1].id", err)
	}
	req.Target.ID = "bad"
	if e := handoff.AsError(vendorkit.EachTarget(req, check)); e.Field != "target.id" {
		t.Fatalf("EachTarget on the target names %q, want target.id", e.Field)
	}
	plain := errors.New("not ours")
	if err := vendorkit.EachTarget(req, func(handoff.Target) error { return plain }); err != plain {
		t.Fatalf("EachTarget = %v, want the check's own error", err)
	}
}
