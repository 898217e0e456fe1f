package livepersonsandbox

// The vendor codes the sandbox's VendorError faults are named by: the adapter's names for the
// statuses LivePerson answers (docs/vendors/liveperson.md), which its conformance test maps.
const (
	CodeBadRequest  = "BAD_REQUEST"
	CodeRejected    = "REJECTED"
	CodeForbidden   = "FORBIDDEN"
	CodeChatNotHeld = "CHAT_NOT_HELD"
)

// FaultCodes lists the vendor codes a VendorError fault plays, for the adapter's tests to check
// that each maps to the code it is named after.
func FaultCodes() []string {
	return []string{CodeBadRequest, CodeRejected, CodeForbidden, CodeChatNotHeld}
}
