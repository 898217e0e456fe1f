package bitrix24_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/bitrix24"
	"handoff/core/vendors/vendortest"
)

// docsApplicationToken is the application_token of the documentation's examples (testdata).
const docsApplicationToken = "831c76b092f9f135d9b6b36c3a720757"

// eventAdapter is an adapter whose tenant's applicationToken is appToken (none when empty).
func eventAdapter(t *testing.T, appToken string) (*bitrix24.Adapter, *vendortest.Secrets, *strings.Builder) {
	t.Helper()
	secret := map[string]string{
		"webhookUrl":  "https://some-domain.bitrix24.com/rest/1/sbxhook7k2m9q4x1w/",
		"botClientId": "sbxbot3f9a7eff906dd1",
	}
	if appToken != "" {
		secret["applicationToken"] = appToken
	}
	raw, _ := json.Marshal(secret)
	secrets := vendortest.NewSecrets(tenant, "bitrix24", raw)
	logs := &strings.Builder{}
	return bitrix24.New(vendors.Deps{Secrets: secrets, Log: newLogger(logs)}), secrets, logs
}

func eventRequest(t *testing.T, file string) vendors.CallbackRequest {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	return formRequest(body)
}

func formRequest(body []byte) vendors.CallbackRequest {
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	return vendors.CallbackRequest{Tenant: tenant, Query: url.Values{"tenant": {tenant}}, Header: h, Body: body}
}

func TestParseCallbackReadsRealEvents(t *testing.T) {
	tests := []struct {
		file, chat, event string
	}{
		{"onimbotmessageadd.form", "112", "ONIMBOTMESSAGEADD"},
		{"onimbotjoinchat.form", "1157", "ONIMBOTJOINCHAT"},
		{"onimbotv2messageadd.form", "112", "ONIMBOTV2MESSAGEADD"},
		{"onimbotv2joinchat.form", "113", "ONIMBOTV2JOINCHAT"},
		{"onsessionfinish.form", "10585", "ONSESSIONFINISH"},
		{"onimbotv2delete.form", "", "ONIMBOTV2DELETE"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			a, _, logs := eventAdapter(t, docsApplicationToken)
			cb, err := a.ParseCallback(context.Background(), eventRequest(t, tt.file))
			if err != nil {
				t.Fatalf("ParseCallback: %v", err)
			}
			if cb.VendorRef != tt.chat {
				t.Errorf("VendorRef = %q, want chat %q", cb.VendorRef, tt.chat)
			}
			if cb.Outcome != "" || cb.TransferID != "" {
				t.Errorf("events only inform: Outcome = %q, TransferID = %q, want both empty", cb.Outcome, cb.TransferID)
			}
			if !strings.HasPrefix(cb.Detail, tt.event) {
				t.Errorf("Detail = %q, want it to name %s", cb.Detail, tt.event)
			}
			// The bodies carry OAuth tokens and the message text: none of it may be repeated.
			for _, text := range []string{cb.Detail, logs.String()} {
				for _, leak := range []string{docsApplicationToken, "access_token", "ccb69d69", "0b02a069", "talk to a person", "operator?"} {
					if strings.Contains(text, leak) {
						t.Errorf("%q repeats %q from the event body", text, leak)
					}
				}
			}
		})
	}
}

