package store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go/middleware"

	"handoff/core/awstest"
	"handoff/core/handler"
	"handoff/core/handoff"
	"handoff/core/secrets"
	"handoff/core/store"
	usecase "handoff/core/transfer"
	"handoff/core/vendors"
	"handoff/core/vendors/all"
	"handoff/core/vendors/bitrix24/bitrix24sandbox"
	"handoff/core/vendors/rest"
)

// The full path of one POST /transfers — the HTTP API event decoded, the key claimed in DynamoDB
// (moto), the Bitrix24 transfer sent to its sandbox, the outcome recorded — next to its I/O
// floor: the very same PutItem, UpdateItem and vendor call sent by bare clients with no
// Handoff code around them. Budget (README, Performance): within 1.03× the floor at p50.

const pathTable = "handoff-bench"

// path is a transfer function wired as functions/transfer wires it (real store, secrets cache,
// vendor registry and handler), on moto and a Bitrix24 sandbox, with the requests it sends
// counted by operation.
type path struct {
	env     *awstest.Env
	sandbox *bitrix24sandbox.Sandbox
	vendor  *httptest.Server
	ops     *opCounter
	db      *dynamodb.Client // counted
	handler *handler.Transfer
	event   json.RawMessage // events/transfer-post-bitrix24.json; its key ends in keyWidth digits
	keyAt   int
}

const keyWidth = 12

func newPath(tb testing.TB, dbOpts ...func(*dynamodb.Options)) *path {
	tb.Helper()
	ctx := context.Background()
	p := &path{env: awstest.New(tb), sandbox: bitrix24sandbox.New(bitrix24sandbox.Config{}), ops: &opCounter{ops: map[string]int{}}}
	p.vendor = httptest.NewServer(p.sandbox)
	tb.Cleanup(p.vendor.Close)

	opts := append([]func(*dynamodb.Options){func(o *dynamodb.Options) { o.HTTPClient = p.ops.client() }}, dbOpts...)
	p.db = dynamodb.NewFromConfig(p.env.Config, opts...)
	// The table's schema without its stream: moto copies a table with its whole stream for each
	// item of a transaction (to roll back), so with a stream every write slows the next ones;
	// the transfer function neither reads nor needs the stream.
	schema := store.CreateTableInput(pathTable)
	schema.StreamSpecification = nil
	if _, err := p.db.CreateTable(ctx, schema); err != nil {
		tb.Fatal(err)
	}
	sm := secretsmanager.NewFromConfig(p.env.Config)
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String("handoff/demo/bitrix24"), SecretString: aws.String(string(bitrix24sandbox.DemoSecret(p.vendor.URL))),
	}); err != nil {
		tb.Fatal(err)
	}
	p.handler = p.newHandler()
	p.event, p.keyAt = keyedEvent(tb)
	p.ops.reset()
	return p
}

// newHandler is one container's transfer handler, built as functions/internal/boot builds it:
// another call is another container (its own memo and secrets cache) on the same table.
func (p *path) newHandler() *handler.Transfer {
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	sec := secrets.New(secretsmanager.NewFromConfig(p.env.Config), "handoff/", secrets.WithLogger(log))
	vendorHTTP := rest.New(&http.Client{
		Transport:     http.DefaultTransport.(*http.Transport).Clone(),
		Timeout:       60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	})
	reg := vendors.NewRegistry(vendors.Deps{Secrets: sec, HTTP: vendorHTTP, Log: log, Now: time.Now}, all.Factories)
	return handler.NewTransfer(usecase.New(store.New(p.db, pathTable), reg, log), anyCaller{}, log, "")
}

// post sends the event with Idempotency-Key bench-<n> (and body, when not empty) to h, as the
// Runtime API would, and returns the answer.
func (p *path) post(tb testing.TB, h *handler.Transfer, n int, body string) events.APIGatewayV2HTTPResponse {
	tb.Helper()
	payload := bytes.Clone(p.event)
	setDigits(payload[p.keyAt:p.keyAt+keyWidth], n)
	if body != "" {
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(payload, &ev); err != nil {
			tb.Fatal(err)
		}
		ev.Body = body
		payload, _ = json.Marshal(ev)
	}
	out, err := h.Invoke(context.Background(), payload)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := json.Marshal(out); err != nil {
		tb.Fatal(err)
	}
	return out.(events.APIGatewayV2HTTPResponse)
}

