package vendorkit

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"handoff/core/handoff"
)

// Flight shares one fetch (a login, a token, a refresh) among the concurrent callers of one key.
// The zero value is ready to use.
type Flight[V any] struct {
	group singleflight.Group
}

// Do runs fetch once for all concurrent callers of key. It runs detached from the first caller's
// cancellation, so that caller giving up does not fail the others, and ends at deadline. Each
// caller waits only as long as its own context lets it; one that gives up gets VENDOR_TIMEOUT
// under op, with waiting as the message.
func (f *Flight[V]) Do(ctx context.Context, key string, deadline time.Time, op, waiting string,
	fetch func(context.Context) (V, error)) (V, error) {
	ch := f.group.DoChan(key, func() (any, error) {
		fctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
		defer cancel()
		return fetch(fctx)
	})
	var zero V
	select {
	case <-ctx.Done():
		return zero, handoff.E(handoff.CodeVendorTimeout, op, waiting, ctx.Err())
	case r := <-ch:
		if r.Err != nil {
			return zero, r.Err
		}
		return r.Val.(V), nil
	}
}

// MaxCached bounds a Cache; a function sees far fewer tenants than this.
const MaxCached = 1024

// Cache keeps one value per key (a tenant's access token, a login session) until it expires,
// lets concurrent callers of one key share one fetch, and forgets a value the vendor refused.
// Safe for concurrent use.
type Cache[V comparable] struct {
	flight  Flight[V]
	now     func() time.Time
	expires func(V) time.Time // read at every look-up: a session kept alive lives on

	mu      sync.Mutex
	entries map[string]V
}

// NewCache builds a cache whose values expire at expires(value), by the clock now.
func NewCache[V comparable](now func() time.Time, expires func(V) time.Time) *Cache[V] {
	return &Cache[V]{now: now, expires: expires, entries: map[string]V{}}
}

// Get returns the value cached under key while it has not expired, or the one fetch returns,
// which it caches. Concurrent callers share one fetch (Flight.Do: detached, ended after
// timeout, each caller waiting as long as its context lets it).
func (c *Cache[V]) Get(ctx context.Context, key string, timeout time.Duration, op, waiting string,
	fetch func(context.Context) (V, error)) (V, error) {
	if v, ok := c.cached(key); ok {
		return v, nil
	}
	return c.flight.Do(ctx, key, time.Now().Add(timeout), op, waiting, func(fctx context.Context) (V, error) {
		if v, ok := c.cached(key); ok { // a flight that just ended may have stored one
			return v, nil
		}
		v, err := fetch(fctx)
		if err != nil {
			return v, err
		}
		c.store(key, v)
		return v, nil
	})
}

func (c *Cache[V]) cached(key string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.entries[key]
	if ok && !c.now().Before(c.expires(v)) {
		delete(c.entries, key)
		ok = false
	}
	return v, ok
}

func (c *Cache[V]) store(key string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= MaxCached {
		clear(c.entries) // crude, but the only cost is one more fetch per tenant
	}
	c.entries[key] = v
}

// Drop forgets v if it is still the value cached under key, so a caller holding a refused value
// cannot evict the newer one another caller already fetched.
func (c *Cache[V]) Drop(key string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur, ok := c.entries[key]; ok && cur == v {
		delete(c.entries, key)
	}
}