func TestParseCallbackRefusesWhatBitrixDidNotSend(t *testing.T) {
	real, err := os.ReadFile(filepath.Join("testdata", "onimbotv2messageadd.form"))
	if err != nil {
		t.Fatal(err)
	}
	withToken := func(token string) []byte {
		return []byte(strings.ReplaceAll(string(real), "auth%5Bapplication_token%5D="+docsApplicationToken,
			"auth%5Bapplication_token%5D="+token))
	}
	withoutTop := []byte(strings.ReplaceAll(string(real), "&auth%5Bapplication_token%5D="+docsApplicationToken, ""))
	tests := []struct {
		name     string
		appToken string // the tenant's
		req      func() vendors.CallbackRequest
	}{
		{"forged token", docsApplicationToken, func() vendors.CallbackRequest { return formRequest(withToken("831c76b092f9f135d9b6b36c3a720758")) }},
		{"token of another length", docsApplicationToken, func() vendors.CallbackRequest { return formRequest(withToken("831c76b0")) }},
		{"empty token", docsApplicationToken, func() vendors.CallbackRequest { return formRequest(withToken("")) }},
		// The bot's own auth block holds the same token; it is not the proof (events.md).
		{"token only inside data", docsApplicationToken, func() vendors.CallbackRequest { return formRequest(withoutTop) }},
		{"no body", docsApplicationToken, func() vendors.CallbackRequest { return formRequest(nil) }},
		{"tenant has no applicationToken", "", func() vendors.CallbackRequest { return formRequest(real) }},
		{"unknown tenant", docsApplicationToken, func() vendors.CallbackRequest {
			r := formRequest(real)
			r.Tenant = "globex"
			return r
		}},
		{"no tenant", docsApplicationToken, func() vendors.CallbackRequest {
			r := formRequest(real)
			r.Tenant = ""
			return r
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _, logs := eventAdapter(t, tt.appToken)
			cb, err := a.ParseCallback(context.Background(), tt.req())
			if code := handoff.ErrorCode(err); code != handoff.CodeUnauthorized {
				t.Fatalf("code = %q (%v), want UNAUTHORIZED", code, err)
			}
			if cb != (vendors.Callback{}) {
				t.Errorf("a refused event still produced %+v", cb)
			}
			if strings.Contains(err.Error(), docsApplicationToken) || strings.Contains(logs.String(), docsApplicationToken) {
				t.Errorf("the application token leaked: %v / %s", err, logs.String())
			}
		})
	}
}

func TestParseCallbackRefusesUnreadableBodies(t *testing.T) {
	auth := "auth%5Bapplication_token%5D=" + docsApplicationToken
	tests := []struct {
		name string
		body string
		ct   string
		want handoff.Code
	}{
		{"json body", `{"event":"ONIMBOTV2MESSAGEADD"}`, "application/json", handoff.CodeInvalidRequest},
		{"bad percent-encoding", "event=%zz&" + auth, "", handoff.CodeInvalidRequest},
		{"too deep", "a[1][2][3][4][5][6][7][8][9]=x&" + auth, "", handoff.CodeInvalidRequest},
		{"unknown event", "event=ONCRMLEADADD&data[FIELDS][ID]=1&" + auth, "", handoff.CodeInvalidRequest},
		{"chat id not a number", "event=ONIMBOTV2MESSAGEADD&data[chat][id]=chat112&" + auth, "", handoff.CodeInvalidRequest},
		{"too large", "event=ONIMBOTV2MESSAGEADD&" + auth + "&pad=" + strings.Repeat("x", 300<<10), "", handoff.CodeTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _, _ := eventAdapter(t, docsApplicationToken)
			req := formRequest([]byte(tt.body))
			if tt.ct != "" {
				req.Header.Set("Content-Type", tt.ct)
			}
			_, err := a.ParseCallback(context.Background(), req)
			var e *handoff.Error
			if !errors.As(err, &e) || e.Code != tt.want {
				t.Fatalf("err = %v, want %s", err, tt.want)
			}
		})
	}
}

// TestParseCallbackEventNamesIgnoreCase: Bitrix24 spells some codes in lower case; an event
// name in another case is the same event.
func TestParseCallbackEventNamesIgnoreCase(t *testing.T) {
	a, _, _ := eventAdapter(t, docsApplicationToken)
	body := "event=onImBotV2MessageAdd&data[chat][id]=114&auth[application_token]=" + docsApplicationToken
	cb, err := a.ParseCallback(context.Background(), formRequest([]byte(body)))
	if err != nil || cb.VendorRef != "114" {
		t.Fatalf("ParseCallback = %+v, %v; want chat 114", cb, err)
	}
}
