package proof_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"handoff/core/handoff"
	"handoff/core/vendors/bitrix24/bitrix24sandbox"
	"handoff/core/vendors/koreai/koreaisandbox"
	"handoff/core/vendors/salesforce/salesforcesandbox"
)

// eventsRequest is an HTTP API request as the handlers receive it.
type eventsRequest = events.APIGatewayV2HTTPRequest

// hostile is one request nobody legitimate sends, and the status it must get.
type hostile struct {
	name string
	want int
	// send builds the request and names the handler that takes it.
	send func(w *world) (httpHandler, events.APIGatewayV2HTTPRequest)
	// replay marks the replay of a callback already applied: a 2xx no-op is its right answer.
	replay bool
}

// world is the stack with transfers in it for hostile requests to aim at: a Kore.ai transfer
// awaiting its callback, one Kore already reported transferred, and a Bitrix24 transfer.
type world struct {
	*stack
	pending, reported url.Values // the callback queries Kore was given for each
}

const (
	validPost = `{"tenant": "acme", "vendor": "bitrix24", "conversation": {"id": "113"},
		"target": {"type": "agent", "id": "12"}, "note": "Refund."}`
	koreSecond = "653a06c9aae89c5fbb4e0002"
)

// appToken is the application token the Bitrix24 sandbox's events carry.
var appToken = func() string {
	var m map[string]string
	_ = json.Unmarshal(bitrix24sandbox.DemoWebhookSecret("http://127.0.0.1:1"), &m)
	return m["applicationToken"]
}()

func newWorld(t *testing.T) *world {
	s := newStack(t)
	w := &world{stack: s}
	kore := func(key, conversation string) url.Values {
		body := strings.Replace(vendorCases[2].body, koreaisandbox.ConversationID, conversation, 1)
		return s.koreCallbackQuery(s.post(key, body, invocation).want(t, http.StatusAccepted, "").Transfer.ID)
	}
	w.pending = kore("hk-1", koreaisandbox.ConversationID)
	w.reported = kore("hk-2", koreSecond)
	w.koreCallback(w.reported.Get("transfer"), "transferred").want(t, http.StatusOK, "")
	b24 := `{"tenant": "acme", "vendor": "bitrix24", "conversation": {"id": "112"}, "target": {"type": "agent", "id": "12"}, ` +
		sfBot(salesforcesandbox.DemoSessionID) + `}`
	s.post("hk-3", b24, invocation).want(t, http.StatusCreated, "")
	return w
}

// TestHostileInput sends every handler requests no legitimate caller sends and checks each
// gets a 4xx JSON error — never a 5xx, a stack trace, a credential or its own input echoed at
// length — and leaves the table exactly as it was, with no vendor called.
func TestHostileInput(t *testing.T) {
	if appToken == "" {
		t.Fatal("the Bitrix24 demo secret holds no applicationToken to forge events around")
	}
	w := newWorld(t)
	secrets := w.credentials()
	for _, h := range hostileRequests() {
		t.Run(h.name, func(t *testing.T) {
			before, calls := w.snapshot(), w.vendorCalls()
			handler, req := h.send(w)
			resp, err := handler.HTTP(w.ctx(invocation), req)
			if err != nil {
				t.Fatalf("handler error instead of an answer: %v", err)
			}
			checkRefusal(t, h, resp, secrets)
			if got := w.snapshot(); got != before {
				t.Fatalf("the table changed:\n%s", diffLines(before, got))
			}
			if got := w.vendorCalls(); got != calls {
				t.Fatalf("a vendor was called: %v, before %v", got, calls)
			}
		})
	}
}

