// Package ctl is the operator command's work, apart from finding the stack (scripts/handoffctl
// does that): storing a tenant's vendor secret after checking it, showing a transfer with its
// timeline, re-sending an ack, and listing and replaying dead letters. Run parses a command line.
package ctl

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"handoff/core/eventbus"
	"handoff/core/secrets"
	"handoff/core/store"
	"handoff/core/vendors"
	"handoff/core/vendors/all"
	"handoff/core/vendors/rest"
)

// Config is where the stack is: found by scripts/handoffctl from a CloudFormation stack's
// outputs, or from a running local stack's state file.
type Config struct {
	AWS          aws.Config
	Table        string
	SecretPrefix string
	EventBus     string
	// EventBridgeEndpoint overrides EventBridge's endpoint (the local stack's own bus).
	EventBridgeEndpoint string
	// EscalationQueueURL, AckQueueURL and SweepQueueURL are the dead-letter queues (AWS); a
	// stack without a sweep queue leaves it empty.
	EscalationQueueURL, AckQueueURL, SweepQueueURL string
	// DeadLettersFile is the local stack's dead-letter log, used instead of the queues.
	DeadLettersFile string
	// In is what "-" reads (tenant access put -); os.Stdin when nil.
	In io.Reader
}

// Usage is the command's help.
const Usage = `handoffctl [--local | --stack NAME] COMMAND

  tenant put TENANT VENDOR --from-file FILE [--check]
      store the tenant's secret for VENDOR (bitrix24, liveperson, koreai, salesforce, webhook)
      after checking its fields; --check first proves the credentials with a read-only call
  tenant access put FILE|-
      write the tenant's access record (docs/tenant-access.md): who may act for it
  tenant access get TENANT
  tenant access delete TENANT
      print, or remove (closing the tenant to every caller), its access record
  transfer show ID [--json]
      the transfer and its timeline
  ack retry ID
      send a final transfer's ack to its bot again
  dead-letters list
      the escalations and acks that were dead-lettered
  dead-letters redrive
      replay them: escalations are put on the bus again, acks are sent again
`

// ErrUsage is returned for a command line that names no known command.
var ErrUsage = errors.New("usage")

// tool is one run's clients.
type tool struct {
	cfg     Config
	out     io.Writer
	store   *store.Store
	sm      *secretsmanager.Client
	bus     *eventbus.Bus
	events  *eventbridge.Client
	sqs     *sqs.Client
	streams *dynamodbstreams.Client
	log     *slog.Logger
	http    *rest.Client
}

func newTool(cfg Config, out io.Writer) *tool {
	ebOpts := func(o *eventbridge.Options) {
		if cfg.EventBridgeEndpoint != "" {
			o.BaseEndpoint = aws.String(cfg.EventBridgeEndpoint)
		}
	}
	eb := eventbridge.NewFromConfig(cfg.AWS, ebOpts)
	return &tool{
		cfg: cfg, out: out,
		store:   store.New(dynamodb.NewFromConfig(cfg.AWS), cfg.Table),
		sm:      secretsmanager.NewFromConfig(cfg.AWS),
		events:  eb,
		bus:     eventbus.New(eb, cfg.EventBus),
		sqs:     sqs.NewFromConfig(cfg.AWS),
		streams: dynamodbstreams.NewFromConfig(cfg.AWS),
		// Vendor adapters log what they do; the operator sees warnings and errors only.
		log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		http: rest.New(&http.Client{Timeout: 30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}),
	}
}

// registry builds the vendor adapters over sec (the stored secrets, or the one being checked).
func (t *tool) registry(sec vendors.Secrets) *vendors.Registry {
	return vendors.NewRegistry(vendors.Deps{Secrets: sec, HTTP: t.http, Log: t.log, Now: time.Now}, all.Factories)
}

// storedSecrets reads the tenants' secrets as the functions do.
func (t *tool) storedSecrets() *secrets.Cache {
	return secrets.New(t.sm, t.cfg.SecretPrefix, secrets.WithLogger(t.log))
}

// Run runs one command line (without the program name and the stack flags).
func Run(ctx context.Context, cfg Config, args []string, out io.Writer) error {
	t := newTool(cfg, out)
	cmd := strings.Join(first(args, 2), " ")
	rest := args[min(2, len(args)):]
	switch cmd {
	case "tenant put":
		fs := flag.NewFlagSet("tenant put", flag.ContinueOnError)
		file := fs.String("from-file", "", "the secret, a JSON object")
		check := fs.Bool("check", false, "prove the credentials with a read-only vendor call first")
		pos, err := parse(fs, rest)
		if err != nil || len(pos) != 2 || *file == "" {
			return fmt.Errorf("%w: tenant put TENANT VENDOR --from-file FILE [--check]", ErrUsage)
		}
		return t.tenantPut(ctx, pos[0], pos[1], *file, *check)
	case "tenant access":
		if len(rest) != 2 {
			return fmt.Errorf("%w: tenant access put FILE|- | get TENANT | delete TENANT", ErrUsage)
		}
		switch rest[0] {
		case "put":
			in := cfg.In
			if in == nil {
				in = os.Stdin
			}
			return t.accessPut(ctx, rest[1], in)
		case "get":
			return t.accessGet(ctx, rest[1])
		case "delete":
			return t.accessDelete(ctx, rest[1])
		}
		return fmt.Errorf("%w: tenant access put FILE|- | get TENANT | delete TENANT", ErrUsage)
	case "transfer show":
		fs := flag.NewFlagSet("transfer show", flag.ContinueOnError)
		asJSON := fs.Bool("json", false, "print JSON")
		pos, err := parse(fs, rest)
		if err != nil || len(pos) != 1 {
			return fmt.Errorf("%w: transfer show ID [--json]", ErrUsage)
		}
		return t.transferShow(ctx, pos[0], *asJSON)
	case "ack retry":
		if len(rest) != 1 {
			return fmt.Errorf("%w: ack retry ID", ErrUsage)
		}
		return t.ackRetry(ctx, rest[0])
	case "dead-letters list":
		return t.deadLettersList(ctx)
	case "dead-letters redrive":
		return t.deadLettersRedrive(ctx)
	}
	return ErrUsage
}

// parse lets flags come before or after the positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func first(args []string, n int) []string { return args[:min(n, len(args))] }
