// Package secrets gives vendor adapters their tenants' credentials from AWS Secrets Manager:
// one JSON secret per (tenant, vendor), cached in the function for minutes, never logged.
package secrets

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"golang.org/x/sync/singleflight"

	"handoff/core/handoff"
	"handoff/core/vendors"
)

// Defaults for New's options.
const (
	// DefaultTTL is how long a fetched secret is served from memory: long enough that a busy
	// function makes few Secrets Manager calls, short enough that an edited secret is seen soon.
	DefaultTTL = 5 * time.Minute
	// DefaultMaxEntries bounds the cache; tenants × vendors a function sees is far smaller.
	DefaultMaxEntries = 1024
)

// fetchTimeout bounds the one GetSecretValue that concurrent callers share. The fetch runs
// detached from its first caller's context, so that caller's cancellation does not fail the
// others; this keeps it from running forever instead.
const fetchTimeout = 15 * time.Second

// namePattern is what a tenant or vendor key may look like inside a secret name: it keeps the
// name unambiguous ("a/b" + "c" would collide with "a" + "b/c") and within Secrets Manager's
// alphabet. Tenants are validated the same way at the API's edge.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

var _ vendors.Secrets = (*Cache)(nil)

// Cache implements vendors.Secrets over Secrets Manager. Secrets are named
// {prefix}{tenant}/{vendor}; each is served from memory for the TTL, concurrent misses for one
// secret share one fetch, and the cache holds at most MaxEntries secrets. It caches values only,
// never errors, and never logs a value. Safe for concurrent use.
type Cache struct {
	client     *secretsmanager.Client
	prefix     string
	ttl        time.Duration
	maxEntries int
	now        func() time.Time
	log        *slog.Logger

	flight singleflight.Group

	mu      sync.Mutex
	entries map[string]entry // by tenant/vendor
	// epoch counts Invalidate and Put calls. A fetch stores its result only if no Invalidate or
	// Put happened while it ran, so a value read before either never outlives it in the cache.
	epoch uint64
}

type entry struct {
	value   []byte
	fetched time.Time
}

// Option configures a Cache.
type Option func(*Cache)

// WithTTL sets how long a secret is served from memory (DefaultTTL otherwise). Zero or less
// disables caching; concurrent reads still share one fetch.
func WithTTL(ttl time.Duration) Option { return func(c *Cache) { c.ttl = ttl } }

// WithClock sets the clock the TTL is measured with, for tests.
func WithClock(now func() time.Time) Option { return func(c *Cache) { c.now = now } }

// WithLogger sets where fetches, write-backs and invalidations are logged (names only, never
// values). Nothing is logged otherwise.
func WithLogger(log *slog.Logger) Option { return func(c *Cache) { c.log = log } }

// WithMaxEntries bounds how many secrets are held (DefaultMaxEntries otherwise); when full, the
// oldest is dropped.
func WithMaxEntries(n int) Option { return func(c *Cache) { c.maxEntries = max(n, 1) } }

// New returns a Cache reading secrets named prefix+tenant+"/"+vendor through client. It does
// no I/O.
func New(client *secretsmanager.Client, prefix string, opts ...Option) *Cache {
	c := &Cache{
		client:     client,
		prefix:     prefix,
		ttl:        DefaultTTL,
		maxEntries: DefaultMaxEntries,
		now:        time.Now,
		log:        slog.New(slog.DiscardHandler),
		entries:    make(map[string]entry),
	}
	for _, opt := range opts {
		opt(c)
	}
	return c
}

// Get returns the (tenant, vendor) secret's JSON object. A secret that does not exist is
// UNKNOWN_TENANT; one that is not a JSON object is CONFIGURATION; a Secrets Manager failure is
// UNAVAILABLE. The caller owns the returned bytes.
func (c *Cache) Get(ctx context.Context, tenant, vendor string) ([]byte, error) {
	const op = "secrets.Get"
	key, name, err := c.name(op, tenant, vendor)
	if err != nil {
		return nil, err
	}
	if v, ok := c.lookup(key); ok {
		return bytes.Clone(v), nil
	}
	ch := c.flight.DoChan(key, func() (any, error) {
		return c.fetch(ctx, op, key, name, tenant, vendor)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return bytes.Clone(r.Val.([]byte)), nil
	case <-ctx.Done():
		msg := fmt.Sprintf("gave up waiting for secret %s", name)
		return nil, handoff.E(handoff.CodeUnavailable, op, msg, ctx.Err())
	}
}

// fetch reads one secret from Secrets Manager and caches it. It runs once for all the callers
// waiting on key, under its own deadline rather than the first caller's.
func (c *Cache) fetch(ctx context.Context, op, key, name, tenant, vendor string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
	defer cancel()
	epoch := c.currentEpoch()
	out, err := c.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)})
	if err != nil {
		return nil, awsError(op, name, tenant, vendor, err)
	}
	if out.SecretString == nil {
		msg := fmt.Sprintf("secret %s is malformed: it has no string value", name)
		return nil, handoff.E(handoff.CodeConfiguration, op, msg, nil)
	}
	value := []byte(*out.SecretString)
	if !isObject(value) {
		msg := fmt.Sprintf("secret %s is malformed: it must be a JSON object", name)
		return nil, handoff.E(handoff.CodeConfiguration, op, msg, nil)
	}
	c.store(key, value, epoch)
	c.log.DebugContext(ctx, "secret fetched", "secret", name, "tenant", tenant, "vendor", vendor)
	return value, nil
}