func checkRefusal(t *testing.T, h hostile, resp events.APIGatewayV2HTTPResponse, secrets []string) {
	t.Helper()
	var body struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if resp.Headers["Content-Type"] != "application/json" || json.Unmarshal([]byte(resp.Body), &body) != nil {
		t.Fatalf("answer %d is not JSON: %.300q", resp.StatusCode, resp.Body)
	}
	switch {
	case h.replay && resp.StatusCode == http.StatusOK:
	case resp.StatusCode != h.want:
		t.Fatalf("answer %d, want %d: %.300s", resp.StatusCode, h.want, resp.Body)
	case body.Error == nil || body.Error.Code == "" || body.Error.Message == "":
		t.Fatalf("a %d without an error code and message: %.300s", resp.StatusCode, resp.Body)
	}
	if len(resp.Body) > 1024 {
		t.Errorf("an answer of %d bytes: input echoed?", len(resp.Body))
	}
	for _, trace := range []string{"goroutine ", ".go:", "panic", "runtime."} {
		if strings.Contains(resp.Body, trace) {
			t.Errorf("the answer holds %q: %s", trace, resp.Body)
		}
	}
	for _, c := range secrets {
		if strings.Contains(resp.Body, c) {
			t.Errorf("the answer holds a credential: %s", resp.Body)
		}
	}
}

// vendorCalls are the job calls every vendor sandbox received so far.
func (w *world) vendorCalls() [3]int {
	b, _ := w.b24.jobs()
	l, _ := w.lp.jobs()
	k, _ := w.kore.jobs()
	return [3]int{b, l, k}
}

// post, get, callback and avail build requests for one handler each.
func post(body string, headers ...string) func(*world) (httpHandler, events.APIGatewayV2HTTPRequest) {
	return func(w *world) (httpHandler, events.APIGatewayV2HTTPRequest) {
		h := map[string]string{}
		for i := 0; i+1 < len(headers); i += 2 {
			h[headers[i]] = headers[i+1]
		}
		return w.transfer, httpEvent(http.MethodPost, "POST /transfers", "/transfers", "", body, h)
	}
}

func postB64(body string) func(*world) (httpHandler, events.APIGatewayV2HTTPRequest) {
	return func(w *world) (httpHandler, events.APIGatewayV2HTTPRequest) {
		req := httpEvent(http.MethodPost, "POST /transfers", "/transfers", "", body, nil)
		req.IsBase64Encoded = true
		return w.transfer, req
	}
}

func get(id string) func(*world) (httpHandler, events.APIGatewayV2HTTPRequest) {
	return func(w *world) (httpHandler, events.APIGatewayV2HTTPRequest) {
		req := httpEvent(http.MethodGet, "GET /transfers/{id}", "/transfers/"+url.PathEscape(id), "", "", nil)
		req.PathParameters = map[string]string{"id": id}
		return w.transfer, req
	}
}

func callback(vendor string, query func(*world) string, body string, headers ...string) func(*world) (httpHandler, events.APIGatewayV2HTTPRequest) {
	return func(w *world) (httpHandler, events.APIGatewayV2HTTPRequest) {
		h := map[string]string{}
		for i := 0; i+1 < len(headers); i += 2 {
			h[headers[i]] = headers[i+1]
		}
		req := httpEvent(http.MethodPost, "POST /callbacks/{vendor}", "/callbacks/"+url.PathEscape(vendor), query(w), body, h)
		req.PathParameters = map[string]string{"vendor": vendor}
		return w.callback, req
	}
}

func avail(query string) func(*world) (httpHandler, events.APIGatewayV2HTTPRequest) {
	return func(w *world) (httpHandler, events.APIGatewayV2HTTPRequest) {
		return w.availability, httpEvent(http.MethodGet, "GET /availability", "/availability", query, "", nil)
	}
}

