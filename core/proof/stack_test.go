package proof_test

import (
	"context"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"handoff/core/availability"
	"handoff/core/awstest"
	"handoff/core/eventbus"
	"handoff/core/handler"
	"handoff/core/notify"
	"handoff/core/secrets"
	"handoff/core/store"
	"handoff/core/testkit"
	"handoff/core/transfer"
	"handoff/core/vendors"
	"handoff/core/vendors/all"
	"handoff/core/vendors/bitrix24/bitrix24sandbox"
	"handoff/core/vendors/koreai/koreaisandbox"
	"handoff/core/vendors/liveperson/livepersonsandbox"
	"handoff/core/vendors/rest"
	"handoff/core/vendors/salesforce/salesforcesandbox"
	"handoff/core/vendors/webhook/webhooksandbox"
)

func TestMain(m *testing.M) { awstest.Main(m) }

const (
	tenant       = "acme"
	table        = "handoff"
	secretPrefix = "handoff/"
	callbackBase = "https://handoff.example"
)

// stack is Handoff as the four functions run it — the real handlers, use cases, store, secrets
// cache, event bus and vendor adapters — over a fresh moto and a fresh sandbox per vendor, with
// a fault-injecting transport on each AWS client and a probe in front of each sandbox.
type stack struct {
	t     *testing.T
	clock *testkit.Clock
	logs  *testkit.Buffer
	log   *slog.Logger

	raw                *dynamodb.Client // no faults: for setup and inspection
	dynamo, sm, events *awsFaults
	smClient           *secretsmanager.Client
	ebClient           *eventbridge.Client
	store              *store.Store

	*container // the container every request goes to unless a test says otherwise

	b24, lp, kore, sf, hook *vendorServer
	b24Sandbox              *bitrix24sandbox.Sandbox
	lpSandbox               *livepersonsandbox.Sandbox
	koreSandbox             *koreaisandbox.Sandbox
	sfSandbox               *salesforcesandbox.Sandbox
	hookSandbox             *webhooksandbox.Sandbox
}

// container is what one Lambda container holds in memory — its secrets cache, its vendor
// adapters with their sessions and tokens, its memory of completed keys — and the handlers over
// them. A retry or a redelivery may land in another one.
type container struct {
	secrets      *secrets.Cache
	vendors      *vendors.Registry
	svc          *transfer.Service
	transfer     *handler.Transfer
	callback     *handler.Callback
	availability *handler.Availability
	stream       *handler.Stream
}

func newStack(t *testing.T) *stack {
	t.Helper()
	env := awstest.New(t)
	s := &stack{t: t, clock: &testkit.Clock{}, logs: &testkit.Buffer{}, dynamo: newAWSFaults(), sm: newAWSFaults(), events: newAWSFaults()}
	s.log = slog.New(slog.NewTextHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	cfg := env.Config.Copy()
	cfg.Retryer = quickRetryer
	s.raw = dynamodb.NewFromConfig(env.Config)
	if err := store.CreateTable(context.Background(), s.raw, table); err != nil {
		t.Fatal(err)
	}
	s.startVendors()
	s.putSecrets(env.Config)

	db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.HTTPClient = s.dynamo })
	s.smClient = secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.HTTPClient = s.sm })
	s.ebClient = eventbridge.NewFromConfig(cfg, func(o *eventbridge.Options) { o.HTTPClient = s.events })
	s.store = store.New(db, table, store.WithClock(s.clock.Now))
	s.container = s.newContainer(s.store)
	t.Cleanup(func() { s.checkLogs() })
	return s
}

// newContainer starts a cold container whose transfers go to st (the stack's store, or one that
// fails on purpose).
func (s *stack) newContainer(st transfer.Store) *container {
	c := &container{secrets: secrets.New(s.smClient, secretPrefix, secrets.WithLogger(s.log))}
	hc := &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	c.vendors = vendors.NewRegistry(vendors.Deps{
		Secrets: c.secrets, HTTP: rest.New(hc, rest.WithBackoff(time.Millisecond)), Log: s.log, Now: time.Now,
	}, all.Factories)
	c.svc = transfer.New(st, c.vendors, s.log, transfer.WithClock(s.clock.Now), transfer.WithCallbackBase(callbackBase))
	c.transfer = handler.NewTransfer(c.svc, anyCaller{}, s.log, callbackBase)
	c.callback = handler.NewCallback(c.svc, s.log)
	c.availability = handler.NewAvailability(availability.New(c.vendors, 0), anyCaller{}, s.log)
	notifier := notify.New(s.store, c.vendors, eventbus.New(s.ebClient, "default"), s.log).WithClock(s.clock.Now)
	c.stream = handler.NewStream(notifier, s.log)
	return c
}

func (s *stack) startVendors() {
	s.b24Sandbox = bitrix24sandbox.New(bitrix24sandbox.Config{})
	s.b24 = serveVendor(s.t, s.b24Sandbox, bitrix24Job)
	s.lpSandbox = livepersonsandbox.New(livepersonsandbox.Config{})
	s.lp = serveVendor(s.t, s.lpSandbox, livepersonJob)
	// Kore's outcome callbacks are delivered by the tests, when they choose.
	s.koreSandbox = koreaisandbox.New(koreaisandbox.Config{NoCallbacks: true, RatePerMinute: -1})
	s.t.Cleanup(s.koreSandbox.Close)
	s.kore = serveVendor(s.t, s.koreSandbox, koreaiJob)
	s.sfSandbox = salesforcesandbox.New(salesforcesandbox.Config{})
	s.sf = serveVendor(s.t, s.sfSandbox, salesforceJob)
	s.hookSandbox = webhooksandbox.New(webhooksandbox.Config{})
	s.hook = serveVendor(s.t, s.hookSandbox, webhookJob)
}

// putSecrets stores the tenant's secret for every vendor, pointing at the sandboxes.
func (s *stack) putSecrets(cfg aws.Config) {
	sm := secretsmanager.NewFromConfig(cfg)
	for vendor, value := range map[string][]byte{
		"bitrix24":   bitrix24sandbox.DemoWebhookSecret(s.b24.URL()),
		"liveperson": livepersonsandbox.DemoSecret(s.lp.URL()),
		"koreai":     koreaisandbox.DemoSecret(s.kore.URL()),
		"salesforce": salesforcesandbox.DemoSecret(s.sf.URL()),
		"webhook":    webhooksandbox.DemoSecret(s.hook.URL()),
	} {
		_, err := sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
			Name: aws.String(secretPrefix + tenant + "/" + vendor), SecretString: aws.String(string(value)),
		})
		if err != nil {
			s.t.Fatal(err)
		}
	}
}

// anyCaller lets every caller act for every tenant: tenant access has its own tests
// (core/handler, core/access, the end-to-end suite); these prove the rest.
type anyCaller struct{}

func (anyCaller) Caller(context.Context, string, string) error         { return nil }
func (anyCaller) Source(context.Context, string, string, string) error { return nil }