// Invalidate drops the cached (tenant, vendor) secret, after the vendor refused its
// credentials, so the next Get reads Secrets Manager again (an operator may have fixed it).
func (c *Cache) Invalidate(tenant, vendor string) {
	key, name, err := c.name("secrets.Invalidate", tenant, vendor)
	if err != nil {
		return // no such secret can be cached
	}
	c.mu.Lock()
	c.epoch++
	delete(c.entries, key)
	c.mu.Unlock()
	c.flight.Forget(key) // Gets from now on do not join a fetch that began before
	c.log.Info("secret invalidated", "secret", name, "tenant", tenant, "vendor", vendor)
}

// Put writes a new value of the (tenant, vendor) secret (a rotated Bitrix24 refresh token) and
// caches it. secret must be a JSON object. A secret that does not exist is UNKNOWN_TENANT; a
// failed write is UNAVAILABLE and leaves the cache as it was.
func (c *Cache) Put(ctx context.Context, tenant, vendor string, secret []byte) error {
	const op = "secrets.Put"
	key, name, err := c.name(op, tenant, vendor)
	if err != nil {
		return err
	}
	if !isObject(secret) {
		msg := fmt.Sprintf("refusing to write secret %s: the new value must be a JSON object", name)
		return handoff.E(handoff.CodeInternal, op, msg, nil)
	}
	value := bytes.Clone(secret)
	_, err = c.client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:     aws.String(name),
		SecretString: aws.String(string(value)),
	})
	if err != nil {
		return awsError(op, name, tenant, vendor, redact(err))
	}
	c.mu.Lock()
	c.epoch++
	c.mu.Unlock()
	c.flight.Forget(key)
	c.store(key, value, c.currentEpoch())
	c.log.InfoContext(ctx, "secret written", "secret", name, "tenant", tenant, "vendor", vendor)
	return nil
}

// name checks tenant and vendor and returns the cache key and the secret's name. A tenant or
// vendor that cannot be part of a secret's name names no tenant: UNKNOWN_TENANT, with no call.
func (c *Cache) name(op, tenant, vendor string) (key, name string, err error) {
	if !namePattern.MatchString(tenant) || !namePattern.MatchString(vendor) {
		// Not echoed: such a name came from outside unchecked and may be anything, of any size.
		const msg = "no credentials: the tenant or the vendor is not a valid name"
		return "", "", handoff.E(handoff.CodeUnknownTenant, op, msg, nil)
	}
	key = tenant + "/" + vendor
	return key, c.prefix + key, nil
}

func (c *Cache) currentEpoch() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.epoch
}

// lookup returns the cached value for key while it is fresh, and drops it once it is not.
func (c *Cache) lookup(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		return nil, false
	}
	if c.now().Sub(e.fetched) >= c.ttl {
		delete(c.entries, key)
		return nil, false
	}
	return e.value, true
}

// store caches value under key unless an Invalidate or Put happened since epoch was read.
// When the cache is full it drops the expired entries, then the oldest.
func (c *Cache) store(key string, value []byte, epoch uint64) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epoch != epoch {
		return
	}
	now := c.now()
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.maxEntries {
		c.evict(now)
	}
	c.entries[key] = entry{value: value, fetched: now}
}

// evict makes room for one entry. Called with mu held.
func (c *Cache) evict(now time.Time) {
	oldest, first := "", true
	for k, e := range c.entries {
		if now.Sub(e.fetched) >= c.ttl {
			delete(c.entries, k)
			continue
		}
		if first || e.fetched.Before(c.entries[oldest].fetched) {
			oldest, first = k, false
		}
	}
	if len(c.entries) >= c.maxEntries && !first {
		delete(c.entries, oldest)
	}
}

// isObject reports whether b is one valid JSON object.
func isObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '{' && json.Valid(b)
}

// awsError maps a Secrets Manager error: a missing secret is an unknown tenant (for this
// vendor); anything else is our dependency failing, which a retry may fix. The cause is kept.
func awsError(op, name, tenant, vendor string, err error) error {
	var notFound *types.ResourceNotFoundException
	if errors.As(err, &notFound) || errorCode(err) == "ResourceNotFoundException" {
		msg := fmt.Sprintf("no credentials for tenant %q on vendor %q", tenant, vendor)
		return handoff.E(handoff.CodeUnknownTenant, op, msg, err)
	}
	msg := fmt.Sprintf("secrets manager failed on secret %s", name)
	return handoff.E(handoff.CodeUnavailable, op, msg, err)
}
