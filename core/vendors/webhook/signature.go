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

// secretPrefix is the optional prefix of a Standard Webhooks signing secret: "whsec_" + base64(key).
const secretPrefix = "whsec_"

// minKeyBytes is the shortest signing key accepted (Standard Webhooks recommends 24 to 64
// random bytes).
const minKeyBytes = 24

// The errors of Verify and Sign. None of them holds a secret or a signature.
var (
	ErrMissingHeaders = errors.New("webhook: webhook-id, webhook-timestamp and webhook-signature are required")
	ErrTimestamp      = errors.New("webhook: webhook-timestamp is not a unix time within 5 minutes of now")
	ErrSignature      = errors.New("webhook: no webhook-signature matches")
	ErrSecret         = errors.New("webhook: the signing secret must be base64 (optionally after whsec_) of at least 24 bytes")
	ErrID             = errors.New("webhook: webhook-id must be non-empty and hold no '.'")
)

// signingKey returns the HMAC key of a signing secret, read as the Standard Webhooks reference
// libraries read it (libraries/go/webhook.go: NewWebhook base64-decodes the secret after
// trimming an optional "whsec_"). A secret that is not base64 is refused rather than used as
// raw bytes: the receiver, verifying with a reference library, would decode it and never
// match our signatures. Unpadded base64 is accepted too, as lenient decoders do.
func signingKey(secret string) ([]byte, error) {
	encoded := strings.TrimPrefix(secret, secretPrefix)
	key, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		if key, err = base64.RawStdEncoding.DecodeString(encoded); err != nil {
			return nil, ErrSecret
		}
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

// signAll returns the webhook-signature value signed under each secret: the "v1,…" signatures
// space-separated, in the secrets' order, as Standard Webhooks allows so that a receiver holding
// any one of the secrets (during a rotation) verifies the delivery.
func signAll(secrets []string, id string, timestamp int64, body []byte) (string, error) {
	sigs := make([]string, 0, len(secrets))
	for _, secret := range secrets {
		sig, err := Sign(secret, id, timestamp, body)
		if err != nil {
			return "", err
		}
		sigs = append(sigs, sig)
	}
	return strings.Join(sigs, " "), nil
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
