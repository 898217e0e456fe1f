package webhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"handoff/core/vendors/webhook"
)

// vector is the Standard Webhooks reference test vector (testdata/standard_webhooks_vector.json,
// as published in the reference libraries' tests).
type vector struct {
	Secret    string `json:"secret"`
	ID        string `json:"id"`
	Timestamp int64  `json:"timestamp"`
	Body      string `json:"body"`
	Signature string `json:"signature"`
}

func loadVector(t *testing.T) vector {
	t.Helper()
	b, err := os.ReadFile("testdata/standard_webhooks_vector.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vector
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// byHand computes a v1 signature straight from the spec's definition: base64 of HMAC-SHA256,
// keyed by the base64-decoded part of "whsec_…", over "{id}.{timestamp}.{body}".
func byHand(t *testing.T, key []byte, id string, ts int64, body string) string {
	t.Helper()
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + strconv.FormatInt(ts, 10) + "." + body))
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func TestSignMatchesTheStandardWebhooksVector(t *testing.T) {
	v := loadVector(t)
	key, err := base64.StdEncoding.DecodeString(v.Secret[len("whsec_"):])
	if err != nil {
		t.Fatal(err)
	}
	if hand := byHand(t, key, v.ID, v.Timestamp, v.Body); hand != v.Signature {
		t.Fatalf("the hand computation %s disagrees with the published vector %s", hand, v.Signature)
	}
	got, err := webhook.Sign(v.Secret, v.ID, v.Timestamp, []byte(v.Body))
	if err != nil || got != v.Signature {
		t.Errorf("Sign = %q, %v; want %q", got, err, v.Signature)
	}
}

// TestSignReadsTheSecretAsTheReferenceLibraries checks the secret is base64 with or without
// "whsec_" (libraries/go/webhook.go NewWebhook): the same key signs the same, and a raw secret,
// which a receiver's library could never decode, is refused.
func TestSignReadsTheSecretAsTheReferenceLibraries(t *testing.T) {
	v := loadVector(t)
	for _, secret := range []string{v.Secret, v.Secret[len("whsec_"):]} {
		got, err := webhook.Sign(secret, v.ID, v.Timestamp, []byte(v.Body))
		if err != nil || got != v.Signature {
			t.Errorf("Sign with %q = %q, %v; want %q", secret, got, err, v.Signature)
		}
	}
	raw := "a raw secret of at least 24 bytes, no prefix"
	if got, err := webhook.Sign(raw, "msg_1", 1614265330, []byte(`{}`)); !errors.Is(err, webhook.ErrSecret) {
		t.Errorf("Sign with a raw secret = %q, %v; want ErrSecret", got, err)
	}
}

func TestSignRefuses(t *testing.T) {
	tests := []struct {
		name, secret, id string
		want             error
	}{
		{"not base64", "too short!", "msg_1", webhook.ErrSecret},
		{"short base64 without prefix", "c2hvcnQ=", "msg_1", webhook.ErrSecret},
		{"short whsec secret", "whsec_c2hvcnQ=", "msg_1", webhook.ErrSecret},
		{"whsec not base64", "whsec_***not-base64-at-all-but-long-enough***", "msg_1", webhook.ErrSecret},
		{"id with a dot", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg.1", webhook.ErrID},
		{"empty id", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "", webhook.ErrID},
	}
	for _, tc := range tests {
		if _, err := webhook.Sign(tc.secret, tc.id, 1, []byte(`{}`)); !errors.Is(err, tc.want) {
			t.Errorf("%s: Sign error = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestVerify(t *testing.T) {
	v := loadVector(t)
	at := time.Unix(v.Timestamp, 0)
	headers := func(edit func(http.Header)) http.Header {
		h := http.Header{}
		h.Set("webhook-id", v.ID)
		h.Set("webhook-timestamp", strconv.FormatInt(v.Timestamp, 10))
		h.Set("webhook-signature", v.Signature)
		if edit != nil {
			edit(h)
		}
		return h
	}
	tests := []struct {
		name string
		h    http.Header
		body string
		now  time.Time
		want error
	}{
		{"the vector", headers(nil), v.Body, at, nil},
		{"4 minutes late", headers(nil), v.Body, at.Add(4 * time.Minute), nil},
		{"older than 5 minutes", headers(nil), v.Body, at.Add(5*time.Minute + time.Second), webhook.ErrTimestamp},
		{"more than 5 minutes ahead", headers(nil), v.Body, at.Add(-5*time.Minute - time.Second), webhook.ErrTimestamp},
		{"timestamp not a number", headers(func(h http.Header) { h.Set("webhook-timestamp", "soon") }), v.Body, at, webhook.ErrTimestamp},
		{"body changed", headers(nil), `{"test": 2432232315}`, at, webhook.ErrSignature},
		{"id changed", headers(func(h http.Header) { h.Set("webhook-id", "msg_other") }), v.Body, at, webhook.ErrSignature},
		{"one of several signatures", headers(func(h http.Header) {
			h.Set("webhook-signature", "v1a,bm9wZQ== v1,bm9wZQ== "+v.Signature)
		}), v.Body, at, nil},
		{"right bytes, other scheme", headers(func(h http.Header) { h.Set("webhook-signature", "v2"+v.Signature[2:]) }), v.Body, at, webhook.ErrSignature},
		{"no signature", headers(func(h http.Header) { h.Del("webhook-signature") }), v.Body, at, webhook.ErrMissingHeaders},
		{"no id", headers(func(h http.Header) { h.Del("webhook-id") }), v.Body, at, webhook.ErrMissingHeaders},
	}
	for _, tc := range tests {
		if err := webhook.Verify(v.Secret, tc.h, []byte(tc.body), tc.now); !errors.Is(err, tc.want) {
			t.Errorf("%s: Verify = %v, want %v", tc.name, err, tc.want)
		}
	}
	if err := webhook.Verify("whsec_aGFuZG9mZi1zYW5kYm94LWRlbW8tc2lnbmluZy1rZXk=", headers(nil), []byte(v.Body), at); !errors.Is(err, webhook.ErrSignature) {
		t.Errorf("Verify with another secret = %v, want ErrSignature", err)
	}
}
