package bitrix24

import (
	"log/slog"
	"net/url"
	"regexp"
	"strings"

	"handoff/core/vendors"
	"handoff/core/vendors/rest"
)

// DefaultOAuthURL is Bitrix24's authorization server token endpoint (settings/oauth/index.md).
const DefaultOAuthURL = "https://oauth.bitrix.info/oauth/token/"

// webhookPath is the tail of an incoming webhook URL: /rest/{userId}/{code}/ (local-webhooks.md).
var webhookPath = regexp.MustCompile(`/rest/[0-9]+/[^/]+/?$`)

// Credentials is a tenant's Bitrix24 secret (field names as in docs/vendors/bitrix24.md). It holds either an
// incoming webhook (WebhookURL, BotClientID) or an OAuth application (PortalURL, AccessToken,
// RefreshToken, AppClientID, AppClientSecret, OAuthURL), never both, so which one is used is
// never a guess. ApplicationToken verifies the events Bitrix24 posts to us.
type Credentials struct {
	// WebhookURL is https://{portal}/rest/{userId}/{code}/; the code in it is a credential.
	WebhookURL string `json:"webhookUrl,omitempty"`
	// BotClientID is the CLIENT_ID (imbot.register) or botToken (imbot.v2.Bot.register) that
	// tells Bitrix24 which bot a webhook caller acts for.
	BotClientID string `json:"botClientId,omitempty"`

	// PortalURL is the REST prefix https://{portal}/rest/ (the OAuth client_endpoint).
	PortalURL       string `json:"portalUrl,omitempty"`
	AccessToken     string `json:"accessToken,omitempty"`
	RefreshToken    string `json:"refreshToken,omitempty"`
	AppClientID     string `json:"appClientId,omitempty"`
	AppClientSecret string `json:"appClientSecret,omitempty"`
	// OAuthURL is the token endpoint; client_secret is sent there and nowhere else.
	OAuthURL string `json:"oauthUrl,omitempty"`

	// ApplicationToken is compared with auth[application_token] of every event.
	ApplicationToken string `json:"applicationToken,omitempty"`
}

// Webhook reports whether the credentials are an incoming webhook rather than an OAuth app.
func (c Credentials) Webhook() bool { return c.WebhookURL != "" }

// Validate checks that exactly one auth mode is complete, fills OAuthURL's default and refuses
// base URLs that would send a credential in clear text. Errors name fields, never values.
func (c *Credentials) Validate() error {
	switch {
	case c.WebhookURL != "" && c.PortalURL != "":
		return &vendors.FieldError{Field: "webhookUrl", Reason: "must not be set together with portalUrl: choose the webhook or the OAuth application"}
	case c.WebhookURL != "":
		return c.validateWebhook()
	case c.PortalURL != "":
		return c.validateOAuth()
	}
	return &vendors.FieldError{Field: "webhookUrl", Reason: "or portalUrl is required"}
}

func (c *Credentials) validateWebhook() error {
	if err := vendors.Require("webhookUrl", c.WebhookURL, "botClientId", c.BotClientID); err != nil {
		return err
	}
	if err := checkURL("webhookUrl", c.WebhookURL); err != nil {
		return err
	}
	u, _ := url.Parse(c.WebhookURL) // checkURL parsed it
	if u.RawQuery != "" || u.Fragment != "" || !webhookPath.MatchString(u.Path) {
		return &vendors.FieldError{Field: "webhookUrl", Reason: "must look like https://{portal}/rest/{userId}/{code}/"}
	}
	return nil
}

func (c *Credentials) validateOAuth() error {
	if c.OAuthURL == "" {
		c.OAuthURL = DefaultOAuthURL
	}
	if err := vendors.Require("portalUrl", c.PortalURL, "accessToken", c.AccessToken,
		"refreshToken", c.RefreshToken, "appClientId", c.AppClientID,
		"appClientSecret", c.AppClientSecret); err != nil {
		return err
	}
	if err := checkURL("portalUrl", c.PortalURL); err != nil {
		return err
	}
	if u, _ := url.Parse(c.PortalURL); !strings.HasSuffix(strings.TrimSuffix(u.Path, "/"), "/rest") || u.RawQuery != "" {
		return &vendors.FieldError{Field: "portalUrl", Reason: "must be the REST prefix https://{portal}/rest/"}
	}
	return checkURL("oauthUrl", c.OAuthURL)
}

func checkURL(field, raw string) error {
	if rest.CheckBaseURL(field, raw) != nil {
		// CheckBaseURL's own message is fine, but a FieldError keeps the field for the caller.
		return &vendors.FieldError{Field: field, Reason: "must be an absolute https URL without user info (http only for loopback hosts)"}
	}
	return nil
}

// String keeps the credentials out of any log line or error that formats them by accident.
func (c Credentials) String() string { return "bitrix24.Credentials{redacted}" }

// GoString is String for %#v.
func (c Credentials) GoString() string { return c.String() }

// LogValue is String for slog.
func (c Credentials) LogValue() slog.Value { return slog.StringValue(c.String()) }