// TestDuplicatesCostAtMostOneRequest pins the cost of a duplicate: none at all when this
// container completed the key (the memo), exactly one DynamoDB request for every other kind
// (completed in another container, still in progress, the key reused for another body), and
// never a vendor call.
func TestDuplicatesCostAtMostOneRequest(t *testing.T) {
	p := newPath(t)
	first := p.post(t, p.handler, 1, "")
	if first.StatusCode != http.StatusCreated {
		t.Fatalf("first POST: %d %s", first.StatusCode, first.Body)
	}
	// The claim, and the outcome written whole over the claim (store.completeWhole).
	if ops := p.ops.take(); ops["PutItem"] != 2 || len(ops) != 1 {
		t.Fatalf("a new transfer cost %v, want two PutItems, no transaction", ops)
	}
	vendorCalls := p.sandbox.TransferCalls()

	other := p.newHandler() // another container, on the same table
	reused := `{"tenant":"demo","vendor":"bitrix24","conversation":{"id":"113"},"target":{"type":"agent","id":"12"}}`
	cases := []struct {
		name    string
		handler *handler.Transfer
		key     int
		body    string
		status  int
		dynamo  int
	}{
		{"completed here", p.handler, 1, "", http.StatusCreated, 0},
		{"completed here, key reused for another body", p.handler, 1, reused, http.StatusUnprocessableEntity, 0},
		{"completed in another container", other, 1, "", http.StatusCreated, 1},
		{"completed elsewhere, key reused for another body", p.newHandler(), 1, reused, http.StatusUnprocessableEntity, 1},
		{"in progress", other, 2, "", http.StatusConflict, 1},
	}
	// Key 2 is held by an invocation still running: its claim is in DynamoDB, its outcome is not.
	holdClaim(t, p, 2)
	for _, c := range cases {
		resp := p.post(t, c.handler, c.key, c.body)
		if resp.StatusCode != c.status {
			t.Errorf("%s: answer %d %s, want %d", c.name, resp.StatusCode, resp.Body, c.status)
		}
		if ops := p.ops.take(); total(ops) != c.dynamo {
			t.Errorf("%s: DynamoDB requests %v, want %d", c.name, ops, c.dynamo)
		}
		if resp.StatusCode == http.StatusCreated && resp.Headers["Idempotent-Replayed"] != "true" {
			t.Errorf("%s: not marked Idempotent-Replayed", c.name)
		}
		if resp.StatusCode == http.StatusConflict && resp.Headers["Retry-After"] == "" {
			t.Errorf("%s: IN_PROGRESS without Retry-After", c.name)
		}
	}
	if n := p.sandbox.TransferCalls(); n != vendorCalls {
		t.Errorf("duplicates made %d vendor calls, want none", n-vendorCalls)
	}
}

// holdClaim claims key bench-<n> for the example request as a running invocation would.
func holdClaim(t *testing.T, p *path, n int) {
	t.Helper()
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(p.event, &ev); err != nil {
		t.Fatal(err)
	}
	req, err := handoff.DecodeRequest([]byte(ev.Body))
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, keyWidth)
	setDigits(key, n)
	_, err = store.New(p.db, pathTable).Claim(context.Background(), handoff.Claim{
		Tenant: "demo", Key: "bench-" + string(key), Fingerprint: req.Fingerprint(),
		Owner: "running-invocation", LeaseUntil: time.Now().Add(time.Minute), TransferID: "held-transfer",
	}, handoff.Transfer{Tenant: "demo", Vendor: "bitrix24", Status: handoff.StatusPending})
	if err != nil {
		t.Fatal(err)
	}
	p.ops.take()
}

