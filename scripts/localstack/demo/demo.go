// Package demo runs what the local stack puts in place of the SaaS vendors: one sandbox per
// vendor registered in core/vendors/sandboxes on a loopback port, the demo tenant's secrets
// (each sandbox's DemoSecret), and the tenants' secrets of a file (infra/local-secrets.json by
// default) stored in the local Secrets Manager with the sandboxes' URLs filled in. Tests and
// `make run` share it, so the demo a user tries is the one the tests drive.
package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"handoff/core/vendors/sandbox"
	"handoff/core/vendors/sandboxes"
)

// Sandboxes are the running vendor sandboxes: one per vendor registered in
// core/vendors/sandboxes.
type Sandboxes struct {
	// URLs maps each placeholder name (Placeholder: SANDBOX_KOREAI…) to its sandbox's base URL.
	URLs    map[string]string
	servers map[string]sandbox.Server
	https   []*http.Server
}

// SandboxOptions tune the sandboxes; the zero value is every vendor as its docs describe it.
type SandboxOptions = sandbox.Options

// Placeholder is the name under which a vendor's sandbox URL fills a secrets file:
// ${SANDBOX_KOREAI} for koreai.
func Placeholder(vendor string) string { return "SANDBOX_" + strings.ToUpper(vendor) }

// StartSandboxes serves every registered vendor's default sandbox on its own 127.0.0.1 port.
func StartSandboxes() (*Sandboxes, error) { return StartSandboxesWith(SandboxOptions{}) }

// StartSandboxesWith is StartSandboxes with the sandboxes tuned by o.
func StartSandboxesWith(o SandboxOptions) (*Sandboxes, error) {
	s := &Sandboxes{URLs: map[string]string{}, servers: map[string]sandbox.Server{}}
	for _, vendor := range slices.Sorted(maps.Keys(sandboxes.All)) {
		sb := sandboxes.All[vendor].New(o)
		s.servers[vendor] = sb
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("demo: sandbox %s: %w", vendor, err)
		}
		srv := &http.Server{Handler: sb, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		s.https = append(s.https, srv)
		s.URLs[Placeholder(vendor)] = "http://" + ln.Addr().String()
	}
	return s, nil
}

// Vendors lists the vendors whose sandboxes run, sorted.
func (s *Sandboxes) Vendors() []string { return slices.Sorted(maps.Keys(s.servers)) }

// Get returns the vendor's running sandbox, nil when none runs.
func (s *Sandboxes) Get(vendor string) sandbox.Server { return s.servers[vendor] }

// URL is the base URL of the vendor's sandbox.
func (s *Sandboxes) URL(vendor string) string { return s.URLs[Placeholder(vendor)] }

// SandboxOf returns the vendor's running sandbox as its own type, for tests that inspect what
// only that vendor's sandbox records. It panics when the vendor has no sandbox of type T: a
// test's mistake, not a condition to handle.
func SandboxOf[T sandbox.Server](s *Sandboxes, vendor string) T {
	sb, ok := s.servers[vendor].(T)
	if !ok {
		panic(fmt.Sprintf("demo: the %s sandbox is a %T, not the type asked for", vendor, s.servers[vendor]))
	}
	return sb
}

// DemoSecrets are the demo tenant's secrets: each registered sandbox's DemoSecret, pointing at
// its running sandbox, as "demo/{vendor}".
func (s *Sandboxes) DemoSecrets() map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(s.servers))
	for vendor := range s.servers {
		out[DemoTenant+"/"+vendor] = sandboxes.All[vendor].DemoSecret(s.URL(vendor))
	}
	return out
}

// Close stops every sandbox (and the Kore.ai callbacks it still has to deliver).
func (s *Sandboxes) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, srv := range s.https {
		_ = srv.Shutdown(ctx)
	}
	for _, sb := range s.servers {
		sb.Close()
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
