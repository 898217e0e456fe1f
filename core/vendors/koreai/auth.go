package koreai

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"handoff/core/handoff"
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

// CallbackTokenLifetime is how long a callback URL we hand Kore.ai is accepted. Kore posts the
// outcome once the agent or queue has answered [C: "messages based on success or failure"],
// after a wait it does not bound [U]; a transfer still awaiting its callback after this long has
// been given up on by the sweep anyway.
const CallbackTokenLifetime = 24 * time.Hour

// callbackTokenPrefix versions the token's layout.
const callbackTokenPrefix = "h1"

// CallbackClaims are what a callback token binds: the tenant, the transfer, the attempt (the
// target it asked Kore.ai for) and an expiry. A callback proves all of them at once, so a URL
// handed out for one attempt cannot report about another, nor be used after it expires.
type CallbackClaims struct {
	Tenant   string
	Transfer string
	Target   handoff.Target
	Expires  time.Time
}

// SignCallbackToken is the proof of origin we put in a callback URL: "h1." + base64url of the
// claims (newline-separated; no id may hold a newline) + "." + base64url of their HMAC-SHA256
// under the tenant's callbackSecret. It is self-contained, so it can stand alone as a path
// segment, and holds only the unreserved characters of RFC 3986 ([A-Za-z0-9_.-]), so no
// platform has a reason to re-encode it in a query or a path. Kore.ai posts to the URL as given
// and signs nothing [U]: only who received the URL from us can present a valid token.
func SignCallbackToken(secret string, c CallbackClaims) string {
	payload := c.payload()
	return callbackTokenPrefix + "." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." +
		base64.RawURLEncoding.EncodeToString(callbackMAC(secret, payload))
}

func (c CallbackClaims) payload() string {
	return strings.Join([]string{c.Tenant, c.Transfer, string(c.Target.Type), c.Target.ID,
		strconv.FormatInt(c.Expires.Unix(), 10)}, "\n")
}

// CallbackTokenClaims reads what a token claims, without checking that it is genuine: only
// ParseCallback, with the tenant's secret, can say that. For tests and tools that must tell
// which secret made a token (SignCallbackToken of the claims under that secret gives it back).
func CallbackTokenClaims(token string) (CallbackClaims, bool) {
	c, _, _, ok := readCallbackToken(token)
	return c, ok
}

// readCallbackToken reads a token's claims without checking its MAC (see verify): the claims
// name the tenant whose secret checks it. Every id must be one we could have issued.
func readCallbackToken(token string) (CallbackClaims, []byte, string, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || parts[0] != callbackTokenPrefix {
		return CallbackClaims{}, nil, "", false
	}
	raw, err1 := base64.RawURLEncoding.DecodeString(parts[1])
	mac, err2 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil {
		return CallbackClaims{}, nil, "", false
	}
	f := strings.Split(string(raw), "\n")
	if len(f) != 5 {
		return CallbackClaims{}, nil, "", false
	}
	exp, err := strconv.ParseInt(f[4], 10, 64)
	c := CallbackClaims{Tenant: f[0], Transfer: f[1], Target: handoff.Target{Type: handoff.TargetType(f[2]), ID: f[3]}, Expires: time.Unix(exp, 0)}
	if err != nil || handoff.ValidateTenant("tenant", c.Tenant) != nil || handoff.ValidateID("transfer", c.Transfer) != nil ||
		(c.Target.Type != handoff.TargetAgent && c.Target.Type != handoff.TargetQueue) || handoff.ValidateID("target", c.Target.ID) != nil {
		return CallbackClaims{}, nil, "", false
	}
	return c, mac, string(raw), true
}

// verifyCallbackMAC checks mac over payload against each secret given (the current
// callbackSecret, then the previous one during a rotation), in constant time.
func verifyCallbackMAC(secrets []string, payload string, mac []byte) bool {
	for _, secret := range secrets {
		if secret != "" && hmac.Equal(mac, callbackMAC(secret, payload)) {
			return true
		}
	}
	return false
}

// callbackMAC is HMAC-SHA256 under secret of a context string and the payload, so a MAC made
// for anything else under the same secret is never a callback proof.
func callbackMAC(secret, payload string) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("handoff/koreai/callback\n"))
	mac.Write([]byte(payload))
	return mac.Sum(nil)
}
