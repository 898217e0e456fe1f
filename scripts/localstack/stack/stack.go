// Package stack runs a SAM template on one machine, without Docker or an AWS account: each
// function's bootstrap under the Lambda Runtime Interface Emulator (rie), with exactly the
// environment its resource declares (only the AWS endpoints point elsewhere), its HTTP API routes on a local
// gateway (gateway), its EventBridge rules on a local bus that the functions' own SDK clients
// publish to (eventbus), its DynamoDB streams delivered from a local DynamoDB (streams), and its
// tables created there. Everything listens on 127.0.0.1 only. The local AWS (moto_server) and
// the data in it belong to the caller: `make run` starts one, the end-to-end tests use awstest.
package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"handoff/scripts/localstack/eventbus"
	"handoff/scripts/localstack/rie"
	"handoff/scripts/localstack/template"
)

// Config is what a Stack runs and where.
type Config struct {
	Template *template.Template
	Binaries map[string]string // bootstrap path by logical ID, from Build
	// AWS is the local AWS: tables are created and streams read with it. AWSEndpoint is its URL,
	// which the functions get as AWS_ENDPOINT_URL, with AWS's credentials.
	AWS         aws.Config
	AWSEndpoint string
	// Addr is the gateway's listen address; default 127.0.0.1:3000. 127.0.0.1:0 picks a port.
	Addr string
	// Parameters gives local values of the template's parameters that depend on the stack's
	// own URL, as sam --parameter-overrides does (the API's public URL, say): it is called with
	// the gateway's URL once it listens, and the template is read again with its answer.
	Parameters func(gatewayURL string) map[string]string
	// Emulator is the path of aws-lambda-rie; when empty, Start locates the one go.mod pins.
	Emulator string
	// DeadLetters receives the events and stream records that were never delivered, as JSON
	// lines; nil drops them (after logging).
	DeadLetters    io.Writer
	Output         io.Writer // the functions' stdout and stderr, by line; default os.Stderr
	Log            *slog.Logger
	MaxConcurrency int           // emulators per function, so invocations at once; default 4
	StartTimeout   time.Duration // for the functions' init and the streams' start; default 30s
	// Endpoints overrides AWS endpoint variables (AWS_ENDPOINT_URL_*) in every function's
	// environment: the end-to-end tests point AWS_ENDPOINT_URL_EVENTBRIDGE at a recorder. Any
	// other name is refused, so nothing but endpoints differs from the template.
	Endpoints map[string]string
	// Local are more /_local/ routes of the gateway, by exact path (the demo's sandbox counters).
	Local map[string]http.Handler
}

// Stack is a running template.
type Stack struct {
	// URL is the gateway's base URL, http://127.0.0.1:PORT: the routes, and /_local/events.
	URL string
	// EventBridgeURL is the local EventBridge endpoint (AWS_ENDPOINT_URL_EVENTBRIDGE).
	EventBridgeURL string
	Bus            *eventbus.Bus
	Functions      map[string]*rie.Function // by logical ID
	Routes         []RouteInfo

	cfg           Config
	gateway       *http.Server
	eventBridge   *http.Server
	stopPollers   context.CancelFunc
	pollers       sync.WaitGroup
	closeOnce     sync.Once
	gatewayLn     net.Listener
	eventBridgeLn net.Listener
	queueURLs     map[string]string // the event sources' queues on the local AWS, by name
}

// RouteInfo describes a served route, for the startup banner.
type RouteInfo struct {
	Key        string // GET /transfers/{id}
	Function   string // its function's short name
	Authorizer string // the template's authorizer, which the local gateway does not enforce
}

// Start runs the template. On error everything it started is stopped again.
func Start(ctx context.Context, cfg Config) (*Stack, error) {
	cfg = cfg.withDefaults()
	for name := range cfg.Endpoints {
		if !strings.HasPrefix(name, "AWS_ENDPOINT_URL") {
			return nil, fmt.Errorf("stack: Endpoints may override AWS endpoints only, not %s", name)
		}
	}
	if cfg.DeadLetters != nil {
		cfg.DeadLetters = &lockedWriter{w: cfg.DeadLetters} // the bus and the streams share it
	}
	s := &Stack{cfg: cfg, Functions: map[string]*rie.Function{}}
	if err := s.start(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Stack) start(ctx context.Context) error {
	if err := s.listen(); err != nil {
		return err
	}
	if s.cfg.Parameters != nil {
		tmpl, err := s.cfg.Template.WithParameters(s.cfg.Parameters(s.URL))
		if err != nil {
			return err
		}
		s.cfg.Template = tmpl
	}
	if err := createTables(ctx, dynamodb.NewFromConfig(s.cfg.AWS), s.cfg.Template.Tables); err != nil {
		return err
	}
	if err := s.createQueues(ctx); err != nil {
		return err
	}
	if err := s.startFunctions(ctx); err != nil {
		return err
	}
	if err := s.serve(); err != nil {
		return err
	}
	if err := s.startPollers(ctx); err != nil {
		return err
	}
	s.startSchedules()
	return nil
}

func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:3000"
	}
	if c.Output == nil {
		c.Output = os.Stderr
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.StartTimeout <= 0 {
		c.StartTimeout = 30 * time.Second
	}
	return c
}

// listen takes the gateway's port and one for EventBridge, so their URLs are known before the
// functions start.
func (s *Stack) listen() error {
	var err error
	if s.gatewayLn, err = net.Listen("tcp", s.cfg.Addr); err != nil {
		return fmt.Errorf("the gateway cannot listen on %s (is another stack running? set PORT): %w", s.cfg.Addr, err)
	}
	if s.eventBridgeLn, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return err
	}
	s.URL = "http://" + s.gatewayLn.Addr().String()
	s.EventBridgeURL = "http://" + s.eventBridgeLn.Addr().String()
	return nil
}

// serve starts the gateway (with /_local/events) and the EventBridge endpoint.
func (s *Stack) serve() error {
	bus, err := s.newBus()
	if err != nil {
		return err
	}
	s.Bus = bus
	gw, err := s.newGateway()
	if err != nil {
		return err
	}
	local := s.Bus.LocalHandler()
	s.gateway = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_local/events" {
			local.ServeHTTP(w, r)
			return
		}
		if h, ok := s.cfg.Local[r.URL.Path]; ok {
			h.ServeHTTP(w, r)
			return
		}
		gw.ServeHTTP(w, r)
	})}
	s.eventBridge = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: s.Bus}
	go s.gateway.Serve(s.gatewayLn)
	go s.eventBridge.Serve(s.eventBridgeLn)
	return nil
}

// Close stops the stack: no new requests, then the streams, the bus (undelivered events go to
// the dead letters) and every function's emulators. It is safe to call more than once.
func (s *Stack) Close() error {
	s.closeOnce.Do(func() {
		s.shutdownServer(s.gateway, s.gatewayLn)
		if s.stopPollers != nil {
			s.stopPollers()
			s.pollers.Wait()
		}
		if s.Bus != nil {
			s.Bus.Close()
		}
		s.shutdownServer(s.eventBridge, s.eventBridgeLn)
		var wg sync.WaitGroup
		for _, f := range s.Functions {
			wg.Go(func() { f.Close() })
		}
		wg.Wait()
	})
	return nil
}

// shutdownServer lets requests in flight finish for a few seconds, then cuts them.
func (s *Stack) shutdownServer(srv *http.Server, ln net.Listener) {
	if srv == nil {
		if ln != nil {
			ln.Close()
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); errors.Is(err, context.DeadlineExceeded) {
		srv.Close()
	}
}

// lockedWriter serialises writes, so JSON lines from several writers never interleave.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
