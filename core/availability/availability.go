// Package availability answers GET /availability: which skills, queues or agents can take a
// conversation now, asked of the vendor and cached for a few seconds in the container, because
// bots ask again and again while a customer waits and vendors rate-limit.
package availability

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"handoff/core/handoff"
	"handoff/core/vendors"
)

// Checkers finds a vendor's availability adapter.
type Checkers interface {
	Availability(name string) (vendors.AvailabilityChecker, bool)
}

// Query is one availability question.
type Query struct {
	Tenant         string
	Vendor         string
	ConversationID string
	Targets        []handoff.Target
}

// Service answers availability questions. Build it with New.
type Service struct {
	checkers Checkers
	ttl      time.Duration
	now      func() time.Time
	flight   singleflight.Group

	mu    sync.Mutex
	cache map[string]entry
}

type entry struct {
	targets []handoff.Availability
	at      time.Time
}

// maxEntries bounds the cache; past it, expired entries are dropped, then everything.
const maxEntries = 4096

// New builds a Service; ttl 0 turns the cache off.
func New(checkers Checkers, ttl time.Duration) *Service {
	return &Service{checkers: checkers, ttl: ttl, now: time.Now, cache: map[string]entry{}}
}

// Check validates q and returns the vendor's answer, from the cache when fresh. Concurrent
// identical questions make one vendor call.
func (s *Service) Check(ctx context.Context, q Query) ([]handoff.Availability, error) {
	checker, err := s.validate(q)
	if err != nil {
		return nil, err
	}
	key := cacheKey(q)
	if targets, ok := s.cached(key); ok {
		return targets, nil
	}
	v, err, _ := s.flight.Do(key, func() (any, error) {
		targets, err := checker.Availability(ctx, vendors.AvailabilityRequest{
			Tenant: q.Tenant, ConversationID: q.ConversationID, Targets: q.Targets,
		})
		if err != nil {
			return nil, err
		}
		if targets == nil {
			targets = []handoff.Availability{}
		}
		s.store(key, targets)
		return targets, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]handoff.Availability), nil
}

func (s *Service) validate(q Query) (vendors.AvailabilityChecker, error) {
	if err := handoff.ValidateTenant("tenant", q.Tenant); err != nil {
		return nil, err
	}
	if err := handoff.ValidateVendor("vendor", q.Vendor); err != nil {
		return nil, err
	}
	if q.ConversationID != "" {
		if err := handoff.ValidateID("conversationId", q.ConversationID); err != nil {
			return nil, err
		}
	}
	if len(q.Targets) > handoff.MaxFallbacks {
		return nil, handoff.Invalid("target", fmt.Sprintf("at most %d targets", handoff.MaxFallbacks))
	}
	for _, t := range q.Targets {
		if err := t.Validate("target"); err != nil {
			return nil, err
		}
	}
	checker, ok := s.checkers.Availability(q.Vendor)
	if !ok {
		return nil, handoff.Invalid("vendor", q.Vendor+" does not report availability")
	}
	return checker, nil
}

func cacheKey(q Query) string {
	var b strings.Builder
	b.WriteString(q.Tenant + "\x00" + q.Vendor + "\x00" + q.ConversationID)
	for _, t := range q.Targets {
		b.WriteString("\x00" + string(t.Type) + ":" + t.ID)
	}
	return b.String()
}

func (s *Service) cached(key string) ([]handoff.Availability, bool) {
	if s.ttl <= 0 {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.cache[key]
	if !ok || s.now().Sub(e.at) > s.ttl {
		return nil, false
	}
	return e.targets, true
}

func (s *Service) store(key string, targets []handoff.Availability) {
	if s.ttl <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if len(s.cache) >= maxEntries {
		for k, e := range s.cache {
			if now.Sub(e.at) > s.ttl {
				delete(s.cache, k)
			}
		}
		if len(s.cache) >= maxEntries {
			clear(s.cache)
		}
	}
	s.cache[key] = entry{targets: targets, at: now}
}
