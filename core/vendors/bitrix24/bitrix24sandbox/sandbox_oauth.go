package bitrix24sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"handoff/core/vendors/bitrix24"
	"handoff/core/vendors/sandbox"
)

// serveToken is the OAuth server's refresh: GET with grant_type=refresh_token, the client id
// and secret, and the current refresh token. Each refresh rotates both tokens; the old refresh
// token is then refused with invalid_grant, as Bitrix24's is (settings/oauth/index.md).
func (s *Sandbox) serveToken(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.refreshes++
	s.mu.Unlock()
	oauthError := func(status int, code, description string) {
		sandbox.WriteJSON(w, status, map[string]string{"error": code, "error_description": description})
	}
	if r.Method != http.MethodGet {
		oauthError(http.StatusBadRequest, "invalid_request", "sandbox: the token endpoint takes GET")
		return
	}
	q := r.URL.Query()
	for name := range q {
		switch name {
		case "grant_type", "client_id", "client_secret", "refresh_token":
		default:
			oauthError(http.StatusBadRequest, "invalid_request", "sandbox: unknown parameter "+name)
			return
		}
	}
	if q.Get("grant_type") != "refresh_token" {
		oauthError(http.StatusBadRequest, "invalid_request", "sandbox: only grant_type=refresh_token is served")
		return
	}
	if q.Get("client_id") != s.cfg.AppClientID || q.Get("client_secret") != s.cfg.AppClientSecret {
		oauthError(http.StatusUnauthorized, "invalid_client", "Invalid client")
		return
	}
	s.mu.Lock()
	if given := q.Get("refresh_token"); given == "" || given != s.refresh {
		s.mu.Unlock()
		oauthError(http.StatusBadRequest, "invalid_grant", "Invalid grant")
		return
	}
	s.generation++
	s.expired[s.access] = true
	// Rotated tokens start with the configured ones, so a test that watches those for leaks
	// catches the rotated ones too.
	s.access = fmt.Sprintf("%s%04d", s.cfg.AccessToken, s.generation)
	s.refresh = fmt.Sprintf("%s%04d", s.cfg.RefreshToken, s.generation)
	access, refresh := s.access, s.refresh
	prefix := "/rest/"
	if s.cfg.MovedTo != "" {
		s.moved, prefix = true, s.cfg.MovedTo
	}
	s.mu.Unlock()
	endpoint := "http://" + r.Host + prefix
	sandbox.WriteJSON(w, http.StatusOK, map[string]any{
		"access_token": access, "refresh_token": refresh,
		"expires": time.Now().Add(time.Hour).Unix(), "expires_in": 3600,
		"scope": "imbot,imopenlines", "domain": "oauth.bitrix.info",
		"server_endpoint": "https://oauth.bitrix.info/rest/", "client_endpoint": endpoint,
		"member_id": "bac1cd5c8940947a75e0d71b1a84e348", "status": "L", "user_id": 1,
	})
}

// DemoSecret is the tenant secret (OAuth application) that works against a sandbox built with
// the default config and served at baseURL, its oauthUrl pointing at the sandbox's token route.
func DemoSecret(baseURL string) []byte {
	d, base := defaultSandbox, strings.TrimRight(baseURL, "/")
	b, _ := json.Marshal(bitrix24.Credentials{
		PortalURL: base + "/rest/", AccessToken: d.AccessToken, RefreshToken: d.RefreshToken,
		AppClientID: d.AppClientID, AppClientSecret: d.AppClientSecret,
		OAuthURL: base + d.OAuthPath, ApplicationToken: d.ApplicationToken,
	})
	return b
}

// DemoWebhookSecret is the same portal reached through an incoming webhook instead.
func DemoWebhookSecret(baseURL string) []byte {
	d, base := defaultSandbox, strings.TrimRight(baseURL, "/")
	b, _ := json.Marshal(bitrix24.Credentials{
		WebhookURL:  base + "/rest/" + d.WebhookUserID + "/" + d.WebhookCode + "/",
		BotClientID: d.BotClientID, ApplicationToken: d.ApplicationToken,
	})
	return b
}
