package salesforce_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"handoff/core/vendors/salesforce/salesforcesandbox"
)

func TestDemoKeyMatchesTestdata(t *testing.T) {
	b, err := os.ReadFile("testdata/demo_private_key.pem")
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != salesforcesandbox.DemoPrivateKeyPEM {
		t.Error("DemoPrivateKeyPEM and testdata/demo_private_key.pem differ")
	}
}

// demoAssertion signs an assertion with the demo key, with claims edited by edit.
func demoAssertion(t *testing.T, aud string, edit func(jwt.MapClaims)) string {
	t.Helper()
	key, err := jwt.ParseRSAPrivateKeyFromPEM([]byte(salesforcesandbox.DemoPrivateKeyPEM))
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{"iss": salesforcesandbox.DemoClientID, "sub": salesforcesandbox.DemoUsername, "aud": aud,
		"exp": time.Now().Add(2 * time.Minute).Unix()}
	if edit != nil {
		edit(claims)
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func postToken(t *testing.T, base, assertion string) (int, map[string]string) {
	t.Helper()
	resp, err := http.PostForm(base+"/services/oauth2/token", url.Values{
		"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {assertion}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// login is the audience of a production org's assertions, whatever URL the token is asked from.
const login = "https://login.salesforce.com"

func TestSandboxVerifiesAssertions(t *testing.T) {
	f := newFixture(t, options{})
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	foreign, _ := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": salesforcesandbox.DemoClientID,
		"sub": salesforcesandbox.DemoUsername, "aud": login, "exp": time.Now().Add(time.Minute).Unix()}).SignedString(other)
	hs256, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": salesforcesandbox.DemoClientID,
		"sub": salesforcesandbox.DemoUsername, "aud": login, "exp": time.Now().Add(time.Minute).Unix()}).SignedString([]byte("k"))
	tests := []struct {
		name      string
		assertion string
		wantOK    bool
	}{
		{"valid", demoAssertion(t, login, nil), true},
		{"another key", foreign, false},
		{"HS256", hs256, false},
		{"wrong iss", demoAssertion(t, login, func(c jwt.MapClaims) { c["iss"] = "3MVG9other" }), false},
		{"wrong sub", demoAssertion(t, login, func(c jwt.MapClaims) { c["sub"] = "someone@else" }), false},
		{"My Domain aud", demoAssertion(t, f.srv.URL, nil), false},
		{"test aud for a production org", demoAssertion(t, "https://test.salesforce.com", nil), false},
		{"aud as array", demoAssertion(t, login, func(c jwt.MapClaims) { c["aud"] = []string{login} }), false},
		{"no exp", demoAssertion(t, login, func(c jwt.MapClaims) { delete(c, "exp") }), false},
		{"expired", demoAssertion(t, login, func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() }), false},
		{"exp too far", demoAssertion(t, login, func(c jwt.MapClaims) { c["exp"] = time.Now().Add(time.Hour).Unix() }), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := postToken(t, f.srv.URL, tc.assertion)
			if tc.wantOK {
				if status != http.StatusOK || !strings.HasPrefix(body["access_token"], salesforcesandbox.DemoTokenPrefix) {
					t.Errorf("status %d, body %v, want 200 with a token", status, body)
				}
				return
			}
			if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
				t.Errorf("status %d, error %q, want 400 invalid_grant", status, body["error"])
			}
		})
	}
}

