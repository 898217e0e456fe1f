package webhook

import (
	"handoff/core/vendors"
	"handoff/core/vendors/rest"
)

// Credentials are a tenant's webhook secret (field names as in docs/vendors/webhook.md). The URL is a credential
// too: receivers often put a secret code in it, so it never reaches a log line or an error.
type Credentials struct {
	// URL receives the signed POST: https, or http on loopback only.
	URL string `json:"url"`
	// SigningSecret keys the signatures: base64 of at least 24 bytes, optionally after
	// "whsec_", as the Standard Webhooks libraries read it.
	SigningSecret string `json:"signingSecret"`
}

// Validate checks the required fields, the URL's scheme and the secret's form. Errors name the
// field, never its value.
func (c *Credentials) Validate() error {
	if err := vendors.Require("url", c.URL, "signingSecret", c.SigningSecret); err != nil {
		return err
	}
	if err := rest.CheckBaseURL("url", c.URL); err != nil {
		return &vendors.FieldError{Field: "url", Reason: "must be an https URL without user info (http only on loopback)"}
	}
	if _, err := signingKey(c.SigningSecret); err != nil {
		return &vendors.FieldError{Field: "signingSecret", Reason: "must be base64 (optionally after whsec_) of at least 24 bytes"}
	}
	return nil
}

// String keeps the URL and the secret out of any accidental %v.
func (c *Credentials) String() string { return "webhook credentials (redacted)" }
