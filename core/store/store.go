// Package store keeps Handoff's state in one DynamoDB table: transfers and their timelines, the
// idempotency records that make a retried request safe, and the vendor-reference index callbacks
// use. Every state change is one conditional write, so concurrent invocations cannot undo each
// other and a transfer only moves forward.
package store

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The items of the table (pk / sk: attributes):
//
//	TRANSFER#{id} / TRANSFER                    kind, status, ackStatus, version, tenant, vendor, expiresAt, doc
//	TRANSFER#{id} / EVENT#{time}#{version.seq}  kind, expiresAt, doc (a handoff.Event)
//	REF#{vendor}#{vendorRef} / REF              kind, transferId, tenant, expiresAt
//	IDEM#{tenant}#{key} / IDEM                  kind, status, fingerprint, leaseOwner, leaseUntil,
//	                                            transferId, ambiguous, result, expiresAt
//
// A transfer's doc is the whole handoff.Transfer as JSON except its Version, which is version.

// Attribute names of the table's items. The SAM template, the stream filter of bot-ack and the
// local stack name the same attributes, so they are spelled here once.
const (
	AttrPK          = "pk"          // S, the hash key: TRANSFER#{id}, REF#{vendor}#{ref}, IDEM#{tenant}#{key}
	AttrSK          = "sk"          // S, the range key: TRANSFER, EVENT#…, REF, IDEM
	AttrKind        = "kind"        // S, one of the Kind constants
	AttrStatus      = "status"      // S, a transfer's handoff.Status or an idempotency record's state
	AttrAckStatus   = "ackStatus"   // S, a transfer's handoff.AckStatus
	AttrVersion     = "version"     // N, a transfer's count of stored changes
	AttrTenant      = "tenant"      // S
	AttrVendor      = "vendor"      // S
	AttrExpiresAt   = "expiresAt"   // N, epoch seconds: the table's TTL attribute
	AttrDoc         = "doc"         // S, the handoff.Transfer or handoff.Event as JSON
	AttrTransferID  = "transferId"  // S, on references and idempotency records
	AttrFingerprint = "fingerprint" // S, the request's fingerprint on an idempotency record
	AttrLeaseOwner  = "leaseOwner"  // S, the invocation holding an idempotency record
	AttrLeaseUntil  = "leaseUntil"  // N, epoch milliseconds: when that hold lapses
	AttrAmbiguous   = "ambiguous"   // BOOL, a released claim whose vendor call may have acted
	AttrResult      = "result"      // S, the completed transfer as JSON, for duplicates
	AttrAwaiting    = "awaiting"    // S, only on transfers awaiting a callback: the awaiting index's key
	AttrAwaitUntil  = "awaitUntil"  // N, epoch seconds: when such a transfer is given up on
)

// IndexAwaiting is the sparse index of transfers awaiting a vendor's callback, by deadline.
const IndexAwaiting = "awaiting"

// The kinds of item, in AttrKind. The stream filter of bot-ack selects KindTransfer.
const (
	KindTransfer    = "transfer"
	KindEvent       = "event"
	KindRef         = "ref"
	KindIdempotency = "idempotency"
)

// Store reads and writes Handoff's table. It is safe for concurrent use.
type Store struct {
	db          *dynamodb.Client
	table       string
	now         func() time.Time
	idemTTL     time.Duration
	transferTTL time.Duration
}

// Option changes a Store's defaults.
type Option func(*Store)

// WithClock sets the clock that leases, TTLs and timestamps are read from; tests use it to make
// leases lapse without sleeping.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithIdempotencyTTL sets how long an idempotency key is remembered (default 24h); after that
// the same key starts a new transfer.
func WithIdempotencyTTL(d time.Duration) Option { return func(s *Store) { s.idemTTL = d } }

// New returns a Store on table, using db as it is. It does no I/O.
func New(db *dynamodb.Client, table string, opts ...Option) *Store {
	s := &Store{db: db, table: table, now: time.Now, idemTTL: 24 * time.Hour, transferTTL: 30 * 24 * time.Hour}
	for _, o := range opts {
		o(s)
	}
	return s
}

// CreateTableInput is the table's schema: string keys pk and sk, on-demand billing, a stream
// with both images for bot-ack, and the sparse awaiting index the sweep reads. TTL (on AttrExpiresAt) is set separately, after creation.
func CreateTableInput(name string) *dynamodb.CreateTableInput {
	return &dynamodb.CreateTableInput{
		TableName: aws.String(name),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(AttrPK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrSK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrAwaiting), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrAwaitUntil), AttributeType: types.ScalarAttributeTypeN},
		},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName: aws.String(IndexAwaiting),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(AttrAwaiting), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(AttrAwaitUntil), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(AttrPK), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(AttrSK), KeyType: types.KeyTypeRange},
		},
		BillingMode: types.BillingModePayPerRequest,
		StreamSpecification: &types.StreamSpecification{
			StreamEnabled:  aws.Bool(true),
			StreamViewType: types.StreamViewTypeNewAndOldImages,
		},
	}
}

// CreateTable creates the table, waits until it is active and turns TTL on, for tests and the
// local stack; in AWS the SAM template declares the same table.
func CreateTable(ctx context.Context, db *dynamodb.Client, name string) error {
	const op = "store.CreateTable"
	if _, err := db.CreateTable(ctx, CreateTableInput(name)); err != nil {
		return fromAWS(op, err)
	}
	waiter := dynamodb.NewTableExistsWaiter(db, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 500 * time.Millisecond
		o.MaxDelay = 5 * time.Second
	})
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 5*time.Minute); err != nil {
		return fromAWS(op, err)
	}
	_, err := db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(name),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(AttrExpiresAt),
			Enabled:       aws.Bool(true),
		},
	})
	if err != nil {
		return fromAWS(op, err)
	}
	return nil
}
