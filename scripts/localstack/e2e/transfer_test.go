package e2e_test

import (
	"fmt"
	"net/http"
	"testing"

	"handoff/core/handoff"
	"handoff/core/vendors/bitrix24/bitrix24sandbox"
	"handoff/core/vendors/koreai/koreaisandbox"
	"handoff/core/vendors/liveperson/livepersonsandbox"
	"handoff/core/vendors/salesforce/salesforcesandbox"
	"handoff/core/vendors/webhook/webhooksandbox"
	"handoff/scripts/localstack/demo"
)

// One transfer per vendor, each to a target its sandbox knows to be free: Bitrix24 and
// LivePerson confirm at once (201), Kore.ai accepts (202) and confirms by calling back.
func testTransferPerVendor(t *testing.T, e *env) {
	s := e.stack(t)
	t.Run("bitrix24", func(t *testing.T) {
		chat := "113"
		before := len(bitrixTransfers(demo.SandboxOf[*bitrix24sandbox.Sandbox](s.Sandboxes, "bitrix24"), chat))
		a := postTransfer(t, s.URL, "e2e-b24-113", fmt.Sprintf(`{"tenant":"demo","vendor":"bitrix24",
			"conversation":{"id":%q},"target":{"type":"agent","id":%q},"fallbacks":[{"type":"queue","id":%q}],
			"bot":{"vendor":"webhook","sessionId":"web-e2e-1"}}`, chat, bitrix24sandbox.UserID, bitrix24sandbox.LineID))
		tr := wantTransfer(t, a, http.StatusCreated)
		wantAttempts(t, tr, handoff.StatusTransferred, handoff.OutcomeTransferred)
		calls := bitrixTransfers(demo.SandboxOf[*bitrix24sandbox.Sandbox](s.Sandboxes, "bitrix24"), chat)[before:]
		if len(calls) != 1 || unquote(calls[0]["USER_ID"]) != bitrix24sandbox.UserID {
			t.Errorf("Bitrix24 received %v for chat %s, want one transfer to user %s", calls, chat, bitrix24sandbox.UserID)
		}
		// The webhook bot hears the outcome, signed (its sandbox checks the signature).
		got := awaitTransfer(t, s.URL, tr.ID, "acked", final(handoff.StatusTransferred, handoff.AckSent))
		sameTransfer(t, got, tr)
		if acks := webhookAcks(demo.SandboxOf[*webhooksandbox.Sandbox](s.Sandboxes, "webhook"), tr.ID); len(acks) != 1 || acks[0].Status != handoff.StatusTransferred {
			t.Errorf("the webhook bot accepted %+v, want one ack of a transferred transfer", acks)
		}
		awaitPublished(t, s.URL, "Transfer Succeeded", got)
	})
	t.Run("liveperson", func(t *testing.T) {
		chat := "H6201348301"
		a := postTransfer(t, s.URL, "e2e-lp-301", fmt.Sprintf(`{"tenant":"demo","vendor":"liveperson",
			"conversation":{"id":%q},"target":{"type":"skill","id":%q},"fallbacks":[{"type":"agent","id":%q}],
			"note":"I think this person needs some help from you."}`, chat, livepersonsandbox.SkillSupportID, livepersonsandbox.AgentOnlineID))
		tr := wantTransfer(t, a, http.StatusCreated)
		wantAttempts(t, tr, handoff.StatusTransferred, handoff.OutcomeTransferred)
		if tr.Ack.Status != handoff.AckNotRequired {
			t.Errorf("ack %q for a transfer without a bot, want not_required", tr.Ack.Status)
		}
		if n := livePersonTransfers(demo.SandboxOf[*livepersonsandbox.Sandbox](s.Sandboxes, "liveperson"), chat); n != 1 {
			t.Errorf("LivePerson received %d transfers of chat %s, want 1", n, chat)
		}
		if to := demo.SandboxOf[*livepersonsandbox.Sandbox](s.Sandboxes, "liveperson").TransferredTo(chat); to != "skill:"+livepersonsandbox.SkillSupportID {
			t.Errorf("LivePerson moved the chat to %q, want skill %s", to, livepersonsandbox.SkillSupportID)
		}
		sameTransfer(t, getTransfer(t, s.URL, tr.ID), tr)
		awaitPublished(t, s.URL, "Transfer Succeeded", tr)
	})
	t.Run("koreai", func(t *testing.T) {
		session := "653a06c9aae89c5fbb4e1001"
		tr := postKore(t, s.URL, "e2e-kore-1001", "demo", session, "")
		got := awaitTransfer(t, s.URL, tr.ID, "transferred by the callback", final(handoff.StatusTransferred, handoff.AckNotRequired))
		wantAttempts(t, got, handoff.StatusTransferred, handoff.OutcomeAwaiting, handoff.OutcomeTransferred)
		if calls := koreAssigns(demo.SandboxOf[*koreaisandbox.Sandbox](s.Sandboxes, "koreai"), session); len(calls) != 1 || calls[0]["aId"] != koreaisandbox.AgentID {
			t.Errorf("Kore.ai received %v for session %s, want one assign to %s", calls, session, koreaisandbox.AgentID)
		}
		if d := koreDeliveries(demo.SandboxOf[*koreaisandbox.Sandbox](s.Sandboxes, "koreai"), session); len(d) != 1 || d[0].Status != http.StatusOK {
			t.Errorf("Kore.ai's callbacks about %s: %+v, want one, answered 200", session, d)
		}
		awaitPublished(t, s.URL, "Transfer Succeeded", got)
	})
}

