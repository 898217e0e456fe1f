// Package memstore is an in-memory store with the same conditional semantics as the DynamoDB
// store (one record per transfer that is also its idempotency claim, with leases, completion and
// release by the lease owner, forward-only updates guarded by version, append-only notes), for
// unit tests and for benchmarking the use cases' own work without I/O. The behavioural suite in
// core/store/storetest runs against both. It is not for production: nothing survives the process.
package memstore

import (
	"context"
	"sort"
	"sync"
	"time"

	"handoff/core/handoff"
)

// AckRescanAfter mirrors core/store: how long after its last attempt a pending ack is due.
const AckRescanAfter = 2 * time.Minute

// Store is safe for concurrent use. The zero value is not usable; build it with New.
type Store struct {
	mu        sync.Mutex
	now       func() time.Time
	ttl       time.Duration
	claims    map[string]*claim // by tenant and key: the key's live transfer
	transfers map[string]handoff.Transfer
	events    map[string][]handoff.Event
	access    map[string]handoff.Access // tenants' access records (access.go)
	// Writes counts write requests, as the DynamoDB store would make them.
	Writes int
}

type claim struct {
	state       string // in_progress, completed, released
	fingerprint string
	owner       string
	leaseUntil  time.Time
	transferID  string
	ambiguous   bool
	until       time.Time // the end of the key's window
}

// New returns an empty store; now may be nil for the wall clock.
func New(now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{
		now: now, ttl: 24 * time.Hour,
		claims: map[string]*claim{}, transfers: map[string]handoff.Transfer{}, events: map[string][]handoff.Event{},
	}
}

func claimKey(c handoff.Claim) string { return c.Tenant + "\x00" + c.Key }

// Claim takes the key and records pending, or reports why not (see core/store for the rules).
func (s *Store) Claim(_ context.Context, c handoff.Claim, pending handoff.Transfer) (handoff.ClaimResult, error) {
	const op = "memstore.Claim"
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Writes++
	now := s.now()
	old, exists := s.claims[claimKey(c)]
	if exists {
		t := s.transfers[old.transferID]
		finished := t.Status.Final() && t.Ack.Status != handoff.AckPending && t.NotifiedAt != nil
		if !(now.After(old.until) && finished) {
			switch {
			case old.fingerprint != c.Fingerprint:
				return handoff.ClaimResult{}, handoff.E(handoff.CodeIdempotencyKeyReused, op, "this idempotency key was used for another request", nil)
			case old.state == "completed":
				return handoff.ClaimResult{TransferID: old.transferID, Completed: &t}, nil
			case old.state == "in_progress" && !now.After(old.leaseUntil):
				e := handoff.E(handoff.CodeInProgress, op, "a request with this idempotency key is in progress", nil)
				e.RetryAfter = max(time.Second, old.leaseUntil.Sub(now).Round(time.Second))
				return handoff.ClaimResult{}, e
			}
			// A lapsed lease, or an ambiguous release: take over, the transfer kept.
			reclaimed := old.state == "in_progress" || old.ambiguous
			old.state, old.owner, old.leaseUntil, old.ambiguous = "in_progress", c.Owner, c.LeaseUntil, false
			until := c.LeaseUntil
			t.AwaitUntil = &until
			t.Version++
			s.transfers[t.ID] = t
			return handoff.ClaimResult{TransferID: t.ID, Reclaimed: reclaimed, Stored: &t, Version: t.Version}, nil
		}
	}
	window := c.Window
	if window <= 0 {
		window = s.ttl
	}
	pending.ID, pending.Version = c.TransferID, 1
	s.transfers[pending.ID] = pending
	s.events[pending.ID] = []handoff.Event{{At: pending.CreatedAt, Kind: "created", Status: handoff.StatusPending}}
	s.claims[claimKey(c)] = &claim{
		state: "in_progress", fingerprint: c.Fingerprint, owner: c.Owner,
		leaseUntil: c.LeaseUntil, transferID: pending.ID, until: now.Add(window),
	}
	return handoff.ClaimResult{TransferID: pending.ID, Version: 1}, nil
}

