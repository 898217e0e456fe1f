package bitrix24_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors/bitrix24"
	"handoff/core/vendors/bitrix24/bitrix24sandbox"
	"handoff/core/vendors/sandbox"
	"handoff/core/vendors/vendortest"
)

// cachedSecrets is a function's view of Secrets Manager: it serves what it read first until
// Invalidate, as core/secrets does, so another container's write is not seen before that.
type cachedSecrets struct {
	*vendortest.Secrets
	mu     sync.Mutex
	cached []byte
	putErr error
	// putGate, when set, holds every Put until it is closed (a slow write).
	putGate chan struct{}
	// lostAck makes Put write and then report failure (an ambiguous write).
	lostAck bool
}

func (c *cachedSecrets) Get(ctx context.Context, tenant, vendor string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cached == nil {
		raw, err := c.Secrets.Get(ctx, tenant, vendor)
		if err != nil {
			return nil, err
		}
		c.cached = raw
	}
	return bytes.Clone(c.cached), nil
}

func (c *cachedSecrets) Invalidate(tenant, vendor string) {
	c.mu.Lock()
	c.cached = nil
	c.mu.Unlock()
	c.Secrets.Invalidate(tenant, vendor)
}

func (c *cachedSecrets) Put(ctx context.Context, tenant, vendor string, raw []byte) error {
	c.mu.Lock()
	putErr, gate, lostAck := c.putErr, c.putGate, c.lostAck
	c.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if putErr != nil {
		return putErr
	}
	c.mu.Lock()
	c.cached = bytes.Clone(raw)
	c.mu.Unlock()
	if err := c.Secrets.Put(ctx, tenant, vendor, raw); err != nil || !lostAck {
		return err
	}
	return handoff.E(handoff.CodeUnavailable, "secrets.Put", "timed out after the write", nil)
}

func (c *cachedSecrets) set(edit func(*cachedSecrets)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	edit(c)
}

// refreshElsewhere is another container refreshing the pair at the sandbox's token route.
func refreshElsewhere(t *testing.T, f *fixture, refreshToken string) (access, refresh string) {
	t.Helper()
	creds := demo(t, bitrix24sandbox.DemoSecret(f.server.URL))
	q := url.Values{"grant_type": {"refresh_token"}, "client_id": {creds["appClientId"]},
		"client_secret": {creds["appClientSecret"]}, "refresh_token": {refreshToken}}
	resp, err := f.server.Client().Get(creds["oauthUrl"] + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("refresh elsewhere: %d %v %v", resp.StatusCode, tok, err)
	}
	return tok["access_token"].(string), tok["refresh_token"].(string)
}

func withPair(t *testing.T, raw []byte, access, refresh string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	m["accessToken"], m["refreshToken"] = access, refresh
	out, _ := json.Marshal(m)
	return out
}

// TestRefreshWritesBackTheRotatedPair: on expired_token the adapter refreshes once, stores the
// new pair with every other field of the secret untouched, and retries the call once.
func TestRefreshWritesBackTheRotatedPair(t *testing.T) {
	f := newFixture(t, oauthMode, nil)
	var original map[string]any
	_ = json.Unmarshal(bitrix24sandbox.DemoSecret(f.server.URL), &original)
	original["note"] = "set by the operator; must survive a refresh"
	raw, _ := json.Marshal(original)
	_ = f.secrets.Put(context.Background(), tenant, "bitrix24", raw)
	f.secrets.Puts = 0
	oldRefresh := original["refreshToken"].(string)

	f.sandbox.ExpireAccessToken()
	if _, err := f.adapter.Transfer(context.Background(), transferRequest(agent)); err != nil {
		t.Fatalf("Transfer with an expired token: %v", err)
	}
	if f.secrets.Puts != 1 || f.sandbox.RefreshCalls() != 1 || f.sandbox.TransferCalls() != 2 {
		t.Errorf("puts %d, refreshes %d, transfer calls %d; want 1, 1, 2", f.secrets.Puts, f.sandbox.RefreshCalls(), f.sandbox.TransferCalls())
	}
	var stored map[string]any
	if err := json.Unmarshal(f.secrets.Value(tenant, "bitrix24"), &stored); err != nil {
		t.Fatal(err)
	}
	access, refresh := f.sandbox.Tokens()
	if stored["accessToken"] != access || stored["refreshToken"] != refresh || refresh == oldRefresh {
		t.Errorf("stored pair is not the rotated one")
	}
	for k, v := range original {
		if k != "accessToken" && k != "refreshToken" && stored[k] != v {
			t.Errorf("field %s changed from %v to %v", k, v, stored[k])
		}
	}
	if len(stored) != len(original) {
		t.Errorf("stored secret has %d fields, want %d", len(stored), len(original))
	}

	// The refresh was a GET to the OAuth route, the only request that carried the client secret.
	for _, r := range f.sandbox.Requests() {
		hasSecret := strings.Contains(r.Query.Encode()+string(r.Body), url.QueryEscape(original["appClientSecret"].(string)))
		if oauthRoute := r.Path == "/oauth/token/"; oauthRoute != hasSecret {
			t.Errorf("%s %s: carries the client secret = %v", r.Method, r.Path, hasSecret)
		}
		if r.Path == "/oauth/token/" && (r.Method != http.MethodGet || r.Query.Get("grant_type") != "refresh_token" || r.Query.Get("refresh_token") != oldRefresh) {
			t.Errorf("refresh request = %s ?%v", r.Method, r.Query)
		}
	}

	if _, err := f.adapter.Transfer(context.Background(), transferRequest(queue)); err != nil {
		t.Fatalf("Transfer with the new pair: %v", err)
	}
	if f.sandbox.RefreshCalls() != 1 {
		t.Errorf("a valid token was refreshed again")
	}
	assertNoSecrets(t, f.logs.String())
	if !strings.Contains(f.logs.String(), "refreshed") {
		t.Errorf("the refresh was not logged: %s", f.logs.String())
	}
}

