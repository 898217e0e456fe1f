package handoff

import "time"

// Claim asks for the right to run one idempotent request. Whoever holds the lease does the work;
// everyone else gets the stored result, IN_PROGRESS, or IDEMPOTENCY_KEY_REUSED.
type Claim struct {
	Tenant      string
	Key         string
	Fingerprint string
	// Owner is unique per invocation; completion and release are conditioned on it, so a caller
	// whose lease lapsed can never overwrite the one that took over.
	Owner string
	// LeaseUntil is the invocation's deadline: the lease lapses then and may be reclaimed.
	LeaseUntil time.Time
	// TransferID is the id proposed for a new transfer; the store may derive the id it keeps
	// from it (ClaimResult.TransferID is the one to use).
	TransferID string
	// Window is how long the key is remembered; zero means the store's default. Keys derived
	// from the body get a short one, explicit keys the full one.
	Window time.Duration
}

// ClaimResult is what a won or lost claim found.
type ClaimResult struct {
	// TransferID is the id to use; an earlier lapsed or released claim's id is kept, so callback
	// URLs already handed to a vendor stay valid.
	TransferID string
	// Reclaimed is set when an earlier attempt may already have reached the vendor.
	Reclaimed bool
	// Completed holds the stored result when the key was already completed; the claim is lost
	// and there is nothing left to do.
	Completed *Transfer
	// Stored is the pending record an earlier, unfinished attempt left (with Reclaimed): its
	// attempts so far, and so the target whose outcome is in doubt.
	Stored *Transfer
	// Version is the stored version of the won claim's record.
	Version int64
}

// Ref is the vendor's handle for a transfer, indexed so callbacks that name only the vendor's
// conversation or session id find the transfer.
type Ref struct {
	Vendor    string
	VendorRef string
}
