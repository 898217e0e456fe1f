// Package demo runs what the local stack puts in place of the SaaS vendors: one sandbox per
// vendor on a loopback port, and the tenants' secrets (infra/local-secrets.json by default)
// stored in the local Secrets Manager with the sandboxes' URLs filled in. Tests and `make run`
// share it, so the demo a user tries is the one the tests drive.
package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"handoff/core/vendors/bitrix24/bitrix24sandbox"
	"handoff/core/vendors/koreai/koreaisandbox"
	"handoff/core/vendors/liveperson/livepersonsandbox"
	"handoff/core/vendors/salesforce/salesforcesandbox"
	"handoff/core/vendors/webhook/webhooksandbox"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// Sandboxes are the running vendor sandboxes.
type Sandboxes struct {
	Bitrix24   *bitrix24sandbox.Sandbox
	LivePerson *livepersonsandbox.Sandbox
	KoreAI     *koreaisandbox.Sandbox
	Salesforce *salesforcesandbox.Sandbox
	Webhook    *webhooksandbox.Sandbox
	// URLs maps each placeholder name (SANDBOX_KOREAI…) to its sandbox's base URL.
	URLs    map[string]string
	servers []*http.Server
}

// SandboxOptions tune the sandboxes; the zero value is every vendor as its docs describe it.
type SandboxOptions struct {
	// KoreAIRatePerMinute is Kore.ai's per-account limit: 0 for Kore's documented 60, negative
	// for none (load tests: one sandbox is one account, which real tenants each have their own of).
	KoreAIRatePerMinute int
}

// StartSandboxes serves every vendor's default sandbox on its own 127.0.0.1 port.
func StartSandboxes() (*Sandboxes, error) { return StartSandboxesWith(SandboxOptions{}) }

// StartSandboxesWith is StartSandboxes with the sandboxes tuned by o.
func StartSandboxesWith(o SandboxOptions) (*Sandboxes, error) {
	s := &Sandboxes{
		Bitrix24:   bitrix24sandbox.New(bitrix24sandbox.Config{}),
		LivePerson: livepersonsandbox.New(livepersonsandbox.Config{}),
		KoreAI:     koreaisandbox.New(koreaisandbox.Config{RatePerMinute: o.KoreAIRatePerMinute}),
		Salesforce: salesforcesandbox.New(salesforcesandbox.Config{}),
		Webhook:    webhooksandbox.New(webhooksandbox.Config{}),
		URLs:       map[string]string{},
	}
	for name, h := range map[string]http.Handler{
		"SANDBOX_BITRIX24": s.Bitrix24, "SANDBOX_LIVEPERSON": s.LivePerson, "SANDBOX_KOREAI": s.KoreAI,
		"SANDBOX_SALESFORCE": s.Salesforce, "SANDBOX_WEBHOOK": s.Webhook,
	} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("demo: sandbox %s: %w", name, err)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		s.servers = append(s.servers, srv)
		s.URLs[name] = "http://" + ln.Addr().String()
	}
	return s, nil
}

// Close stops every sandbox (and the Kore.ai callbacks it still has to deliver).
func (s *Sandboxes) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, srv := range s.servers {
		_ = srv.Shutdown(ctx)
	}
	if s.KoreAI != nil {
		s.KoreAI.Close()
	}
}

// Secrets reads a local secrets file: an object whose keys are "{tenant}/{vendor}" and whose
// values are the secrets' JSON objects, with ${NAME} placeholders replaced from vars.
func Secrets(path string, vars map[string]string) (map[string]json.RawMessage, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("local secrets: %w", err)
	}
	return ParseSecrets(data, vars)
}

// ParseSecrets is Secrets on the file's bytes.
func ParseSecrets(data []byte, vars map[string]string) (map[string]json.RawMessage, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("local secrets: not a JSON object of secrets: %w", err)
	}
	out := make(map[string]json.RawMessage, len(raw))
	for key, value := range raw {
		tenant, vendor, ok := strings.Cut(key, "/")
		if !ok || tenant == "" || vendor == "" || strings.Contains(vendor, "/") {
			return nil, fmt.Errorf("local secrets: key %q must be {tenant}/{vendor}", key)
		}
		var obj map[string]any
		if json.Unmarshal(value, &obj) != nil {
			return nil, fmt.Errorf("local secrets: %s must be a JSON object", key)
		}
		text := string(value)
		for name, v := range vars {
			text = strings.ReplaceAll(text, "${"+name+"}", v)
		}
		if i := strings.Index(text, "${SANDBOX_"); i >= 0 {
			end := strings.IndexByte(text[i:], '}')
			return nil, fmt.Errorf("local secrets: %s names an unknown placeholder %s", key, text[i:i+max(end+1, 1)])
		}
		out[key] = json.RawMessage(text)
	}
	return out, nil
}

// Seed stores each secret as {prefix}{tenant}/{vendor} in Secrets Manager, creating it or
// replacing its value, and returns the keys it stored, sorted.
func Seed(ctx context.Context, sm *secretsmanager.Client, prefix string, secrets map[string]json.RawMessage) ([]string, error) {
	keys := make([]string, 0, len(secrets))
	for key, value := range secrets {
		name := prefix + key
		_, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(string(value))})
		var exists *smtypes.ResourceExistsException
		if errors.As(err, &exists) {
			_, err = sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String(string(value))})
		}
		if err != nil {
			return nil, fmt.Errorf("seed secret %s: %w", name, err)
		}
		keys = append(keys, key)
	}
	sort.Strings(keys)
	return keys, nil
}