// TestConcurrentExpiredCallsShareOneRefresh: the refresh token rotates, so a second refresh of
// the same pair would fail. The sandbox holds the refresh until every call has been refused.
func TestConcurrentExpiredCallsShareOneRefresh(t *testing.T) {
	const calls = 8
	f := newFixture(t, oauthMode, func(sb *bitrix24sandbox.Sandbox) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/oauth/") {
				deadline := time.Now().Add(10 * time.Second) // an upper bound, not an assertion
				for sb.TransferCalls() < calls && time.Now().Before(deadline) {
					time.Sleep(time.Millisecond)
				}
			}
			sb.ServeHTTP(w, r)
		})
	})
	f.sandbox.ExpireAccessToken()
	var wg sync.WaitGroup
	errs := make(chan error, calls)
	for range calls {
		wg.Go(func() {
			_, err := f.adapter.Transfer(context.Background(), transferRequest(agent))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Transfer: %v", err)
		}
	}
	if n := f.sandbox.RefreshCalls(); n != 1 {
		t.Errorf("%d refreshes, want 1 shared by all", n)
	}
	if f.secrets.Puts != 1 {
		t.Errorf("%d write-backs, want 1", f.secrets.Puts)
	}
	if n := f.sandbox.TransferCalls(); n != 2*calls {
		t.Errorf("%d transfer calls, want %d (each refused once, then sent once more)", n, 2*calls)
	}
}

// TestPairRotatedByAnotherContainer: this container's cached pair is stale; dropping the cache
// finds the new pair, so no second refresh spends the refresh token again.
func TestPairRotatedByAnotherContainer(t *testing.T) {
	f := newFixture(t, oauthMode, nil)
	cache := &cachedSecrets{Secrets: f.secrets}
	adapter := bitrix24.New(f.deps(cache))
	initial := cache.Secrets.Value(tenant, "bitrix24")
	if _, err := cache.Get(context.Background(), tenant, "bitrix24"); err != nil { // now cached
		t.Fatal(err)
	}
	access, refresh := refreshElsewhere(t, f, demo(t, initial)["refreshToken"])
	_ = f.secrets.Put(context.Background(), tenant, "bitrix24", withPair(t, initial, access, refresh))

	if _, err := adapter.Transfer(context.Background(), transferRequest(agent)); err != nil {
		t.Fatalf("Transfer: %v", err)
	}
	if n := f.sandbox.RefreshCalls(); n != 1 {
		t.Errorf("%d refreshes, want only the other container's", n)
	}
	if f.secrets.Puts != 1 || f.secrets.Invalidates == 0 {
		t.Errorf("puts %d, invalidates %d; want only the other container's put, and a dropped cache", f.secrets.Puts, f.secrets.Invalidates)
	}
}

// TestSpentRefreshToken: the stored refresh token was used elsewhere and the new pair was lost;
// only a new authorization helps.
func TestSpentRefreshToken(t *testing.T) {
	f := newFixture(t, oauthMode, nil)
	refreshElsewhere(t, f, demo(t, f.secrets.Value(tenant, "bitrix24"))["refreshToken"])
	_, err := f.adapter.Transfer(context.Background(), transferRequest(agent))
	if e := asError(t, err, handoff.CodeVendorAuthFailed); e.VendorCode != "invalid_grant" {
		t.Errorf("vendor code = %q, want invalid_grant", e.VendorCode)
	}
	if n := f.sandbox.TransferCalls(); n != 1 {
		t.Errorf("%d transfer calls, want 1: without a token there is nothing to retry with", n)
	}
	assertNoSecrets(t, err.Error()+f.logs.String())
}

