package secrets_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"handoff/core/handoff"
	"handoff/core/secrets"
)

const koreai = `{"baseUrl":"http://127.0.0.1:1","clientSecret":"` + marker + `-koreai"}`

func TestGetCachesForTheTTL(t *testing.T) {
	f := newFixture(t)
	f.create("acme", "koreai", koreai)

	for range 10 {
		if got := f.get("acme", "koreai"); got != koreai {
			t.Fatalf("Get = %q, want %q", got, koreai)
		}
	}
	f.wantGets(1)

	f.update("acme", "koreai", `{"rotated":"`+marker+`-2"}`)
	f.clock.Advance(secrets.DefaultTTL - time.Second)
	if got := f.get("acme", "koreai"); got != koreai {
		t.Errorf("within the TTL, Get = %q, want the cached %q", got, koreai)
	}
	f.wantGets(1)

	f.clock.Advance(time.Second)
	if got := f.get("acme", "koreai"); got != `{"rotated":"`+marker+`-2"}` {
		t.Errorf("after the TTL, Get = %q, want the new value", got)
	}
	f.wantGets(2)
}

func TestGetWithTTLOption(t *testing.T) {
	f := newFixture(t, secrets.WithTTL(time.Minute))
	f.create("acme", "koreai", koreai)
	f.get("acme", "koreai")
	f.clock.Advance(59 * time.Second)
	f.get("acme", "koreai")
	f.wantGets(1)
	f.clock.Advance(time.Second)
	f.get("acme", "koreai")
	f.wantGets(2)
}

func TestGetKeysByTenantAndVendor(t *testing.T) {
	f := newFixture(t)
	f.create("acme", "koreai", `{"who":"acme-koreai"}`)
	f.create("acme", "bitrix24", `{"who":"acme-bitrix24"}`)
	f.create("globex", "koreai", `{"who":"globex-koreai"}`)
	for range 2 {
		for _, c := range [][3]string{
			{"acme", "koreai", `{"who":"acme-koreai"}`},
			{"acme", "bitrix24", `{"who":"acme-bitrix24"}`},
			{"globex", "koreai", `{"who":"globex-koreai"}`},
		} {
			if got := f.get(c[0], c[1]); got != c[2] {
				t.Errorf("Get(%s, %s) = %q, want %q", c[0], c[1], got, c[2])
			}
		}
	}
	f.wantGets(3)
}

func TestGetReturnsACopy(t *testing.T) {
	f := newFixture(t)
	f.create("acme", "koreai", koreai)
	b, err := f.cache.Get(context.Background(), "acme", "koreai")
	if err != nil {
		t.Fatal(err)
	}
	clear(b)
	if got := f.get("acme", "koreai"); got != koreai {
		t.Errorf("after the caller scribbled on its copy, Get = %q", got)
	}
}

func TestConcurrentColdGetsShareOneFetch(t *testing.T) {
	f := newFixture(t)
	f.create("acme", "koreai", koreai)
	release := f.calls.hold()
	defer release()

	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			b, err := f.cache.Get(context.Background(), "acme", "koreai")
			if err == nil && string(b) != koreai {
				err = errors.New("wrong value " + string(b))
			}
			errs <- err
		})
	}
	f.calls.waitEntry(t)              // the one fetch is in flight
	time.Sleep(50 * time.Millisecond) // let the others queue behind it
	release()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	f.wantGets(1)
}

func TestCancelledFirstCallerDoesNotFailTheOthers(t *testing.T) {
	f := newFixture(t)
	f.create("acme", "koreai", koreai)
	release := f.calls.hold()
	defer release()

	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := f.cache.Get(ctx, "acme", "koreai")
		first <- err
	}()
	f.calls.waitEntry(t) // the first caller's fetch is in flight

	second := f.getAsync("acme", "koreai")
	time.Sleep(50 * time.Millisecond) // let the second caller join the flight

	cancel()
	err := <-first
	if handoff.ErrorCode(err) != handoff.CodeUnavailable || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled caller: err = %v, want UNAVAILABLE wrapping context.Canceled", err)
	}
	release()
	if r := <-second; r.err != nil || r.value != koreai {
		t.Errorf("second caller: Get = %q, %v", r.value, r.err)
	}
	f.get("acme", "koreai")
	f.wantGets(1)
}