// BenchmarkFullPath runs, per operation, one new transfer through the handler and the same
// requests by bare clients, interleaved so that drift in moto's speed touches both alike. It
// reports the p50 of each (ms) and their ratio; ns/op is the two together.
func BenchmarkFullPath(b *testing.B) {
	capture := &captured{}
	p := newPath(b, func(o *dynamodb.Options) { o.APIOptions = append(o.APIOptions, capture.middleware) })
	capturing := p.newHandler() // its DynamoDB requests are recorded, to be replayed as the floor
	if resp := p.post(b, capturing, 0, ""); resp.StatusCode != http.StatusCreated {
		b.Fatalf("capture: %d %s", resp.StatusCode, resp.Body)
	}
	floor := newFloor(b, p, capture)

	// The measured handler's client is a plain one; so is the floor's.
	p.db = dynamodb.NewFromConfig(p.env.Config)
	h := p.newHandler()
	for i := range 5 { // warm: the secret cached, connections open, both sides
		p.post(b, h, 1_000_000+i, "")
		floor.run(b)
		empty(b, p.db)
	}
	full, bare := make([]time.Duration, 0, b.N), make([]time.Duration, 0, b.N)
	runFull := func(i int) {
		start := time.Now()
		resp := p.post(b, h, i+1, "")
		full = append(full, time.Since(start))
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("answer %d: %s", resp.StatusCode, resp.Body)
		}
	}
	runFloor := func() {
		start := time.Now()
		floor.run(b)
		bare = append(bare, time.Since(start))
	}
	b.ResetTimer()
	for i := range b.N {
		// Each side meets the same empty table, and goes first every other time.
		first, second := func() { runFull(i) }, runFloor
		if i%2 == 1 {
			first, second = runFloor, func() { runFull(i) }
		}
		first()
		b.StopTimer()
		empty(b, p.db)
		b.StartTimer()
		second()
		b.StopTimer()
		empty(b, p.db)
		b.StartTimer()
	}
	b.StopTimer()
	fullP50, bareP50 := median(full), median(bare)
	b.ReportMetric(float64(fullP50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(bareP50.Microseconds())/1000, "floor-p50-ms")
	b.ReportMetric(float64(fullP50)/float64(bareP50), "ratio")
	// The median of each pair's ratio: the two halves of a pair ran a moment apart, so this one
	// holds up better when the machine's load drifts during the run.
	ratios := make([]float64, len(full))
	for i := range full {
		ratios[i] = float64(full[i]) / float64(bare[i])
	}
	slices.Sort(ratios)
	b.ReportMetric(ratios[len(ratios)/2], "paired-ratio")
}

// empty deletes every item of the table. moto copies a whole table for each item of a
// transaction (to roll back), so a table that grows slows it; emptied
// between operations, every operation meets the same small table.
func empty(b *testing.B, db *dynamodb.Client) {
	ctx := context.Background()
	out, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(pathTable), ProjectionExpression: aws.String("pk, sk")})
	if err != nil {
		b.Fatal(err)
	}
	for batch := range slices.Chunk(out.Items, 25) {
		reqs := make([]types.WriteRequest, len(batch))
		for i, it := range batch {
			reqs[i] = types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: it}}
		}
		if _, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{pathTable: reqs}}); err != nil {
			b.Fatal(err)
		}
	}
}

// floor sends what one transfer sends, with bare clients: the captured claim and outcome
// writes with a fresh slot, and the captured vendor request as it was, between them.
type floor struct {
	db      *dynamodb.Client
	claim   *dynamodb.PutItemInput
	outcome any      // the outcome's write: a PutItemInput or an UpdateItemInput
	olds    []string // the captured slot (in the key and the transfer id) and lease owner
	vendor  sandboxCall
	http    *http.Client
	counter int
}

type sandboxCall struct {
	url    string
	header http.Header
	body   []byte
}

