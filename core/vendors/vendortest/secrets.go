package vendortest

import (
	"context"
	"sync"

	"handoff/core/handoff"
)

// Secrets is an in-memory vendors.Secrets for adapter tests: the adapter's view of its tenant's
// secret, with counts of what the adapter asked. (The real one, over Secrets Manager, is
// core/secrets and is tested against moto.)
type Secrets struct {
	mu          sync.Mutex
	values      map[string][]byte
	Gets        int
	Invalidates int
	Puts        int
}

// NewSecrets returns a store holding one secret for tenant/vendor.
func NewSecrets(tenant, vendor string, secret []byte) *Secrets {
	s := &Secrets{values: map[string][]byte{}}
	s.values[tenant+"/"+vendor] = secret
	return s
}

// Get returns the secret, or UNKNOWN_TENANT.
func (s *Secrets) Get(_ context.Context, tenant, vendor string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Gets++
	v, ok := s.values[tenant+"/"+vendor]
	if !ok {
		return nil, handoff.E(handoff.CodeUnknownTenant, "vendortest.Secrets", "no secret for "+tenant+"/"+vendor, nil)
	}
	return append([]byte(nil), v...), nil
}

// Invalidate counts the call.
func (s *Secrets) Invalidate(string, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Invalidates++
}

// Put replaces the secret.
func (s *Secrets) Put(_ context.Context, tenant, vendor string, secret []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Puts++
	s.values[tenant+"/"+vendor] = append([]byte(nil), secret...)
	return nil
}

// Value returns the stored secret as it is now.
func (s *Secrets) Value(tenant, vendor string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.values[tenant+"/"+vendor]...)
}
