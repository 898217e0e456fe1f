package ctl

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"handoff/core/access"
	"handoff/core/awstest"
	"handoff/core/handoff"
	"handoff/core/store"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// withTable is moto, reset, with Handoff's table "handoff" created, as the command finds it.
func withTable(t *testing.T) (*awstest.Env, *dynamodb.Client) {
	t.Helper()
	env := awstest.New(t)
	db := dynamodb.NewFromConfig(env.Config)
	if err := store.CreateTable(context.Background(), db, "handoff"); err != nil {
		t.Fatal(err)
	}
	return env, db
}

// TestTenantAccess: the operator's record, written by the command, is what the functions' access
// rules read; a misspelt field or an invalid tenant is refused; deleting it closes the tenant.
func TestTenantAccess(t *testing.T) {
	env, db := withTable(t)
	ctx := context.Background()
	run := func(stdin string, args ...string) (string, error) {
		var out bytes.Buffer
		cfg := Config{AWS: env.Config, Table: "handoff", SecretPrefix: "handoff/", In: strings.NewReader(stdin)}
		err := Run(ctx, cfg, append([]string{"tenant", "access"}, args...), &out)
		return out.String(), err
	}
	file := filepath.Join(t.TempDir(), "acme.json")
	record := `{"tenant":"acme","principals":["arn:aws:sts::111122223333:assumed-role/chatbot/*"],
		"eventSources":[{"source":"com.acme.chatbot","account":"111122223333"}]}`
	if err := os.WriteFile(file, []byte(record), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := run("", "put", file); err != nil {
		t.Fatal(err)
	}
	rules := access.New(store.New(db, "handoff"), access.WithTTL(0))
	if err := rules.Caller(ctx, "acme", "arn:aws:sts::111122223333:assumed-role/chatbot/s-1"); err != nil {
		t.Fatalf("after put: %v", err)
	}
	if out, err := run("", "get", "acme"); err != nil || !strings.Contains(out, "com.acme.chatbot") {
		t.Fatalf("get = %q, %v", out, err)
	}
	if _, err := run(`{"tenant":"acme","principal":["x"]}`, "put", "-"); err == nil {
		t.Error("a misspelt field was accepted")
	}
	if _, err := run(`{"tenant":"a/b"}`, "put", "-"); handoff.ErrorCode(err) != handoff.CodeInvalidRequest {
		t.Errorf("an invalid tenant: %v, want INVALID_REQUEST", err)
	}
	if _, err := run("", "delete", "acme"); err != nil {
		t.Fatal(err)
	}
	if err := rules.Caller(ctx, "acme", "arn:aws:sts::111122223333:assumed-role/chatbot/s-1"); handoff.ErrorCode(err) != handoff.CodeForbidden {
		t.Errorf("after delete: %v, want FORBIDDEN", err)
	}
	if _, err := run("", "get", "acme"); handoff.ErrorCode(err) != handoff.CodeNotFound {
		t.Errorf("get after delete: %v, want NOT_FOUND", err)
	}
	if _, err := run("", "list", "acme"); err == nil {
		t.Error("an unknown verb was accepted")
	}
}
