package liveperson

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"handoff/core/vendors"
	"handoff/core/vendors/rest"
)

// Credentials is a tenant's LivePerson secret (docs/api.md, Credentials). The bot logs in as a
// LivePerson user either with a password (user login) or with an API key of a Bot user
// (application login); exactly one of the two must be set.
type Credentials struct {
	AccountID string `json:"accountId"`
	// BaseURL is the account's agentVep domain (Domain API service "agentVep"), e.g.
	// https://va.agentvep.liveperson.net. Login and the Chat Agent API both live there.
	BaseURL  string `json:"baseUrl"`
	Username string `json:"username"`
	Password string `json:"password,omitempty"`
	// AppKey, Secret, AccessToken and AccessTokenSecret are the OAuth1 API key of a Bot user
	// whose login method is "App Key" (LivePerson's application login).
	AppKey            string `json:"appKey,omitempty"`
	Secret            string `json:"secret,omitempty"`
	AccessToken       string `json:"accessToken,omitempty"`
	AccessTokenSecret string `json:"accessTokenSecret,omitempty"`
}

var _ vendors.Credentials = (*Credentials)(nil)

// Validate checks the required fields, the base URL, and that exactly one login method is set.
// It trims a trailing slash from BaseURL so URLs join the same way whatever the secret holds.
func (c *Credentials) Validate() error {
	if err := vendors.Require("accountId", c.AccountID, "baseUrl", c.BaseURL, "username", c.Username); err != nil {
		return err
	}
	if err := rest.CheckBaseURL("baseUrl", c.BaseURL); err != nil {
		return &vendors.FieldError{Field: "baseUrl", Reason: "is not usable: " + err.Error()}
	}
	u, _ := url.Parse(c.BaseURL) // CheckBaseURL parsed it already
	if u.RawQuery != "" || u.Fragment != "" {
		return &vendors.FieldError{Field: "baseUrl", Reason: "must not hold a query or a fragment"}
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")

	appKeySet := c.AppKey != "" || c.Secret != "" || c.AccessToken != "" || c.AccessTokenSecret != ""
	switch {
	case c.Password != "" && appKeySet:
		return &vendors.FieldError{Field: "password",
			Reason: "must not be set together with appKey, secret, accessToken and accessTokenSecret: choose one login method"}
	case c.Password != "":
		return nil
	case appKeySet:
		return vendors.Require("appKey", c.AppKey, "secret", c.Secret,
			"accessToken", c.AccessToken, "accessTokenSecret", c.AccessTokenSecret)
	}
	return &vendors.FieldError{Field: "password",
		Reason: "is required (or appKey, secret, accessToken and accessTokenSecret for an application login)"}
}

// loginBody is the Login Service API body: user login or application login.
func (c *Credentials) loginBody() []byte {
	var body any
	if c.Password != "" {
		body = struct {
			Username string `json:"username"`
			Password string `json:"password"`
		}{c.Username, c.Password}
	} else {
		body = struct {
			Username          string `json:"username"`
			AppKey            string `json:"appKey"`
			Secret            string `json:"secret"`
			AccessToken       string `json:"accessToken"`
			AccessTokenSecret string `json:"accessTokenSecret"`
		}{c.Username, c.AppKey, c.Secret, c.AccessToken, c.AccessTokenSecret}
	}
	b, _ := json.Marshal(body) // strings only: cannot fail
	return b
}

// fingerprint identifies these credentials without holding them, so a cached login made with an
// older version of the secret (another password, another baseUrl) is never reused.
func (c *Credentials) fingerprint() string {
	b, _ := json.Marshal(c)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// LogValue keeps the secret parts out of any log line that names the credentials.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("accountId", c.AccountID), slog.String("baseUrl", c.BaseURL),
		slog.String("username", c.Username))
}

// String keeps the secret parts out of formatted errors and prints.
func (c Credentials) String() string {
	return fmt.Sprintf("liveperson.Credentials{accountId:%s baseUrl:%s username:%s}", c.AccountID, c.BaseURL, c.Username)
}

// GoString is String, for %#v.
func (c Credentials) GoString() string { return c.String() }
