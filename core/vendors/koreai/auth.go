package koreai

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// tokenLifetime is how long a JWT we mint is valid. Kore's own BotKit signs platform-API tokens
// for 60 s [C]; a token is used for one send only, so longer would only widen what a leaked
// token allows.
const tokenLifetime = 60 * time.Second

// tokenSubject is the JWT's sub claim. The docs show a sub claim without saying what Kore does
// with it [U]; it names the caller, not a user.
const tokenSubject = "handoff"

// mintToken signs a fresh platform-API JWT: HS256 with the client secret, the client id in the
// claim Kore requires by that exact name (appId), and a random jti so that an app with "Enforce
// JTI" accepts it [C] and no token is ever sent twice [I].
func mintToken(creds Credentials, now time.Time) (string, error) {
	claims := jwt.MapClaims{
		"appId": creds.ClientID,
		"sub":   tokenSubject,
		"iat":   now.Unix(),
		"exp":   now.Add(tokenLifetime).Unix(),
		"jti":   rand.Text(),
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(creds.ClientSecret))
}

// signer returns the rest.Request.Sign hook: it mints a new token for every send, retries
// included, and puts it in the header Kore reads, named auth, without "Bearer" [C].
func signer(creds Credentials, now func() time.Time) func(http.Header) error {
	return func(h http.Header) error {
		token, err := mintToken(creds, now())
		if err != nil {
			return err // jwt's errors name the problem, never the key
		}
		h.Set("auth", token)
		return nil
	}
}

// callbackToken is the proof of origin we add to a callback URL: HMAC-SHA256 keyed by the
// tenant's callbackSecret over the tenant and the transfer id, base64url without padding. Kore
// posts to the URL as given and signs nothing [U], so only someone who received the URL from us
// can present a valid token. A newline separates the two values: a tenant cannot contain one,
// so ("ab", "c") and ("a", "bc") never share a token.
func callbackToken(secret, tenant, transferID string) string {
	return base64.RawURLEncoding.EncodeToString(callbackMAC(secret, tenant, transferID))
}

// validCallbackToken checks token in constant time.
func validCallbackToken(secret, tenant, transferID, token string) bool {
	got, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return false
	}
	return hmac.Equal(got, callbackMAC(secret, tenant, transferID))
}

func callbackMAC(secret, tenant, transferID string) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(tenant))
	mac.Write([]byte{'\n'})
	mac.Write([]byte(transferID))
	return mac.Sum(nil)
}
