package e2e_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"handoff/core/handoff"
	"handoff/core/store"
	"handoff/core/vendors/liveperson/livepersonsandbox"
	"handoff/scripts/localstack/demo"
	"handoff/scripts/localstack/eventbus"
	"handoff/scripts/localstack/gateway"
)

// initech is a tenant the operator set up for this test alone: its bot's role may call the API
// for it, and only com.initech.chatbot from the local account may escalate for it. It has no
// secrets, so its own requests pass tenant access and stop at UNKNOWN_TENANT.
const (
	initech       = "initech"
	initechBot    = "arn:aws:iam::123456789012:role/initech-bot"
	initechSource = "com.initech.chatbot"
)

// grantInitech writes initech's access record as the operator command does, straight to the
// table: the API never writes one. Nothing has read initech's record before, so no container
// holds an older answer.
func grantInitech(t *testing.T, e *env) {
	t.Helper()
	st := store.New(dynamodb.NewFromConfig(e.aws.Config), tableName(t, e))
	err := st.PutAccess(context.Background(), handoff.Access{Tenant: initech, Principals: []string{initechBot},
		EventSources: []handoff.EventSource{{Source: initechSource, Account: demo.LocalAccount}}})
	if err != nil {
		t.Fatal(err)
	}
}

// Tenant A's caller (initech's bot) cannot create, read or check availability for tenant B
// (acme): 403, or 404 for B's transfer, word for word the answer for a transfer that does not
// exist. B's transfer, the table and the vendors are untouched.
func testTenantAccess(t *testing.T, e *env) {
	s := e.stack(t)
	grantInitech(t, e)
	chat := "H6201348701"
	acmeBody := fmt.Sprintf(`{"tenant":"acme","vendor":"liveperson","conversation":{"id":%q},"target":{"type":"skill","id":%q}}`,
		chat, livepersonsandbox.SkillSupportID)
	// 201, or 202 queued when another case took acme's LivePerson token (2 a second) just before.
	mine := answerTransfer(t, postTransfer(t, s.URL, "e2e-access-acme-701", acmeBody))
	if mine.Caller != gateway.LocalPrincipal {
		t.Errorf("transfer caller %q, want the local principal %s", mine.Caller, gateway.LocalPrincipal)
	}
	awaitTransfer(t, s.URL, mine.ID, "final and published", final(handoff.StatusTransferred, handoff.AckNotRequired))
	before := call(t, http.MethodGet, s.URL+"/transfers/"+mine.ID, nil, "")
	items, calls := scan(t, e, tableName(t, e)), vendorCalls(e)

	as := func(key string) map[string]string {
		h := map[string]string{gateway.PrincipalHeader: initechBot}
		if key != "" {
			h["Idempotency-Key"] = key
		}
		return h
	}
	other := strings.Replace(acmeBody, chat, "H6201348702", 1)
	wantProblem(t, call(t, http.MethodPost, s.URL+"/transfers", as("e2e-access-initech-1"), other), http.StatusForbidden, handoff.CodeForbidden)
	// B's own key and body: no replay of B's transfer for A.
	a := call(t, http.MethodPost, s.URL+"/transfers", as("e2e-access-acme-701"), acmeBody)
	wantProblem(t, a, http.StatusForbidden, handoff.CodeForbidden)
	if strings.Contains(string(a.body), mine.ID) {
		t.Errorf("the refusal names acme's transfer: %s", a)
	}
	hidden := call(t, http.MethodGet, s.URL+"/transfers/"+mine.ID, as(""), "")
	missing := call(t, http.MethodGet, s.URL+"/transfers/7hq3m9x2c5v8k1n4p6r0t3w5yz", as(""), "")
	wantProblem(t, hidden, http.StatusNotFound, handoff.CodeNotFound)
	if string(hidden.body) != string(missing.body) {
		t.Errorf("acme's transfer answers %s to initech, a missing one %s: they must not differ", hidden, missing)
	}
	wantProblem(t, call(t, http.MethodGet, s.URL+"/availability?tenant=acme&vendor=liveperson&conversationId="+chat, as(""), ""),
		http.StatusForbidden, handoff.CodeForbidden)
	// The same caller for its own tenant gets past tenant access, to its (missing) secrets.
	own := strings.Replace(other, `"acme"`, `"`+initech+`"`, 1)
	wantProblem(t, call(t, http.MethodPost, s.URL+"/transfers", as("e2e-access-initech-2"), own), http.StatusNotFound, handoff.CodeUnknownTenant)

	if after := call(t, http.MethodGet, s.URL+"/transfers/"+mine.ID, nil, ""); string(after.body) != string(before.body) {
		t.Errorf("acme's transfer changed:\nbefore %s\nafter  %s", before, after)
	}
	if got := scan(t, e, tableName(t, e)); len(got) != len(items) {
		t.Errorf("the table went from %d to %d items", len(items), len(got))
	}
	if n := vendorCalls(e); n != calls {
		t.Errorf("the vendors received %d requests", n-calls)
	}
}

