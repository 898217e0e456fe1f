package koreai_test

import (
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/koreai"
	"handoff/core/vendors/koreai/koreaisandbox"
)

// cbTarget is the attempt the test callbacks' tokens were made for.
var cbTarget = handoff.Target{Type: handoff.TargetAgent, ID: "a-220172c-856e-4db6-a2d1-d4c2dabe0001"}

// callbackParser is an adapter whose tenant has the sandbox's demo secret, and a signed query
// for transfer tr-cb.
func callbackParser(t testing.TB) (*koreai.Adapter, url.Values, string) {
	t.Helper()
	secret := koreaisandbox.DemoSecret("https://platform.kore.ai")
	adapter := koreai.New(vendors.Deps{Secrets: newSecrets(secret), Log: discard()})
	callbackSecret := mustField(t, secret, "callbackSecret")
	q := url.Values{"tenant": {tenant}, "transfer": {"tr-cb"}, "token": {koreai.CallbackToken(callbackSecret, tenant, "tr-cb", cbTarget, time.Now())}}
	return adapter, q, callbackSecret
}

func testdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseCallback(t *testing.T) {
	adapter, q, _ := callbackParser(t)
	for _, tc := range []struct {
		name       string
		body       string
		outcome    handoff.Outcome
		vendorCode string
		ref        string
		detail     []string // substrings the Detail must hold
	}{
		{"sample agent", testdata(t, "callback_agent.json"), handoff.OutcomeTransferred, "", "6538f8a3c9cf425ee5cf0001", []string{"transferred", "agent"}},
		{"sample queue", testdata(t, "callback_queue.json"), handoff.OutcomeTransferred, "", "6538f8a3c9cf425ee5cf0001", []string{"transferred", "queue"}},
		// Only "transferred" is documented: every other word is recorded, never acted on.
		{"failed", `{"sessionId":"6538f8a3c9cf425ee5cf0001","agentId":"a-1","status":"failed","requestCompletedAt":1}`, "", "", "6538f8a3c9cf425ee5cf0001", []string{"does not know: failed", "not taken as an outcome"}},
		{"rejected", `{"sessionId":"s1","queueId":"q","status":"REJECTED"}`, "", "", "s1", []string{"REJECTED"}},
		{"not transferred", `{"sessionId":"s1","status":"Not Transferred"}`, "", "", "s1", []string{"Not?Transferred"}},
		{"timeout", `{"sessionId":"s1","agentId":"a-1","status":"timeout"}`, "", "", "s1", []string{"timeout"}},
		{"declined", `{"status":"declined"}`, "", "", "", []string{"declined"}},
		{"unknown status", `{"sessionId":"s1","agentId":"a-secretish-value","status":"pending_review"}`, "", "", "s1", []string{"does not know: pending_review", "agentId", "sessionId", "status"}},
		{"status not a string", `{"sessionId":"s1","status":1}`, "", "", "s1", []string{"no status", "sessionId", "status"}},
		{"unknown shape", `{"event":"conversation.assignment","data":{"session":"s1","result":"ok"}}`, "", "", "", []string{"unknown shape", "data", "event"}},
		{"empty object", `{}`, "", "", "", []string{"keys: none"}},
		{"many keys", `{"k01":1,"k02":1,"k03":1,"k04":1,"k05":1,"k06":1,"k07":1,"k08":1,"k09":1,"k10":1,"k11":1,"k12":1,"k13":1,"k14":1}`, "", "", "", []string{"and 2 more"}},
		{"odd key", `{"a\"b\nc":"x","` + strings.Repeat("k", 100) + `":1}`, "", "", "", []string{"a?b?c", "kkkk…"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cb, err := adapter.ParseCallback(ctx(t), vendors.CallbackRequest{Tenant: tenant, Query: q, Body: []byte(tc.body)})
			if err != nil {
				t.Fatal(err)
			}
			if cb.TransferID != "tr-cb" || cb.Outcome != tc.outcome || cb.VendorCode != tc.vendorCode || cb.VendorRef != tc.ref {
				t.Errorf("= %+v, want transfer tr-cb, outcome %q, vendor code %q, ref %q", cb, tc.outcome, tc.vendorCode, tc.ref)
			}
			if cb.Unrecognised != (tc.outcome == "") {
				t.Errorf("unrecognised = %v for outcome %q", cb.Unrecognised, tc.outcome)
			}
			if cb.Tenant != tenant || cb.Target == nil || *cb.Target != cbTarget {
				t.Errorf("tenant %q, target %+v; want the token's (%s, %+v)", cb.Tenant, cb.Target, tenant, cbTarget)
			}
			for _, want := range tc.detail {
				if !strings.Contains(cb.Detail, want) {
					t.Errorf("detail %q does not mention %q", cb.Detail, want)
				}
			}
			if cb.Outcome == "" { // only key names and the (cleaned) status word appear
				for _, value := range []string{"a-secretish-value", "conversation.assignment", "ok", `"x"`} {
					if strings.Contains(cb.Detail, value) {
						t.Errorf("detail %q holds the value %q; only key names may appear", cb.Detail, value)
					}
				}
			}
		})
	}
}

