// Package store keeps Handoff's state in one DynamoDB table: each transfer in one item that is
// also its idempotency record and holds its timeline. A new transfer costs two writes and no
// transaction: the claim records the transfer as pending, with the target being tried and a
// deadline, before any vendor call; the completion records the outcome. Every state change is
// one conditional write, so concurrent invocations cannot undo each other and a transfer only
// moves forward.
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
//	TRANSFER#{slot} / TRANSFER   the live transfer of one tenant's idempotency key:
//	                             kind, transferId, status, ackStatus, version, tenant, vendor,
//	                             expiresAt, doc, timeline; the claim: idemKey, fingerprint,
//	                             claim, leaseOwner, leaseUntil, ambiguous, idemUntil; the
//	                             indexes: awaiting, awaitUntil, ref, refAt
//	ACCESS#{tenant} / ACCESS     a tenant's access record (access.go): kind, doc
//	TRANSFER#{slot} / T#{id}     an earlier transfer of the same key, kept read-only once the
//	                             key was used again after its window: kind, transferId, doc,
//	                             timeline, version, expiresAt
//
// The slot is the first characters of the transfer id, derived from tenant and key. A
// transfer's doc is the whole handoff.Transfer as JSON except its Version, which is version; its
// timeline is a list of handoff.Event as JSON, appended in the order things happened.

// Attribute names of the table's items. The SAM template, the stream filter of bot-ack and the
// local stack name the same attributes, so they are spelled here once.
const (
	AttrPK          = "pk"          // S, the hash key: TRANSFER#{slot}
	AttrSK          = "sk"          // S, the range key: TRANSFER or T#{id}
	AttrKind        = "kind"        // S, one of the Kind constants
	AttrStatus      = "status"      // S, the transfer's handoff.Status
	AttrAckStatus   = "ackStatus"   // S, the transfer's handoff.AckStatus
	AttrVersion     = "version"     // N, the transfer's count of stored state changes
	AttrTenant      = "tenant"      // S
	AttrVendor      = "vendor"      // S
	AttrExpiresAt   = "expiresAt"   // N, epoch seconds: the table's TTL attribute
	AttrDoc         = "doc"         // S, the handoff.Transfer as JSON
	AttrTimeline    = "timeline"    // L of S, the handoff.Events as JSON, oldest first
	AttrTransferID  = "transferId"  // S, the transfer's id
	AttrIdemKey     = "idemKey"     // S, the idempotency key the slot was derived from
	AttrFingerprint = "fingerprint" // S, the request's fingerprint
	AttrClaim       = "claim"       // S, the idempotency claim: in_progress, completed, released
	AttrLeaseOwner  = "leaseOwner"  // S, the invocation holding the claim
	AttrLeaseUntil  = "leaseUntil"  // N, epoch milliseconds: when that hold lapses
	AttrAmbiguous   = "ambiguous"   // BOOL, a released claim whose vendor call may have acted
	AttrIdemUntil   = "idemUntil"   // N, epoch seconds: the end of the key's window
	AttrAwaiting    = "awaiting"    // S, the awaiting index's partition (see awaiting)
	AttrAwaitUntil  = "awaitUntil"  // N, epoch seconds: when a scan should look at the transfer
	AttrRef         = "ref"         // S, the reference index's key: tenant, vendor, vendor's id
	AttrRefAt       = "refAt"       // N, epoch milliseconds: newest reference first
)

// IndexAwaiting is the sparse index of transfers with a deadline, by deadline, and of final
// transfers whose ack is pending.
const IndexAwaiting = "awaiting"

// IndexRef is the sparse index of transfers by the vendor's handle, scoped by tenant.
const IndexRef = "ref"

// The kinds of item, in AttrKind. The stream filter of bot-ack selects KindTransfer.
const (
	KindTransfer = "transfer"
	KindArchived = "archived"
)

// Store reads and writes Handoff's table. It is safe for concurrent use.
type Store struct {
	db          *dynamodb.Client
	table       string
	now         func() time.Time
	idemTTL     time.Duration
	transferTTL time.Duration
	// claims are the items this store's Claims wrote, by transfer id, until completed: a
	// Complete of one unchanged since writes it whole (see completeWhole).
	claims claimCache
}

// Option changes a Store's defaults.
type Option func(*Store)

// WithClock sets the clock that leases, TTLs and timestamps are read from; tests use it to make
// leases lapse without sleeping.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithIdempotencyTTL sets how long an idempotency key is remembered when the claim names no
// window (default 24h); after that the same key starts a new transfer.
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
// with both images for bot-ack, the sparse awaiting index the sweeps read, and the sparse
// reference index callbacks that name only the vendor's id read. TTL (on AttrExpiresAt) is set separately, after creation.
func CreateTableInput(name string) *dynamodb.CreateTableInput {
	return &dynamodb.CreateTableInput{
		TableName: aws.String(name),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(AttrPK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrSK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrAwaiting), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrAwaitUntil), AttributeType: types.ScalarAttributeTypeN},
			{AttributeName: aws.String(AttrRef), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrRefAt), AttributeType: types.ScalarAttributeTypeN},
		},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName: aws.String(IndexAwaiting),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(AttrAwaiting), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(AttrAwaitUntil), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}, {
			IndexName: aws.String(IndexRef),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(AttrRef), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(AttrRefAt), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
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
