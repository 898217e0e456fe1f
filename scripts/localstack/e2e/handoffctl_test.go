package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"handoff/core/handoff"
	"handoff/core/vendors/bitrix24/bitrix24sandbox"
	"handoff/core/vendors/webhook/webhooksandbox"
	"handoff/scripts/handoffctl/ctl"
	"handoff/scripts/localstack/demo"
)

// The operator's command against the running stack, as `handoffctl --local` runs it: a tenant's
// secret checked and stored, a transfer shown with its timeline, an ack sent again.
func testHandoffctl(t *testing.T, e *env) {
	s := e.stack(t)
	env := e.tmpl.Functions[0].Environment
	cfg := ctl.Config{AWS: e.aws.Config, Table: env["TABLE_NAME"], SecretPrefix: env["SECRET_PREFIX"],
		EventBus: env["EVENT_BUS_NAME"], EventBridgeEndpoint: s.Stack.EventBridgeURL,
		DeadLettersFile: filepath.Join(t.TempDir(), "dead-letters.jsonl")}
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := ctl.Run(context.Background(), cfg, args, &out)
		return out.String(), err
	}
	dir := t.TempDir()

	t.Run("tenant put", func(t *testing.T) {
		good := filepath.Join(dir, "bitrix24.json")
		if err := os.WriteFile(good, bitrix24sandbox.DemoSecret(s.Sandboxes.URL("bitrix24")), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := run("tenant", "put", "ops-e2e", "bitrix24", "--from-file", good, "--check")
		if err != nil || !strings.Contains(out, "bitrix24 accepted the credentials") || !strings.Contains(out, "stored "+cfg.SecretPrefix+"ops-e2e/bitrix24") {
			t.Fatalf("tenant put = %v\n%s", err, out)
		}
		stored := secretValue(t, e, cfg.SecretPrefix+"ops-e2e/bitrix24")
		if !strings.Contains(stored, s.Sandboxes.URL("bitrix24")) {
			t.Errorf("stored secret %.80q…, want the file's", stored)
		}
		// A second put replaces the value (a rotation).
		if _, err := run("tenant", "put", "ops-e2e", "bitrix24", "--from-file", good); err != nil {
			t.Errorf("second put: %v", err)
		}

		// A secret with a field missing is refused, naming the field, and nothing is stored.
		bad := filepath.Join(dir, "koreai.json")
		if err := os.WriteFile(bad, []byte(`{"baseUrl":"https://platform.kore.ai","streamId":"st-1"}`), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := run("tenant", "put", "ops-e2e", "koreai", "--from-file", bad); err == nil || !strings.Contains(err.Error(), "orgId") {
			t.Errorf("a secret without orgId: err = %v, want one naming orgId", err)
		}
		if v := secretValue(t, e, cfg.SecretPrefix+"ops-e2e/koreai"); v != "" {
			t.Errorf("a refused secret was stored: %q", v)
		}
		// Credentials the vendor refuses are not stored with --check.
		wrong := filepath.Join(dir, "bitrix24-wrong.json")
		if err := os.WriteFile(wrong, []byte(strings.Replace(string(bitrix24sandbox.DemoSecret(s.Sandboxes.URL("bitrix24"))), `"accessToken":"`, `"accessToken":"x`, 1)), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := run("tenant", "put", "ops-e2e2", "bitrix24", "--from-file", wrong, "--check"); err == nil {
			t.Logf("(the sandbox renewed a wrong access token with the refresh token: %s)", out)
		} else if v := secretValue(t, e, cfg.SecretPrefix+"ops-e2e2/bitrix24"); v != "" {
			t.Errorf("refused credentials were stored")
		}
	})

	t.Run("transfer show and ack retry", func(t *testing.T) {
		a := postTransfer(t, s.URL, "e2e-ctl-112", fmt.Sprintf(`{"tenant":"demo","vendor":"bitrix24",
			"conversation":{"id":%q},"target":{"type":"agent","id":%q},"bot":{"vendor":"webhook","sessionId":"web-ctl"}}`, bitrix24sandbox.ChatID, bitrix24sandbox.UserID))
		tr := wantTransfer(t, a, http.StatusCreated)
		awaitTransfer(t, s.URL, tr.ID, "acked", final(handoff.StatusTransferred, handoff.AckSent))

		out, err := run("transfer", "show", tr.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"transfer " + tr.ID, "status   transferred", "ack      sent to webhook", "timeline:", "created", "attempt", "ack", "published"} {
			if !strings.Contains(out, want) {
				t.Errorf("transfer show lacks %q:\n%s", want, out)
			}
		}
		if out, err := run("transfer", "show", tr.ID, "--json"); err != nil || !strings.Contains(out, `"timeline": [`) {
			t.Errorf("transfer show --json = %v\n%s", err, out)
		}
		if _, err := run("transfer", "show", "no-such-transfer"); handoff.ErrorCode(err) != handoff.CodeNotFound {
			t.Errorf("an unknown transfer: err = %v, want NOT_FOUND", err)
		}

		posted := len(demo.SandboxOf[*webhooksandbox.Sandbox](s.Sandboxes, "webhook").AckKeys())
		out, err = run("ack", "retry", tr.ID)
		if err != nil || !strings.Contains(out, "ack of "+tr.ID+" to webhook: sent") {
			t.Fatalf("ack retry = %v\n%s", err, out)
		}
		// Sent again under the same webhook-id: a bot that took the first one sees a repeat.
		if n := len(demo.SandboxOf[*webhooksandbox.Sandbox](s.Sandboxes, "webhook").AckKeys()) - posted; n != 1 {
			t.Errorf("the webhook bot was sent %d acks by the retry, want 1", n)
		}
		if acks := webhookAcks(demo.SandboxOf[*webhooksandbox.Sandbox](s.Sandboxes, "webhook"), tr.ID); len(acks) != 1 {
			t.Errorf("the webhook bot accepted %d acks, want 1 (the retry repeats its webhook-id)", len(acks))
		}
		if out, _ := run("transfer", "show", tr.ID); !strings.Contains(out, "retry asked by an operator") {
			t.Errorf("the retry is not on the timeline:\n%s", out)
		}
		if n := len(outcomeEvents(t, s.URL, "Transfer Succeeded", tr.ID)); n != 1 {
			t.Errorf("%d Transfer Succeeded events after the retry, want still 1", n)
		}
	})

	t.Run("dead letters", func(t *testing.T) {
		if out, err := run("dead-letters", "list"); err != nil || !strings.Contains(out, "no dead letters") {
			t.Errorf("dead-letters list = %v\n%s", err, out)
		}
		if _, err := run("ack"); err == nil {
			t.Error("a command line without a command was accepted")
		}
	})
}

// secretValue is the stored secret's value, or "" when there is none.
func secretValue(t *testing.T, e *env, name string) string {
	t.Helper()
	out, err := secretsmanager.NewFromConfig(e.aws.Config).GetSecretValue(context.Background(),
		&secretsmanager.GetSecretValueInput{SecretId: aws.String(name)})
	if err != nil {
		return ""
	}
	return aws.ToString(out.SecretString)
}
