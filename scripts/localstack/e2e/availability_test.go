package e2e_test

import (
	"net/http"
	"testing"

	"handoff/core/vendors/liveperson/livepersonsandbox"
)

// Availability, as the banner's first example asks it: the demo tenant's LivePerson skills that
// can take a chat the bot holds, read through skill-check with the tenant's own credentials.
func testAvailability(t *testing.T, e *env) {
	s := e.stack(t)
	a := call(t, http.MethodGet, s.URL+"/availability?tenant=demo&vendor=liveperson&conversationId="+livepersonsandbox.DemoChatID, nil, "")
	if a.status != http.StatusOK {
		t.Fatalf("GET /availability = %s", a)
	}
	var got struct {
		Targets []struct {
			Type, ID  string
			Available bool
		}
	}
	a.decode(t, &got)
	found := false
	for _, target := range got.Targets {
		found = found || (target.Type == "skill" && target.ID == livepersonsandbox.SkillSupportID)
	}
	if !found {
		t.Errorf("the sandbox's support skill %s is not among the targets: %s", livepersonsandbox.SkillSupportID, a)
	}
}
