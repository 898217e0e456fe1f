package liveperson_test

import (
	"errors"
	"testing"

	"handoff/core/handoff"
	"handoff/core/vendors/liveperson/livepersonsandbox"
	"handoff/core/vendors/sandbox"
)

// The sandbox's fault answers must be read by the adapter as the codes they are named after, or
// the conformance suite would test a sandbox that disagrees with the adapter.
func TestSandboxFaultsReadAsNamed(t *testing.T) {
	for _, code := range livepersonsandbox.FaultCodes() {
		e := newEnv(t, livepersonsandbox.Config{}, nil)
		e.sb.Inject(sandbox.Fault{Kind: sandbox.VendorError, VendorCode: code}, 0)
		_, err := e.transfer(t, livepersonsandbox.DemoChatID, skillTarget(livepersonsandbox.SkillSupportID))
		var he *handoff.Error
		if !errors.As(err, &he) || he.VendorCode != code {
			t.Errorf("sandbox fault %s read as %v", code, err)
		}
	}
}
