package bitrix24_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/bitrix24"
	"handoff/core/vendors/bitrix24/bitrix24sandbox"
)

// TestAvailabilitySeesEveryPage: imopenlines.config.list.get answers at most 50 lines a page,
// with "next" (list-methods-pecularities.md); a portal with 120 lines shows all 120.
func TestAvailabilitySeesEveryPage(t *testing.T) {
	f := newFixtureWith(t, bitrix24sandbox.Config{Lines: 120}, oauthMode, nil)
	got, err := f.adapter.Availability(context.Background(), vendors.AvailabilityRequest{Tenant: tenant})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 120 {
		t.Fatalf("%d lines, want 120", len(got))
	}
	for i, a := range got {
		if a.ID != strconv.Itoa(i+1) {
			t.Fatalf("line %d has id %s, want %d", i, a.ID, i+1)
		}
	}
	if got[119].Name != "Line 120" || !got[119].Available {
		t.Errorf("last line = %+v", got[119])
	}
}

// TestRefreshKeepsTheClientEndpoint: a portal whose address changed is reached at the
// client_endpoint the token refresh answers (change-domen.md); the old address only
// redirects. The secret keeps the new address for the next calls and containers.
func TestRefreshKeepsTheClientEndpoint(t *testing.T) {
	f := newFixtureWith(t, bitrix24sandbox.Config{MovedTo: "/moved/rest/"}, oauthMode, nil)
	f.sandbox.ExpireAccessToken()
	if _, err := f.adapter.Transfer(context.Background(), transferRequest(agent)); err != nil {
		t.Fatalf("Transfer that refreshed: %v", err)
	}
	if got := demo(t, f.secrets.Value(tenant, "bitrix24"))["portalUrl"]; got != f.server.URL+"/moved/rest/" {
		t.Errorf("stored portalUrl = %q, want the client_endpoint", got)
	}
	if _, err := f.adapter.Transfer(context.Background(), transferRequest(queue)); err != nil {
		t.Fatalf("Transfer after the move: %v", err)
	}
	fresh := bitrix24.New(f.deps(f.secrets)) // another container, reading the stored secret
	if _, err := fresh.Transfer(context.Background(), transferRequest(agent)); err != nil {
		t.Fatalf("another container's Transfer after the move: %v", err)
	}
}

// TestNoteNeverReachesTheChat: Bitrix24 documents no bot call that shows a text to the operator
// and not to the customer, so the note is never sent (docs/vendors/bitrix24.md).
func TestNoteNeverReachesTheChat(t *testing.T) {
	const note = "internal: customer is angry about invoice 42"
	for _, target := range []string{"agent", "queue", "next"} {
		f := newFixture(t, oauthMode, nil)
		req := transferRequest(map[string]handoff.Target{"agent": agent, "queue": queue, "next": next}[target])
		req.Note = note
		if _, err := f.adapter.Transfer(context.Background(), req); err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		for _, r := range f.sandbox.Requests() {
			if strings.Contains(string(r.Body)+r.Query.Encode(), "invoice 42") {
				t.Errorf("%s: the note reached Bitrix24 in %s %s", target, r.Method, r.Path)
			}
		}
	}
}
