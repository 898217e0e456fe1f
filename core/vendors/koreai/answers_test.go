package koreai_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/koreai"
	"handoff/core/vendors/koreai/koreaisandbox"
)

// fakeKore answers every call with status and body, to test answers the sandbox never gives.
func fakeKore(t *testing.T, status int, header http.Header, body string) (*koreai.Adapter, *int) {
	t.Helper()
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		for k, v := range header {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	s := &stack{server: srv}
	secrets := newSecrets(koreaisandbox.DemoSecret(srv.URL))
	return koreai.New(vendors.Deps{Secrets: secrets, HTTP: restClient(s), Log: discard()}), &calls
}

func TestSynchronousAnswers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		header http.Header
		body   string
		code   handoff.Code
		ref    string
		calls  int
	}{
		{"sample agent answer", 200, nil, `{"sessionId":"6538f8a3c9cf425ee5cf0001","agentId":"a-1","status":"transferred","requestCompletedAt":1698825180041}`, "", "6538f8a3c9cf425ee5cf0001", 1},
		{"object without sessionId", 200, nil, `{"ok":true}`, "", conversation.ID, 1},
		// Statuses other than "transferred" are undocumented: the callback decides, not a guess.
		{"failure status", 200, nil, `{"sessionId":"s","status":"failed"}`, "", "s", 1},
		{"timeout status", 202, nil, `{"status":"Timed-Out"}`, "", conversation.ID, 1},
		// The docs' own success sample is not strict JSON (unquoted keys): any 2xx is accepted.
		{"the docs' sample as written", 200, nil, `{sessionId: "6538f8a3c9cf425ee5cf0001", agentId: "a-1", status: "transferred", requestCompletedAt: 1698825180041}`, "", conversation.ID, 1},
		{"empty body", 200, nil, ``, "", conversation.ID, 1},
		{"array", 200, nil, `[{"status":"transferred"}]`, "", conversation.ID, 1},
		{"html", 200, nil, `<html>ok</html>`, "", conversation.ID, 1},
		{"rate limit without Retry-After", 429, nil, `{"errors":[{"msg":"You've exceeded the per-minute rate limit"}]}`, handoff.CodeRateLimited, "", 1},
		{"rate-limit message on a 400", 400, nil, `{"message":"You've exceeded the per-minute rate limit..."}`, handoff.CodeRateLimited, "", 1},
		{"404", 404, nil, `{"errors":[{"msg":"Bot not found"}]}`, handoff.CodeVendorRejected, "", 1},
		{"502 is not re-sent", 502, nil, `bad gateway`, handoff.CodeVendorUnavailable, "", 1},
		{"redirect", 304, nil, ``, handoff.CodeVendorProtocol, "", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			adapter, calls := fakeKore(t, tc.status, tc.header, tc.body)
			res, err := adapter.Transfer(ctx(t), transferRequest(agent, "https://handoff.example"))
			if tc.code == "" {
				if err != nil || res.Outcome != handoff.OutcomeAwaiting || res.VendorRef != tc.ref {
					t.Errorf("= %+v, %v; want awaiting with ref %q", res, err, tc.ref)
				}
			} else {
				e := wantCode(t, err, tc.code)
				if tc.code == handoff.CodeRateLimited && e.RetryAfter != time.Minute {
					t.Errorf("RetryAfter = %v, want Kore's one-minute window", e.RetryAfter)
				}
				if strings.Contains(e.Error(), "exceeded") || strings.Contains(e.Error(), "Bot not found") {
					t.Errorf("the vendor's text reached our error: %v", e)
				}
			}
			if *calls != tc.calls {
				t.Errorf("calls = %d, want %d", *calls, tc.calls)
			}
		})
	}
}
