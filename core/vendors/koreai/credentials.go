package koreai

import (
	"strings"

	"handoff/core/vendors"
	"handoff/core/vendors/rest"
)

// DefaultBaseURL is Kore.ai's main platform host, used when a secret names none. Tenants on a
// regional host (not listed by the docs [U]) set baseUrl.
const DefaultBaseURL = "https://platform.kore.ai"

// minCallbackSecret is the shortest callbackSecret accepted: it keys the HMAC that is the only
// proof a callback comes from the Kore.ai request we made, so it must not be guessable.
const minCallbackSecret = 16

// Credentials are a tenant's Kore.ai secret, with the field names of docs/vendors/koreai.md.
type Credentials struct {
	// BaseURL is the platform host, e.g. https://platform.kore.ai.
	BaseURL string `json:"baseUrl"`
	// StreamID is the bot (stream) id from App Settings, e.g. st-a0ec5267-….
	StreamID string `json:"streamId"`
	// OrgID is the organisation id sent in every assign-conversation body, e.g. o-fbfa482a-….
	OrgID string `json:"orgId"`
	// AccountID is sent in the accountid header.
	AccountID string `json:"accountId"`
	// ClientID and ClientSecret are the JWT app's: the id goes in the appId claim, the secret
	// signs the token (HS256).
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
	// CallbackSecret is ours, not Kore's: it keys the token added to the callback URLs we give
	// Kore, because Kore does not sign its callbacks [U].
	CallbackSecret string `json:"callbackSecret"`
	// CallbackSecretPrevious is the callbackSecret before a rotation: callback URLs handed out
	// under it are still accepted until they expire (CallbackTokenLifetime), so a rotation
	// does not fail the transfers awaiting Kore.ai's callback. Remove it a day after rotating.
	CallbackSecretPrevious string `json:"callbackSecretPrevious,omitempty"`
}

// callbackSecrets are the secrets a callback token may be signed with, current first.
func (c *Credentials) callbackSecrets() []string {
	return []string{c.CallbackSecret, c.CallbackSecretPrevious}
}

// Validate checks the required fields, fills the base URL's default and refuses a base URL that
// would send the JWT in clear text.
func (c *Credentials) Validate() error {
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if err := vendors.Require(
		"streamId", c.StreamID,
		"orgId", c.OrgID,
		"accountId", c.AccountID,
		"clientId", c.ClientID,
		"clientSecret", c.ClientSecret,
		"callbackSecret", c.CallbackSecret,
	); err != nil {
		return err
	}
	if err := rest.CheckBaseURL("baseUrl", c.BaseURL); err != nil {
		return &vendors.FieldError{Field: "baseUrl", Reason: strings.TrimPrefix(err.Error(), "baseUrl ")}
	}
	if len(c.CallbackSecret) < minCallbackSecret {
		return &vendors.FieldError{Field: "callbackSecret", Reason: "must be at least 16 characters"}
	}
	if c.CallbackSecretPrevious != "" && len(c.CallbackSecretPrevious) < minCallbackSecret {
		return &vendors.FieldError{Field: "callbackSecretPrevious", Reason: "must be at least 16 characters"}
	}
	return nil
}
