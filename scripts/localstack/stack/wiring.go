package stack

import (
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"handoff/scripts/localstack/eventbus"
	"handoff/scripts/localstack/gateway"
	"handoff/scripts/localstack/pattern"
	"handoff/scripts/localstack/rie"
	"handoff/scripts/localstack/streams"
	"handoff/scripts/localstack/template"
)

// startFunctions starts one emulator of each function, so a function that cannot be run at all
// stops the stack at once. Each function initialises on its first invocation, as in Lambda.
func (s *Stack) startFunctions(ctx context.Context) error {
	creds, err := s.cfg.AWS.Credentials.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("local AWS credentials: %w", err)
	}
	emulator := s.cfg.Emulator
	if emulator == "" {
		// The emulator is this module's tool, wherever the template is: located from the working
		// directory, which is in the module (make run runs from its root, tests from a package).
		if emulator, err = rie.Locate(ctx, ""); err != nil {
			return err
		}
	}
	for _, f := range s.cfg.Template.Functions {
		binary, ok := s.cfg.Binaries[f.LogicalID]
		if !ok {
			return fmt.Errorf("no bootstrap built for %s", f.LogicalID)
		}
		// Each function signs with its logical ID as its access key (moto takes any), so a proxy
		// in front of the local AWS can tell which function made a call: the permission test
		// holds each call against that function's role.
		s.Functions[f.LogicalID] = rie.New(rie.Config{
			Emulator: emulator, Name: f.FunctionName, Label: f.Name, Binary: binary, Handler: f.Handler,
			Env: s.environment(f), Timeout: f.Timeout, MemorySize: f.MemorySize,
			MaxConcurrency: s.cfg.MaxConcurrency, StartTimeout: s.cfg.StartTimeout,
			Region: s.cfg.AWS.Region, AccessKeyID: f.LogicalID, SecretAccessKey: creds.SecretAccessKey,
			SessionToken: creds.SessionToken, Output: s.cfg.Output,
		})
	}
	errs := make(chan error, len(s.Functions))
	var wg sync.WaitGroup
	for id, f := range s.Functions {
		wg.Go(func() {
			if err := f.Start(ctx); err != nil {
				errs <- fmt.Errorf("%s did not start: %w", id, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs // the first failure, or nil
}

// environment is a function's environment: exactly what its resource declares (Globals and its
// own, parameters resolved), with only the AWS endpoints pointed at the local AWS and the local
// EventBridge, and a queue's !Ref (its name, as the template reader resolves it) made the
// queue's URL, as Lambda would have it. The region and credentials are Lambda's to set (rie.Config), like every other
// reserved variable. Nothing is filled in: a variable the template lacks is missing here too,
// as it would be in Lambda.
func (s *Stack) environment(f template.Function) map[string]string {
	env := map[string]string{}
	for k, v := range f.Environment {
		if url, ok := s.queueURLs[v]; ok {
			v = url // a queue's !Ref is its URL in Lambda
		}
		env[k] = v
	}
	env["AWS_ENDPOINT_URL"] = s.cfg.AWSEndpoint
	env["AWS_ENDPOINT_URL_EVENTBRIDGE"] = s.EventBridgeURL
	for k, v := range s.cfg.Endpoints {
		env[k] = v
	}
	return env
}

// newGateway routes the template's HttpApi events to their functions.
func (s *Stack) newGateway() (*gateway.Gateway, error) {
	var routes []gateway.Route
	for _, f := range s.cfg.Template.Functions {
		for _, r := range f.Routes {
			routes = append(routes, gateway.Route{Method: r.Method, Path: r.Path, Function: s.Functions[f.LogicalID], Authorizer: r.Authorizer})
			s.Routes = append(s.Routes, RouteInfo{Key: r.Key(), Function: f.Name, Authorizer: r.Authorizer})
		}
	}
	return gateway.New(gateway.Config{Routes: routes, AccountID: accountID, Log: s.cfg.Log})
}

// accountID is the account of every local ARN and event.
const accountID = "123456789012"

// newBus makes the bus of the template's EventBridge rules. A rule's target is invoked
// asynchronously, so a function error is retried as Lambda retries asynchronous invocations:
// the function's EventInvokeConfig, within the rule's maximum event age.
func (s *Stack) newBus() (*eventbus.Bus, error) {
	var rules []eventbus.Rule
	for _, f := range s.cfg.Template.Functions {
		for _, r := range f.Rules {
			p, err := pattern.Parse(r.Pattern)
			if err != nil {
				return nil, fmt.Errorf("%s event %s: %w", f.LogicalID, r.Event, err)
			}
			rules = append(rules, eventbus.Rule{
				Name: f.LogicalID + r.Event, EventBusName: r.EventBusName, Pattern: p,
				Target: s.Functions[f.LogicalID].Async(), MaxRetryAttempts: f.AsyncRetryAttempts,
				MaxEventAge: min(r.MaxEventAge, f.AsyncMaxEventAge),
			})
		}
	}
	return eventbus.New(eventbus.Config{
		Rules: rules, Region: s.cfg.AWS.Region, AccountID: accountID,
		DeadLetters: s.cfg.DeadLetters, Log: s.cfg.Log,
	}), nil
}

// startPollers delivers each DynamoDB stream event source to its function and waits until
// every poller reads its stream.
func (s *Stack) startPollers(ctx context.Context) error {
	runCtx, stop := context.WithCancel(context.Background())
	s.stopPollers = stop
	var pollers []*streams.Poller
	for _, f := range s.cfg.Template.Functions {
		for _, src := range f.Streams {
			p, err := s.newPoller(f, src)
			if err != nil {
				return err
			}
			pollers = append(pollers, p)
			s.pollers.Go(func() {
				if err := p.Run(runCtx); err != nil {
					s.cfg.Log.Error("stack: stream stopped", "function", f.LogicalID, "table", src.Table, "error", err)
				}
			})
		}
	}
	s.startQueuePollers(runCtx)
	timeout, cancel := context.WithTimeout(ctx, s.cfg.StartTimeout)
	defer cancel()
	for _, p := range pollers {
		select {
		case <-p.Ready():
		case <-timeout.Done():
			return fmt.Errorf("the DynamoDB stream pollers did not start: %w", timeout.Err())
		}
	}
	return nil
}

func (s *Stack) newPoller(f template.Function, src template.Stream) (*streams.Poller, error) {
	var filters []*pattern.Pattern
	for _, text := range src.Filters {
		p, err := pattern.Parse(text)
		if err != nil {
			return nil, fmt.Errorf("%s event %s: filter: %w", f.LogicalID, src.Event, err)
		}
		filters = append(filters, p)
	}
	return streams.New(streams.Config{
		DynamoDB: dynamodb.NewFromConfig(s.cfg.AWS), Streams: dynamodbstreams.NewFromConfig(s.cfg.AWS),
		Table: src.Table, Target: s.Functions[f.LogicalID], Filters: filters,
		BatchSize: src.BatchSize, StartingPosition: src.StartingPosition,
		ReportBatchItemFailures: src.ReportBatchItemFailures, BisectBatchOnFunctionError: src.BisectBatchOnFunctionError,
		MaxRetryAttempts: src.MaxRetryAttempts, MaxRecordAge: src.MaxRecordAge,
		Region: s.cfg.AWS.Region, DeadLetters: s.cfg.DeadLetters, Log: s.cfg.Log,
	}), nil
}
