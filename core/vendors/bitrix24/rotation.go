package bitrix24

import (
	"context"
	"sync"
	"time"

	"handoff/core/handoff"
)

// rotation is an OAuth pair this container got from a refresh, kept until Secrets Manager
// holds it. Until then it is the only copy of the working refresh token (the stored one was
// spent getting it), so it is used in place of the stored pair and written back again on later
// calls, until the write lands.
type rotation struct {
	// base is the refresh token stored when the pair was got: the one it replaces. A write-back
	// is made only while the store still holds base, so it never overwrites a newer pair.
	base string
	tok  token
}

// rotations are the unsaved pairs, by tenant. Safe for concurrent use.
type rotations struct {
	mu    sync.Mutex
	byKey map[string]rotation
}

func (r *rotations) get(tenant string) (rotation, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.byKey[tenant]
	return v, ok
}

func (r *rotations) put(tenant string, v rotation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byKey == nil {
		r.byKey = map[string]rotation{}
	}
	r.byKey[tenant] = v
}

// drop forgets tenant's pair if it is still v (a newer one may have replaced it meanwhile).
func (r *rotations) drop(tenant string, v rotation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cur, ok := r.byKey[tenant]; ok && cur.tok.RefreshToken == v.tok.RefreshToken {
		delete(r.byKey, tenant)
	}
}

// Write-back attempts within one call, and the pause before each further one.
const (
	writeBackTries = 3
	writeBackPause = 200 * time.Millisecond
)

// writeBack stores r if the store still holds the pair r replaces: it reads the secret afresh
// first, so a pair stored since by another container (or an operator's new authorization) is
// never overwritten by ours. It returns nil once the store holds r or a newer pair, and forgets
// r then.
func (a *Adapter) writeBack(ctx context.Context, tenant string, r rotation) error {
	var err error
	for try := 1; try <= writeBackTries; try++ {
		if err = a.writeBackOnce(ctx, tenant, r); err == nil {
			return nil
		}
		if try == writeBackTries || remaining(ctx) < writeBackPause*time.Duration(try)+time.Second {
			break
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(writeBackPause * time.Duration(try)):
		}
	}
	return err
}

func (a *Adapter) writeBackOnce(ctx context.Context, tenant string, r rotation) error {
	const op = "bitrix24.writeBack"
	a.deps.Secrets.Invalidate(tenant, Key)
	cur, err := a.loadStored(ctx, tenant)
	if err != nil {
		return err
	}
	switch cur.creds.RefreshToken {
	case r.tok.RefreshToken: // an earlier write landed after all
		a.rotations.drop(tenant, r)
		return nil
	case r.base:
	default:
		a.rotations.drop(tenant, r)
		a.log.WarnContext(ctx, "bitrix24: a newer OAuth pair was stored elsewhere; this container's is dropped", "tenant", tenant)
		return nil
	}
	raw, err := withTokens(cur.raw, r.tok)
	if err != nil {
		return handoff.E(handoff.CodeConfiguration, op, "the Bitrix24 secret could not be rewritten", nil)
	}
	if err := a.deps.Secrets.Put(ctx, tenant, Key, raw); err != nil {
		return err
	}
	a.rotations.drop(tenant, r)
	return nil
}

// withRotation applies this container's unsaved pair, if any, to s as read from the store,
// and tries once more to write it back when time allows; a failed write is logged, and the
// call goes on with the unsaved pair.
func (a *Adapter) withRotation(ctx context.Context, s *session) *session {
	r, ok := a.rotations.get(s.tenant)
	if !ok || s.creds.Webhook() {
		return s
	}
	switch s.creds.RefreshToken {
	case r.tok.RefreshToken:
		a.rotations.drop(s.tenant, r) // stored: nothing left to do
		return s
	case r.base:
	default:
		a.rotations.drop(s.tenant, r) // a newer pair is stored
		return s
	}
	out, err := overlay(s, r.tok, a.log)
	if err != nil {
		return s
	}
	if remaining(ctx) >= storeReserve {
		if err := a.writeBackOnce(ctx, s.tenant, r); err != nil {
			a.log.ErrorContext(ctx, "bitrix24: the rotated OAuth tokens are still not written back; kept in memory",
				"tenant", s.tenant, "code", handoff.ErrorCode(err))
		} else {
			a.log.InfoContext(ctx, "bitrix24: rotated OAuth tokens written back on a later call", "tenant", s.tenant)
		}
	}
	return out
}
