package e2e_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"handoff/core/handoff"
	"handoff/docs"
	"handoff/scripts/localstack/eventbus"
)

// client talks to the gateway as a user would. Its timeout bounds every call; nothing waits on
// a fixed sleep.
var client = &http.Client{Timeout: 30 * time.Second}

// answer is one HTTP response, read whole.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// call sends one request; header holds extra headers. A JSON body gets its Content-Type.
func call(t *testing.T, method, url string, header map[string]string, body string) answer {
	t.Helper()
	a, err := send(method, url, header, body)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// send is call for goroutines other than the test's.
func send(method, url string, header map[string]string, body string) (answer, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return answer{}, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, fmt.Errorf("%s %s: reading the body: %w", method, url, err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header, body: data}
	if err := conforms(req, body, a); err != nil {
		return a, fmt.Errorf("%s %s: not as docs/openapi.yaml describes: %w\n%s", method, url, err, a)
	}
	return a, nil
}

// apiSpec is docs/openapi.yaml; every answer of the gateway is held to it.
var apiSpec = func() *docs.Spec {
	s, err := docs.Load()
	if err != nil {
		panic(err)
	}
	return s
}()

// conforms checks one exchange against the API description: the answer always (a function's,
// or the gateway's own {"message"}), the request body when the API accepted it. The local
// stack's own routes (/_local) are not the API's; a route a test added to its own copy of the
// template is not described either, and only its answer's shape as the gateway's is checked.
func conforms(req *http.Request, body string, a answer) error {
	path := req.URL.Path
	if strings.HasPrefix(path, "/_local/") {
		return nil
	}
	err := apiSpec.ValidateResponse(req.Method, path, a.status, a.header, a.body)
	if err != nil && a.header.Get("Apigw-Requestid") != "" && strings.Contains(err.Error(), "has no operation") {
		return nil // a route only the test's template has
	}
	if err != nil {
		return err
	}
	if a.status < 300 && req.Method == http.MethodPost && path == "/transfers" {
		return apiSpec.ValidateRequest(req.Method, path, []byte(body))
	}
	return nil
}

func (a answer) String() string { return fmt.Sprintf("%d %s", a.status, a.body) }

// decode reads the body as JSON into v, refusing anything else.
func (a answer) decode(t *testing.T, v any) {
	t.Helper()
	if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, want JSON: %s", ct, a)
	}
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("body is not the JSON expected (%v): %s", err, a)
	}
}

// problem is the error body of the API: the error, and the transfer when one was recorded.
type problem struct {
	Error struct {
		Code       handoff.Code `json:"code"`
		Message    string       `json:"message"`
		Field      string       `json:"field"`
		VendorCode string       `json:"vendorCode"`
	} `json:"error"`
	Transfer *handoff.Transfer `json:"transfer"`
}

// wantProblem checks an error answer: its status, its code, and that it is the API's own JSON
// error (answered by a function, not by the gateway), with a message and no trace of a panic.
func wantProblem(t *testing.T, a answer, status int, code handoff.Code) problem {
	t.Helper()
	var p problem
	a.decode(t, &p)
	if a.status != status || p.Error.Code != code {
		t.Fatalf("answer %s, want %d %s", a, status, code)
	}
	if p.Error.Message == "" || a.header.Get("Apigw-Requestid") == "" {
		t.Errorf("not an error of the API (no message, or answered by the gateway itself): %s", a)
	}
	for _, leak := range []string{"goroutine ", "panic", ".go:"} {
		if strings.Contains(string(a.body), leak) {
			t.Errorf("error body holds %q: %s", leak, a)
		}
	}
	return p
}

// postTransfer POSTs a transfer request with an Idempotency-Key (none when key is "").
func postTransfer(t *testing.T, base, key, body string) answer {
	t.Helper()
	header := map[string]string{}
	if key != "" {
		header["Idempotency-Key"] = key
	}
	return call(t, http.MethodPost, base+"/transfers", header, body)
}

// wantTransfer checks a 201/202 answer and returns the transfer in it.
func wantTransfer(t *testing.T, a answer, status int) handoff.Transfer {
	t.Helper()
	var tr handoff.Transfer
	a.decode(t, &tr)
	if a.status != status || tr.ID == "" {
		t.Fatalf("answer %s, want %d with a transfer", a, status)
	}
	if loc := a.header.Get("Location"); loc != "/transfers/"+tr.ID {
		t.Errorf("Location %q, want /transfers/%s", loc, tr.ID)
	}
	return tr
}

