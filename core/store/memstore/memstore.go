// Package memstore is an in-memory store with the same conditional semantics as the DynamoDB
// store (claims with leases, completion and release by the lease owner, forward-only updates
// guarded by version), for unit tests and for benchmarking the use cases' own work without I/O.
// It is not for production: nothing survives the process.
package memstore

import (
	"context"
	"sort"
	"sync"
	"time"

	"handoff/core/handoff"
)

// Store is safe for concurrent use. The zero value is not usable; build it with New.
type Store struct {
	mu        sync.Mutex
	now       func() time.Time
	ttl       time.Duration
	claims    map[string]*claim
	transfers map[string]handoff.Transfer
	refs      map[handoff.Ref]string
	events    map[string][]handoff.Event
	access    map[string]handoff.Access // tenants' access records (access.go)
	// Writes counts write requests, as the DynamoDB store would make them.
	Writes int
}

type claim struct {
	status      string // in_progress, completed, released
	fingerprint string
	owner       string
	leaseUntil  time.Time
	transferID  string
	result      *handoff.Transfer
	expires     time.Time
}

// New returns an empty store; now may be nil for the wall clock.
func New(now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{
		now: now, ttl: 24 * time.Hour,
		claims: map[string]*claim{}, transfers: map[string]handoff.Transfer{},
		refs: map[handoff.Ref]string{}, events: map[string][]handoff.Event{},
	}
}

func claimKey(c handoff.Claim) string { return c.Tenant + "\x00" + c.Key }

// Claim takes the key's lease, or reports why not (see core/store for the rules).
func (s *Store) Claim(_ context.Context, c handoff.Claim) (handoff.ClaimResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Writes++
	now := s.now()
	old, exists := s.claims[claimKey(c)]
	fresh := !exists || now.After(old.expires)
	if !fresh {
		if err := refuse(old, c, now); err != nil {
			return handoff.ClaimResult{}, err
		}
		if old.status == "completed" {
			return handoff.ClaimResult{TransferID: old.transferID, Completed: old.result}, nil
		}
	}
	res := handoff.ClaimResult{TransferID: c.TransferID}
	if !fresh {
		res.TransferID = old.transferID
		res.Reclaimed = true // a lapsed lease, or an ambiguous release: the vendor may have acted
	}
	s.claims[claimKey(c)] = &claim{
		status: "in_progress", fingerprint: c.Fingerprint, owner: c.Owner,
		leaseUntil: c.LeaseUntil, transferID: res.TransferID, expires: now.Add(s.ttl),
	}
	return res, nil
}

// refuse says why a live claim cannot be taken over, or nil when it can (or is completed).
func refuse(old *claim, c handoff.Claim, now time.Time) error {
	const op = "memstore.Claim"
	switch {
	case old.fingerprint != c.Fingerprint:
		return handoff.E(handoff.CodeIdempotencyKeyReused, op, "this idempotency key was used for another request", nil)
	case old.status == "completed", old.status == "released":
		return nil
	case now.After(old.leaseUntil):
		return nil // the owner's lease lapsed
	}
	e := handoff.E(handoff.CodeInProgress, op, "a request with this idempotency key is in progress", nil)
	e.RetryAfter = max(time.Second, old.leaseUntil.Sub(now).Round(time.Second))
	return e
}

// Complete records the transfer and completes the claim, if the caller still owns it.
func (s *Store) Complete(_ context.Context, c handoff.Claim, t handoff.Transfer, ref *handoff.Ref, events []handoff.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Writes++
	cl, ok := s.claims[claimKey(c)]
	if !ok || cl.owner != c.Owner || cl.status != "in_progress" {
		return handoff.E(handoff.CodeConflict, "memstore.Complete", "the lease was lost", nil)
	}
	if _, exists := s.transfers[t.ID]; exists {
		return handoff.E(handoff.CodeConflict, "memstore.Complete", "the transfer exists", nil)
	}
	t.Version = 1
	s.transfers[t.ID] = t
	s.events[t.ID] = append(s.events[t.ID], events...)
	if ref != nil {
		s.refs[*ref] = t.ID
	}
	snapshot := t
	cl.status, cl.owner, cl.result = "completed", "", &snapshot
	return nil
}

// Release gives the key back, if the caller still owns it.
func (s *Store) Release(_ context.Context, c handoff.Claim, ambiguous bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Writes++
	cl, ok := s.claims[claimKey(c)]
	if !ok || cl.owner != c.Owner || cl.status != "in_progress" {
		return handoff.E(handoff.CodeConflict, "memstore.Release", "the lease was lost", nil)
	}
	if !ambiguous {
		delete(s.claims, claimKey(c)) // the vendor did nothing: no trace, as in core/store
		return nil
	}
	cl.status, cl.owner = "released", ""
	return nil
}

// Get returns a transfer.
func (s *Store) Get(_ context.Context, id string) (handoff.Transfer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.transfers[id]
	if !ok {
		return handoff.Transfer{}, handoff.E(handoff.CodeNotFound, "memstore.Get", "no such transfer", nil)
	}
	return t, nil
}

// FindByRef returns the transfer a vendor's id points at.
func (s *Store) FindByRef(ctx context.Context, vendor, vendorRef string) (handoff.Transfer, error) {
	s.mu.Lock()
	id, ok := s.refs[handoff.Ref{Vendor: vendor, VendorRef: vendorRef}]
	s.mu.Unlock()
	if !ok {
		return handoff.Transfer{}, handoff.E(handoff.CodeNotFound, "memstore.FindByRef", "no such transfer", nil)
	}
	return s.Get(ctx, id)
}

// Update writes after if before is still what is stored and the status change is legal.
func (s *Store) Update(_ context.Context, before, after handoff.Transfer, events ...handoff.Event) (handoff.Transfer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if before.Status != after.Status && !before.Status.CanMoveTo(after.Status) {
		return handoff.Transfer{}, handoff.E(handoff.CodeConflict, "memstore.Update", "illegal status change", nil)
	}
	s.Writes++
	cur, ok := s.transfers[before.ID]
	if !ok || cur.Version != before.Version || cur.Status != before.Status {
		return handoff.Transfer{}, handoff.E(handoff.CodeConflict, "memstore.Update", "the transfer changed", nil)
	}
	after.Version = before.Version + 1
	s.transfers[after.ID] = after
	s.events[after.ID] = append(s.events[after.ID], events...)
	return after, nil
}

// Timeline returns a transfer's events, oldest first.
func (s *Store) Timeline(_ context.Context, id string) ([]handoff.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := append([]handoff.Event(nil), s.events[id]...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out, nil
}

// Overdue returns transfers awaiting a callback past their deadline, oldest deadline first.
func (s *Store) Overdue(_ context.Context, now time.Time, limit int) ([]handoff.Transfer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []handoff.Transfer
	for _, t := range s.transfers {
		if t.Status == handoff.StatusPending && t.AwaitUntil != nil && !t.AwaitUntil.After(now) {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].AwaitUntil.Before(*out[j].AwaitUntil) })
	return out[:min(len(out), limit)], nil
}
