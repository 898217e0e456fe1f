package boot

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"handoff/core/eventbus"
	"handoff/core/secrets"
	"handoff/core/store"
	"handoff/core/telemetry"
	"handoff/core/telemetry/metered"
	"handoff/core/vendors"
	"handoff/core/vendors/all"
	"handoff/core/vendors/rest"
)

// Parts are the ready clients and adapters a function hands to core.
type Parts struct {
	Log     *slog.Logger
	Store   *store.Store
	Secrets *secrets.Cache
	// Vendors are the registry's adapters, each call timed and its errors counted.
	Vendors *metered.Vendors
	Bus     *eventbus.Bus
	// AWS is the SDK's configuration, for the clients only one function needs (the transfer
	// function's queue and pacing store).
	AWS aws.Config
}

// Build makes the parts. It reads the SDK's own settings (region, credentials, AWS_ENDPOINT_URL)
// but makes no request: nothing is fetched until the first invocation needs it.
func Build(ctx context.Context, c Config) (Parts, error) {
	// Every line carries the invocation it was written in (request id, function, cold start).
	log := slog.New(telemetry.NewLogHandler(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: c.LogLevel})))
	// Metrics are EMF lines on the same stdout: CloudWatch Logs turns them into metrics.
	telemetry.SetDefault(telemetry.NewMetrics(os.Stdout, c.MetricsNamespace, c.MetricsTenantDimension))
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return Parts{}, err
	}
	sec := secrets.New(secretsmanager.NewFromConfig(awsCfg), c.SecretPrefix, secrets.WithLogger(log))
	vendorHTTP := rest.New(&http.Client{
		Transport: http.DefaultTransport.(*http.Transport).Clone(),
		Timeout:   60 * time.Second,
		// Never follow a redirect: it could carry a vendor credential in a custom header (Kore.ai's
		// auth) to another host, or resend a transfer. A 3xx is answered as it is.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	})
	deps := vendors.Deps{Secrets: sec, HTTP: vendorHTTP, Log: log, Now: time.Now}
	var storeOpts []store.Option
	if c.IdempotencyTTL > 0 {
		storeOpts = append(storeOpts, store.WithIdempotencyTTL(c.IdempotencyTTL))
	}
	return Parts{
		Log:     log,
		Store:   store.New(dynamodb.NewFromConfig(awsCfg, dynamoDBOptions), c.TableName, storeOpts...),
		Secrets: sec,
		Vendors: metered.New(vendors.NewRegistry(deps, all.Factories)),
		Bus:     eventbus.New(eventbridge.NewFromConfig(awsCfg), c.EventBusName),
		AWS:     awsCfg,
	}, nil
}

// Setup loads the configuration through getenv (the Globals' variables and the groups asked
// for) and builds the parts: all a main needs.
func Setup(ctx context.Context, getenv func(string) string, groups ...Group) (Config, Parts, error) {
	cfg, err := Load(getenv, groups...)
	if err != nil {
		return Config{}, Parts{}, err
	}
	p, err := Build(ctx, cfg)
	return cfg, p, err
}
