package vendors_test

import (
	"context"
	"testing"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/vendortest"
)

type creds struct {
	Token string `json:"token"`
}

func (c *creds) Validate() error { return vendors.Require("token", c.Token) }

// rotating serves the old token until the secret is invalidated, then the new one.
type rotating struct {
	*vendortest.Secrets
	invalidated bool
}

func (r *rotating) Get(ctx context.Context, tenant, vendor string) ([]byte, error) {
	if r.invalidated {
		return []byte(`{"token":"new"}`), nil
	}
	return r.Secrets.Get(ctx, tenant, vendor)
}

func (r *rotating) Invalidate(tenant, vendor string) {
	r.invalidated = true
	r.Secrets.Invalidate(tenant, vendor)
}

func TestWithCredentialsRereadsARefusedSecretOnce(t *testing.T) {
	tests := []struct {
		name        string
		accepts     string // the token the vendor takes
		wantSent    []string
		wantRefused bool
	}{
		{"accepted at once", "old", []string{"old"}, false},
		{"rotated", "new", []string{"old", "new"}, false},
		{"refused twice", "neither", []string{"old", "new"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			secrets := &rotating{Secrets: vendortest.NewSecrets("acme", "v", []byte(`{"token":"old"}`))}
			var sent []string
			refused, err := vendors.WithCredentials(context.Background(), vendors.Deps{Secrets: secrets}, "acme", "v",
				func(c *creds) (bool, error) {
					sent = append(sent, c.Token)
					return c.Token != tt.accepts, nil
				}, func(refused bool) bool { return refused })
			if err != nil || refused != tt.wantRefused || len(sent) != len(tt.wantSent) || sent[len(sent)-1] != tt.wantSent[len(tt.wantSent)-1] {
				t.Fatalf("sent %v, refused %v, err %v; want %v, %v", sent, refused, err, tt.wantSent, tt.wantRefused)
			}
			if want := len(tt.wantSent) - 1; secrets.Invalidates != want {
				t.Errorf("invalidated %d times, want %d", secrets.Invalidates, want)
			}
		})
	}
}

func TestWithCredentialsSendsNothingWithoutValidCredentials(t *testing.T) {
	secrets := vendortest.NewSecrets("acme", "v", []byte(`{"token":""}`))
	_, err := vendors.WithCredentials(context.Background(), vendors.Deps{Secrets: secrets}, "acme", "v",
		func(*creds) (bool, error) { t.Fatal("sent with invalid credentials"); return false, nil },
		func(bool) bool { return false })
	if handoff.ErrorCode(err) != handoff.CodeConfiguration {
		t.Fatalf("err = %v, want CONFIGURATION", err)
	}
}
