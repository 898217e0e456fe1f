package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The Standard Webhooks headers.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// Tolerance is how far a webhook-timestamp may lie from the receiver's clock, either way: older
// deliveries are refused as possible replays.
const Tolerance = 5 * time.Minute

// secretPrefix marks a signing secret in the Standard Webhooks form: "whsec_" + base64(key).
const secretPrefix = "whsec_"

// minKeyBytes is the shortest signing key accepted (Standard Webhooks: at least 24 random bytes).
const minKeyBytes = 24

// The errors of Verify and Sign. None of them holds a secret or a signature.
var (
	ErrMissingHeaders = errors.New("webhook: webhook-id, webhook-timestamp and webhook-signature are required")
	ErrTimestamp      = errors.New("webhook: webhook-timestamp is not a unix time within 5 minutes of now")
	ErrSignature      = errors.New("webhook: no webhook-signature matches")
	ErrSecret         = errors.New("webhook: the signing secret must be whsec_ followed by base64, or raw bytes, of at least 24 bytes")
	ErrID             = errors.New("webhook: webhook-id must be non-empty and hold no '.'")
)

// signingKey returns the HMAC key of a signing secret. A secret starting with "whsec_" is the
// Standard Webhooks form and its rest is base64-decoded; any other secret is used as its raw
// bytes. (Standard Webhooks libraries base64-decode a secret even without the prefix: a
// receiver using one with a raw secret must pass it base64(secret).)
func signingKey(secret string) ([]byte, error) {
	key := []byte(secret)
	if rest, ok := strings.CutPrefix(secret, secretPrefix); ok {
		decoded, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return nil, ErrSecret
		}
		key = decoded
	}
	if len(key) < minKeyBytes {
		return nil, ErrSecret
	}
	return key, nil
}

// Sign returns the webhook-signature value for one delivery: "v1," followed by the base64
// HMAC-SHA256, keyed by the secret, of "{id}.{timestamp}.{body}". The body must be sent exactly
// as signed.
func Sign(secret, id string, timestamp int64, body []byte) (string, error) {
	key, err := signingKey(secret)
	if err != nil {
		return "", err
	}
	if id == "" || strings.Contains(id, ".") {
		return "", ErrID
	}
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, id, strconv.FormatInt(timestamp, 10), body)), nil
}

func mac(key []byte, id, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + timestamp + "."))
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a received delivery: the three headers are present, the timestamp lies within
// Tolerance of now, and one of the space-separated "v1,…" signatures matches body (compared in
// constant time; other schemes such as v1a are skipped). Deduplicating by webhook-id is left
// to the receiver.
func Verify(secret string, h http.Header, body []byte, now time.Time) error {
	key, err := signingKey(secret)
	if err != nil {
		return err
	}
	id, ts, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || ts == "" || sigs == "" {
		return ErrMissingHeaders
	}
	if strings.Contains(id, ".") {
		return ErrID
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrTimestamp
	}
	if d := now.Sub(time.Unix(secs, 0)); d > Tolerance || d < -Tolerance {
		return ErrTimestamp
	}
	want := mac(key, id, ts, body)
	for _, sig := range strings.Fields(sigs) {
		version, encoded, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(encoded)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrSignature
}