// with returns validPost with one field set to raw JSON (or removed when raw is "").
func with(field, raw string) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(validPost), &m); err != nil {
		panic(err)
	}
	if raw == "" {
		delete(m, field)
	} else {
		m[field] = json.RawMessage(raw)
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// kq builds a Kore callback query from the pending transfer's, edited.
func kq(edit func(q url.Values, w *world)) func(*world) string {
	return func(w *world) string {
		q := url.Values{}
		for k, v := range w.pending {
			q[k] = append([]string(nil), v...)
		}
		edit(q, w)
		return q.Encode()
	}
}

func raw(q string) func(*world) string { return func(*world) string { return q } }

const form = "application/x-www-form-urlencoded"

// b24Event is a Bitrix24 message event about chat 112 with the given application token.
func b24Event(token string) string {
	return "event=ONIMBOTMESSAGEADD&data%5BPARAMS%5D%5BCHAT_ID%5D=112&data%5BPARAMS%5D%5BMESSAGE%5D=hi" +
		"&ts=1700000000&auth%5Bdomain%5D=acme.bitrix24.com&auth%5Bapplication_token%5D=" + url.QueryEscape(token)
}

// koreBody is what Kore posts about the pending transfer.
var koreBody = `{"sessionId": "` + koreaisandbox.ConversationID + `", "agentId": "` + koreaisandbox.AgentID + `", "status": "transferred"}`

// diffLines lists the items one snapshot has and the other lacks, shortened.
func diffLines(before, after string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	b, a := in(before), in(after)
	var out []string
	for l := range a {
		if !b[l] {
			out = append(out, fmt.Sprintf("+ %.200s", l))
		}
	}
	for l := range b {
		if !a[l] {
			out = append(out, fmt.Sprintf("- %.200s", l))
		}
	}
	return strings.Join(out, "\n")
}

// TestKoreContraryWordAfterTheOutcome: Kore's valid token for a transfer it already reported
// transferred, replayed with another status word. Kore documents only "transferred", so any
// other word is information, never an outcome (a guessed "failed" must not move a transfer the
// agent may have taken): the answer is 200 with the transfer still transferred, its status,
// attempts, error and ack unchanged, no vendor called, the bot not told again and nothing
// published again. The word is noted once in the timeline, and that is all that changes.
func TestKoreContraryWordAfterTheOutcome(t *testing.T) {
	w := newWorld(t)
	id := w.reported.Get("transfer")
	w.settle() // the outcome acked and published, as it would be by now
	before, calls := w.stored(id), w.vendorCalls()
	timeline, err := w.store.Timeline(w.ctx(invocation), id)
	if err != nil {
		t.Fatal(err)
	}
	snap := w.snapshot()

	got := w.postCallback("koreai", w.reported.Encode(), koreBodyFor(koreSecond, "failed"), nil).want(t, http.StatusOK, "")
	if got.Transfer.ID != id || got.Transfer.Status != handoff.StatusTransferred {
		t.Fatalf("answered %+v, want transfer %s still transferred", got.Transfer, id)
	}
	after := w.stored(id)
	if after.Status != handoff.StatusTransferred || !reflect.DeepEqual(after.Attempts, before.Attempts) ||
		!reflect.DeepEqual(after.Error, before.Error) || !reflect.DeepEqual(after.Ack, before.Ack) ||
		!timeEqual(after.AwaitUntil, before.AwaitUntil) || !timeEqual(after.NotifiedAt, before.NotifiedAt) {
		t.Fatalf("the transfer changed:\nbefore %+v\nafter  %+v", before, after)
	}
	if got := w.vendorCalls(); got != calls {
		t.Fatalf("a vendor was called: %v, before %v", got, calls)
	}
	now, err := w.store.Timeline(w.ctx(invocation), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(now) != len(timeline)+1 {
		t.Fatalf("timeline %d events, was %d: want the word noted once", len(now), len(timeline))
	}
	if note := now[len(now)-1]; note.Kind != "callback" || note.Status != "" || !strings.Contains(note.Detail, "failed") {
		t.Fatalf("the last event is %+v, want a callback note naming the word and no status", note)
	}
	if a, b := others(snap, id), others(w.snapshot(), id); a != b { // its own items: the note, its updatedAt
		t.Fatalf("items of something else changed:\n%s", diffLines(a, b))
	}
	w.settle() // bot-ack sees the record again: no second ack, no second publish
}

// others is a snapshot without the items of transfer id.
func others(snapshot, id string) string {
	var keep []string
	for _, l := range strings.Split(snapshot, "\n") {
		if !strings.Contains(l, id) {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

func timeEqual(a, b *time.Time) bool {
	return a == nil && b == nil || a != nil && b != nil && a.Equal(*b)
}