// getTransfer is GET /transfers/{id}, which must answer 200.
func getTransfer(t *testing.T, base, id string) handoff.Transfer {
	t.Helper()
	a := call(t, http.MethodGet, base+"/transfers/"+id, nil, "")
	var tr handoff.Transfer
	a.decode(t, &tr)
	if a.status != http.StatusOK || tr.ID != id {
		t.Fatalf("GET /transfers/%s = %s", id, a)
	}
	return tr
}

// deadline bounds every wait for something asynchronous: a callback, an ack, an event.
const deadline = 20 * time.Second

// eventually polls check until it reports done, failing the test with its last word after
// the deadline. It is a bound, not a timing: done is usually seen within milliseconds.
func eventually(t *testing.T, what string, check func() (done bool, state string)) {
	t.Helper()
	var state string
	for end := time.Now().Add(deadline); ; time.Sleep(20 * time.Millisecond) {
		var done bool
		if done, state = check(); done {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("after %s, still not %s; last seen: %s", deadline, what, state)
		}
	}
}

// awaitTransfer polls GET /transfers/{id} until ok holds, and returns that transfer.
func awaitTransfer(t *testing.T, base, id, what string, ok func(handoff.Transfer) bool) handoff.Transfer {
	t.Helper()
	var tr handoff.Transfer
	eventually(t, what, func() (bool, string) {
		tr = getTransfer(t, base, id)
		return ok(tr), fmt.Sprintf("%+v", tr)
	})
	return tr
}

// final is a transfer whose outcome is settled, its bot told (or not to be told) and its
// outcome published: bot-ack has nothing left to do for it.
func final(want handoff.Status, ack handoff.AckStatus) func(handoff.Transfer) bool {
	return func(tr handoff.Transfer) bool {
		return tr.Status == want && tr.Ack.Status == ack && tr.NotifiedAt != nil
	}
}

// events is GET /_local/events: every event the local EventBridge took, with its deliveries.
func events(t *testing.T, base string) []eventbus.Published {
	t.Helper()
	var list struct {
		Events []eventbus.Published `json:"events"`
	}
	call(t, http.MethodGet, base+"/_local/events", nil, "").decode(t, &list)
	return list.Events
}

// outcomeEvents are the events of this detail-type published by handoff about transfer id.
func outcomeEvents(t *testing.T, base, detailType, id string) []handoff.Transfer {
	t.Helper()
	var out []handoff.Transfer
	for _, e := range events(t, base) {
		var tr handoff.Transfer
		if e.DetailType != detailType || json.Unmarshal(e.Detail, &tr) != nil || tr.ID != id {
			continue
		}
		if err := apiSpec.ValidateEvent(docs.TransferOutcomeSchema, e.Detail); err != nil {
			t.Errorf("%s about %s does not match docs/schemas: %v\n%s", detailType, id, err, e.Detail)
		}
		if e.Source != "handoff" {
			t.Errorf("%s about %s has source %q, want handoff", detailType, id, e.Source)
		}
		out = append(out, tr)
	}
	return out
}

// awaitPublished waits until handoff published one event of this detail-type about the
// transfer, checks it is the only one and says the transfer's final status, and returns it.
func awaitPublished(t *testing.T, base, detailType string, tr handoff.Transfer) handoff.Transfer {
	t.Helper()
	eventually(t, "published as "+detailType, func() (bool, string) {
		n := len(outcomeEvents(t, base, detailType, tr.ID))
		return n > 0, fmt.Sprintf("%d events", n)
	})
	got := outcomeEvents(t, base, detailType, tr.ID)
	if len(got) != 1 {
		t.Errorf("%d %s events about %s, want 1", len(got), detailType, tr.ID)
	}
	if got[0].Status != tr.Status || got[0].Tenant != tr.Tenant || got[0].Conversation != tr.Conversation {
		t.Errorf("%s detail = %+v, want the transfer %+v", detailType, got[0], tr)
	}
	other := "Transfer Failed"
	if detailType == other {
		other = "Transfer Succeeded"
	}
	if n := len(outcomeEvents(t, base, other, tr.ID)); n != 0 {
		t.Errorf("%d %s events about %s as well", n, other, tr.ID)
	}
	return got[0]
}
