package demo

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"handoff/core/handoff"
	"handoff/core/store"
	"handoff/scripts/localstack/gateway"
	"handoff/scripts/localstack/template"
)

// LocalAccount is the account of every local ARN and event (the local EventBridge's account).
const LocalAccount = "123456789012"

// LocalEventSource is the source the local examples' escalations come from.
const LocalEventSource = "com.example.chatbot"

// SamplePrincipal is the role session the sample events in events/ are signed by, so that
// `sam local invoke -e events/…` against the local table is allowed too.
const SamplePrincipal = "arn:aws:sts::123456789012:assumed-role/handoff-caller/*"

// LocalAccess is the access record the local stack gives each tenant it seeds: the local
// principal (and the sample events' role) may call the API for it, and escalations with source
// com.example.chatbot from the local account may escalate for it.
func LocalAccess(tenant string) handoff.Access {
	return handoff.Access{
		Tenant:       tenant,
		Principals:   []string{gateway.LocalPrincipal, SamplePrincipal},
		EventSources: []handoff.EventSource{{Source: LocalEventSource, Account: LocalAccount}},
	}
}

// TenantsOf returns the tenants of secret keys "{tenant}/{vendor}", sorted, each once.
func TenantsOf(keys []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, k := range keys {
		tenant, _, _ := strings.Cut(k, "/")
		if !seen[tenant] {
			seen[tenant] = true
			out = append(out, tenant)
		}
	}
	sort.Strings(out)
	return out
}

// SeedAccess writes each tenant's LocalAccess record to table, as the operator command does in
// AWS, replacing the one before.
func SeedAccess(ctx context.Context, db *dynamodb.Client, table string, tenants []string) error {
	st := store.New(db, table)
	for _, tenant := range tenants {
		if err := st.PutAccess(ctx, LocalAccess(tenant)); err != nil {
			return fmt.Errorf("seed access record of %s: %w", tenant, err)
		}
	}
	return nil
}

// TableName is the functions' TABLE_NAME (the template's table, its name resolved), where the
// access records go.
func TableName(tmpl *template.Template) string {
	for _, f := range tmpl.Functions {
		if t := f.Environment["TABLE_NAME"]; t != "" {
			return t
		}
	}
	return ""
}
