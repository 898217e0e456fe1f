package e2e_test

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"handoff/core/handoff"
	"handoff/core/vendors/liveperson/livepersonsandbox"
	"handoff/scripts/localstack/demo"
)

// Twenty clients send the same request with the same Idempotency-Key at once: LivePerson is
// asked once; each client gets the transfer or IN_PROGRESS with Retry-After; a later resend is
// a replay, and the key with another body is refused.
func testDuplicateStorm(t *testing.T, e *env) {
	s := e.stack(t)
	const clients, key, chat = 20, "e2e-storm-1", "H6201348501"
	body := fmt.Sprintf(`{"tenant":"demo","vendor":"liveperson","conversation":{"id":%q},
		"target":{"type":"skill","id":%q},"fallbacks":[{"type":"agent","id":%q}]}`, chat, livepersonsandbox.SkillSupportID, livepersonsandbox.AgentOnlineID)

	answers, errs := make([]answer, clients), make([]error, clients)
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range answers {
		done.Go(func() {
			start.Wait()
			answers[i], errs[i] = send(http.MethodPost, s.URL+"/transfers", map[string]string{"Idempotency-Key": key}, body)
		})
	}
	start.Done()
	done.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}

	var id string
	created, inProgress := 0, 0
	for _, a := range answers {
		switch a.status {
		case http.StatusCreated:
			tr := wantTransfer(t, a, http.StatusCreated)
			if id != "" && tr.ID != id {
				t.Errorf("two transfers for one key: %s and %s", id, tr.ID)
			}
			id = tr.ID
			if a.header.Get("Idempotent-Replayed") != "true" {
				created++
			}
		case http.StatusConflict:
			wantProblem(t, a, http.StatusConflict, handoff.CodeInProgress)
			if secs, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || secs < 1 {
				t.Errorf("IN_PROGRESS without a Retry-After in seconds: %v", a.header)
			}
			inProgress++
		default:
			t.Errorf("answer %s, want 201 or 409 IN_PROGRESS", a)
		}
	}
	t.Logf("%d clients: %d created, %d replayed, %d in progress", clients, created, clients-created-inProgress, inProgress)
	if created != 1 {
		t.Errorf("%d answers were not replays, want exactly 1 (the request that ran)", created)
	}
	if n := livePersonTransfers(demo.SandboxOf[*livepersonsandbox.Sandbox](s.Sandboxes, "liveperson"), chat); n != 1 {
		t.Errorf("LivePerson received %d transfers of %s, want 1", n, chat)
	}

	again := postTransfer(t, s.URL, key, body)
	if tr := wantTransfer(t, again, http.StatusCreated); tr.ID != id || again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("resend = %s (Idempotent-Replayed %q), want the replay of %s", again, again.header.Get("Idempotent-Replayed"), id)
	}
	other := fmt.Sprintf(`{"tenant":"demo","vendor":"liveperson","conversation":{"id":%q},"target":{"type":"agent","id":%q}}`, chat, livepersonsandbox.AgentOnlineID)
	wantProblem(t, postTransfer(t, s.URL, key, other), http.StatusUnprocessableEntity, handoff.CodeIdempotencyKeyReused)
	if n := livePersonTransfers(demo.SandboxOf[*livepersonsandbox.Sandbox](s.Sandboxes, "liveperson"), chat); n != 1 {
		t.Errorf("LivePerson received %d transfers of %s after the resends, want 1", n, chat)
	}
	awaitPublished(t, s.URL, "Transfer Succeeded", getTransfer(t, s.URL, id))
}
