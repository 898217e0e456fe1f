package e2e_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors/koreai"
	"handoff/core/vendors/koreai/koreaisandbox"
	"handoff/scripts/localstack/demo"
)

// Kore.ai's callbacks carry no signature of Kore's: the URL handed to Kore holds a token of
// ours. A forged one is refused and changes nothing; a genuine one replayed is a harmless
// no-op; a valid-looking callback about no transfer is 404.
func testKoreAICallback(t *testing.T, e *env) {
	s := e.stack(t)
	session, other := "653a06c9aae89c5fbb4e1002", "653a06c9aae89c5fbb4e1003"
	tr := postKore(t, s.URL, "e2e-kore-1002", "demo", session, "")
	otherTr := postKore(t, s.URL, "e2e-kore-1003", "demo", other, "")

	// Forgeries that would fail the transfer if they were believed. They race Kore.ai's own
	// callback; whichever lands first, the transfer must end transferred.
	failed := `{"sessionId":"` + session + `","agentId":"` + koreaisandbox.AgentID + `","status":"failed","requestCompletedAt":1700000000000}`
	otherToken := tokenOf(t, koreCallbackURL(t, demo.SandboxOf[*koreaisandbox.Sandbox](s.Sandboxes, "koreai"), other))
	madeUp := base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	for name, suffix := range map[string]string{
		"no token":                   "?tenant=demo&transfer=" + tr.ID,
		"a made-up token":            "?tenant=demo&transfer=" + tr.ID + "&token=" + madeUp,
		"another transfer's token":   "?tenant=demo&transfer=" + tr.ID + "&token=" + otherToken,
		"the token under a tenant":   "?tenant=acme&transfer=" + other + "&token=" + otherToken,
		"two transfers in one URL":   "?tenant=demo&transfer=" + other + "&transfer=" + tr.ID + "&token=" + otherToken,
		"a token that is not b64url": "?tenant=demo&transfer=" + tr.ID + "&token=%2B%2F%3D",
		"a made-up path token":       "/" + madeUp,
		"a path token, other tenant": "/" + otherToken + "?tenant=acme",
		"a token in path and query":  "/" + otherToken + "?token=" + otherToken,
	} {
		before := getTransfer(t, s.URL, tr.ID)
		a := call(t, http.MethodPost, s.URL+"/callbacks/koreai"+suffix, nil, failed)
		wantProblem(t, a, http.StatusUnauthorized, handoff.CodeUnauthorized)
		// Unchanged while pending; Kore.ai's own callback may land at any time and move it on.
		cur := getTransfer(t, s.URL, tr.ID)
		stillPending := before.Status == handoff.StatusPending && cur.Status == handoff.StatusPending
		if cur.Status == handoff.StatusFailed || stillPending && !cur.UpdatedAt.Equal(before.UpdatedAt) {
			t.Fatalf("%s: a forged callback changed the transfer:\nbefore %+v\nafter  %+v", name, before, cur)
		}
	}
	got := awaitTransfer(t, s.URL, tr.ID, "transferred by Kore.ai's own callback", final(handoff.StatusTransferred, handoff.AckNotRequired))
	wantAttempts(t, got, handoff.StatusTransferred, handoff.OutcomeAwaiting, handoff.OutcomeTransferred)
	awaitTransfer(t, s.URL, otherTr.ID, "transferred", final(handoff.StatusTransferred, handoff.AckNotRequired))

	// The genuine callback again, as Kore.ai sent it: 200, and the transfer stays as it was.
	d := koreDeliveries(demo.SandboxOf[*koreaisandbox.Sandbox](s.Sandboxes, "koreai"), session)
	if len(d) != 1 || d[0].Status != http.StatusOK {
		t.Fatalf("Kore.ai's callbacks about %s: %+v, want one, answered 200", session, d)
	}
	replay := call(t, http.MethodPost, d[0].URL, nil, string(d[0].Body))
	var ans struct {
		ID     string         `json:"id"`
		Status handoff.Status `json:"status"`
	}
	replay.decode(t, &ans)
	if replay.status != http.StatusOK || ans.ID != tr.ID || ans.Status != handoff.StatusTransferred {
		t.Errorf("replayed callback = %s, want 200 with the transferred transfer", replay)
	}
	after := getTransfer(t, s.URL, tr.ID)
	if !after.UpdatedAt.Equal(got.UpdatedAt) || len(after.Attempts) != len(got.Attempts) || after.Status != got.Status {
		t.Errorf("the replay changed the transfer:\nbefore %+v\nafter  %+v", got, after)
	}
	awaitPublished(t, s.URL, "Transfer Succeeded", got) // still exactly one

	// A callback that authenticates, about a transfer that does not exist. The token is made as
	// the stack makes it, under the demo tenant's callbackSecret.
	const unknown = "0zzzzzzzzzzzzzzzzzzzzzzzzz"
	a := call(t, http.MethodPost, s.URL+"/callbacks/koreai?tenant=demo&transfer="+unknown+"&token="+
		callbackToken(demoCallbackSecret(t), "demo", unknown), nil, string(d[0].Body))
	wantProblem(t, a, http.StatusNotFound, handoff.CodeNotFound)
	wantProblem(t, call(t, http.MethodGet, s.URL+"/transfers/"+unknown, nil, ""), http.StatusNotFound, handoff.CodeNotFound)
}

// koreCallbackURL is the callbackUrl Kore.ai was handed for a bot session.
func koreCallbackURL(t *testing.T, s *koreaisandbox.Sandbox, session string) string {
	t.Helper()
	calls := koreAssigns(s, session)
	if len(calls) == 0 {
		t.Fatalf("Kore.ai received no assign for %s", session)
	}
	return calls[0]["callbackUrl"]
}

// tokenOf is the token of a callback URL: its last path segment, where Handoff puts it so that
// a platform that drops or re-encodes query strings cannot lose it.
func tokenOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.RawQuery != "" || !strings.HasPrefix(u.Path, "/callbacks/koreai/") {
		t.Fatalf("callback URL %q is not /callbacks/koreai/{token}", raw)
	}
	token := path.Base(u.Path)
	if _, ok := koreai.CallbackTokenClaims(token); !ok {
		t.Fatalf("callback URL %q does not end in a token", raw)
	}
	return token
}

// callbackToken is a valid callback token for a transfer to the demo Kore.ai agent, as the
// Kore.ai adapter signs them (koreai.SignCallbackToken).
func callbackToken(secret, tenant, transfer string) string {
	return koreai.SignCallbackToken(secret, koreai.CallbackClaims{Tenant: tenant, Transfer: transfer,
		Target: handoff.Target{Type: handoff.TargetAgent, ID: koreaisandbox.AgentID}, Expires: time.Now().Add(time.Hour)})
}

// demoCallbackSecret is the demo tenant's Kore.ai callbackSecret, from infra/local-secrets.json.
func demoCallbackSecret(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "infra", "local-secrets.json"))
	if err != nil {
		t.Fatal(err)
	}
	var secrets map[string]map[string]any
	if err := json.Unmarshal(data, &secrets); err != nil {
		t.Fatal(err)
	}
	secret, _ := secrets["demo/koreai"]["callbackSecret"].(string)
	if strings.TrimSpace(secret) == "" {
		t.Fatal("infra/local-secrets.json has no demo/koreai callbackSecret")
	}
	return secret
}
