package ctl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/bitrix24"
	"handoff/core/vendors/koreai"
	"handoff/core/vendors/liveperson"
	"handoff/core/vendors/salesforce"
	"handoff/core/vendors/webhook"
)

// credentialTypes are each vendor's secret, as its adapter reads it.
var credentialTypes = map[string]func() vendors.Credentials{
	bitrix24.Key:   func() vendors.Credentials { return &bitrix24.Credentials{} },
	liveperson.Key: func() vendors.Credentials { return &liveperson.Credentials{} },
	koreai.Key:     func() vendors.Credentials { return &koreai.Credentials{} },
	salesforce.Key: func() vendors.Credentials { return &salesforce.Credentials{} },
	webhook.Key:    func() vendors.Credentials { return &webhook.Credentials{} },
}

// probes are read-only questions that need the credentials: the vendor answering one (even
// "no such conversation") proves them. Salesforce's and the webhook's APIs have none: every
// call there tells a bot something.
var probes = map[string]vendors.AvailabilityRequest{
	bitrix24.Key:   {},                                   // the open lines
	liveperson.Key: {ConversationID: "handoffctl-check"}, // logs in, then asks for the skills
	koreai.Key:     {Targets: []handoff.Target{{Type: handoff.TargetAgent, ID: "handoffctl-check"}}},
}

func (t *tool) tenantPut(ctx context.Context, tenant, vendor, file string, check bool) error {
	if err := handoff.ValidateTenant("tenant", tenant); err != nil {
		return err
	}
	newCreds, ok := credentialTypes[vendor]
	if !ok {
		return fmt.Errorf("no secret for vendor %q: bitrix24, liveperson, koreai, salesforce or webhook", vendor)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	// The same check the adapter makes at its first call, so a wrong field shows now.
	if err := vendors.DecodeCredentials(file, raw, newCreds()); err != nil {
		return err
	}
	if check {
		if raw, err = t.prove(ctx, tenant, vendor, raw); err != nil {
			return err
		}
	}
	name := t.cfg.SecretPrefix + tenant + "/" + vendor
	version, err := t.putSecret(ctx, name, string(raw))
	if err != nil {
		return err
	}
	fmt.Fprintf(t.out, "stored %s (version %s); the functions read it within their secret cache's lifetime (5 minutes)\n", name, version)
	return nil
}

// prove makes the vendor's probe with the secret and returns the secret to store: a Bitrix24
// OAuth secret may come back with renewed tokens, and the old refresh token is spent.
func (t *tool) prove(ctx context.Context, tenant, vendor string, raw []byte) ([]byte, error) {
	probe, ok := probes[vendor]
	if !ok {
		return nil, fmt.Errorf("--check: %s has no read-only call to prove credentials with; store it without --check", vendor)
	}
	sec := &oneSecret{raw: raw}
	checker, ok := t.registry(sec).Availability(vendor)
	if !ok {
		return nil, fmt.Errorf("--check: no adapter for %s", vendor)
	}
	probe.Tenant = tenant
	_, err := checker.Availability(ctx, probe)
	code := handoff.ErrorCode(err)
	switch code {
	case "":
		fmt.Fprintf(t.out, "check: %s accepted the credentials\n", vendor)
	case handoff.CodeVendorAuthFailed, handoff.CodeConfiguration, handoff.CodeUnknownTenant, handoff.CodeUnauthorized:
		return nil, fmt.Errorf("check: %s refused the credentials (%s): nothing stored: %w", vendor, code, err)
	case handoff.CodeVendorUnavailable, handoff.CodeVendorTimeout, handoff.CodeRateLimited, handoff.CodeUnavailable,
		handoff.CodeVendorProtocol, handoff.CodeInternal:
		return nil, fmt.Errorf("check: could not reach %s to prove the credentials (%s): nothing stored: %w", vendor, code, err)
	default:
		// It answered the probe's question (no such conversation or agent): it took the credentials.
		fmt.Fprintf(t.out, "check: %s accepted the credentials (it answered the probe with %s)\n", vendor, code)
	}
	return sec.current(), nil
}

func (t *tool) putSecret(ctx context.Context, name, value string) (string, error) {
	created, err := t.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value),
		Description: aws.String("Handoff tenant secret (scripts/handoffctl tenant put)")})
	if err == nil {
		return aws.ToString(created.VersionId), nil
	}
	var exists *smtypes.ResourceExistsException
	if !errors.As(err, &exists) {
		return "", err
	}
	put, err := t.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String(value)})
	if err != nil {
		return "", err
	}
	return aws.ToString(put.VersionId), nil
}

// oneSecret is the secret being checked, in memory; what the adapter writes back is kept.
type oneSecret struct {
	mu  sync.Mutex
	raw []byte
}

func (s *oneSecret) Get(context.Context, string, string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.raw...), nil
}

func (s *oneSecret) Invalidate(string, string) {}

func (s *oneSecret) Put(_ context.Context, _, _ string, secret []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.raw = append([]byte(nil), secret...)
	return nil
}

func (s *oneSecret) current() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.raw
}