// TestWriteBackFailure: the spent refresh token cannot be restored, but this call still goes
// through with the new access token, and the failure is logged without values.
func TestWriteBackFailure(t *testing.T) {
	f := newFixture(t, oauthMode, nil)
	cache := &cachedSecrets{Secrets: f.secrets, putErr: handoff.E(handoff.CodeUnavailable, "secrets.Put", "throttled", nil)}
	adapter := bitrix24.New(f.deps(cache))
	f.sandbox.ExpireAccessToken()
	if _, err := adapter.Transfer(context.Background(), transferRequest(agent)); err != nil {
		t.Fatalf("Transfer: %v", err)
	}
	if !strings.Contains(f.logs.String(), "could not write back") {
		t.Errorf("the failed write-back was not logged: %s", f.logs.String())
	}
	assertNoSecrets(t, f.logs.String())
}

func TestRefusedCredentialsAreReadAgain(t *testing.T) {
	ctx := context.Background()
	t.Run("webhook code changed by its owner", func(t *testing.T) {
		f := newFixture(t, webhookMode, nil)
		cache := &cachedSecrets{Secrets: f.secrets}
		adapter := bitrix24.New(f.deps(cache))
		good := f.secrets.Value(tenant, "bitrix24")
		stale := bytes.Replace(good, []byte("/rest/1/"), []byte("/rest/1/x"), 1) // an old code
		cache.cached = stale
		if _, err := adapter.Transfer(ctx, transferRequest(agent)); err != nil {
			t.Fatalf("Transfer: %v", err)
		}
		if f.secrets.Invalidates != 1 || f.sandbox.TransferCalls() != 2 {
			t.Errorf("invalidates %d, calls %d; want 1, 2", f.secrets.Invalidates, f.sandbox.TransferCalls())
		}
	})
	t.Run("oauth token refused twice", func(t *testing.T) {
		f := newFixture(t, oauthMode, nil)
		f.sandbox.Inject(sandbox.Fault{Kind: sandbox.AuthRejected}, 0)
		_, err := f.adapter.Transfer(ctx, transferRequest(agent))
		asError(t, err, handoff.CodeVendorAuthFailed)
		if f.secrets.Invalidates != 1 || f.sandbox.TransferCalls() != 2 || f.sandbox.RefreshCalls() != 0 {
			t.Errorf("invalidates %d, calls %d, refreshes %d; want 1, 2, 0", f.secrets.Invalidates, f.sandbox.TransferCalls(), f.sandbox.RefreshCalls())
		}
	})
	t.Run("expired webhook", func(t *testing.T) {
		f := newFixture(t, webhookMode, nil)
		f.sandbox.Inject(sandbox.Fault{Kind: sandbox.AuthExpired}, 0)
		_, err := f.adapter.Transfer(ctx, transferRequest(agent))
		asError(t, err, handoff.CodeVendorAuthFailed)
		if f.sandbox.RefreshCalls() != 0 || f.sandbox.TransferCalls() != 2 {
			t.Errorf("refreshes %d, calls %d; a webhook is never refreshed, only read again", f.sandbox.RefreshCalls(), f.sandbox.TransferCalls())
		}
	})
	t.Run("unknown tenant", func(t *testing.T) {
		f := newFixture(t, oauthMode, nil)
		req := transferRequest(agent)
		req.Tenant = "globex"
		_, err := f.adapter.Transfer(ctx, req)
		if !errors.Is(err, err) || handoff.ErrorCode(err) != handoff.CodeUnknownTenant {
			t.Errorf("err = %v, want UNKNOWN_TENANT", err)
		}
	})
}

// TestRefreshTransportFailureLeaksNothing: the refresh URL carries the client secret and the
// refresh token in its query; a failed refresh must not quote it.
func TestRefreshTransportFailureLeaksNothing(t *testing.T) {
	f := newFixture(t, oauthMode, func(sb *bitrix24sandbox.Sandbox) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/oauth/") {
				panic(http.ErrAbortHandler) // the connection drops without an answer
			}
			sb.ServeHTTP(w, r)
		})
	})
	f.sandbox.ExpireAccessToken()
	_, err := f.adapter.Transfer(context.Background(), transferRequest(agent))
	if code := handoff.ErrorCode(err); code != handoff.CodeVendorUnavailable && code != handoff.CodeVendorTimeout {
		t.Fatalf("code = %s (%v), want VENDOR_UNAVAILABLE", code, err)
	}
	assertNoSecrets(t, fmt.Sprintf("%v %+v", err, err)+f.logs.String())
	if f.secrets.Puts != 0 {
		t.Errorf("a failed refresh wrote the secret")
	}
}
