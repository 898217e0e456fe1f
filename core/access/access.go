// Package access decides who may act for a tenant: an API caller (an IAM principal ARN) or an
// EventBridge source and account, against the tenant's access record. Records are read from the
// store and cached in the container for at most a minute, so an operator's change takes effect
// within a minute without costing a read per request.
package access

import (
	"context"
	"sync"
	"time"

	"handoff/core/handoff"
)

// Records reads tenants' access records (core/store and memstore implement it). A tenant without
// one is NOT_FOUND.
type Records interface {
	GetAccess(ctx context.Context, tenant string) (handoff.Access, error)
}

// MaxTTL is the longest a record is trusted after it was read.
const MaxTTL = time.Minute

// maxEntries bounds the cache: tenant names come from requests, so absent tenants are cached too
// (a refused caller must not cost a read per request), and their number must not grow unbounded.
const maxEntries = 4096

// Checker answers access questions. It is safe for concurrent use; build it with New.
type Checker struct {
	records Records
	ttl     time.Duration
	now     func() time.Time

	mu    sync.Mutex
	cache map[string]entry
}

type entry struct {
	access handoff.Access
	found  bool
	until  time.Time
}

// Option changes a Checker built by New.
type Option func(*Checker)

// WithTTL sets how long a record read is trusted: at most MaxTTL (longer is cut to it); 0 reads
// the record for every question.
func WithTTL(d time.Duration) Option { return func(c *Checker) { c.ttl = min(max(d, 0), MaxTTL) } }

// WithClock sets the clock (tests).
func WithClock(now func() time.Time) Option { return func(c *Checker) { c.now = now } }

// New returns a Checker reading records through records. It does no I/O.
func New(records Records, opts ...Option) *Checker {
	c := &Checker{records: records, ttl: MaxTTL, now: time.Now, cache: map[string]entry{}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Caller returns nil when caller, an IAM principal ARN, may act for tenant through the API;
// FORBIDDEN when it may not (the tenant has no record, or the record does not list the caller:
// the answer does not say which); the store's error when the record could not be read.
func (c *Checker) Caller(ctx context.Context, tenant, caller string) error {
	a, found, err := c.record(ctx, tenant)
	if err != nil {
		return err
	}
	if !found || !a.AllowsPrincipal(caller) {
		return handoff.E(handoff.CodeForbidden, "access.Caller", "the caller may not act for tenant "+tenant, nil)
	}
	return nil
}

// Source returns nil when an EventBridge event with this source, put by this account, may
// escalate for tenant; FORBIDDEN, with the reason, when it may not; the store's error when the
// record could not be read.
func (c *Checker) Source(ctx context.Context, tenant, source, account string) error {
	a, found, err := c.record(ctx, tenant)
	if err != nil {
		return err
	}
	if !found {
		return handoff.E(handoff.CodeForbidden, "access.Source", "tenant "+tenant+" has no access record: nobody may escalate for it", nil)
	}
	if !a.AllowsSource(source, account) {
		return handoff.E(handoff.CodeForbidden, "access.Source",
			"source "+quote(source)+" from account "+quote(account)+" may not escalate for tenant "+tenant, nil)
	}
	return nil
}

func quote(s string) string { return `"` + s + `"` }

// record returns tenant's record from the cache, or reads it. Absence is cached like a record;
// a failed read is not.
func (c *Checker) record(ctx context.Context, tenant string) (handoff.Access, bool, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.cache[tenant]
	c.mu.Unlock()
	if ok && now.Before(e.until) {
		return e.access, e.found, nil
	}
	a, err := c.records.GetAccess(ctx, tenant)
	switch {
	case err == nil:
		e = entry{access: a, found: true}
	case handoff.ErrorCode(err) == handoff.CodeNotFound:
		e = entry{}
	default:
		return handoff.Access{}, false, err
	}
	if c.ttl > 0 {
		e.until = now.Add(c.ttl)
		c.store(tenant, e, now)
	}
	return e.access, e.found, nil
}

// store caches e, first dropping lapsed entries (or, if none lapsed, all) when the cache is full.
func (c *Checker) store(tenant string, e entry, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.cache) >= maxEntries {
		for k, old := range c.cache {
			if !now.Before(old.until) {
				delete(c.cache, k)
			}
		}
		if len(c.cache) >= maxEntries {
			clear(c.cache)
		}
	}
	c.cache[tenant] = e
}