func newFloor(b *testing.B, p *path, c *captured) *floor {
	b.Helper()
	writes := c.get()
	put, ok := writes[0].(*dynamodb.PutItemInput)
	if len(writes) != 2 || !ok {
		b.Fatalf("the capture saw %d writes, want the claim's PutItem and the outcome's write", len(writes))
	}
	reqs := p.sandbox.Requests()
	last := reqs[len(reqs)-1]
	if !strings.Contains(last.Path, "imopenlines.bot.session.transfer") {
		b.Fatalf("last vendor request was %s", last.Path)
	}
	slot := strings.TrimPrefix(attrS(put.Item[store.AttrPK]), "TRANSFER#")
	return &floor{
		db: dynamodb.NewFromConfig(p.env.Config), claim: put, outcome: writes[1],
		olds:   []string{slot, attrS(put.Item[store.AttrLeaseOwner])},
		vendor: sandboxCall{url: p.vendor.URL + last.Path, header: last.Header, body: last.Body},
		http:   &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(), Timeout: 60 * time.Second},
	}
}

// run is one transfer's I/O: claim, vendor call, record, in that order.
func (f *floor) run(b *testing.B) {
	f.counter++
	n := strconv.Itoa(f.counter)
	slot := (n + strings.Repeat("x", len(f.olds[0])))[:len(f.olds[0])]
	repl := strings.NewReplacer(f.olds[0], slot, f.olds[1], randomID())
	ctx := context.Background()
	if _, err := f.db.PutItem(ctx, rewritePut(f.claim, repl)); err != nil {
		b.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, f.vendor.url, bytes.NewReader(f.vendor.body))
	req.Header = f.vendor.header.Clone()
	resp, err := f.http.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	var answer struct {
		Result bool `json:"result"`
	}
	err = json.NewDecoder(resp.Body).Decode(&answer)
	resp.Body.Close()
	if err != nil || !answer.Result {
		b.Fatalf("vendor: %d, %v", resp.StatusCode, err)
	}
	switch in := f.outcome.(type) {
	case *dynamodb.PutItemInput:
		_, err = f.db.PutItem(ctx, rewritePut(in, repl))
	case *dynamodb.UpdateItemInput:
		_, err = f.db.UpdateItem(ctx, rewriteUpdate(in, repl))
	}
	if err != nil {
		b.Fatal(err)
	}
}

// captured keeps the write inputs (PutItem, UpdateItem) a client sent, in order.
type captured struct {
	mu     sync.Mutex
	writes []any
}

func (c *captured) middleware(s *middleware.Stack) error {
	return s.Initialize.Add(middleware.InitializeMiddlewareFunc("capture", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		c.mu.Lock()
		switch v := in.Parameters.(type) {
		case *dynamodb.PutItemInput, *dynamodb.UpdateItemInput:
			c.writes = append(c.writes, v)
		}
		c.mu.Unlock()
		return next.HandleInitialize(ctx, in)
	}), middleware.After)
}

func (c *captured) get() []any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes
}

func rewritePut(in *dynamodb.PutItemInput, r *strings.Replacer) *dynamodb.PutItemInput {
	out := *in
	out.Item = rewriteItem(in.Item, r)
	out.ExpressionAttributeValues = rewriteItem(in.ExpressionAttributeValues, r)
	return &out
}

func rewriteUpdate(in *dynamodb.UpdateItemInput, r *strings.Replacer) *dynamodb.UpdateItemInput {
	out := *in
	out.Key = rewriteItem(in.Key, r)
	out.ExpressionAttributeValues = rewriteItem(in.ExpressionAttributeValues, r)
	return &out
}

// rewriteItem copies an item with r applied to every string in it.
func rewriteItem(item map[string]types.AttributeValue, r *strings.Replacer) map[string]types.AttributeValue {
	if item == nil {
		return nil
	}
	out := make(map[string]types.AttributeValue, len(item))
	for k, v := range item {
		out[k] = rewriteValue(v, r)
	}
	return out
}

func rewriteValue(v types.AttributeValue, r *strings.Replacer) types.AttributeValue {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return &types.AttributeValueMemberS{Value: r.Replace(v.Value)}
	case *types.AttributeValueMemberL:
		l := &types.AttributeValueMemberL{Value: make([]types.AttributeValue, len(v.Value))}
		for i, e := range v.Value {
			l.Value[i] = rewriteValue(e, r)
		}
		return l
	}
	return v
}

