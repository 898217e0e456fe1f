package bitrix24_test

import (
	"context"
	"testing"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors/bitrix24"
)

// storedRefresh is the refresh token the shared store holds now.
func storedRefresh(t *testing.T, f *fixture) string {
	t.Helper()
	return demo(t, f.secrets.Value(tenant, "bitrix24"))["refreshToken"]
}

// TestUnsavedPairIsKeptAndWrittenBackLater: the write-back of a rotated pair fails. The new pair
// stays usable in this container (the stored refresh token is spent), and a later call writes
// it back once the store takes writes again.
func TestUnsavedPairIsKeptAndWrittenBackLater(t *testing.T) {
	f := newFixture(t, oauthMode, nil)
	cache := &cachedSecrets{Secrets: f.secrets, putErr: handoff.E(handoff.CodeUnavailable, "secrets.Put", "throttled", nil)}
	adapter := bitrix24.New(f.deps(cache))
	f.sandbox.ExpireAccessToken()
	if _, err := adapter.Transfer(context.Background(), transferRequest(agent)); err != nil {
		t.Fatalf("Transfer that refreshed: %v", err)
	}
	cache.set(func(c *cachedSecrets) { c.putErr = nil })
	if _, err := adapter.Transfer(context.Background(), transferRequest(queue)); err != nil {
		t.Fatalf("Transfer after the failed write-back: %v (the only working refresh token was lost)", err)
	}
	if n := f.sandbox.RefreshCalls(); n != 1 {
		t.Errorf("%d refreshes, want 1", n)
	}
	if _, refresh := f.sandbox.Tokens(); storedRefresh(t, f) != refresh {
		t.Error("the rotated pair was not written back once the store took writes again")
	}
	assertNoSecrets(t, f.logs.String())
}

// TestNoRefreshWithoutTimeToStoreIt: a refresh spends the stored refresh token; with too little
// time left to store the new one (skill-check runs 10 s), it is not started at all.
func TestNoRefreshWithoutTimeToStoreIt(t *testing.T) {
	f := newFixture(t, oauthMode, nil)
	f.sandbox.ExpireAccessToken()
	before := storedRefresh(t, f)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := f.adapter.Transfer(ctx, transferRequest(agent))
	if !handoff.Retryable(err) {
		t.Errorf("err = %v, want a retryable error", err)
	}
	if n := f.sandbox.RefreshCalls(); n != 0 {
		t.Errorf("%d refreshes started with 2 s left, want 0", n)
	}
	if storedRefresh(t, f) != before {
		t.Error("the stored pair changed")
	}
	// With time enough, the next call refreshes.
	if _, err := f.adapter.Transfer(context.Background(), transferRequest(agent)); err != nil {
		t.Fatalf("Transfer with time to refresh: %v", err)
	}
}

// TestContainersRefreshingTogether: two containers hold the same expired pair. A refreshes
// first and is slow to store; B's refresh of the same refresh token is refused (invalid_grant).
// B waits for A's pair instead of failing, and the store ends with the newest pair.
func TestContainersRefreshingTogether(t *testing.T) {
	f := newFixture(t, oauthMode, nil)
	gate := make(chan struct{})
	cacheA := &cachedSecrets{Secrets: f.secrets, putGate: gate}
	cacheB := &cachedSecrets{Secrets: f.secrets}
	a, b := bitrix24.New(f.deps(cacheA)), bitrix24.New(f.deps(cacheB))
	f.sandbox.ExpireAccessToken()

	errA := make(chan error, 1)
	go func() {
		_, err := a.Transfer(context.Background(), transferRequest(agent))
		errA <- err
	}()
	go func() { // release A's write once B's refresh was refused
		deadline := time.Now().Add(10 * time.Second) // an upper bound, not an assertion
		for f.sandbox.RefreshCalls() < 2 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		close(gate)
	}()
	for f.sandbox.RefreshCalls() < 1 { // A has refreshed and is storing
		time.Sleep(time.Millisecond)
	}
	if _, err := b.Transfer(context.Background(), transferRequest(queue)); err != nil {
		t.Errorf("B's Transfer: %v (it should have waited for A's pair)", err)
	}
	if err := <-errA; err != nil {
		t.Errorf("A's Transfer: %v", err)
	}
	if _, refresh := f.sandbox.Tokens(); storedRefresh(t, f) != refresh {
		t.Error("the store does not hold the newest pair")
	}
}

// TestWriteBackNeverOverwritesANewerPair: A's write of its pair landed but was reported failed,
// so A keeps it to write again; meanwhile B refreshed that pair and stored a newer one. A must
// take B's pair and never write its own (spent) one over it.
func TestWriteBackNeverOverwritesANewerPair(t *testing.T) {
	f := newFixture(t, oauthMode, nil)
	cacheA := &cachedSecrets{Secrets: f.secrets, lostAck: true}
	a := bitrix24.New(f.deps(cacheA))
	f.sandbox.ExpireAccessToken()
	if _, err := a.Transfer(context.Background(), transferRequest(agent)); err != nil {
		t.Fatalf("A's Transfer: %v", err)
	}
	cacheA.set(func(c *cachedSecrets) { c.lostAck = false })
	// B, another container, refreshes the stored pair and stores the result.
	b := bitrix24.New(f.deps(&cachedSecrets{Secrets: f.secrets}))
	f.sandbox.ExpireAccessToken()
	if _, err := b.Transfer(context.Background(), transferRequest(queue)); err != nil {
		t.Fatalf("B's Transfer: %v", err)
	}
	newest := storedRefresh(t, f)
	cacheA.set(func(c *cachedSecrets) { c.cached = nil })
	if _, err := a.Transfer(context.Background(), transferRequest(agent)); err != nil {
		t.Fatalf("A's Transfer after B's refresh: %v", err)
	}
	if got := storedRefresh(t, f); got != newest {
		t.Error("A wrote an older pair over the newest one")
	}
	if n := f.sandbox.RefreshCalls(); n != 2 {
		t.Errorf("%d refreshes, want 2 (A's and B's)", n)
	}
}
