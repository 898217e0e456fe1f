package e2e_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"handoff/core/handoff"
	"handoff/core/vendors/liveperson/livepersonsandbox"
	"handoff/scripts/localstack/demo"
	"handoff/scripts/localstack/template"
)

// extraRoute is an HttpApi event added to TransferFunction in a copy of template.yaml.
const extraRoute = `        GetTransferAgain:
          Type: HttpApi
          Properties:
            ApiId: !Ref HttpApi
            Method: GET
            Path: /transfers/{id}/again
            PayloadFormatVersion: "2.0"
`

// A route added to template.yaml is served with no other change: a stack run from a copy of
// the template with one more route hands that route's requests to its function (which, not
// knowing the route, answers its own 404), where the stack of the real template has no such
// route (the gateway's 404). The copy's other routes still work.
func testRouteAddedToTheTemplate(t *testing.T, e *env) {
	const id = "0e2eroutecheck"
	plain := call(t, http.MethodGet, e.stack(t).URL+"/transfers/"+id+"/again", nil, "")
	var gatewayNotFound struct{ Message string }
	plain.decode(t, &gatewayNotFound)
	if plain.status != http.StatusNotFound || gatewayNotFound.Message != "Not Found" || plain.header.Get("Apigw-Requestid") != "" {
		t.Fatalf("the real template's stack answered %s, want the gateway's own 404", plain)
	}

	data, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const anchor = "        GetTransfer:\n"
	if strings.Count(string(data), anchor) != 1 {
		t.Fatalf("template.yaml has no single %q event to add a route beside", strings.TrimSpace(anchor))
	}
	path := filepath.Join(t.TempDir(), "template.yaml")
	if err := os.WriteFile(path, []byte(strings.Replace(string(data), anchor, extraRoute+anchor, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	tmpl, err := template.Load(path, template.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Two stacks on one table would both deliver its stream: the shared one stops first.
	e.stopShared()
	s := e.start(t, tmpl)
	defer s.Close()

	served := false
	for _, r := range s.Routes {
		served = served || r.Key == "GET /transfers/{id}/again" && r.Function == "transfer"
	}
	if !served {
		t.Errorf("routes %+v lack GET /transfers/{id}/again on transfer", s.Routes)
	}
	a := call(t, http.MethodGet, s.URL+"/transfers/"+id+"/again", nil, "")
	p := wantProblem(t, a, http.StatusNotFound, handoff.CodeNotFound)
	if !strings.Contains(p.Error.Message, "/transfers/"+id+"/again") {
		t.Errorf("the function's answer %s does not name the path it was sent", a)
	}
	if !strings.Contains(e.output.String(), "[transfer]") || !strings.Contains(e.output.String(), id+"/again") {
		t.Errorf("the transfer function logged nothing about the request:\n%s", tail(e.output, 20))
	}

	chat := "H6201348901"
	tr := wantTransfer(t, postTransfer(t, s.URL, "e2e-route-901", fmt.Sprintf(`{"tenant":"demo","vendor":"liveperson",
		"conversation":{"id":%q},"target":{"type":"skill","id":%q}}`, chat, livepersonsandbox.SkillSupportID)), http.StatusCreated)
	sameTransfer(t, getTransfer(t, s.URL, tr.ID), tr)
	if n := livePersonTransfers(demo.SandboxOf[*livepersonsandbox.Sandbox](s.Sandboxes, "liveperson"), chat); n != 1 {
		t.Errorf("LivePerson received %d transfers of %s, want 1", n, chat)
	}
}