// postKore starts a Kore.ai transfer of a bot session to the sandbox's free agent, with bot
// (a JSON object, or "" for none), and checks the 202 and the pending transfer it answers.
func postKore(t *testing.T, base, key, tenant, session, bot string) handoff.Transfer {
	t.Helper()
	if bot != "" {
		bot = `,"bot":` + bot
	}
	a := postTransfer(t, base, key, fmt.Sprintf(`{"tenant":%q,"vendor":"koreai","conversation":{"id":%q},
		"target":{"type":"agent","id":%q},"fallbacks":[{"type":"queue","id":%q}]%s}`,
		tenant, session, koreaisandbox.AgentID, koreaisandbox.QueueID, bot))
	tr := wantTransfer(t, a, http.StatusAccepted)
	wantAttempts(t, tr, handoff.StatusPending, handoff.OutcomeAwaiting)
	if tr.Tenant != tenant || tr.Conversation.ID != session {
		t.Errorf("transfer %+v, want tenant %s, conversation %s", tr, tenant, session)
	}
	return tr
}

// wantAttempts checks a transfer's status and the outcomes of its attempts, in order.
func wantAttempts(t *testing.T, tr handoff.Transfer, status handoff.Status, outcomes ...handoff.Outcome) {
	t.Helper()
	var got []handoff.Outcome
	for _, a := range tr.Attempts {
		got = append(got, a.Outcome)
		if a.At.IsZero() {
			t.Errorf("attempt %+v has no time", a)
		}
	}
	if tr.Status != status || fmt.Sprint(got) != fmt.Sprint(outcomes) {
		t.Errorf("transfer %s: status %s, attempts %v; want %s, %v", tr.ID, tr.Status, got, status, outcomes)
	}
}

// sameTransfer checks that GET /transfers/{id} returns the resource the POST answered.
func sameTransfer(t *testing.T, got, want handoff.Transfer) {
	t.Helper()
	if got.ID != want.ID || got.Tenant != want.Tenant || got.Vendor != want.Vendor || got.Conversation != want.Conversation ||
		got.Target != want.Target || got.Status != want.Status || len(got.Attempts) != len(want.Attempts) || !got.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("GET answered %+v,\nthe POST %+v", got, want)
	}
}

// A Kore.ai transfer whose bot is a Salesforce Einstein bot: once Kore.ai calls back, the bot
// hears transferSucceeded, once, in reply to its escalation, and the outcome is published.
func testSalesforceAck(t *testing.T, e *env) {
	s := e.stack(t)
	session, bot := "653a06c9aae89c5fbb4e1101", salesforcesandbox.DemoSessionIDs[1]
	tr := postKore(t, s.URL, "e2e-kore-sf-1101", "demo", session,
		fmt.Sprintf(`{"vendor":"salesforce","sessionId":%q,"escalationMessageId":%q}`, bot, salesforcesandbox.DemoEscalationMessageID))
	if tr.Ack.Status != handoff.AckPending {
		t.Errorf("ack %q while the transfer is pending, want pending", tr.Ack.Status)
	}
	got := awaitTransfer(t, s.URL, tr.ID, "transferred and acked", final(handoff.StatusTransferred, handoff.AckSent))
	msgs := salesforceMessages(demo.SandboxOf[*salesforcesandbox.Sandbox](s.Sandboxes, "salesforce"), bot)
	if len(msgs) != 1 {
		t.Fatalf("the bot session received %d messages, want 1: %+v", len(msgs), msgs)
	}
	m := msgs[0]
	if m.Type != "transferSucceeded" || m.SequenceID != got.Ack.SequenceID || got.Ack.SequenceID == 0 || m.InReplyToMessageID != salesforcesandbox.DemoEscalationMessageID {
		t.Errorf("message %+v, want transferSucceeded with sequenceId %d in reply to %s", m, got.Ack.SequenceID, salesforcesandbox.DemoEscalationMessageID)
	}
	if !demo.SandboxOf[*salesforcesandbox.Sandbox](s.Sandboxes, "salesforce").SessionEnded(bot) {
		t.Errorf("bot session %s not ended after a successful transfer (endSessionOnSuccess)", bot)
	}
	awaitPublished(t, s.URL, "Transfer Succeeded", got)
}

