package bitrix24_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"handoff/core/vendors/bitrix24/bitrix24sandbox"
)

// TestSandboxIsStrict: the sandbox refuses what Bitrix24 would refuse, and what the adapter must
// never send, in Bitrix24's error envelope; a test passing against it then means something.
func TestSandboxIsStrict(t *testing.T) {
	sb := bitrix24sandbox.New(bitrix24sandbox.Config{})
	srv := httptest.NewServer(sb)
	defer srv.Close()
	hook := demo(t, bitrix24sandbox.DemoWebhookSecret(srv.URL))
	oauth := demo(t, bitrix24sandbox.DemoSecret(srv.URL))
	hookURL, bot, token := hook["webhookUrl"], hook["botClientId"], oauth["accessToken"]
	transfer := "imopenlines.bot.session.transfer"

	tests := []struct {
		name        string
		method, url string
		contentType string
		body        string
		status      int
		code        string
	}{
		{"webhook transfer", "POST", hookURL + transfer, "", `{"CHAT_ID":112,"USER_ID":12,"LEAVE":"N","CLIENT_ID":"` + bot + `"}`, 200, ""},
		{".json suffix", "POST", hookURL + transfer + ".json", "", `{"CHAT_ID":113,"QUEUE_ID":1,"CLIENT_ID":"` + bot + `"}`, 200, ""},
		{"TRANSFER_ID queue", "POST", hookURL + transfer, "", `{"CHAT_ID":114,"TRANSFER_ID":"queue1","CLIENT_ID":"` + bot + `"}`, 200, ""},
		{"oauth token in the query", "POST", srv.URL + "/rest/" + transfer + "?auth=" + token, "", `{"CHAT_ID":112,"USER_ID":12}`, 200, ""},
		{"missing CLIENT_ID on a webhook", "POST", hookURL + transfer, "", `{"CHAT_ID":112,"USER_ID":12}`, 403, "ACCESS_DENIED"},
		{"wrong CLIENT_ID", "POST", hookURL + transfer, "", `{"CHAT_ID":112,"USER_ID":12,"CLIENT_ID":"other"}`, 400, "BOT_ID_ERROR"},
		{"CLIENT_ID on OAuth", "POST", srv.URL + "/rest/" + transfer, "", `{"CHAT_ID":112,"USER_ID":12,"CLIENT_ID":"` + bot + `","auth":"` + token + `"}`, 400, "ERROR_ARGUMENT"},
		{"wrong webhook code", "POST", strings.Replace(hookURL, "/rest/1/", "/rest/1/x", 1) + transfer, "", `{"CHAT_ID":112,"USER_ID":12,"CLIENT_ID":"` + bot + `"}`, 401, "NO_AUTH_FOUND"},
		{"no OAuth token", "POST", srv.URL + "/rest/" + transfer, "", `{"CHAT_ID":112,"USER_ID":12}`, 401, "NO_AUTH_FOUND"},
		{"misspelt field", "POST", hookURL + transfer, "", `{"CHAT_ID":112,"USERID":12,"CLIENT_ID":"` + bot + `"}`, 400, "ERROR_ARGUMENT"},
		{"chat id as a string", "POST", hookURL + transfer, "", `{"CHAT_ID":"112","USER_ID":12,"CLIENT_ID":"` + bot + `"}`, 400, "ERROR_ARGUMENT"},
		{"LEAVE not Y/N", "POST", hookURL + transfer, "", `{"CHAT_ID":112,"USER_ID":12,"LEAVE":true,"CLIENT_ID":"` + bot + `"}`, 400, "ERROR_ARGUMENT"},
		{"two destinations", "POST", hookURL + transfer, "", `{"CHAT_ID":112,"USER_ID":12,"QUEUE_ID":1,"CLIENT_ID":"` + bot + `"}`, 400, "ERROR_ARGUMENT"},
		{"no chat", "POST", hookURL + transfer, "", `{"USER_ID":12,"CLIENT_ID":"` + bot + `"}`, 400, "CHAT_ID_EMPTY"},
		{"no destination", "POST", hookURL + transfer, "", `{"CHAT_ID":112,"CLIENT_ID":"` + bot + `"}`, 400, "TRANSFER_ID_EMPTY"},
		{"user 0", "POST", hookURL + transfer, "", `{"CHAT_ID":112,"USER_ID":0,"CLIENT_ID":"` + bot + `"}`, 400, "USER_ID_EMPTY"},
		{"inactive user", "POST", hookURL + transfer, "", `{"CHAT_ID":112,"USER_ID":14,"CLIENT_ID":"` + bot + `"}`, 400, "OPERATOR_WRONG"},
		{"CLIENT_ID on operator", "POST", hookURL + "imopenlines.bot.session.operator", "", `{"CHAT_ID":115,"CLIENT_ID":"` + bot + `"}`, 400, "ERROR_ARGUMENT"},
		{"form body", "POST", hookURL + transfer, "application/x-www-form-urlencoded", `CHAT_ID=112&USER_ID=12`, 400, "ERROR_ARGUMENT"},
		{"GET", "GET", hookURL + transfer + "?CHAT_ID=112&USER_ID=12", "", ``, 400, "ERROR_ARGUMENT"},
		{"client secret sent to the portal", "POST", srv.URL + "/rest/" + transfer + "?client_secret=" + oauth["appClientSecret"], "", `{"CHAT_ID":112,"USER_ID":12,"auth":"` + token + `"}`, 400, "ERROR_ARGUMENT"},
		{"unknown method", "POST", hookURL + "crm.lead.add", "", `{}`, 404, "ERROR_METHOD_NOT_FOUND"},
		{"unknown path", "POST", srv.URL + "/api/transfer", "", `{}`, 404, "ERROR_METHOD_NOT_FOUND"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, tt.url, strings.NewReader(tt.body))
			ct := tt.contentType
			if ct == "" {
				ct = "application/json"
			}
			req.Header.Set("Content-Type", ct)
			req.Header.Set("Accept", "application/json")
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var ans map[string]any
			raw, _ := io.ReadAll(resp.Body)
			if err := json.Unmarshal(raw, &ans); err != nil {
				t.Fatalf("answer is not JSON: %s", raw)
			}
			if resp.StatusCode != tt.status || (tt.code != "" && ans["error"] != tt.code) {
				t.Fatalf("%d %s, want %d %s", resp.StatusCode, raw, tt.status, tt.code)
			}
			if tt.code == "" && ans["result"] != true {
				t.Errorf("success without result true: %s", raw)
			}
		})
	}
}

