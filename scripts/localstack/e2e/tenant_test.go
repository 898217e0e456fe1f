package e2e_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"handoff/core/handoff"
	"handoff/core/vendors/koreai"
	"handoff/core/vendors/koreai/koreaisandbox"
	"handoff/core/vendors/liveperson/livepersonsandbox"
	"handoff/scripts/localstack/demo"
)

// The tenant acme, added by the secrets file HANDOFF_LOCAL_SECRETS names, has its LivePerson
// and its Kore.ai on servers of its own: its transfers go there and nowhere else, and its
// Kore.ai callbacks are checked with its own callback secret.
func testOtherTenant(t *testing.T, e *env) {
	s := e.stack(t)
	for _, want := range []string{"acme/koreai", "acme/liveperson", "demo/koreai"} {
		if !strings.Contains(strings.Join(s.Tenants, " "), want) {
			t.Errorf("tenants stored %v, want %s among them", s.Tenants, want)
		}
	}
	t.Run("liveperson", func(t *testing.T) {
		chat := "H6201348601"
		a := postTransfer(t, s.URL, "e2e-acme-lp-601", fmt.Sprintf(`{"tenant":"acme","vendor":"liveperson",
			"conversation":{"id":%q},"target":{"type":"skill","id":%q}}`, chat, livepersonsandbox.SkillSupportID))
		tr := wantTransfer(t, a, http.StatusCreated)
		wantAttempts(t, tr, handoff.StatusTransferred, handoff.OutcomeTransferred)
		if n, to := livePersonTransfers(e.acmeLivePerson, chat), e.acmeLivePerson.TransferredTo(chat); n != 1 || to != "skill:"+livepersonsandbox.SkillSupportID {
			t.Errorf("acme's LivePerson received %d transfers of %s and moved it to %q, want 1 to skill %s", n, chat, to, livepersonsandbox.SkillSupportID)
		}
		if n := requestsTo(demo.SandboxOf[*livepersonsandbox.Sandbox](s.Sandboxes, "liveperson").Requests(), chat); n != 0 {
			t.Errorf("the demo LivePerson received %d requests about acme's chat", n)
		}
	})
	t.Run("koreai", func(t *testing.T) {
		session := "653a06c9aae89c5fbb4e1601"
		tr := postKore(t, s.URL, "e2e-acme-kore-1601", "acme", session, "")
		got := awaitTransfer(t, s.URL, tr.ID, "transferred by acme's Kore.ai", final(handoff.StatusTransferred, handoff.AckNotRequired))
		wantAttempts(t, got, handoff.StatusTransferred, handoff.OutcomeAwaiting, handoff.OutcomeTransferred)
		if n := len(koreAssigns(e.acmeKoreAI, session)); n != 1 {
			t.Errorf("acme's Kore.ai received %d assigns for %s, want 1", n, session)
		}
		if n := requestsTo(demo.SandboxOf[*koreaisandbox.Sandbox](s.Sandboxes, "koreai").Requests(), session); n != 0 {
			t.Errorf("the demo Kore.ai received %d requests about acme's session", n)
		}
		d := koreDeliveries(e.acmeKoreAI, session)
		if len(d) != 1 || d[0].Status != http.StatusOK {
			t.Fatalf("acme's Kore.ai callbacks: %+v, want one, answered 200", d)
		}
		u, err := url.Parse(d[0].URL)
		if err != nil || !strings.HasPrefix(d[0].URL, s.URL+"/callbacks/koreai/") || u.RawQuery != "" {
			t.Errorf("callback URL %q, want the gateway's /callbacks/koreai/{token}, no query", d[0].URL)
		}
		tok := tokenOf(t, d[0].URL)
		if c, ok := koreai.CallbackTokenClaims(tok); !ok || c.Tenant != "acme" || c.Transfer != tr.ID || koreai.SignCallbackToken(acmeCallbackSecret, c) != tok {
			t.Errorf("acme's callback token is not made with acme's callback secret")
		}
		awaitPublished(t, s.URL, "Transfer Succeeded", got)
	})
}
