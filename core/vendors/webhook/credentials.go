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
	// SigningSecretPrevious, during a rotation, is the secret being replaced, read the same way:
	// each ack is then signed under both, so the receiver accepts it whichever one it holds.
	SigningSecretPrevious string `json:"signingSecretPrevious,omitempty"`
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
	if c.SigningSecretPrevious != "" {
		if _, err := signingKey(c.SigningSecretPrevious); err != nil {
			return &vendors.FieldError{Field: "signingSecretPrevious", Reason: "must be base64 (optionally after whsec_) of at least 24 bytes"}
		}
	}
	return nil
}

// signingSecrets are the secrets each ack is signed with: the current one, then the previous
// one during a rotation (once: a previous equal to the current adds nothing).
func (c *Credentials) signingSecrets() []string {
	if c.SigningSecretPrevious == "" || c.SigningSecretPrevious == c.SigningSecret {
		return []string{c.SigningSecret}
	}
	return []string{c.SigningSecret, c.SigningSecretPrevious}
}

// String keeps the URL and the secret out of any accidental %v.
func (c *Credentials) String() string { return "webhook credentials (redacted)" }
