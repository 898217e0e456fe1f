package salesforce_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/rest"
	"handoff/core/vendors/salesforce"
	"handoff/core/vendors/salesforce/salesforcesandbox"
	"handoff/core/vendors/vendortest"
)

// The fuzz targets put Salesforce's answers — the login endpoint's token and the Bot Runtime's
// answer to an ack message — in the fuzzer's hands; the sandbox answers every other request, in
// process (no sockets, and no Retry-After is ever waited for).

// fuzzRuntime answers the requests match selects with the fuzzed answer, the others with the
// sandbox, and counts the matched ones.
type fuzzRuntime struct {
	sandbox http.Handler
	match   func(*http.Request) bool
	status  int
	header  http.Header
	body    []byte
	matched int
}

func (f *fuzzRuntime) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		defer r.Body.Close()
	}
	if f.match(r) {
		f.matched++
		return &http.Response{StatusCode: f.status, Header: f.header.Clone(), Body: io.NopCloser(bytes.NewReader(f.body)), Request: r}, nil
	}
	rec := httptest.NewRecorder()
	f.sandbox.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// ackWith acks a transferred transfer through a runtime whose matched calls get the fuzzed
// answer (status mapped into 100-599), and checks the error, if any, against the contract.
func ackWith(t *testing.T, match func(*http.Request) bool, status uint16, retryAfter string, body []byte) (*fuzzRuntime, handoff.Transfer, error) {
	t.Helper()
	f, tr, res, err := ackResultWith(t, match, status, retryAfter, body)
	if err == nil && res.Uncertain != "" && f.status != http.StatusServiceUnavailable {
		t.Fatalf("an ack answered %d came back uncertain: only a 503 says the bot ran unconfirmed", f.status)
	}
	return f, tr, err
}

// ackResultWith is ackWith with the ack's result.
func ackResultWith(t *testing.T, match func(*http.Request) bool, status uint16, retryAfter string, body []byte) (*fuzzRuntime, handoff.Transfer, vendors.AckResult, error) {
	t.Helper()
	f := &fuzzRuntime{sandbox: salesforcesandbox.New(salesforcesandbox.Config{}), match: match,
		status: 100 + int(status)%500, header: http.Header{"Content-Type": {"application/json"}}, body: body}
	if retryAfter != "" {
		f.header.Set("Retry-After", retryAfter)
	}
	hc := &http.Client{Transport: f, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	a := salesforce.New(vendors.Deps{
		Secrets: vendortest.NewSecrets(tenant, salesforce.VendorKey, salesforcesandbox.DemoSecret("http://127.0.0.1:1")),
		HTTP:    rest.New(hc, rest.WithBackoff(0), rest.WithMaxWait(0)), Log: slog.New(slog.DiscardHandler), Now: time.Now,
	})
	tr := transfer(handoff.StatusTransferred, salesforcesandbox.DemoSessionID, fuzzSeq)
	res, err := a.Ack(context.Background(), tr)
	if err != nil {
		var e *handoff.Error
		if !errors.As(err, &e) || e.Code == handoff.CodeInternal || e.Code == "" {
			t.Fatalf("error %v is not a coded *handoff.Error", err)
		}
		if e.RetryAfter < 0 || e.RetryAfter > time.Hour || len(e.VendorCode) > 64 {
			t.Fatalf("error %+v: wait or vendor code out of bounds", e)
		}
		for _, s := range secretValues() {
			if strings.Contains(err.Error(), s) {
				t.Fatalf("a credential reached the error: %v", err)
			}
		}
	}
	return f, tr, res, err
}

// fuzzSeq is the sequence id of the fuzzed acks, so seeds can name it.
const fuzzSeq = 1712345678901

// FuzzTokenAnswer: any answer of the login endpoint to the JWT bearer flow. Whatever token it
// hands out, none is quoted in an error.
func FuzzTokenAnswer(f *testing.F) {
	f.Add(uint16(100), []byte(`{"access_token":"00DRM000000Gz1h2AC!AQsandbox.x","instance_url":"https://x","token_type":"Bearer"}`))
	f.Add(uint16(300), []byte(`{"error":"invalid_grant","error_description":"user hasn't approved this consumer"}`))
	f.Add(uint16(329), []byte(`{"error":"rate_limit_exceeded"}`))
	f.Add(uint16(100), []byte(`{"access_token":""}`))
	f.Add(uint16(403), []byte(`<html>maintenance</html>`))
	f.Fuzz(func(t *testing.T, status uint16, body []byte) {
		_, _, err := ackWith(t, func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/oauth2/token") }, status, "", body)
		var answer struct {
			AccessToken string `json:"access_token"`
		}
		if err != nil && json.Unmarshal(body, &answer) == nil && len(answer.AccessToken) >= 8 && strings.Contains(err.Error(), answer.AccessToken) {
			t.Fatalf("the access token reached the error: %v", err)
		}
	})
}

// FuzzMessageAnswer: any answer of the Bot Runtime to the ack message. The ack counts as
// delivered only when the runtime answered 2xx listing the message's sequenceId as processed.
func FuzzMessageAnswer(f *testing.F) {
	for _, name := range []string{"error_response.json", "transfer_succeeded.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint16(300), "", b)
	}
	f.Add(uint16(100), "", []byte(`{"sessionId":"s","processedSequenceIds":[1712345678901],"messages":[]}`))
	f.Add(uint16(100), "", []byte(`{"sessionId":"s","processedSequenceIds":[1],"messages":[]}`))
	f.Add(uint16(100), "", []byte(`{"processedSequenceIds":null}`))
	f.Add(uint16(323), "3", []byte(`{}`))
	f.Add(uint16(403), "", []byte(`{"status":503}`))
	f.Add(uint16(100), "", []byte(`{"processedSequenceIds":[1712345678901],"messages":[{"type":"text","id":"m","text":"Sorry"},{"type":"choices","choices":[{"label":"Yes"}]},{}]}`))
	f.Fuzz(func(t *testing.T, status uint16, retryAfter string, body []byte) {
		srv, tr, res, err := ackResultWith(t, func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/messages") }, status, retryAfter, body)
		if srv.status == http.StatusServiceUnavailable {
			// The bot ran (its Apex or Flow timed out): uncertain, and never sent twice.
			if err != nil || res.Uncertain == "" || srv.matched != 1 {
				t.Fatalf("a 503 gave error %v, uncertain %q, after %d sends; want uncertain after 1", err, res.Uncertain, srv.matched)
			}
			return
		}
		if err == nil && res.Uncertain != "" {
			t.Fatalf("an ack answered %d came back uncertain", srv.status)
		}
		if err == nil {
			var env struct {
				Processed []int64 `json:"processedSequenceIds"`
			}
			if srv.status/100 != 2 || json.Unmarshal(body, &env) != nil || !slices.Contains(env.Processed, tr.Ack.SequenceID) {
				t.Fatalf("an ack counted as delivered from a %d answer that does not list its sequenceId: %.200q", srv.status, body)
			}
		}
		if srv.matched > 6 {
			t.Fatalf("the ack was sent %d times in one delivery", srv.matched)
		}
	})
}