// runtimeCall sends one raw request to the sandbox's runtime with a valid token and headers,
// edited by edit, and returns the status and the decoded body.
func runtimeCall(t *testing.T, f *fixture, method, path, body string, edit func(http.Header)) (int, map[string]any) {
	t.Helper()
	_, tok := postToken(t, f.srv.URL, demoAssertion(t, login, nil))
	req, _ := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok["access_token"])
	req.Header.Set("X-Org-Id", salesforcesandbox.DemoOrgID)
	req.Header.Set("X-Request-ID", "3f1c4c2e-8d6b-4a4e-9f0a-1b2c3d4e5f60")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Session-End-Reason", "Transfer")
	if edit != nil {
		edit(req.Header)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

func TestSandboxValidatesMessagesStrictly(t *testing.T) {
	path := "/v5.3.0/sessions/" + salesforcesandbox.DemoSessionID + "/messages"
	tests := []struct {
		name   string
		body   string
		edit   func(http.Header)
		path   string
		status int
	}{
		{"succeeded", `{"message":{"type":"transferSucceeded","sequenceId":5,"inReplyToMessageId":"m"}}`, nil, "", 200},
		{"failed", `{"message":{"type":"transferFailed","sequenceId":5,"reason":"Error","description":"d"}}`, nil, "", 200},
		{"extra field", `{"message":{"type":"transferFailed","sequenceId":5,"reason":"Error","transferTargetType":"Queue"}}`, nil, "", 400},
		{"errorCode field", `{"message":{"type":"transferSucceeded","sequenceId":5,"errorCode":"X"}}`, nil, "", 400},
		{"extra envelope field", `{"message":{"type":"transferSucceeded","sequenceId":5},"sessionId":"x"}`, nil, "", 400},
		{"reason on success", `{"message":{"type":"transferSucceeded","sequenceId":5,"reason":"Error"}}`, nil, "", 400},
		{"missing reason", `{"message":{"type":"transferFailed","sequenceId":5}}`, nil, "", 400},
		{"reason out of enum", `{"message":{"type":"transferFailed","sequenceId":5,"reason":"Busy"}}`, nil, "", 400},
		{"missing sequenceId", `{"message":{"type":"transferSucceeded"}}`, nil, "", 400},
		{"sequenceId as string", `{"message":{"type":"transferSucceeded","sequenceId":"5"}}`, nil, "", 400},
		{"sequenceId fractional", `{"message":{"type":"transferSucceeded","sequenceId":5.5}}`, nil, "", 400},
		{"unsupported type", `{"message":{"type":"text","sequenceId":5,"text":"hi"}}`, nil, "", 400},
		{"no token", `{"message":{"type":"transferSucceeded","sequenceId":5}}`, func(h http.Header) { h.Del("Authorization") }, "", 401},
		{"forged token", `{"message":{"type":"transferSucceeded","sequenceId":5}}`, func(h http.Header) { h.Set("Authorization", "Bearer forged") }, "", 401},
		{"no org", `{"message":{"type":"transferSucceeded","sequenceId":5}}`, func(h http.Header) { h.Del("X-Org-Id") }, "", 400},
		{"other org", `{"message":{"type":"transferSucceeded","sequenceId":5}}`, func(h http.Header) { h.Set("X-Org-Id", "00D000000000000AAA") }, "", 403},
		{"no request id", `{"message":{"type":"transferSucceeded","sequenceId":5}}`, func(h http.Header) { h.Del("X-Request-ID") }, "", 400},
		{"not json", `{"message":{"type":"transferSucceeded","sequenceId":5}}`, func(h http.Header) { h.Set("Content-Type", "text/plain") }, "", 400},
		{"unknown session", `{"message":{"type":"transferSucceeded","sequenceId":5}}`, nil, "/v5.3.0/sessions/nope/messages", 404},
		{"v4 path", `{"message":{"type":"transferSucceeded","sequenceId":5}}`, nil, "/v4.0.0/sessions/" + salesforcesandbox.DemoSessionID + "/messages", 404},
	}
	wantKeys := errorKeys(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, options{})
			p := path
			if tc.path != "" {
				p = tc.path
			}
			status, body := runtimeCall(t, f, http.MethodPost, p, tc.body, tc.edit)
			if status != tc.status {
				t.Fatalf("status = %d (%v), want %d", status, body, tc.status)
			}
			if status != 200 && !slices.Equal(sortedKeys(body), wantKeys) {
				t.Errorf("error body keys = %v, want the runtime's %v", sortedKeys(body), wantKeys)
			}
		})
	}
}

func TestSandboxSequenceIDs(t *testing.T) {
	f := newFixture(t, options{})
	path := "/v5.3.0/sessions/" + salesforcesandbox.DemoSessionID + "/messages"
	msg := func(seq string) string {
		return `{"message":{"type":"transferFailed","sequenceId":` + seq + `,"reason":"Error"}}`
	}
	for _, step := range []struct {
		seq    string
		status int
	}{{"10", 200}, {"10", 200}, {"9", 400}, {"11", 200}} {
		status, body := runtimeCall(t, f, http.MethodPost, path, msg(step.seq), nil)
		if status != step.status {
			t.Errorf("sequenceId %s: status %d (%v), want %d", step.seq, status, body, step.status)
		}
		// ChatMessageResponseEnvelope (v5.3.0): processedSequenceIds, messages and _links are
		// required; it has no sessionId (only the start of a session answers one).
		_, hasMessages := body["messages"].([]any)
		if status == 200 && (len(body["processedSequenceIds"].([]any)) != 1 || !hasMessages || body["_links"] == nil || body["sessionId"] != nil) {
			t.Errorf("sequenceId %s: envelope %v", step.seq, body)
		}
	}
}

func TestSandboxSessionEnd(t *testing.T) {
	f := newFixture(t, options{})
	path := "/v5.3.0/sessions/" + salesforcesandbox.DemoSessionID
	if status, body := runtimeCall(t, f, http.MethodDelete, path, "", func(h http.Header) { h.Set("X-Session-End-Reason", "Because") }); status != 400 {
		t.Errorf("end reason out of enum: status %d (%v), want 400", status, body)
	}
	if status, _ := runtimeCall(t, f, http.MethodDelete, path, "", func(h http.Header) { h.Del("X-Session-End-Reason") }); status != 400 {
		t.Errorf("no end reason: status %d, want 400", status)
	}
	if status, _ := runtimeCall(t, f, http.MethodDelete, path, "", nil); status != 200 {
		t.Errorf("end: status %d, want 200", status)
	}
	if status, _ := runtimeCall(t, f, http.MethodDelete, path, "", nil); status != 404 {
		t.Errorf("second end: status %d, want 404", status)
	}
	msg := `{"message":{"type":"transferSucceeded","sequenceId":5}}`
	if status, _ := runtimeCall(t, f, http.MethodPost, path+"/messages", msg, nil); status != 404 {
		t.Errorf("message to an ended session: status %d, want 404", status)
	}
}

// errorKeys are the fields of the runtime's documented error body (testdata/error_response.json).
func errorKeys(t *testing.T) []string {
	b, err := os.ReadFile("testdata/error_response.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return sortedKeys(m)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
