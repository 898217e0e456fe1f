package pacing

import (
	"crypto/sha256"
	"encoding/hex"
)

// MessageGroup is the FIFO message group of k's queued transfers: SQS lets one batch of a group
// be in flight at a time, so a tenant's transfers to one vendor start in the order they came.
func MessageGroup(k Key) string { return k.String() }

// DeduplicationID is the FIFO deduplication id of a queued transfer with idempotency key key:
// a hash, because keys are unique only within a tenant and may hold characters SQS refuses in
// an id, and may be longer than its 128. A duplicate sent within SQS's five-minute window is
// dropped by SQS; later duplicates are caught by the idempotency record, as without a queue.
func DeduplicationID(tenant, key string) string {
	sum := sha256.Sum256([]byte(tenant + "\x00" + key))
	return hex.EncodeToString(sum[:])
}