// TestSandboxTokenRoute: each refresh rotates the pair, and a spent refresh token is refused.
func TestSandboxTokenRoute(t *testing.T) {
	sb := bitrix24sandbox.New(bitrix24sandbox.Config{})
	srv := httptest.NewServer(sb)
	defer srv.Close()
	creds := demo(t, bitrix24sandbox.DemoSecret(srv.URL))
	get := func(params url.Values) (int, map[string]any) {
		resp, err := srv.Client().Get(creds["oauthUrl"] + "?" + params.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	refresh := func(token string) url.Values {
		return url.Values{"grant_type": {"refresh_token"}, "client_id": {creds["appClientId"]},
			"client_secret": {creds["appClientSecret"]}, "refresh_token": {token}}
	}
	status, first := get(refresh(creds["refreshToken"]))
	if status != 200 || first["access_token"] == creds["accessToken"] || first["refresh_token"] == creds["refreshToken"] {
		t.Fatalf("first refresh: %d %v", status, first)
	}
	if status, m := get(refresh(creds["refreshToken"])); status != 400 || m["error"] != "invalid_grant" {
		t.Errorf("spent refresh token: %d %v, want 400 invalid_grant", status, m)
	}
	bad := refresh(first["refresh_token"].(string))
	bad.Set("client_secret", "wrong")
	if status, m := get(bad); status != 401 || m["error"] != "invalid_client" {
		t.Errorf("wrong secret: %d %v, want 401 invalid_client", status, m)
	}
	if status, second := get(refresh(first["refresh_token"].(string))); status != 200 || second["refresh_token"] == first["refresh_token"] {
		t.Errorf("second refresh: %d %v", status, second)
	}
	if access, _ := sb.Tokens(); access == first["access_token"] {
		t.Errorf("the second refresh did not rotate the access token")
	}
}
