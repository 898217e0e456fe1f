package store_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"handoff/core/awstest"
	"handoff/core/handoff"
	"handoff/core/store"
	"handoff/core/testkit"
)

func TestMain(m *testing.M) { awstest.Main(m) }

const table = "handoff"

// fixture is a Store on a fresh table in moto, with a clock the test moves and a count of the
// requests the store sent.
type fixture struct {
	env   *awstest.Env
	db    *dynamodb.Client
	store *store.Store
	clock *testkit.Clock
	calls *calls
}

func setup(t *testing.T) *fixture {
	t.Helper()
	env := awstest.New(t)
	c := &calls{next: http.DefaultClient, ops: map[string]int{}}
	db := dynamodb.NewFromConfig(env.Config, func(o *dynamodb.Options) { o.HTTPClient = c })
	if err := store.CreateTable(context.Background(), db, table); err != nil {
		t.Fatal(err)
	}
	c.reset()
	clk := testkit.NewClock(time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC))
	return &fixture{env: env, db: db, store: store.New(db, table, store.WithClock(clk.Now)), clock: clk, calls: c}
}

// calls counts the DynamoDB operations sent over HTTP, by name (PutItem, TransactWriteItems…).
type calls struct {
	next       *http.Client
	mu         sync.Mutex
	ops        map[string]int
	consistent bool // the last GetItem asked for a consistent read
}

func (c *calls) Do(r *http.Request) (*http.Response, error) {
	_, name, _ := strings.Cut(r.Header.Get("X-Amz-Target"), ".")
	c.mu.Lock()
	c.ops[name]++
	c.note(r, name)
	c.mu.Unlock()
	return c.next.Do(r)
}

func (c *calls) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ops = map[string]int{}
}

func (c *calls) count() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.ops {
		out[k] = v
	}
	return out
}

// writes sums the write requests among ops.
func writes(ops map[string]int) int {
	return ops["PutItem"] + ops["UpdateItem"] + ops["DeleteItem"] + ops["TransactWriteItems"] + ops["BatchWriteItem"]
}

func TestCreateTableSchema(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	out, err := f.db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	d := out.Table
	if d.TableStatus != types.TableStatusActive {
		t.Errorf("status = %s", d.TableStatus)
	}
	if d.BillingModeSummary == nil || d.BillingModeSummary.BillingMode != types.BillingModePayPerRequest {
		t.Errorf("billing = %+v, want PAY_PER_REQUEST", d.BillingModeSummary)
	}
	if s := d.StreamSpecification; s == nil || !aws.ToBool(s.StreamEnabled) || s.StreamViewType != types.StreamViewTypeNewAndOldImages {
		t.Errorf("stream = %+v, want NEW_AND_OLD_IMAGES", s)
	}
	keys := map[string]types.KeyType{}
	for _, k := range d.KeySchema {
		keys[aws.ToString(k.AttributeName)] = k.KeyType
	}
	if keys[store.AttrPK] != types.KeyTypeHash || keys[store.AttrSK] != types.KeyTypeRange || len(keys) != 2 {
		t.Errorf("keys = %v", keys)
	}
	ttl, err := f.db.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	if d := ttl.TimeToLiveDescription; d.TimeToLiveStatus != types.TimeToLiveStatusEnabled || aws.ToString(d.AttributeName) != store.AttrExpiresAt {
		t.Errorf("TTL = %s on %q, want ENABLED on %q", d.TimeToLiveStatus, aws.ToString(d.AttributeName), store.AttrExpiresAt)
	}
}

// TestStreamCarriesTransferWrites pins what bot-ack relies on: a transfer's writes reach the
// table's stream with its kind, status, ackStatus and transferId in the new image.
func TestStreamCarriesTransferWrites(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	_, before := create(t, f, "key-1")
	after := before
	after.Status, after.Ack.Status = handoff.StatusTransferred, handoff.AckPending
	if _, err := f.store.Update(ctx, before, after); err != nil {
		t.Fatal(err)
	}

	out, err := f.db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	streams := dynamodbstreams.NewFromConfig(f.env.Config)
	desc, err := streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: out.Table.LatestStreamArn})
	if err != nil {
		t.Fatal(err)
	}
	it, err := streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
		StreamArn: out.Table.LatestStreamArn, ShardId: desc.StreamDescription.Shards[0].ShardId,
		ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon,
	})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, r := range recs.Records {
		img := r.Dynamodb.NewImage
		if s, ok := img[store.AttrKind].(*streamtypes.AttributeValueMemberS); !ok || s.Value != store.KindTransfer {
			continue
		}
		st := img[store.AttrStatus].(*streamtypes.AttributeValueMemberS).Value
		ack := img[store.AttrAckStatus].(*streamtypes.AttributeValueMemberS).Value
		if id, _ := img[store.AttrTransferID].(*streamtypes.AttributeValueMemberS); id == nil || id.Value != before.ID {
			t.Errorf("a stream record names transfer %v, want %s", id, before.ID)
		}
		seen = append(seen, string(r.EventName)+" "+st+"/"+ack)
	}
	want := "INSERT pending/not_required MODIFY pending/not_required MODIFY transferred/pending"
	if strings.Join(seen, " ") != want {
		t.Errorf("transfer records = %q, want %q", seen, want)
	}
}

func TestStorageFailuresAreMapped(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   handoff.Code
	}{
		{"throttled", 400, `{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}`, handoff.CodeUnavailable},
		{"request limit", 400, `{"__type":"com.amazonaws.dynamodb.v20120810#RequestLimitExceeded","message":"slow down"}`, handoff.CodeUnavailable},
		{"server error", 500, `{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"oops"}`, handoff.CodeUnavailable},
		{"bad gateway", 502, `<html>bad gateway</html>`, handoff.CodeUnavailable},
		{"no table", 400, `{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"no table"}`, handoff.CodeConfiguration},
		{"invalid", 400, `{"__type":"com.amazon.coral.validate#ValidationException","message":"bad"}`, handoff.CodeInternal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := store.New(fakeDynamoDB(t, tc.status, tc.body), table)
			_, err := st.Get(context.Background(), "0123456789abcdefghjkmnpqrs")
			e := handoff.AsError(err)
			if e.Code != tc.want || e.Err == nil {
				t.Errorf("Get error = %v (code %s, cause %v), want %s with its cause", err, e.Code, e.Err, tc.want)
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		cfg := awstest.Config("http://127.0.0.1:1")
		st := store.New(dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.Retryer = aws.NopRetryer{} }), table)
		_, err := st.Get(context.Background(), "0123456789abcdefghjkmnpqrs")
		if handoff.ErrorCode(err) != handoff.CodeUnavailable || !handoff.Retryable(err) {
			t.Errorf("Get error = %v, want retryable UNAVAILABLE", err)
		}
	})
}

// fakeDynamoDB is a client of a server that answers every request with status and body, and
// never retries.
func fakeDynamoDB(t *testing.T, status int, body string) *dynamodb.Client {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return dynamodb.NewFromConfig(awstest.Config(srv.URL), func(o *dynamodb.Options) { o.Retryer = aws.NopRetryer{} })
}
