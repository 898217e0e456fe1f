package memstore

import (
	"context"

	"handoff/core/handoff"
)

// PutAccess writes a tenant's access record, as core/store does.
func (s *Store) PutAccess(_ context.Context, a handoff.Access) error {
	if err := a.Validate(); err != nil {
		return err
	}
	a.Principals = append([]string(nil), a.Principals...)
	a.EventSources = append([]handoff.EventSource(nil), a.EventSources...)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.access == nil {
		s.access = map[string]handoff.Access{}
	}
	s.access[a.Tenant] = a
	s.Writes++
	return nil
}

// GetAccess returns a tenant's access record; NOT_FOUND when it has none.
func (s *Store) GetAccess(_ context.Context, tenant string) (handoff.Access, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.access[tenant]
	if !ok {
		return handoff.Access{}, handoff.E(handoff.CodeNotFound, "memstore.GetAccess", "no access record for the tenant", nil)
	}
	return a, nil
}