// held is c's claim while c.Owner holds it.
func (s *Store) held(c handoff.Claim) (*claim, bool) {
	cl, ok := s.claims[claimKey(c)]
	return cl, ok && cl.owner == c.Owner && cl.state == "in_progress"
}

// Progress records the claimed transfer before the next target is tried.
func (s *Store) Progress(_ context.Context, c handoff.Claim, t handoff.Transfer, events ...handoff.Event) (handoff.Transfer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Writes++
	if _, ok := s.held(c); !ok {
		return handoff.Transfer{}, handoff.E(handoff.CodeConflict, "memstore.Progress", "the lease was lost", nil)
	}
	return s.replace(claimed(t), t, events, "memstore.Progress")
}

// Complete records the claimed transfer's outcome and completes the claim, if the caller still
// owns it.
func (s *Store) Complete(_ context.Context, c handoff.Claim, t handoff.Transfer, events []handoff.Event) (handoff.Transfer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Writes++
	cl, ok := s.held(c)
	if !ok {
		return handoff.Transfer{}, handoff.E(handoff.CodeConflict, "memstore.Complete", "the lease was lost", nil)
	}
	saved, err := s.replace(claimed(t), t, events, "memstore.Complete")
	if err == nil {
		cl.state, cl.owner, cl.ambiguous = "completed", "", false
	}
	return saved, err
}

// claimed is t as stored while claimed: pending.
func claimed(t handoff.Transfer) handoff.Transfer {
	t.Status = handoff.StatusPending
	return t
}

// TakeOver gives the claim on pending transfer t to owner, if t is unchanged and overdue.
func (s *Store) TakeOver(_ context.Context, t handoff.Transfer, owner string, until time.Time) (handoff.Claim, handoff.Transfer, error) {
	const op = "memstore.TakeOver"
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Writes++
	cur, ok := s.transfers[t.ID]
	if !ok {
		return handoff.Claim{}, t, handoff.E(handoff.CodeNotFound, op, "no such transfer", nil)
	}
	if cur.Version != t.Version || cur.Status != handoff.StatusPending || cur.AwaitUntil == nil || cur.AwaitUntil.After(s.now()) {
		return handoff.Claim{}, t, handoff.E(handoff.CodeConflict, op, "the transfer changed or is not due", nil)
	}
	for key, cl := range s.claims {
		if cl.transferID != t.ID {
			continue
		}
		cl.state, cl.owner, cl.leaseUntil, cl.ambiguous = "in_progress", owner, until, false
		cur.Version++
		cur.AwaitUntil = &until
		s.transfers[t.ID] = cur
		tenant, k := splitKey(key)
		after := t
		after.Version = cur.Version
		after.AwaitUntil = &until
		return handoff.Claim{Tenant: tenant, Key: k, Fingerprint: cl.fingerprint, Owner: owner, LeaseUntil: until, TransferID: t.ID}, after, nil
	}
	return handoff.Claim{}, t, handoff.E(handoff.CodeNotFound, op, "no claim for this transfer", nil)
}

func splitKey(k string) (string, string) {
	for i := range len(k) {
		if k[i] == 0 {
			return k[:i], k[i+1:]
		}
	}
	return k, ""
}