// An escalation whose source its tenant does not list (initech lists only com.initech.chatbot;
// the local examples' com.example.chatbot is not among them) calls no vendor, writes nothing,
// and is dead-lettered with its reason after Lambda's retries.
func testEscalationNotAllowed(t *testing.T, e *env) {
	s := e.stack(t)
	grantInitech(t, e)
	items, calls := scan(t, e, tableName(t, e)), vendorCalls(e)
	detail := fmt.Sprintf(`{"tenant":%q,"vendor":"liveperson","conversation":{"id":"H6201348703"},"target":{"type":"skill","id":%q}}`,
		initech, livepersonsandbox.SkillSupportID)
	entries := mustJSON(t, map[string]any{"Entries": []eventbus.Entry{{
		Source: demo.LocalEventSource, DetailType: "Escalation Requested", Detail: compact(t, detail),
		EventBusName: escalationBus(t, e.tmpl),
	}}})
	var put struct {
		FailedEntryCount int
		Entries          []eventbus.Result
	}
	a := call(t, http.MethodPost, s.URL+"/_local/events", nil, string(entries))
	a.decode(t, &put)
	if a.status != http.StatusOK || put.FailedEntryCount != 0 || len(put.Entries) != 1 || put.Entries[0].EventID == "" {
		t.Fatalf("POST /_local/events = %s", a)
	}
	id := put.Entries[0].EventID
	e.expectDeadLetter(id)

	var letter struct {
		Reason    string         `json:"reason"`
		LastError string         `json:"lastError"`
		Event     eventbus.Event `json:"event"`
	}
	eventually(t, "dead-lettered", func() (bool, string) {
		sc := bufio.NewScanner(strings.NewReader(e.deadLetters.String()))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if json.Unmarshal(sc.Bytes(), &letter) == nil && letter.Event.ID == id {
				return true, sc.Text()
			}
		}
		return false, "no dead letter for " + id
	})
	want := fmt.Sprintf(`source %q from account %q may not escalate for tenant %s`, demo.LocalEventSource, demo.LocalAccount, initech)
	if !strings.Contains(letter.LastError, "DeadLetter") || !strings.Contains(letter.LastError, want) {
		t.Errorf("dead letter's error %q, want a DeadLetter saying %q", letter.LastError, want)
	}
	if letter.Event.Source != demo.LocalEventSource || letter.Event.Account != demo.LocalAccount {
		t.Errorf("dead-lettered event from %q in %q, want the source and account it was put with", letter.Event.Source, letter.Event.Account)
	}
	if n := vendorCalls(e); n != calls {
		t.Errorf("the vendors received %d requests for an escalation not allowed", n-calls)
	}
	if got := scan(t, e, tableName(t, e)); len(got) != len(items) {
		t.Errorf("the table went from %d to %d items", len(items), len(got))
	}
}
