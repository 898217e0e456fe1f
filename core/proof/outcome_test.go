package proof_test

import (
	"handoff/core/handoff"
	"handoff/core/store"
)

// settle holds every recorded transfer to Handoff's promises. A final one goes through bot-ack
// twice (the stream delivers at least once), the second time in another container: the bot must be acked exactly once — or the ack
// recorded as uncertain or failed, with its reason — and the outcome published exactly once. A pending one must be a vendor's
// awaited callback with its key no longer leased: the callback ends it, and if the callback
// never comes, the sweeper for transfers stuck pending (the lead's) does; nothing else is left
// holding it.
func (s *stack) settle() {
	s.t.Helper()
	for _, t := range s.transfers() {
		if !t.Status.Final() {
			s.checkAwaiting(t)
			continue
		}
		_, acksBefore := s.sf.jobs()
		published := s.events.succeeded("PutEvents")
		if n := s.deliverStream(t.ID); n != 0 {
			s.t.Fatalf("bot-ack asked for transfer %s again with no fault playing", t.ID)
		}
		after := s.stored(t.ID)
		_, acks := s.sf.jobs()
		if acked := acks - acksBefore; t.Ack.Status == handoff.AckPending {
			switch after.Ack.Status {
			case handoff.AckSent:
				if acked != 1 {
					s.t.Errorf("transfer %s: the bot took %d acks, want exactly 1", t.ID, acked)
				}
			case handoff.AckFailed, handoff.AckUncertain: // uncertain: the bot may have it; not re-sent
				if after.Ack.Error == "" {
					s.t.Errorf("transfer %s: ack %s without a reason", t.ID, after.Ack.Status)
				}
			default:
				s.t.Errorf("transfer %s: ack %s after bot-ack, want sent, uncertain or failed", t.ID, after.Ack.Status)
			}
		} else if acked != 0 {
			s.t.Errorf("transfer %s: acked again (%d) though its ack was already %s", t.ID, acked, t.Ack.Status)
		}
		wantPublished := 0
		if t.NotifiedAt == nil {
			wantPublished = 1
		}
		if got := s.events.succeeded("PutEvents") - published; got != wantPublished || after.NotifiedAt == nil {
			s.t.Errorf("transfer %s: published %d times (notifiedAt %v), want %d", t.ID, got, after.NotifiedAt, wantPublished)
		}
		s.redeliver(after)
	}
}

// redeliver hands bot-ack the record of t, final and notified, once more, in a cold container
// (no adapter memory may stand in for the record): nothing may be sent, published or written.
func (s *stack) redeliver(t handoff.Transfer) {
	s.t.Helper()
	sfCalls, _ := s.sf.jobs()
	hookCalls, _ := s.hook.jobs()
	published := s.events.count("PutEvents")
	if n := s.deliverStreamTo(s.newContainer(s.store), t.ID); n != 0 {
		s.t.Fatalf("bot-ack asked for transfer %s again on a redelivery", t.ID)
	}
	sf, _ := s.sf.jobs()
	hook, _ := s.hook.jobs()
	if again := s.stored(t.ID); sf != sfCalls || hook != hookCalls || s.events.count("PutEvents") != published || again.Version != t.Version {
		s.t.Errorf("transfer %s: a redelivery acked (%d), published (%d) or wrote (version %d → %d)",
			t.ID, sf-sfCalls+hook-hookCalls, s.events.count("PutEvents")-published, t.Version, again.Version)
	}
}

// checkAwaiting checks a pending transfer: the vendor accepted it and its callback is awaited,
// and its idempotency key is completed, so no lease holds it.
func (s *stack) checkAwaiting(t handoff.Transfer) {
	s.t.Helper()
	n := len(t.Attempts)
	if t.Vendor != "koreai" || n == 0 || t.Attempts[n-1].Outcome != handoff.OutcomeAwaiting {
		s.t.Errorf("transfer %s is pending without awaiting a vendor callback: %+v", t.ID, t)
	}
	for _, it := range s.scan() {
		if str(it, store.AttrTransferID) == t.ID && str(it, store.AttrKind) == store.KindTransfer &&
			str(it, store.AttrClaim) != "completed" {
			s.t.Errorf("pending transfer %s: its key is %s, want completed (no lease left)", t.ID, str(it, store.AttrClaim))
		}
	}
}