// Release gives the key back, if the caller still owns it.
func (s *Store) Release(_ context.Context, c handoff.Claim, ambiguous bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Writes++
	cl, ok := s.held(c)
	if !ok {
		return handoff.E(handoff.CodeConflict, "memstore.Release", "the lease was lost", nil)
	}
	if !ambiguous {
		delete(s.claims, claimKey(c)) // the vendor did nothing: no trace, as in core/store
		delete(s.transfers, cl.transferID)
		delete(s.events, cl.transferID)
		return nil
	}
	cl.state, cl.owner, cl.ambiguous = "released", "", true
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

// FindByKey returns tenant's live transfer claimed under idempotency key key.
func (s *Store) FindByKey(_ context.Context, tenant, key string) (handoff.Transfer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cl, ok := s.claims[tenant+"\x00"+key]; ok {
		if t, ok := s.transfers[cl.transferID]; ok {
			return t, nil
		}
	}
	return handoff.Transfer{}, handoff.E(handoff.CodeNotFound, "memstore.FindByKey", "no transfer with this idempotency key", nil)
}

// FindByRef returns tenant's newest transfer on vendor known to the vendor as vendorRef.
func (s *Store) FindByRef(_ context.Context, tenant, vendor, vendorRef string) (handoff.Transfer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var found *handoff.Transfer
	for _, t := range s.transfers {
		if t.Tenant == tenant && t.Vendor == vendor && t.VendorRef == vendorRef && (found == nil || t.CreatedAt.After(found.CreatedAt)) {
			found = &t
		}
	}
	if found == nil {
		return handoff.Transfer{}, handoff.E(handoff.CodeNotFound, "memstore.FindByRef", "no such transfer", nil)
	}
	return *found, nil
}

// Update writes after if before is still what is stored and the status change is legal.
func (s *Store) Update(_ context.Context, before, after handoff.Transfer, events ...handoff.Event) (handoff.Transfer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if before.Status != after.Status && !before.Status.CanMoveTo(after.Status) {
		return handoff.Transfer{}, handoff.E(handoff.CodeConflict, "memstore.Update", "illegal status change", nil)
	}
	s.Writes++
	return s.replace(before, after, events, "memstore.Update")
}

func (s *Store) replace(before, after handoff.Transfer, events []handoff.Event, op string) (handoff.Transfer, error) {
	cur, ok := s.transfers[before.ID]
	if !ok {
		return handoff.Transfer{}, handoff.E(handoff.CodeNotFound, op, "no such transfer", nil)
	}
	if cur.Version != before.Version || cur.Status != before.Status {
		return handoff.Transfer{}, handoff.E(handoff.CodeConflict, op, "the transfer changed", nil)
	}
	after.Version = before.Version + 1
	s.transfers[after.ID] = after
	s.note(after.ID, events)
	return after, nil
}

func (s *Store) note(id string, events []handoff.Event) {
	now := s.now()
	for _, e := range events {
		if e.At.IsZero() {
			e.At = now
		}
		s.events[id] = append(s.events[id], e)
	}
}

// Note appends events to a transfer's timeline without changing it.
func (s *Store) Note(_ context.Context, id string, events ...handoff.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.transfers[id]; !ok {
		return handoff.E(handoff.CodeNotFound, "memstore.Note", "no such transfer", nil)
	}
	if len(events) > 0 {
		s.Writes++
	}
	s.note(id, events)
	return nil
}

// Timeline returns a transfer's events in the order they were recorded.
func (s *Store) Timeline(_ context.Context, id string) ([]handoff.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]handoff.Event(nil), s.events[id]...), nil
}

// Overdue returns pending transfers past their deadline, oldest deadline first.
func (s *Store) Overdue(_ context.Context, now time.Time, limit int) ([]handoff.Transfer, error) {
	return s.due(now, limit, func(t handoff.Transfer) (time.Time, bool) {
		if t.Status != handoff.StatusPending || t.AwaitUntil == nil {
			return time.Time{}, false
		}
		return *t.AwaitUntil, true
	}), nil
}

// PendingAcks returns final transfers whose ack is pending and due for another try.
func (s *Store) PendingAcks(_ context.Context, now time.Time, limit int) ([]handoff.Transfer, error) {
	return s.due(now, limit, func(t handoff.Transfer) (time.Time, bool) {
		if !t.Status.Final() || t.Ack.Status != handoff.AckPending {
			return time.Time{}, false
		}
		last := t.UpdatedAt
		if t.Ack.At.After(last) {
			last = t.Ack.At
		}
		return last.Add(AckRescanAfter), true
	}), nil
}

func (s *Store) due(now time.Time, limit int, when func(handoff.Transfer) (time.Time, bool)) []handoff.Transfer {
	s.mu.Lock()
	defer s.mu.Unlock()
	type entry struct {
		t  handoff.Transfer
		at time.Time
	}
	var out []entry
	for _, t := range s.transfers {
		// Whole seconds, as the DynamoDB index keeps them.
		if at, ok := when(t); ok && at.Unix() <= now.Unix() {
			out = append(out, entry{t, at})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].at.Before(out[j].at) })
	ts := make([]handoff.Transfer, 0, min(len(out), limit))
	for _, e := range out[:min(len(out), limit)] {
		ts = append(ts, e.t)
	}
	return ts
}
