package salesforce

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"handoff/core/handoff"
	"handoff/core/vendors/rest"
	"handoff/core/vendors/vendorkit"
)

// jwtBearerGrant is the grant type of the OAuth 2.0 JWT bearer flow (RFC 7523).
const jwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// assertionLifetime is the assertion's exp: Salesforce takes one that expires within about
// 3 minutes (docs/vendors/salesforce.md; the exact bound is [I]), and it is used once, at once.
const assertionLifetime = 3 * time.Minute

// tokenLifetime is how long an access token is reused. The token endpoint reports no
// expiry (no expires_in; the SDK learns it by introspection, which needs a client secret we do
// not hold), and a token lives as long as the org's session timeout: 15 minutes to 24 hours,
// 2 hours by default. 30 minutes is a conservative guess [I]; a token that dies sooner shows as
// a 401, after which it is dropped and one new token is minted.
const tokenLifetime = 30 * time.Minute

// jwtBearer signs the assertions of one connected app (iss) acting for one user (sub).
type jwtBearer struct {
	clientID, username, audience string
	key                          *rsa.PrivateKey
}

func newJWTBearer(c *Credentials) jwtBearer {
	return jwtBearer{clientID: c.ClientID, username: c.Username, audience: audience(c.LoginURL), key: c.key}
}

// The JWT bearer flow's audiences: Salesforce's login server, or its test server for sandbox
// orgs. The assertion names one of these even when the token is asked from a My Domain URL
// (the Einstein Bot API's JWT bearer setup and Salesforce's OAuth JWT bearer flow doc).
const (
	audienceLogin = "https://login.salesforce.com"
	audienceTest  = "https://test.salesforce.com"
)

// audience chooses the assertion's aud from the secret's loginUrl: test.salesforce.com for a
// sandbox org (loginUrl test.salesforce.com, an enhanced sandbox My Domain
// *.sandbox.my.salesforce.com, or a legacy sandbox My Domain whose name holds "--" [I]), else
// login.salesforce.com. It is never the My Domain URL itself.
func audience(loginURL string) string {
	u, err := url.Parse(loginURL)
	if err != nil {
		return audienceLogin
	}
	host := strings.ToLower(u.Hostname())
	first, _, _ := strings.Cut(host, ".")
	switch {
	case host == "test.salesforce.com",
		strings.HasSuffix(host, ".sandbox.my.salesforce.com"),
		strings.HasSuffix(host, ".my.salesforce.com") && strings.Contains(first, "--"):
		return audienceTest
	}
	return audienceLogin
}

// assertion returns a signed RS256 JWT. aud is a plain string, as Salesforce's examples show
// (the library would otherwise write a one-element array).
func (j jwtBearer) assertion(now time.Time) (string, error) {
	claims := jwt.MapClaims{"iss": j.clientID, "sub": j.username, "aud": j.audience, "exp": now.Add(assertionLifetime).Unix()}
	return jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(j.key)
}

// fetchTimeout bounds the one token fetch that concurrent callers share (vendorkit.Cache).
const fetchTimeout = 15 * time.Second

// token is one cached access token.
type token struct {
	value   string
	expires time.Time
}

func newTokenCache(now func() time.Time) *vendorkit.Cache[token] {
	return vendorkit.NewCache(now, func(t token) time.Time { return t.expires })
}

// oauthAnswer is the token endpoint's JSON: access_token on success (instance_url, id,
// token_type, scope and issued_at are not needed), error on failure.
type oauthAnswer struct {
	AccessToken string `json:"access_token"`
	Error       string `json:"error"`
}

// mint gets a new access token by the JWT bearer flow. Refused credentials also drop the
// cached secret, so the next ack reads the one Secrets Manager holds now.
func (a *Adapter) mint(ctx context.Context, tenant string, c *Credentials) (token, error) {
	const op = "salesforce.Token"
	assertion, err := newJWTBearer(c).assertion(a.now())
	if err != nil { // the signer's error cannot hold the key, but it says nothing useful either
		return token{}, handoff.E(handoff.CodeConfiguration, op, "could not sign the JWT assertion with privateKey", nil)
	}
	form := url.Values{"grant_type": {jwtBearerGrant}, "assertion": {assertion}}
	resp, err := a.http.Do(ctx, rest.Request{
		Op:     op,
		Method: http.MethodPost,
		URL:    rest.JoinURL(c.LoginURL, "services", "oauth2", "token"),
		Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Accept": {"application/json"}},
		Body:   []byte(form.Encode()),
		// Two tokens are as good as one: any failure may be retried.
		Idempotent: true,
		Retry:      func(r *rest.Response) bool { return r.Status == http.StatusTooManyRequests || r.Status >= 500 },
	})
	if err != nil {
		return token{}, err
	}
	var answer oauthAnswer
	parseErr := json.Unmarshal(resp.Body, &answer)
	if !resp.OK() {
		e := tokenError(op, resp, answer.Error, a.now())
		if e.Code == handoff.CodeVendorAuthFailed {
			a.secrets.Invalidate(tenant, Key)
		}
		a.log.Warn("salesforce token request refused", "tenant", tenant, "status", resp.Status, "code", e.Code, "vendorCode", e.VendorCode)
		return token{}, e
	}
	if parseErr != nil || answer.AccessToken == "" {
		return token{}, handoff.E(handoff.CodeVendorProtocol, op, "the token response holds no access_token", nil)
	}
	return token{value: answer.AccessToken, expires: a.now().Add(tokenLifetime)}, nil
}
