package handler_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"handoff/core/handler"
	"handoff/core/handoff"
)

// The fuzz targets feed each trigger's decoder what Lambda could hand it, over fake use cases
// that always succeed: whatever the input, the handler answers (never panics), every HTTP answer
// is a JSON object with a status a client can act on and no 5xx of its own making, and what
// reaches a use case is what its decoder promised (a valid request, a valid tenant…).

// seedEvents adds every sample event of /events, and those with their body swapped for the
// other samples' bodies.
func seedEvents(f *testing.F) [][]byte {
	paths, _ := filepath.Glob(filepath.Join("..", "..", "events", "*.json"))
	var all [][]byte
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			all = append(all, b)
		}
	}
	if len(all) == 0 {
		f.Fatal("no sample events in /events to seed from")
	}
	return all
}

// checkAnswer holds an HTTP answer to what every handler promises.
func checkAnswer(t *testing.T, resp events.APIGatewayV2HTTPResponse) {
	t.Helper()
	var body map[string]json.RawMessage
	if resp.Headers["Content-Type"] != "application/json" || json.Unmarshal([]byte(resp.Body), &body) != nil {
		t.Fatalf("answer %d is not a JSON object: %.200q", resp.StatusCode, resp.Body)
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 500 {
		t.Fatalf("answer %d to input alone: %.200s", resp.StatusCode, resp.Body)
	}
	if resp.StatusCode >= 400 {
		var p struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		_ = json.Unmarshal([]byte(resp.Body), &p)
		if p.Error.Code == "" || p.Error.Message == "" {
			t.Fatalf("error %d without code and message: %.200s", resp.StatusCode, resp.Body)
		}
	}
}

// checkStarted holds what reached Start: only requests that validate.
func checkStarted(t *testing.T, svc *fakeTransfers) {
	t.Helper()
	for _, in := range svc.started() {
		if err := in.Request.Validate(); err != nil {
			t.Fatalf("Start got a request that does not validate: %v", err)
		}
	}
}

// FuzzInvoke: any payload at the transfer function's entry point (HTTP API, EventBridge or an
// SQS batch, whole or broken).
func FuzzInvoke(f *testing.F) {
	for _, ev := range seedEvents(f) {
		f.Add(ev)
	}
	f.Add([]byte(`{"version":"2.0","routeKey":"POST /transfers","body":"[","isBase64Encoded":true}`))
	f.Add([]byte(`{"detail-type":"Escalation Requested","detail":"x","time":"yesterday"}`))
	f.Add([]byte(`{"detail-type":"Scheduled Event"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		svc := &fakeTransfers{}
		out, err := handler.NewTransfer(svc, allowAll{}, quiet, "https://api.example.com").Invoke(context.Background(), payload)
		if resp, ok := out.(events.APIGatewayV2HTTPResponse); ok {
			checkAnswer(t, resp)
			if err != nil {
				t.Fatalf("an HTTP answer with an error: %v", err)
			}
		} else if _, ok := out.(events.SQSEventResponse); !ok && out != nil {
			t.Fatalf("answer of type %T", out)
		}
		if err != nil && handoff.Retryable(err) {
			t.Fatalf("input alone made a retryable error: %v", err)
		}
		checkStarted(t, svc)
	})
}

// FuzzTransferPost: any body, plain or base64, with any Idempotency-Key, on POST /transfers.
func FuzzTransferPost(f *testing.F) {
	for _, ev := range seedEvents(f) {
		var req events.APIGatewayV2HTTPRequest
		if json.Unmarshal(ev, &req) == nil && req.Body != "" {
			f.Add([]byte(req.Body), false, "k-1")
			f.Add([]byte(base64.StdEncoding.EncodeToString([]byte(req.Body))), true, "")
		}
		var eb events.EventBridgeEvent
		if json.Unmarshal(ev, &eb) == nil && len(eb.Detail) > 0 {
			f.Add([]byte(eb.Detail), false, "k\x00")
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, isBase64 bool, key string) {
		svc := &fakeTransfers{}
		req := httpReq("POST", "POST /transfers", "/transfers", string(body))
		req.IsBase64Encoded = isBase64
		if key != "" {
			req.Headers["idempotency-key"] = key
		}
		resp := call(t, handler.NewTransfer(svc, allowAll{}, quiet, ""), req)
		checkAnswer(t, resp)
		started := svc.started()
		if (resp.StatusCode == 201) != (len(started) == 1) {
			t.Fatalf("answer %d after %d calls to Start", resp.StatusCode, len(started))
		}
		checkStarted(t, svc)
		if len(started) == 1 && (started[0].Key != key || key != "" && handoff.ValidateKey("key", key) != nil) {
			t.Fatalf("Start got key %q, the header said %q", started[0].Key, key)
		}
	})
}

// FuzzEscalation: any detail and event id in an Escalation Requested event.
func FuzzEscalation(f *testing.F) {
	for _, ev := range seedEvents(f) {
		var eb events.EventBridgeEvent
		if json.Unmarshal(ev, &eb) == nil && len(eb.Detail) > 0 {
			f.Add([]byte(eb.Detail), eb.ID)
		}
		var req events.APIGatewayV2HTTPRequest
		if json.Unmarshal(ev, &req) == nil && req.Body != "" {
			f.Add([]byte(req.Body), "")
		}
	}
	f.Fuzz(func(t *testing.T, detail []byte, id string) {
		svc := &fakeTransfers{}
		ev := events.EventBridgeEvent{ID: id, DetailType: handler.EscalationDetailType, Detail: detail}
		err := handler.NewTransfer(svc, allowAll{}, quiet, "").Escalation(context.Background(), ev)
		if err != nil && (!handler.IsDeadLetter(err) || handoff.Retryable(err)) {
			t.Fatalf("input alone made an error other than a dead letter: %v", err)
		}
		if err != nil && len(svc.started()) > 0 {
			t.Fatalf("dead-lettered after Start: %v", err)
		}
		checkStarted(t, svc)
		for _, in := range svc.started() {
			if in.Key != id {
				t.Fatalf("Start got key %q, the event id is %q", in.Key, id)
			}
		}
	})
}

// FuzzCallback: any vendor, query, body and content type on POST /callbacks/{vendor}.
func FuzzCallback(f *testing.F) {
	for _, ev := range seedEvents(f) {
		var req events.APIGatewayV2HTTPRequest
		if json.Unmarshal(ev, &req) == nil && strings.HasPrefix(req.RouteKey, "POST /callbacks") {
			f.Add(req.PathParameters["vendor"], req.RawQueryString, []byte(req.Body), req.Headers["content-type"])
		}
	}
	f.Add("bitrix24", "tenant=demo&tenant=x", []byte("event=x"), "application/x-www-form-urlencoded")
	f.Add("../koreai", "tenant=%zz", []byte("{}"), "")
	f.Fuzz(func(t *testing.T, vendor, query string, body []byte, contentType string) {
		svc := &fakeCallbacks{}
		req := httpReq("POST", "POST /callbacks/{vendor}", "/callbacks/"+url.PathEscape(vendor), string(body))
		req.PathParameters = map[string]string{"vendor": vendor}
		req.RawQueryString = query
		req.Headers["content-type"] = contentType
		checkAnswer(t, call(t, handler.NewCallback(svc, quiet), req))
		for _, c := range svc.calls {
			q, err := url.ParseQuery(query)
			if c.vendor != vendor || handoff.ValidateVendor("vendor", vendor) != nil || err != nil ||
				len(q["tenant"]) != 1 || c.req.Tenant != q.Get("tenant") || handoff.ValidateTenant("tenant", c.req.Tenant) != nil {
				t.Fatalf("a callback reached the use case for vendor %q, tenant %q from query %q", c.vendor, c.req.Tenant, query)
			}
			if string(c.req.Body) != string(body) {
				t.Fatal("the use case got another body than was sent")
			}
		}
	})
}

// FuzzAvailability: any query string on GET /availability.
func FuzzAvailability(f *testing.F) {
	for _, ev := range seedEvents(f) {
		var req events.APIGatewayV2HTTPRequest
		if json.Unmarshal(ev, &req) == nil && req.RouteKey == "GET /availability" {
			f.Add(req.RawQueryString)
		}
	}
	f.Add("tenant=demo&vendor=liveperson&target=skill:2&target=agent:6&target=next")
	f.Add("tenant=demo&tenant=demo&target=%00")
	f.Fuzz(func(t *testing.T, query string) {
		svc := &fakeAvailability{}
		req := httpReq("GET", "GET /availability", "/availability", "")
		req.RawQueryString = query
		checkAnswer(t, call(t, handler.NewAvailability(svc, allowAll{}, quiet), req))
		for _, q := range svc.queries {
			parsed, _ := url.ParseQuery(query)
			if len(parsed["tenant"]) > 1 || len(parsed["vendor"]) > 1 || len(parsed["conversationId"]) > 1 {
				t.Fatalf("a repeated parameter reached the use case: %q", query)
			}
			if len(q.Targets) != len(parsed["target"]) {
				t.Fatalf("%d targets asked, %d passed on", len(parsed["target"]), len(q.Targets))
			}
		}
	})
}

// FuzzStreamBatch: any stream batch (DynamoDB event JSON) to bot-ack, over a notifier that fails
// for some transfers: Batch never fails as a whole, notifies each transfer once per batch, and
// reports for retry exactly the records of the transfers that failed.
func FuzzStreamBatch(f *testing.F) {
	for _, ev := range seedEvents(f) {
		var batch events.DynamoDBEvent
		if json.Unmarshal(ev, &batch) == nil && len(batch.Records) > 0 {
			f.Add(ev)
		}
	}
	f.Add([]byte(`{"Records":[{"dynamodb":{"Keys":{"pk":{"S":"TRANSFER#a"}},"SequenceNumber":"1"}},` +
		`{"dynamodb":{"Keys":{"pk":{"S":"TRANSFER#fail"}},"SequenceNumber":"2"}},{"dynamodb":{"Keys":{"pk":{"N":"1"}}}}]}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		var batch events.DynamoDBEvent
		if json.Unmarshal(payload, &batch) != nil {
			return
		}
		n := &fakeNotifier{fail: map[string]error{"fail": handoff.E(handoff.CodeUnavailable, "fake", "down", nil)}}
		resp, err := handler.NewStream(n, quiet).Batch(context.Background(), batch)
		if err != nil {
			t.Fatalf("Batch failed as a whole: %v", err)
		}
		want := map[string]int{} // sequence number → records of failed transfers with it
		for _, rec := range batch.Records {
			pk, ok := rec.Change.Keys["pk"]
			if !ok || pk.DataType() != events.DataTypeString || !strings.HasPrefix(pk.String(), "TRANSFER#") {
				continue
			}
			id := strings.TrimPrefix(pk.String(), "TRANSFER#")
			if id == "" {
				continue
			}
			if n.calls[id] != 1 {
				t.Fatalf("transfer %q notified %d times in one batch", id, n.calls[id])
			}
			if id == "fail" {
				want[rec.Change.SequenceNumber]++
			}
		}
		got := map[string]int{}
		for _, fail := range resp.BatchItemFailures {
			got[fail.ItemIdentifier]++
		}
		if len(got) != len(want) {
			t.Fatalf("records to retry %v, want %v", got, want)
		}
		for seq, k := range want {
			if got[seq] != k {
				t.Fatalf("records to retry %v, want %v", got, want)
			}
		}
		for id := range n.calls {
			if id == "" {
				t.Fatal("notified a transfer without an id")
			}
		}
	})
}