// Every target refuses: the answer is the last target's error with the transfer recorded
// beside it, the bot hears the failure, and Transfer Failed is published.
func testFailingChain(t *testing.T, e *env) {
	s := e.stack(t)
	t.Run("bitrix24 with a webhook bot", func(t *testing.T) {
		chat := "114"
		before := len(bitrixTransfers(demo.SandboxOf[*bitrix24sandbox.Sandbox](s.Sandboxes, "bitrix24"), chat))
		a := postTransfer(t, s.URL, "e2e-b24-114-fail", fmt.Sprintf(`{"tenant":"demo","vendor":"bitrix24",
			"conversation":{"id":%q},"target":{"type":"agent","id":%q},"fallbacks":[{"type":"queue","id":%q}],
			"bot":{"vendor":"webhook"}}`, chat, bitrix24sandbox.InactiveUserID, bitrix24sandbox.InactiveLineID))
		tr := failedChain(t, s.URL, a, http.StatusConflict, handoff.CodeTargetUnavailable)
		calls := bitrixTransfers(demo.SandboxOf[*bitrix24sandbox.Sandbox](s.Sandboxes, "bitrix24"), chat)[before:]
		if len(calls) != 2 || unquote(calls[0]["USER_ID"]) != bitrix24sandbox.InactiveUserID || unquote(calls[1]["QUEUE_ID"]) != bitrix24sandbox.InactiveLineID {
			t.Errorf("Bitrix24 received %v, want user %s then line %s", calls, bitrix24sandbox.InactiveUserID, bitrix24sandbox.InactiveLineID)
		}
		got := awaitTransfer(t, s.URL, tr.ID, "acked", final(handoff.StatusFailed, handoff.AckSent))
		acks := webhookAcks(demo.SandboxOf[*webhooksandbox.Sandbox](s.Sandboxes, "webhook"), tr.ID)
		if len(acks) != 1 || acks[0].Status != handoff.StatusFailed || acks[0].Error == nil || acks[0].Error.Code != handoff.CodeTargetUnavailable {
			t.Errorf("the webhook bot accepted %+v, want one ack of the failed transfer", acks)
		}
		awaitPublished(t, s.URL, "Transfer Failed", got)
	})
	t.Run("koreai with a salesforce bot", func(t *testing.T) {
		session, bot := "653a06c9aae89c5fbb4e1201", salesforcesandbox.DemoSessionIDs[2]
		a := postTransfer(t, s.URL, "e2e-kore-1201-fail", fmt.Sprintf(`{"tenant":"demo","vendor":"koreai",
			"conversation":{"id":%q},"target":{"type":"agent","id":%q},"fallbacks":[{"type":"queue","id":%q}],
			"bot":{"vendor":"salesforce","sessionId":%q,"escalationMessageId":%q}}`,
			session, koreaisandbox.BusyAgentID, koreaisandbox.ClosedQueueID, bot, salesforcesandbox.DemoEscalationMessageID))
		tr := failedChain(t, s.URL, a, http.StatusConflict, handoff.CodeTargetUnavailable)
		if calls := koreAssigns(demo.SandboxOf[*koreaisandbox.Sandbox](s.Sandboxes, "koreai"), session); len(calls) != 2 {
			t.Errorf("Kore.ai received %d assigns for %s, want 2 (agent, then queue)", len(calls), session)
		}
		got := awaitTransfer(t, s.URL, tr.ID, "acked", final(handoff.StatusFailed, handoff.AckSent))
		msgs := salesforceMessages(demo.SandboxOf[*salesforcesandbox.Sandbox](s.Sandboxes, "salesforce"), bot)
		if len(msgs) != 1 || msgs[0].Type != "transferFailed" || msgs[0].Reason != "NoAgentAvailable" ||
			msgs[0].SequenceID != got.Ack.SequenceID || msgs[0].InReplyToMessageID != salesforcesandbox.DemoEscalationMessageID {
			t.Errorf("the bot session received %+v, want one transferFailed (NoAgentAvailable) with sequenceId %d", msgs, got.Ack.SequenceID)
		}
		if demo.SandboxOf[*salesforcesandbox.Sandbox](s.Sandboxes, "salesforce").SessionEnded(bot) {
			t.Errorf("bot session %s ended after a failed transfer: the bot should carry on", bot)
		}
		awaitPublished(t, s.URL, "Transfer Failed", got)
	})
}

// failedChain checks the answer of a transfer whose two targets both refused: the last
// target's error, with the failed transfer and both attempts, as GET returns it too.
func failedChain(t *testing.T, base string, a answer, status int, code handoff.Code) handoff.Transfer {
	t.Helper()
	p := wantProblem(t, a, status, code)
	if p.Transfer == nil {
		t.Fatalf("no transfer beside the error: %s", a)
	}
	tr := *p.Transfer
	wantAttempts(t, tr, handoff.StatusFailed, handoff.OutcomeUnavailable, handoff.OutcomeUnavailable)
	if len(tr.Attempts) == 2 && (tr.Attempts[0].Target != tr.Target || tr.Attempts[1].Target != tr.Fallbacks[0]) {
		t.Errorf("attempts %+v, want the target then the fallback", tr.Attempts)
	}
	if tr.Error == nil || tr.Error.Code != code {
		t.Errorf("transfer error %+v, want %s", tr.Error, code)
	}
	sameTransfer(t, getTransfer(t, base, tr.ID), tr)
	return tr
}
