package secrets_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	"handoff/core/awstest"
	"handoff/core/handoff"
	"handoff/core/secrets"
	"handoff/core/vendors"
)

// wantNoSecret fails the test when err's text holds a secret value.
func wantNoSecret(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), marker) {
		t.Errorf("a secret value reached the error: %v", err)
	}
}

func TestMissingSecretIsAnUnknownTenant(t *testing.T) {
	f := newFixture(t)
	_, err := f.cache.Get(context.Background(), "nobody", "koreai")
	if handoff.ErrorCode(err) != handoff.CodeUnknownTenant {
		t.Fatalf("err = %v, want UNKNOWN_TENANT", err)
	}
	msg := handoff.AsError(err).Message
	if !strings.Contains(msg, `"nobody"`) || !strings.Contains(msg, `"koreai"`) {
		t.Errorf("message %q does not name the tenant and the vendor", msg)
	}
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ResourceNotFoundException" {
		t.Errorf("cause = %v, want ResourceNotFoundException kept", errors.Unwrap(err))
	}
	if handoff.Retryable(err) {
		t.Error("UNKNOWN_TENANT is retryable")
	}
}

func TestNamesThatCannotBeASecretMakeNoCall(t *testing.T) {
	f := newFixture(t)
	for _, c := range [][2]string{
		{"", "koreai"}, {"acme", ""}, {"acme/koreai", "x"}, {"../acme", "koreai"},
		{"acme", "kore ai"}, {"acme", "koreai/extra"}, {strings.Repeat("a", 65), "koreai"},
	} {
		_, err := f.cache.Get(context.Background(), c[0], c[1])
		if handoff.ErrorCode(err) != handoff.CodeUnknownTenant {
			t.Errorf("Get(%q, %q): err = %v, want UNKNOWN_TENANT", c[0], c[1], err)
		}
		err = f.cache.Put(context.Background(), c[0], c[1], []byte(`{}`))
		if handoff.ErrorCode(err) != handoff.CodeUnknownTenant {
			t.Errorf("Put(%q, %q): err = %v, want UNKNOWN_TENANT", c[0], c[1], err)
		}
	}
	f.wantGets(0)
}

func TestMalformedSecretIsAConfigurationError(t *testing.T) {
	for _, c := range []struct{ name, value string }{
		{"not JSON", "password=" + marker},
		{"broken JSON", `{"clientSecret":"` + marker + `"`},
		{"JSON array", `["` + marker + `"]`},
		{"JSON string", `"` + marker + `"`},
		{"two objects", `{"a":"` + marker + `"} {}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			f.create("acme", "koreai", c.value)
			for range 2 {
				_, err := f.cache.Get(context.Background(), "acme", "koreai")
				if handoff.ErrorCode(err) != handoff.CodeConfiguration {
					t.Fatalf("err = %v, want CONFIGURATION", err)
				}
				if !strings.Contains(err.Error(), "handoff/acme/koreai") {
					t.Errorf("error %q does not name the secret", err)
				}
				wantNoSecret(t, err)
			}
			f.wantGets(2) // errors are not cached: a fixed secret is seen at once
		})
	}
}

func TestBinarySecretIsAConfigurationError(t *testing.T) {
	f := newFixture(t)
	_, err := f.admin.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
		Name: aws.String("handoff/acme/koreai"), SecretBinary: []byte(`{"a":"` + marker + `"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.cache.Get(context.Background(), "acme", "koreai")
	if handoff.ErrorCode(err) != handoff.CodeConfiguration || !strings.Contains(err.Error(), "handoff/acme/koreai") {
		t.Errorf("err = %v, want CONFIGURATION naming the secret", err)
	}
	wantNoSecret(t, err)
}

// testCreds is a vendor's typed credentials, as an adapter declares them.
type testCreds struct {
	BaseURL      string `json:"baseUrl"`
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
	Port         int    `json:"port"`
}

func (c *testCreds) Validate() error {
	return vendors.Require("baseUrl", c.BaseURL, "clientId", c.ClientID, "clientSecret", c.ClientSecret)
}

func TestLoadCredentialsThroughTheCache(t *testing.T) {
	for _, c := range []struct{ name, value, field string }{
		{"valid", `{"baseUrl":"http://127.0.0.1:1","clientId":"id","clientSecret":"` + marker + `","port":8443}`, ""},
		{"missing field", `{"baseUrl":"http://127.0.0.1:1","clientSecret":"` + marker + `"}`, "clientId"},
		{"empty field", `{"baseUrl":"http://127.0.0.1:1","clientId":"id","clientSecret":""}`, "clientSecret"},
		{"string where an object is", `{"baseUrl":"x","clientId":"id","clientSecret":{"v":"` + marker + `"}}`, "clientSecret"},
		{"string where a number is", `{"baseUrl":"x","clientId":"id","clientSecret":"s","port":"` + marker + `"}`, "port"},
		{"JSON array", `["` + marker + `"]`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			f.create("acme", "koreai", c.value)
			var creds testCreds
			err := vendors.LoadCredentials(context.Background(), f.cache, "acme", "koreai", &creds)
			wantNoSecret(t, err)
			if c.name == "valid" {
				if err != nil || creds.ClientSecret != marker || creds.Port != 8443 {
					t.Fatalf("LoadCredentials = %+v, %v", creds, err)
				}
				return
			}
			e := handoff.AsError(err)
			if e.Code != handoff.CodeConfiguration || e.Field != c.field {
				t.Fatalf("err = %v (field %q), want CONFIGURATION on field %q", err, e.Field, c.field)
			}
			if !strings.Contains(e.Message, "acme/koreai") || (c.field != "" && !strings.Contains(e.Message, c.field)) {
				t.Errorf("message %q does not name the secret and the field", e.Message)
			}
		})
	}
}

func TestSecretsManagerDownIsUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	client := secretsmanager.NewFromConfig(awstest.Config(dead), func(o *secretsmanager.Options) {
		o.RetryMaxAttempts = 1
	})
	cache := secrets.New(client, prefix)

	_, err = cache.Get(context.Background(), "acme", "koreai")
	if handoff.ErrorCode(err) != handoff.CodeUnavailable || !handoff.Retryable(err) {
		t.Errorf("Get: err = %v, want retryable UNAVAILABLE", err)
	}
	var opErr *smithy.OperationError
	if !errors.As(err, &opErr) {
		t.Errorf("Get: the SDK's error is not kept as the cause: %v", err)
	}
	err = cache.Put(context.Background(), "acme", "koreai", []byte(`{"a":"`+marker+`"}`))
	if handoff.ErrorCode(err) != handoff.CodeUnavailable {
		t.Errorf("Put: err = %v, want UNAVAILABLE", err)
	}
	wantNoSecret(t, err)
}

func TestLogNamesSecretsNeverValues(t *testing.T) {
	f := newFixture(t)
	f.create("acme", "bitrix24", `{"refreshToken":"`+marker+`-1"}`)
	f.get("acme", "bitrix24")
	f.cache.Invalidate("acme", "bitrix24")
	if err := f.cache.Put(context.Background(), "acme", "bitrix24", []byte(`{"refreshToken":"`+marker+`-2"}`)); err != nil {
		t.Fatal(err)
	}
	log := f.log.String()
	for _, want := range []string{"secret fetched", "secret invalidated", "secret written", "handoff/acme/bitrix24"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	// newFixture's cleanup checks that the marker never reached the log.
}
