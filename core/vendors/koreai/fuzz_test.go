package koreai_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/koreai"
	"handoff/core/vendors/koreai/koreaisandbox"
	"handoff/core/vendors/rest"
)

// The fuzz targets put Kore.ai's answers — to assign-conversation and to agents/availability —
// in the fuzzer's hands, in process: no sockets, and no Retry-After is ever waited for.

// fuzzKore answers every call with the fuzzed status (mapped into 100-599), Retry-After and
// body, and counts the calls.
type fuzzKore struct {
	status int
	header http.Header
	body   []byte
	calls  int
}

func (f *fuzzKore) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		defer r.Body.Close()
	}
	f.calls++
	return &http.Response{StatusCode: f.status, Header: f.header.Clone(), Body: io.NopCloser(bytes.NewReader(f.body)), Request: r}, nil
}

// fuzzAdapter is an adapter whose every call gets the fuzzed answer.
func fuzzAdapter(status uint16, retryAfter string, body []byte) (*koreai.Adapter, *fuzzKore, []byte) {
	k := &fuzzKore{status: 100 + int(status)%500, header: http.Header{"Content-Type": {"application/json"}}, body: body}
	if retryAfter != "" {
		k.header.Set("Retry-After", retryAfter)
	}
	hc := &http.Client{Transport: k, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	secret := koreaisandbox.DemoSecret("http://127.0.0.1:1")
	return koreai.New(vendors.Deps{Secrets: newSecrets(secret), HTTP: rest.New(hc, rest.WithBackoff(0), rest.WithMaxWait(0)),
		Log: discard(), Now: time.Now}), k, secret
}

// checkError holds an error to the contract: one of ours, coded, a bounded wait and vendor code,
// no credential and none of the vendor's own text.
func checkError(t *testing.T, err error, secret []byte) {
	t.Helper()
	var e *handoff.Error
	if !errors.As(err, &e) || e.Code == handoff.CodeInternal || e.Code == "" {
		t.Fatalf("error %v is not a coded *handoff.Error", err)
	}
	if e.RetryAfter < 0 || e.RetryAfter > time.Hour || len(e.VendorCode) > 64 {
		t.Fatalf("error %+v: wait or vendor code out of bounds", e)
	}
	for _, field := range []string{"clientSecret", "callbackSecret"} {
		if strings.Contains(err.Error(), mustField(t, secret, field)) {
			t.Fatalf("%s reached the error: %v", field, err)
		}
	}
}

// FuzzAssignAnswer: any answer to assign-conversation. A 2xx is never final (the callback tells),
// a refusal names the target's fate, and the transfer is re-sent only when Kore refused it
// before acting (rate limit, rejected credentials).
func FuzzAssignAnswer(f *testing.F) {
	f.Add(uint16(100), "", []byte(`{"sessionId":"653a06c9aae89c5fbb4e0001","agentId":"a-1","status":"transferred","requestCompletedAt":1}`))
	f.Add(uint16(100), "", []byte(`{"status":"Not Transferred"}`))
	f.Add(uint16(100), "", []byte(`[]`))
	f.Add(uint16(309), "", []byte(`{"errors":[{"msg":"Conversation is already assigned to an agent","code":"ALREADY_ASSIGNED"}]}`))
	f.Add(uint16(309), "", []byte(`{"errors":[{"msg":"Agent is not available","code":"AGENT_NOT_AVAILABLE"}]}`))
	f.Add(uint16(329), "60", []byte(`{"errors":[{"msg":"You've exceeded the per-minute rate limit. Please try again later."}]}`))
	f.Add(uint16(301), "", []byte(`{"errors":[{"msg":"Invalid token","code":401}]}`))
	f.Add(uint16(400), "", []byte(`<html>502</html>`))
	f.Fuzz(func(t *testing.T, status uint16, retryAfter string, body []byte) {
		for _, reconcile := range []bool{false, true} {
			a, k, secret := fuzzAdapter(status, retryAfter, body)
			res, err := a.Transfer(context.Background(), vendors.TransferRequest{
				Tenant: tenant, TransferID: "tr-fuzz", Conversation: handoff.Conversation{ID: koreaisandbox.ConversationID},
				Target:      handoff.Target{Type: handoff.TargetAgent, ID: koreaisandbox.AgentID},
				CallbackURL: "https://handoff.example/callbacks/koreai?tenant=acme&transfer=tr-fuzz", Reconcile: reconcile,
			})
			if err != nil {
				checkError(t, err, secret)
			} else if res.Outcome != handoff.OutcomeAwaiting || handoff.ValidateID("ref", res.VendorRef) != nil {
				t.Fatalf("result %+v, want awaiting a callback with a valid reference", res)
			} else if k.status/100 != 2 && !reconcile {
				t.Fatalf("success from a %d answer", k.status)
			}
			if k.calls > 6 {
				t.Fatalf("the transfer was sent %d times", k.calls)
			}
		}
	})
}

// FuzzAvailabilityAnswer: any answer to agents/availability, for an agent and a queue.
func FuzzAvailabilityAnswer(f *testing.F) {
	f.Add(uint16(100), []byte(testdata(f, "availability_response.json")))
	f.Add(uint16(100), []byte(`{"AVAILABLE":[{"_id":"a-1","channelCapacity":{"chat":{"isEnabled":true,"availableCapacity":-1}}}]}`))
	f.Add(uint16(100), []byte(`{"BUSY":null,"OFFLINE":[{}]}`))
	f.Add(uint16(329), []byte(`{}`))
	f.Fuzz(func(t *testing.T, status uint16, body []byte) {
		a, _, secret := fuzzAdapter(status, "", body)
		targets := []handoff.Target{{Type: handoff.TargetAgent, ID: "a-1"}, {Type: handoff.TargetQueue, ID: "q-1"}}
		got, err := a.Availability(context.Background(), vendors.AvailabilityRequest{Tenant: tenant, Targets: targets})
		if err != nil {
			checkError(t, err, secret)
			return
		}
		if len(got) != len(targets) {
			t.Fatalf("%d answers for %d targets", len(got), len(targets))
		}
		for i, av := range got {
			if av.Type != targets[i].Type || av.ID != targets[i].ID || av.OnlineAgents != nil && *av.OnlineAgents < 0 {
				t.Fatalf("answer %+v for %+v", av, targets[i])
			}
		}
	})
}