func attrS(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

// randomID is 26 characters, as the transfer service's ids are.
func randomID() string {
	var b [13]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// keyedEvent is events/transfer-post-bitrix24.json with its Idempotency-Key set to bench- and
// keyWidth digits, and the offset of the digits.
func keyedEvent(tb testing.TB) (json.RawMessage, int) {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "events", "transfer-post-bitrix24.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		tb.Fatal(err)
	}
	marker := "bench-" + strings.Repeat("0", keyWidth)
	ev.Headers["idempotency-key"] = marker
	payload, err := json.Marshal(ev)
	if err != nil {
		tb.Fatal(err)
	}
	return payload, bytes.Index(payload, []byte(marker)) + len("bench-")
}

// setDigits writes n into dst as zero-padded decimal digits.
func setDigits(dst []byte, n int) {
	s := strconv.Itoa(n)
	for i := range dst {
		dst[i] = '0'
	}
	copy(dst[len(dst)-len(s):], s)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// opCounter counts the DynamoDB operations a client sends, by name.
type opCounter struct {
	mu  sync.Mutex
	ops map[string]int
}

func (c *opCounter) client() *countingClient { return &countingClient{c: c} }

// take returns the counts so far and starts again from zero.
func (c *opCounter) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	ops := c.ops
	c.ops = map[string]int{}
	return ops
}

func (c *opCounter) reset() { c.take() }

type countingClient struct{ c *opCounter }

func (cc *countingClient) Do(r *http.Request) (*http.Response, error) {
	_, name, _ := strings.Cut(r.Header.Get("X-Amz-Target"), ".")
	cc.c.mu.Lock()
	cc.c.ops[name]++
	cc.c.mu.Unlock()
	return http.DefaultClient.Do(r)
}

func total(ops map[string]int) int {
	n := 0
	for _, v := range ops {
		n += v
	}
	return n
}

// anyCaller lets every caller act for every tenant: the benchmark measures the transfer path.
type anyCaller struct{}

func (anyCaller) Caller(context.Context, string, string) error         { return nil }
func (anyCaller) Source(context.Context, string, string, string) error { return nil }

// BenchmarkFullPathDuplicate answers, per operation, a duplicate of a completed transfer twice:
// from the container that completed it (its memo: no request) and from another container on
// the same table (one DynamoDB request). It reports the p50 of each (ms), to set beside the
// peer's duplicates.
func BenchmarkFullPathDuplicate(b *testing.B) {
	p := newPath(b)
	if resp := p.post(b, p.handler, 0, ""); resp.StatusCode != http.StatusCreated {
		b.Fatalf("first POST: %d %s", resp.StatusCode, resp.Body)
	}
	others := make([]*handler.Transfer, 0, b.N+1)
	for range b.N + 1 { // built before the clock runs: a container's start is not a duplicate's cost
		others = append(others, p.newHandler())
	}
	if resp := p.post(b, others[b.N], 0, ""); resp.StatusCode != http.StatusCreated { // warm moto
		b.Fatalf("warm: %d %s", resp.StatusCode, resp.Body)
	}
	here, elsewhere := make([]time.Duration, 0, b.N), make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		for _, side := range []struct {
			h   *handler.Transfer
			out *[]time.Duration
		}{{p.handler, &here}, {others[i], &elsewhere}} {
			start := time.Now()
			resp := p.post(b, side.h, 0, "")
			*side.out = append(*side.out, time.Since(start))
			if resp.StatusCode != http.StatusCreated || resp.Headers["Idempotent-Replayed"] != "true" {
				b.Fatalf("duplicate: %d %s", resp.StatusCode, resp.Body)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(median(here).Microseconds())/1000, "here-p50-ms")
	b.ReportMetric(float64(median(elsewhere).Microseconds())/1000, "elsewhere-p50-ms")
}
