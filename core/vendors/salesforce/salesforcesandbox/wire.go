package salesforcesandbox

import "time"

// Salesforce's names on the wire (docs/vendors/salesforce.md), the sandbox's own: an adapter
// that misspells one fails against the sandbox instead of agreeing with itself.
const (
	// jwtBearerGrant is the grant type of the OAuth 2.0 JWT bearer flow (RFC 7523).
	jwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	// audienceLogin is the assertion's audience for production orgs.
	audienceLogin = "https://login.salesforce.com"

	headerOrgID      = "X-Org-Id"
	headerRequestID  = "X-Request-ID"
	headerRuntimeCRC = "X-Runtime-CRC"
	headerEndReason  = "X-Session-End-Reason"

	typeTransferSucceeded  = "transferSucceeded"
	typeTransferFailed     = "transferFailed"
	reasonNoAgentAvailable = "NoAgentAvailable"
	reasonError            = "Error"
)

// assertionLifetime is how far away an assertion's exp may be: Salesforce takes one that
// expires within about 3 minutes (the exact bound is [I]).
const assertionLifetime = 3 * time.Minute
