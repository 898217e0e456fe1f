package demo

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"handoff/scripts/localstack/stack"
	"handoff/scripts/localstack/template"
)

// Config is what Start runs: a template's functions, built, on a running local AWS.
type Config struct {
	Template *template.Template
	Binaries map[string]string // from stack.Build
	// AWS reaches the local AWS (moto_server); AWSEndpoint is its URL.
	AWS         aws.Config
	AWSEndpoint string
	// Addr is the gateway's listen address: 127.0.0.1:3000 when empty, 127.0.0.1:0 for any port.
	Addr string
	// SecretsFile holds the local tenants' secrets (see Secrets): infra/local-secrets.json, or
	// the file HANDOFF_LOCAL_SECRETS names.
	SecretsFile string
	DeadLetters io.Writer    // as stack.Config
	Output      io.Writer    // the functions' output; os.Stderr when nil
	Log         *slog.Logger // slog.Default() when nil
	Sandboxes   SandboxOptions
	// Parameters set template parameters over their defaults (the end-to-end tests' vendor
	// rates, say); CallbackBaseUrl is always the gateway's URL.
	Parameters map[string]string
	// Endpoints overrides AWS endpoint variables in every function's environment
	// (stack.Config.Endpoints): the end-to-end tests point AWS_ENDPOINT_URL_EVENTBRIDGE at a
	// recorder with it.
	Endpoints map[string]string
}

// Stack is the local stack `make run` runs, and the end-to-end tests drive: the template's
// functions behind the gateway, the vendor sandboxes, and the tenants their secrets point at.
type Stack struct {
	*stack.Stack
	Sandboxes *Sandboxes
	// Tenants are the secrets stored, as "{tenant}/{vendor}", sorted.
	Tenants []string
}

// Start starts the vendor sandboxes, stores the demo tenant's secrets (Sandboxes.DemoSecrets)
// and those of cfg.SecretsFile (their ${SANDBOX_…} placeholders filled with the sandboxes'
// URLs; the file's win) in the local Secrets Manager,
// starts the stack, and gives each of those tenants its LocalAccess record. On error it stops
// what it started.
func Start(ctx context.Context, cfg Config) (*Stack, error) {
	sandboxes, err := StartSandboxesWith(cfg.Sandboxes)
	if err != nil {
		return nil, err
	}
	s, err := start(ctx, cfg, sandboxes)
	if err != nil {
		sandboxes.Close()
		return nil, err
	}
	return s, nil
}

func start(ctx context.Context, cfg Config, sandboxes *Sandboxes) (*Stack, error) {
	fileSecrets, err := Secrets(cfg.SecretsFile, sandboxes.URLs)
	if err != nil {
		return nil, fmt.Errorf("%w (HANDOFF_LOCAL_SECRETS names another file)", err)
	}
	// Every registered sandbox's demo secret, then the file's: a vendor added to the registry is
	// seeded without editing the file, and the file may still replace any secret.
	secrets := sandboxes.DemoSecrets()
	maps.Copy(secrets, fileSecrets)
	seeded, err := Seed(ctx, secretsmanager.NewFromConfig(cfg.AWS), SecretPrefix(cfg.Template), secrets)
	if err != nil {
		return nil, err
	}
	s, err := stack.Start(ctx, stack.Config{
		Template: cfg.Template, Binaries: cfg.Binaries, AWS: cfg.AWS, AWSEndpoint: cfg.AWSEndpoint,
		Addr: cfg.Addr, DeadLetters: cfg.DeadLetters, Output: cfg.Output, Log: cfg.Log, Endpoints: cfg.Endpoints,
		Local: map[string]http.Handler{CountersPath: sandboxes.CountersHandler()},
		// Vendors call back on the API's public URL: locally, the gateway's.
		Parameters: func(gatewayURL string) map[string]string {
			params := map[string]string{}
			for k, v := range cfg.Parameters {
				params[k] = v
			}
			params["CallbackBaseUrl"] = gatewayURL
			return params
		},
	})
	if err != nil {
		return nil, err
	}
	// Every tenant seeded gets an access record, or nobody could act for it.
	if err := SeedAccess(ctx, dynamodb.NewFromConfig(cfg.AWS), TableName(cfg.Template), TenantsOf(seeded)); err != nil {
		s.Close()
		return nil, err
	}
	return &Stack{Stack: s, Sandboxes: sandboxes, Tenants: seeded}, nil
}

// Close stops the stack, then the sandboxes. It is safe to call more than once.
func (s *Stack) Close() {
	s.Stack.Close()
	s.Sandboxes.Close()
}

// SecretPrefix is the functions' SECRET_PREFIX (the template's SecretPrefix default), under
// which the tenants' secrets are stored.
func SecretPrefix(tmpl *template.Template) string {
	for _, f := range tmpl.Functions {
		if p := f.Environment["SECRET_PREFIX"]; p != "" {
			return p
		}
	}
	return "handoff/"
}
