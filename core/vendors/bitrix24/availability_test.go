package bitrix24_test

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/bitrix24/bitrix24sandbox"
	"handoff/core/vendors/sandbox"
)

func TestAvailabilityListsOpenLines(t *testing.T) {
	want := []handoff.Availability{
		{Type: handoff.TargetQueue, ID: bitrix24sandbox.LineID, Name: "Support", Available: true},
		{Type: handoff.TargetQueue, ID: bitrix24sandbox.InactiveLineID, Name: "After hours", Available: false},
	}
	for _, m := range []mode{oauthMode, webhookMode} {
		t.Run(string(m), func(t *testing.T) {
			f := newFixture(t, m, nil)
			got, err := f.adapter.Availability(context.Background(), vendors.AvailabilityRequest{Tenant: tenant, ConversationID: bitrix24sandbox.ChatID})
			if err != nil {
				t.Fatalf("Availability: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %+v, want %+v", got, want)
			}
			reqs := f.sandbox.Requests()
			if len(reqs) != 1 || !strings.HasSuffix(reqs[0].Path, "/imopenlines.config.list.get") {
				t.Fatalf("requests = %+v, want one imopenlines.config.list.get", reqs)
			}
			body := bodyOf(t, reqs[0].Body)
			if _, hasClient := body["CLIENT_ID"]; hasClient {
				t.Errorf("config.list.get carried CLIENT_ID: %v", body)
			}
		})
	}
}

func TestAvailabilityNarrowsToAskedQueues(t *testing.T) {
	f := newFixture(t, oauthMode, nil)
	got, err := f.adapter.Availability(context.Background(), vendors.AvailabilityRequest{
		Tenant:  tenant,
		Targets: []handoff.Target{{Type: handoff.TargetQueue, ID: bitrix24sandbox.InactiveLineID}, agent},
	})
	if err != nil {
		t.Fatalf("Availability: %v", err)
	}
	if len(got) != 1 || got[0].ID != bitrix24sandbox.InactiveLineID || got[0].Available {
		t.Errorf("got %+v, want only the inactive line", got)
	}
}

func TestAvailabilityErrors(t *testing.T) {
	ctx := context.Background()
	req := vendors.AvailabilityRequest{Tenant: tenant}
	t.Run("read is re-sent after a 500", func(t *testing.T) {
		f := newFixture(t, oauthMode, nil)
		f.sandbox.InjectLines(sandbox.Fault{Kind: sandbox.Unavailable}, 1)
		if _, err := f.adapter.Availability(ctx, req); err != nil {
			t.Fatalf("Availability after one 503: %v (a read is safe to re-send)", err)
		}
	})
	t.Run("expired token is refreshed", func(t *testing.T) {
		f := newFixture(t, oauthMode, nil)
		f.sandbox.InjectLines(sandbox.Fault{Kind: sandbox.AuthExpired}, 1)
		if _, err := f.adapter.Availability(ctx, req); err != nil {
			t.Fatalf("Availability: %v", err)
		}
		if f.sandbox.RefreshCalls() != 1 || f.secrets.Puts != 1 {
			t.Errorf("refreshes %d, puts %d; want 1, 1", f.sandbox.RefreshCalls(), f.secrets.Puts)
		}
	})
	t.Run("scope missing", func(t *testing.T) {
		f := newFixture(t, webhookMode, nil)
		f.sandbox.InjectLines(sandbox.Fault{Kind: sandbox.VendorError, VendorCode: "insufficient_scope"}, 0)
		_, err := f.adapter.Availability(ctx, req)
		asError(t, err, handoff.CodeVendorAuthFailed)
	})
	for _, body := range []string{`{"result":true}`, `{"result":[{"LINE_NAME":"no id","ACTIVE":"Y"}]}`, `{"result":[{"ID":"x1"}]}`} {
		t.Run("undocumented "+body, func(t *testing.T) {
			f := newFixture(t, oauthMode, func(sb *bitrix24sandbox.Sandbox) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					_, _ = w.Write([]byte(body))
				})
			})
			_, err := f.adapter.Availability(ctx, req)
			asError(t, err, handoff.CodeVendorProtocol)
		})
	}
	t.Run("lines as an object with numeric ids", func(t *testing.T) {
		f := newFixture(t, oauthMode, func(sb *bitrix24sandbox.Sandbox) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"result":{"3":{"ID":3,"LINE_NAME":"C","ACTIVE":"Y"},"7":{"ID":"7","LINE_NAME":"D","ACTIVE":"N"}},"time":{}}`))
			})
		})
		got, err := f.adapter.Availability(ctx, req)
		if err != nil || len(got) != 2 || got[0].ID != "3" || !got[0].Available || got[1].ID != "7" || got[1].Available {
			t.Errorf("got %+v, %v", got, err)
		}
	})
}
