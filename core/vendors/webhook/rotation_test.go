package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/rest"
	"handoff/core/vendors/vendortest"
	"handoff/core/vendors/webhook"
)

// Two signing secrets, as a tenant holds them during a rotation (base64 of 31 bytes each).
const (
	rotatedSecret  = "whsec_cm90YXRpb24tdGVzdC1uZXctc2lnbmluZy1rZXkhIQ=="
	previousSecret = "cm90YXRpb24tdGVzdC1vbGQtc2lnbmluZy1rZXkhIQ==" // without whsec_: read the same way
)

// captured is one delivery as a receiver of the caller's own saw it.
type captured struct {
	header http.Header
	body   []byte
}

// ackOnce acks one finished transfer to a bare receiver with the given secret and returns what
// the receiver got.
func ackOnce(t *testing.T, secret map[string]string, now time.Time) captured {
	t.Helper()
	var (
		mu  sync.Mutex
		got []captured
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, captured{r.Header.Clone(), body})
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	secret["url"] = srv.URL + "/acks"
	raw, _ := json.Marshal(secret)
	a := webhook.New(vendors.Deps{
		Secrets: vendortest.NewSecrets("acme", webhook.VendorKey, raw),
		HTTP:    rest.New(srv.Client()),
		Log:     slog.New(slog.DiscardHandler),
		Now:     func() time.Time { return now },
	})
	at := now.Add(-time.Minute)
	target := handoff.Target{Type: handoff.TargetAgent, ID: "a-1"}
	tr := handoff.Transfer{ID: "tr-rotation-1", Tenant: "acme", Vendor: "koreai", Status: handoff.StatusTransferred,
		Conversation: handoff.Conversation{ID: "c-1"}, Target: target,
		Attempts: []handoff.Attempt{{Target: target, Outcome: handoff.OutcomeTransferred, At: at}},
		Ack:      handoff.Ack{Status: handoff.AckPending, SequenceID: 7},
		Bot:      &handoff.Bot{Vendor: webhook.VendorKey}, CreatedAt: at, UpdatedAt: at}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := a.Ack(ctx, tr); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("deliveries = %d, want 1", len(got))
	}
	return got[0]
}

// During a rotation every ack carries a signature under each secret (Standard Webhooks allows
// several space-separated ones), so a receiver still on the previous secret and one already on
// the new one both accept it.
func TestDuringARotationAnAckIsSignedWithBothSecrets(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	d := ackOnce(t, map[string]string{"signingSecret": rotatedSecret, "signingSecretPrevious": previousSecret}, now)
	sigs := strings.Fields(d.header.Get(webhook.HeaderSignature))
	if len(sigs) != 2 || !strings.HasPrefix(sigs[0], "v1,") || !strings.HasPrefix(sigs[1], "v1,") {
		t.Fatalf("webhook-signature = %q, want two v1 signatures", d.header.Get(webhook.HeaderSignature))
	}
	for name, secret := range map[string]string{"the new secret": rotatedSecret, "the previous secret": previousSecret} {
		if err := webhook.Verify(secret, d.header, d.body, now); err != nil {
			t.Errorf("a receiver with %s: %v", name, err)
		}
		// Each signature alone is the one for its secret: the new one first.
		only := d.header.Clone()
		only.Set(webhook.HeaderSignature, sigs[map[string]int{rotatedSecret: 0, previousSecret: 1}[secret]])
		if err := webhook.Verify(secret, only, d.body, now); err != nil {
			t.Errorf("the signature for %s: %v", name, err)
		}
	}
}

func TestWithoutARotationAnAckCarriesOneSignature(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	for name, secret := range map[string]map[string]string{
		"no previous":         {"signingSecret": rotatedSecret},
		"previous is current": {"signingSecret": rotatedSecret, "signingSecretPrevious": rotatedSecret},
	} {
		d := ackOnce(t, secret, now)
		if sigs := strings.Fields(d.header.Get(webhook.HeaderSignature)); len(sigs) != 1 {
			t.Errorf("%s: webhook-signature = %q, want one signature", name, sigs)
		}
		if err := webhook.Verify(rotatedSecret, d.header, d.body, now); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// The previous secret is read like the current one; one that does not decode is a
// configuration error, named by its field and never quoted.
func TestThePreviousSigningSecretIsValidated(t *testing.T) {
	for name, tc := range map[string]struct {
		previous string
		valid    bool
	}{
		"whsec":          {"whsec_" + strings.TrimPrefix(previousSecret, "whsec_"), true},
		"bare base64":    {previousSecret, true},
		"not base64":     {"a raw previous secret of some length", false},
		"too short":      {"whsec_c2hvcnQ=", false},
		"whsec, garbage": {"whsec_!!!!not base64 but quite long!!!!", false},
	} {
		raw, _ := json.Marshal(map[string]string{"url": "https://bot.example.com/acks", "signingSecret": rotatedSecret,
			"signingSecretPrevious": tc.previous})
		var c webhook.Credentials
		err := vendors.DecodeCredentials("acme/webhook", raw, &c)
		if tc.valid {
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		var e *handoff.Error
		if !errors.As(err, &e) || e.Code != handoff.CodeConfiguration || e.Field != "signingSecretPrevious" {
			t.Errorf("%s: err = %v, want CONFIGURATION on signingSecretPrevious", name, err)
		} else if strings.Contains(err.Error(), tc.previous) {
			t.Errorf("%s: the error quotes the secret: %v", name, err)
		}
	}
}