func TestInvalidateRefetches(t *testing.T) {
	f := newFixture(t)
	f.create("acme", "koreai", koreai)
	f.get("acme", "koreai")
	fixed := `{"clientSecret":"` + marker + `-fixed"}`
	f.update("acme", "koreai", fixed)

	f.cache.Invalidate("acme", "koreai")
	if got := f.get("acme", "koreai"); got != fixed {
		t.Errorf("after Invalidate, Get = %q, want %q", got, fixed)
	}
	f.get("acme", "koreai")
	f.wantGets(2)

	f.cache.Invalidate("acme", "unknown")  // nothing cached: no effect
	f.cache.Invalidate("../etc", "koreai") // no such secret can exist: no effect
	f.get("acme", "koreai")
	f.wantGets(2)
}

// A fetch that began before Invalidate must not put its (possibly wrong) value back in the cache.
func TestInvalidateDuringFetchIsNotUndone(t *testing.T) {
	f := newFixture(t)
	f.create("acme", "koreai", koreai)
	release := f.calls.hold()

	done := f.getAsync("acme", "koreai")
	f.calls.waitEntry(t)
	f.cache.Invalidate("acme", "koreai")
	release()
	<-done

	f.get("acme", "koreai")
	f.wantGets(2)
}

func TestPutWritesBackAndCaches(t *testing.T) {
	f := newFixture(t)
	f.create("acme", "bitrix24", `{"refreshToken":"`+marker+`-old"}`)
	f.get("acme", "bitrix24")

	rotated := `{"refreshToken":"` + marker + `-new"}`
	if err := f.cache.Put(context.Background(), "acme", "bitrix24", []byte(rotated)); err != nil {
		t.Fatal(err)
	}
	if got := f.calls.count("PutSecretValue"); got != 1 {
		t.Errorf("PutSecretValue calls = %d, want 1", got)
	}
	if got := f.stored("acme", "bitrix24"); got != rotated {
		t.Errorf("Secrets Manager holds %q, want %q", got, rotated)
	}
	if got := f.get("acme", "bitrix24"); got != rotated {
		t.Errorf("after Put, Get = %q, want %q", got, rotated)
	}
	f.wantGets(1) // served from the cache Put filled

	client, fresh := countingClient(f.env)
	other := secrets.New(client, prefix)
	got, err := other.Get(context.Background(), "acme", "bitrix24")
	if err != nil || string(got) != rotated {
		t.Errorf("a fresh Cache reads %q, %v; want %q", got, err, rotated)
	}
	if fresh.count("GetSecretValue") != 1 {
		t.Errorf("the fresh Cache made %d GetSecretValue calls, want 1", fresh.count("GetSecretValue"))
	}
}

func TestPutRefusesWhatIsNotAJSONObject(t *testing.T) {
	f := newFixture(t)
	f.create("acme", "bitrix24", `{"refreshToken":"old"}`)
	for _, bad := range []string{"", marker, `["` + marker + `"]`, `{"refreshToken":"` + marker + `"`} {
		err := f.cache.Put(context.Background(), "acme", "bitrix24", []byte(bad))
		if handoff.ErrorCode(err) != handoff.CodeInternal {
			t.Errorf("Put(%q): err = %v, want INTERNAL", bad, err)
		}
		wantNoSecret(t, err)
	}
	if got := f.calls.count("PutSecretValue"); got != 0 {
		t.Errorf("PutSecretValue calls = %d, want 0", got)
	}
	if got := f.stored("acme", "bitrix24"); got != `{"refreshToken":"old"}` {
		t.Errorf("Secrets Manager holds %q, want it unchanged", got)
	}
}

func TestPutToAMissingSecret(t *testing.T) {
	f := newFixture(t)
	err := f.cache.Put(context.Background(), "nobody", "bitrix24", []byte(`{"refreshToken":"`+marker+`"}`))
	if handoff.ErrorCode(err) != handoff.CodeUnknownTenant {
		t.Errorf("err = %v, want UNKNOWN_TENANT", err)
	}
	wantNoSecret(t, err)
}

func TestCacheIsBounded(t *testing.T) {
	f := newFixture(t, secrets.WithMaxEntries(2))
	for _, tenant := range []string{"a", "b", "c"} {
		f.create(tenant, "koreai", `{"tenant":"`+tenant+`"}`)
	}
	f.get("a", "koreai")
	f.clock.Advance(time.Second)
	f.get("b", "koreai")
	f.clock.Advance(time.Second)
	f.get("c", "koreai") // evicts a, the oldest
	f.wantGets(3)
	f.get("b", "koreai")
	f.get("c", "koreai")
	f.wantGets(3)
	f.get("a", "koreai")
	f.wantGets(4)
}
