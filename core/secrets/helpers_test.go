package secrets_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go/middleware"

	"handoff/core/awstest"
	"handoff/core/secrets"
	"handoff/core/testkit"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// marker is in every secret value the tests store; no error string or log line may hold it.
const marker = "zqx-s3cret"

const prefix = "handoff/"

// calls counts the Secrets Manager operations a client makes, and can hold GetSecretValue at
// a gate until the test lets it through.
type calls struct {
	mu    sync.Mutex
	n     map[string]int
	gate  chan struct{} // when set, GetSecretValue waits for it to close
	entry chan struct{} // receives once per GetSecretValue that reached the gate
}

func (c *calls) count(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[op]
}

// hold makes every GetSecretValue wait until the returned release is called.
func (c *calls) hold() (release func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gate = make(chan struct{})
	c.entry = make(chan struct{}, 100)
	return sync.OnceFunc(func() { close(c.gate) })
}

// waitEntry waits until a GetSecretValue is held at the gate.
func (c *calls) waitEntry(t *testing.T) {
	t.Helper()
	select {
	case <-c.entry:
	case <-time.After(10 * time.Second):
		t.Fatal("no GetSecretValue reached the gate")
	}
}

func (c *calls) middleware(stack *middleware.Stack) error {
	count := middleware.InitializeMiddlewareFunc("countCalls", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		op := awsmiddleware.GetOperationName(ctx)
		c.mu.Lock()
		c.n[op]++
		gate, entry := c.gate, c.entry
		c.mu.Unlock()
		if gate != nil && op == "GetSecretValue" {
			entry <- struct{}{}
			select {
			case <-gate:
			case <-ctx.Done():
				return middleware.InitializeOutput{}, middleware.Metadata{}, ctx.Err()
			}
		}
		return next.HandleInitialize(ctx, in)
	})
	return stack.Initialize.Add(count, middleware.Before)
}

// fixture is one test's moto, a plain client to arrange secrets with, and a Cache under test
// whose client counts its calls and whose log is kept.
type fixture struct {
	t     *testing.T
	env   *awstest.Env
	admin *secretsmanager.Client
	calls *calls
	clock *testkit.Clock
	log   *bytes.Buffer
	cache *secrets.Cache
}

func newFixture(t *testing.T, opts ...secrets.Option) *fixture {
	t.Helper()
	env := awstest.New(t)
	f := &fixture{
		t:     t,
		env:   env,
		admin: secretsmanager.NewFromConfig(env.Config),
		clock: testkit.NewClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)),
		log:   &bytes.Buffer{},
	}
	var client *secretsmanager.Client
	client, f.calls = countingClient(env)
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: f.log}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts = append([]secrets.Option{secrets.WithClock(f.clock.Now), secrets.WithLogger(logger)}, opts...)
	f.cache = secrets.New(client, prefix, opts...)
	t.Cleanup(func() {
		if strings.Contains(f.log.String(), marker) {
			t.Errorf("a secret value reached the log:\n%s", f.log)
		}
	})
	return f
}

// countingClient returns a Secrets Manager client on env that counts its calls.
func countingClient(env *awstest.Env) (*secretsmanager.Client, *calls) {
	c := &calls{n: map[string]int{}}
	client := secretsmanager.NewFromConfig(env.Config, func(o *secretsmanager.Options) {
		o.APIOptions = append(o.APIOptions, c.middleware)
	})
	return client, c
}

// create stores a secret named {prefix}{tenant}/{vendor} directly in moto.
func (f *fixture) create(tenant, vendor, value string) {
	f.t.Helper()
	_, err := f.admin.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
		Name: aws.String(prefix + tenant + "/" + vendor), SecretString: aws.String(value),
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

// update changes a secret's value directly in moto, behind the cache's back.
func (f *fixture) update(tenant, vendor, value string) {
	f.t.Helper()
	_, err := f.admin.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{
		SecretId: aws.String(prefix + tenant + "/" + vendor), SecretString: aws.String(value),
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

// stored reads a secret's current value directly from moto.
func (f *fixture) stored(tenant, vendor string) string {
	f.t.Helper()
	out, err := f.admin.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{
		SecretId: aws.String(prefix + tenant + "/" + vendor),
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return aws.ToString(out.SecretString)
}

// get reads through the cache and fails the test on an error.
func (f *fixture) get(tenant, vendor string) string {
	f.t.Helper()
	b, err := f.cache.Get(context.Background(), tenant, vendor)
	if err != nil {
		f.t.Fatalf("Get(%s, %s): %v", tenant, vendor, err)
	}
	return string(b)
}

// result is what one Get returned.
type result struct {
	value string
	err   error
}

// getAsync reads through the cache in a goroutine; the result arrives on the channel.
func (f *fixture) getAsync(tenant, vendor string) <-chan result {
	ch := make(chan result, 1)
	go func() {
		b, err := f.cache.Get(context.Background(), tenant, vendor)
		ch <- result{string(b), err}
	}()
	return ch
}

// wantGets fails the test unless the cache made n GetSecretValue calls so far.
func (f *fixture) wantGets(n int) {
	f.t.Helper()
	if got := f.calls.count("GetSecretValue"); got != n {
		f.t.Fatalf("GetSecretValue calls = %d, want %d", got, n)
	}
}

// lockedWriter lets concurrent log lines share one buffer.
type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
