package salesforce

import (
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"handoff/core/vendors"
	"handoff/core/vendors/rest"
)

// DefaultAPIVersion is the Einstein Bot Runtime API version used when the secret names none
// (the SDK 3.0.0 ↔ v5.3.0 pairing, docs/vendors/salesforce.md).
const DefaultAPIVersion = "v5.3.0"

// apiVersionPattern admits the v5 line only: v4 puts the session id and the message in a
// different envelope (docs/vendors/salesforce.md), which this adapter does not speak.
var apiVersionPattern = regexp.MustCompile(`^v5\.[0-9]+\.[0-9]+$`)

// Credentials are a tenant's Salesforce secret (field names as in docs/vendors/salesforce.md). The connected app's
// JWT bearer flow is the only login the Bot API supports (docs/vendors/salesforce.md).
type Credentials struct {
	RuntimeURL          string `json:"runtimeUrl"`
	APIVersion          string `json:"apiVersion"`
	OrgID               string `json:"orgId"`
	BotID               string `json:"botId"`
	ForceConfigEndpoint string `json:"forceConfigEndpoint"`
	LoginURL            string `json:"loginUrl"`
	ClientID            string `json:"clientId"`
	Username            string `json:"username"`
	// PrivateKey is the connected app's RSA key, PEM (PKCS #1 or PKCS #8, unencrypted).
	PrivateKey string `json:"privateKey"`
	// EndSessionOnSuccess ends the bot session after a transferSucceeded; nil means true.
	EndSessionOnSuccess *bool `json:"endSessionOnSuccess"`

	key *rsa.PrivateKey // parsed by Validate
}

// Validate checks the required fields, fills the defaults and parses the private key, so a bad
// secret is a CONFIGURATION error before any call. Errors name the field, never its value.
func (c *Credentials) Validate() error {
	if err := vendors.Require("runtimeUrl", c.RuntimeURL, "orgId", c.OrgID, "botId", c.BotID,
		"forceConfigEndpoint", c.ForceConfigEndpoint, "loginUrl", c.LoginURL,
		"clientId", c.ClientID, "username", c.Username, "privateKey", c.PrivateKey); err != nil {
		return err
	}
	for _, u := range []struct{ field, raw string }{
		{"runtimeUrl", c.RuntimeURL}, {"loginUrl", c.LoginURL}, {"forceConfigEndpoint", c.ForceConfigEndpoint},
	} {
		if err := rest.CheckBaseURL(u.field, u.raw); err != nil {
			return &vendors.FieldError{Field: u.field, Reason: "must be an https URL (http only on loopback)"}
		}
	}
	if c.APIVersion == "" {
		c.APIVersion = DefaultAPIVersion
	}
	if !apiVersionPattern.MatchString(c.APIVersion) {
		return &vendors.FieldError{Field: "apiVersion", Reason: `must be a v5 version such as "v5.3.0"`}
	}
	key, err := jwt.ParseRSAPrivateKeyFromPEM([]byte(unescapeNewlines(c.PrivateKey)))
	if err != nil {
		return &vendors.FieldError{Field: "privateKey", Reason: "must be an unencrypted PEM RSA private key"}
	}
	c.key = key
	return nil
}

// EndSession reports whether a successful transfer ends the bot session.
func (c *Credentials) EndSession() bool {
	return c.EndSessionOnSuccess == nil || *c.EndSessionOnSuccess
}

// String keeps the key out of any accidental %v.
func (c *Credentials) String() string {
	return "salesforce credentials for org " + c.OrgID + " (secrets redacted)"
}

// identity tells apart the logins of one tenant, so a token minted before the secret was
// rotated is not served after it. It is a hash: the cache key must not hold the key itself.
func (c *Credentials) identity() string {
	sum := sha256.Sum256([]byte(c.LoginURL + "\x00" + c.ClientID + "\x00" + c.Username + "\x00" + c.PrivateKey))
	return hex.EncodeToString(sum[:12])
}

// unescapeNewlines accepts a PEM pasted with literal "\n" sequences (a common slip when a
// multi-line key is put into a one-line JSON secret by hand).
func unescapeNewlines(pem string) string {
	if strings.Contains(pem, "\n") || !strings.Contains(pem, `\n`) {
		return pem
	}
	return strings.ReplaceAll(pem, `\n`, "\n")
}
