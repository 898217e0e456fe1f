package transfer

import (
	"container/list"
	"sync"
	"time"

	"handoff/core/handoff"
)

// memo remembers the results of keys this container completed, bounded, oldest out first. A
// duplicate it knows costs no storage request; a reused key with another body is still refused.
type memo struct {
	mu    sync.Mutex
	size  int
	order *list.List
	byKey map[string]*list.Element
}

type memoEntry struct {
	key         string
	fingerprint string
	transfer    handoff.Transfer
	until       time.Time // zero: as long as the entry stays; else the end of the key's window
}

func newMemo(size int) *memo {
	return &memo{size: size, order: list.New(), byKey: map[string]*list.Element{}}
}

func memoKey(c handoff.Claim) string { return c.Tenant + "\x00" + c.Key }

// lookup returns the remembered result for the claim's key, IDEMPOTENCY_KEY_REUSED when the key
// was completed for another request, or ok=false when the key is unknown here or its window has
// passed at now.
func (m *memo) lookup(c handoff.Claim, now time.Time) (handoff.Transfer, bool, error) {
	if m.size == 0 {
		return handoff.Transfer{}, false, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	el, ok := m.byKey[memoKey(c)]
	if !ok {
		return handoff.Transfer{}, false, nil
	}
	e := el.Value.(*memoEntry)
	if !e.until.IsZero() && now.After(e.until) {
		m.order.Remove(el)
		delete(m.byKey, e.key)
		return handoff.Transfer{}, false, nil
	}
	if e.fingerprint != c.Fingerprint {
		return handoff.Transfer{}, true, handoff.E(handoff.CodeIdempotencyKeyReused, "transfer.Start",
			"this idempotency key was used for another request", nil)
	}
	m.order.MoveToFront(el)
	return e.transfer, true, nil
}

// remember keeps t for c's key; a claim with a window is forgotten once it passes (from now).
func (m *memo) remember(c handoff.Claim, t handoff.Transfer, now time.Time) {
	if m.size == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := memoKey(c)
	e := &memoEntry{key: k, fingerprint: c.Fingerprint, transfer: t}
	if c.Window > 0 {
		e.until = now.Add(c.Window)
	}
	if el, ok := m.byKey[k]; ok {
		el.Value = e
		m.order.MoveToFront(el)
		return
	}
	m.byKey[k] = m.order.PushFront(e)
	for m.order.Len() > m.size {
		oldest := m.order.Back()
		m.order.Remove(oldest)
		delete(m.byKey, oldest.Value.(*memoEntry).key)
	}
}