func TestParseCallbackRefusesUnreadableBodies(t *testing.T) {
	adapter, q, _ := callbackParser(t)
	for name, body := range map[string]string{
		"not JSON":       `status=transferred`,
		"array":          `[{"status":"transferred"}]`,
		"string":         `"transferred"`,
		"empty":          ``,
		"truncated":      `{"status":"transferred"`,
		"trailing data":  `{"status":"transferred"} {}`,
		"over 64 KiB":    `{"status":"transferred","pad":"` + strings.Repeat("x", 64<<10) + `"}`,
		"null":           `null`,
		"not valid JSON": `{"status":transferred}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := adapter.ParseCallback(ctx(t), vendors.CallbackRequest{Tenant: tenant, Query: q, Body: []byte(body)})
			wantCode(t, err, handoff.CodeInvalidRequest)
		})
	}
}

func TestParseCallbackAuthenticatesBeforeReading(t *testing.T) {
	adapter, q, _ := callbackParser(t)
	forged := url.Values{"tenant": q["tenant"], "transfer": q["transfer"], "token": {"AAAA"}}
	for name, req := range map[string]vendors.CallbackRequest{
		"forged token, unreadable body": {Tenant: tenant, Query: forged, Body: []byte(`not json`)},
		"no query":                      {Tenant: tenant, Body: []byte(testdata(t, "callback_agent.json"))},
		"tenant differs from the query": {Tenant: "other", Query: q, Body: []byte(testdata(t, "callback_agent.json"))},
		"token in a header only":        {Tenant: tenant, Query: url.Values{"tenant": q["tenant"], "transfer": q["transfer"]}, Header: map[string][]string{"Token": q["token"]}, Body: []byte(`{}`)},
	} {
		t.Run(name, func(t *testing.T) {
			cb, err := adapter.ParseCallback(ctx(t), req)
			wantCode(t, err, handoff.CodeUnauthorized)
			if cb != (vendors.Callback{}) {
				t.Errorf("returned %+v with an error", cb)
			}
		})
	}
}

func FuzzParseCallback(f *testing.F) {
	adapter, q, callbackSecret := callbackParser(f)
	for _, name := range []string{"callback_agent.json", "callback_queue.json", "availability_response.json"} {
		f.Add([]byte(testdata(f, name)))
	}
	for _, seed := range []string{`{}`, `{"status":"failed"}`, `{"status":1}`, `[]`, `{"a":{"b":[1,2]}}`, "{\"\xff\":1}", `{"status":"transferred","sessionId":"a b"}`} {
		f.Add([]byte(seed))
	}
	outcomes := map[handoff.Outcome]bool{"": true, handoff.OutcomeTransferred: true, handoff.OutcomeRejected: true, handoff.OutcomeUnavailable: true}
	f.Fuzz(func(t *testing.T, body []byte) {
		cb, err := adapter.ParseCallback(t.Context(), vendors.CallbackRequest{Tenant: tenant, Query: q, Body: body})
		if err != nil {
			if code := handoff.ErrorCode(err); code != handoff.CodeInvalidRequest {
				t.Fatalf("code %s for a signed callback, want INVALID_REQUEST or a callback", code)
			}
			return
		}
		if cb.TransferID != "tr-cb" || !outcomes[cb.Outcome] {
			t.Fatalf("callback %+v: wrong transfer or outcome", cb)
		}
		if cb.Detail == "" || len(cb.Detail) > 600 || !utf8.ValidString(cb.Detail) || strings.Contains(cb.Detail, callbackSecret) {
			t.Fatalf("detail %q: empty, too long, invalid or holding the secret", cb.Detail)
		}
		for _, c := range cb.Detail {
			if unicode.IsControl(c) {
				t.Fatalf("detail %q holds a control character", cb.Detail)
			}
		}
		if failure := cb.Outcome != "" && cb.Outcome != handoff.OutcomeTransferred; failure != (cb.VendorCode != "") {
			t.Fatalf("callback %+v: a failure needs a vendor code, nothing else has one", cb)
		}
		if cb.VendorRef != "" && handoff.ValidateID("vendorRef", cb.VendorRef) != nil {
			t.Fatalf("vendor ref %q is not a valid id", cb.VendorRef)
		}
	})
}

// TestCallbackTokenBindsAttemptAndExpiry: the token names the tenant, the transfer, the attempt
// (its target) and an expiry; it works alone as a path segment (a platform may drop or re-encode
// the query); the previous callbackSecret is accepted during a rotation, and nothing else is.
func TestCallbackTokenBindsAttemptAndExpiry(t *testing.T) {
	secret := koreaisandbox.DemoSecret("https://platform.kore.ai")
	callbackSecret := mustField(t, secret, "callbackSecret")
	body := []byte(testdata(t, "callback_agent.json"))
	now := time.Now()
	parse := func(secretJSON []byte, clock time.Time, req vendors.CallbackRequest) (vendors.Callback, error) {
		a := koreai.New(vendors.Deps{Secrets: newSecrets(secretJSON), Log: discard(), Now: func() time.Time { return clock }})
		req.Body = body
		return a.ParseCallback(ctx(t), req)
	}
	token := koreai.CallbackToken(callbackSecret, tenant, "tr-cb", cbTarget, now)
	if strings.Trim(token, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != "" {
		t.Fatalf("token %q holds characters outside RFC 3986's unreserved set", token)
	}

	t.Run("in the path, without a query or a tenant", func(t *testing.T) {
		cb, err := parse(secret, now, vendors.CallbackRequest{PathToken: token})
		if err != nil {
			t.Fatal(err)
		}
		if cb.Tenant != tenant || cb.TransferID != "tr-cb" || cb.Target == nil || *cb.Target != cbTarget || cb.Outcome != handoff.OutcomeTransferred {
			t.Errorf("= %+v", cb)
		}
	})
	t.Run("expired", func(t *testing.T) {
		_, err := parse(secret, now.Add(koreai.CallbackTokenLifetime+time.Minute), vendors.CallbackRequest{PathToken: token})
		wantCode(t, err, handoff.CodeUnauthorized)
	})
	t.Run("previous secret during a rotation", func(t *testing.T) {
		rotated := withField(t, secret, "callbackSecret", "a-new-callback-secret-0123456789")
		rotated = withField(t, rotated, "callbackSecretPrevious", callbackSecret)
		if _, err := parse(rotated, now, vendors.CallbackRequest{PathToken: token}); err != nil {
			t.Errorf("a token of the previous secret was refused during the rotation: %v", err)
		}
		after := withField(t, secret, "callbackSecret", "a-new-callback-secret-0123456789")
		_, err := parse(after, now, vendors.CallbackRequest{PathToken: token})
		wantCode(t, err, handoff.CodeUnauthorized)
	})
	t.Run("claims cannot be edited", func(t *testing.T) {
		parts := strings.Split(token, ".")
		other := koreai.CallbackToken(callbackSecret, tenant, "tr-other", cbTarget, now)
		spliced := parts[0] + "." + strings.Split(other, ".")[1] + "." + parts[2]
		_, err := parse(secret, now, vendors.CallbackRequest{PathToken: spliced})
		wantCode(t, err, handoff.CodeUnauthorized)
	})
	t.Run("query that disagrees with the token", func(t *testing.T) {
		for name, q := range map[string]url.Values{
			"another transfer": {"tenant": {tenant}, "transfer": {"tr-other"}, "token": {token}},
			"another tenant":   {"tenant": {"globex"}, "transfer": {"tr-cb"}, "token": {token}},
			"two tokens":       {"tenant": {tenant}, "transfer": {"tr-cb"}, "token": {token, token}},
		} {
			_, err := parse(secret, now, vendors.CallbackRequest{Tenant: q.Get("tenant"), Query: q})
			if handoff.ErrorCode(err) != handoff.CodeUnauthorized {
				t.Errorf("%s: err = %v, want UNAUTHORIZED", name, err)
			}
		}
	})
}
