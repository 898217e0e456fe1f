package main

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"path"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"handoff/core/awstest"
	"handoff/core/handler"
	"handoff/core/handoff"
	"handoff/core/vendors/koreai"
	"handoff/core/vendors/koreai/koreaisandbox"
	"handoff/functions/internal/fntest"
	"handoff/scripts/localstack/demo"
)

func TestMain(m *testing.M) { awstest.Main(m) }

func setup(t *testing.T) (*fntest.Env, *handler.Callback) {
	t.Helper()
	env := fntest.New(t, "CallbackReceiverFunction")
	h, err := Main(fntest.Ctx(t), env.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	return env, h
}

func call(t *testing.T, h *handler.Callback, req events.APIGatewayV2HTTPRequest) fntest.Answer {
	t.Helper()
	resp, err := h.HTTP(fntest.Ctx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	return fntest.Decode(t, resp)
}

// koreTransfer starts a Kore.ai transfer and returns it with the callback URL Kore.ai was handed
// (our token as its last path segment).
func koreTransfer(t *testing.T, env *fntest.Env) (handoff.Transfer, *url.URL) {
	t.Helper()
	out, err := env.TransferHandler(t).Invoke(fntest.Ctx(t), fntest.Sample(t, "transfer-post-koreai.json"))
	if err != nil {
		t.Fatal(err)
	}
	a := fntest.Decode(t, out.(events.APIGatewayV2HTTPResponse))
	if a.Status != 202 {
		t.Fatalf("Kore.ai transfer: %d %s", a.Status, a.Raw)
	}
	reqs := demo.SandboxOf[*koreaisandbox.Sandbox](env.Sandboxes, "koreai").Requests()
	var sent struct {
		CallbackURL string `json:"callbackUrl"`
	}
	if err := json.Unmarshal(reqs[len(reqs)-1].Body, &sent); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(sent.CallbackURL)
	if err != nil {
		t.Fatal(err)
	}
	return a.Transfer, u
}

// koreQuery is the proof of a callback URL in the query form the callback route also takes:
// tenant, transfer and token.
func koreQuery(t *testing.T, callbackURL *url.URL) url.Values {
	t.Helper()
	token := path.Base(callbackURL.Path)
	c, ok := koreai.CallbackTokenClaims(token)
	if !ok {
		t.Fatalf("callback URL %s does not end in a token", callbackURL.Redacted())
	}
	return url.Values{"tenant": {c.Tenant}, "transfer": {c.Transfer}, "token": {token}}
}

// koreCallback is the sample callback event, addressed with the given query.
func koreCallback(t *testing.T, query url.Values) events.APIGatewayV2HTTPRequest {
	req := fntest.HTTPSample(t, "callback-koreai.json")
	req.RawQueryString = query.Encode()
	req.QueryStringParameters = map[string]string{}
	for k := range query {
		req.QueryStringParameters[k] = query.Get(k)
	}
	return req
}

func TestKoreCallbackSampleCompletesTheTransferOnce(t *testing.T) {
	env, h := setup(t)
	tr, callbackURL := koreTransfer(t, env)
	a := call(t, h, koreCallback(t, koreQuery(t, callbackURL)))
	if a.Status != 200 {
		t.Fatalf("callback: %d %s", a.Status, a.Raw)
	}
	done := env.Get(t, tr.ID)
	if done.Status != handoff.StatusTransferred || done.Ack.Status != handoff.AckPending {
		t.Fatalf("after the callback: %+v", done)
	}
	// A replay answers 200 and changes nothing.
	if a := call(t, h, koreCallback(t, koreQuery(t, callbackURL))); a.Status != 200 {
		t.Fatalf("replay: %d %s", a.Status, a.Raw)
	}
	if again := env.Get(t, tr.ID); again.Version != done.Version {
		t.Errorf("a replayed callback changed the transfer (version %d → %d)", done.Version, again.Version)
	}
}

// Kore.ai posts to the URL it was handed: the token is the path's last segment, no query.
func TestKoreCallbackByThePathItWasHanded(t *testing.T) {
	env, h := setup(t)
	tr, callbackURL := koreTransfer(t, env)
	if callbackURL.RawQuery != "" || callbackURL.Path != "/callbacks/koreai/"+path.Base(callbackURL.Path) {
		t.Fatalf("Kore.ai was handed %s, want /callbacks/koreai/{token} with no query", callbackURL.Redacted())
	}
	byPath := func(token string) events.APIGatewayV2HTTPRequest {
		req := koreCallback(t, url.Values{})
		req.RouteKey = "POST /callbacks/{vendor}/{token}"
		req.RawPath = "/callbacks/koreai/" + token
		req.RequestContext.HTTP.Path = req.RawPath
		req.PathParameters = map[string]string{"vendor": "koreai", "token": token}
		return req
	}
	token := path.Base(callbackURL.Path)
	forged := token[:len(token)-4] + "AAAA"
	if a := call(t, h, byPath(forged)); a.Status != 401 {
		t.Fatalf("forged path token: %d %s, want 401", a.Status, a.Raw)
	}
	if got := env.Get(t, tr.ID); got.Status != handoff.StatusPending {
		t.Fatalf("a forged callback changed the transfer: %+v", got)
	}
	if a := call(t, h, byPath(token)); a.Status != 200 {
		t.Fatalf("callback: %d %s", a.Status, a.Raw)
	}
	if done := env.Get(t, tr.ID); done.Status != handoff.StatusTransferred {
		t.Fatalf("after the callback: %+v", done)
	}
}

// A status Kore.ai does not document is recorded and answered 200, so Kore.ai does not retry it,
// and the transfer keeps waiting: same version, same deadline, no fallback asked.
func TestAnUnknownKoreStatusIsRecordedAndTheTransferKeepsWaiting(t *testing.T) {
	env, h := setup(t)
	tr, callbackURL := koreTransfer(t, env)
	before := env.Get(t, tr.ID)
	assigns := len(demo.SandboxOf[*koreaisandbox.Sandbox](env.Sandboxes, "koreai").Requests())
	req := koreCallback(t, koreQuery(t, callbackURL))
	req.Body = strings.Replace(req.Body, `"status":"transferred"`, `"status":"on_hold"`, 1)
	a := call(t, h, req)
	if a.Status != 200 || !strings.Contains(a.Raw, `"status":"pending"`) {
		t.Fatalf("unknown status: %d %s, want 200 pending", a.Status, a.Raw)
	}
	after := env.Get(t, tr.ID)
	if after.Status != handoff.StatusPending || after.Version != before.Version || len(after.Attempts) != len(before.Attempts) ||
		after.AwaitUntil == nil || !after.AwaitUntil.Equal(*before.AwaitUntil) {
		t.Errorf("after an unknown status: %+v\nbefore: %+v; want it unchanged", after, before)
	}
	if n := len(demo.SandboxOf[*koreaisandbox.Sandbox](env.Sandboxes, "koreai").Requests()); n != assigns {
		t.Errorf("Kore.ai received %d more requests: no fallback on an unknown word", n-assigns)
	}
}

func TestForgedAndUnknownCallbacksChangeNothing(t *testing.T) {
	env, h := setup(t)
	tr, callbackURL := koreTransfer(t, env)
	before := env.Get(t, tr.ID)
	items := env.Items(t)
	genuine := koreQuery(t, callbackURL)
	forge := func(change func(url.Values)) url.Values {
		q := url.Values{}
		for k, v := range genuine {
			q[k] = append([]string(nil), v...)
		}
		change(q)
		return q
	}
	cases := map[string]struct {
		query  url.Values
		status int
	}{
		"forged token":       {forge(func(q url.Values) { q.Set("token", strings.Repeat("A", len(q.Get("token")))) }), 401},
		"no token":           {forge(func(q url.Values) { q.Del("token") }), 401},
		"token of another":   {forge(func(q url.Values) { q.Set("transfer", "0000000000000000000000000a") }), 401},
		"other tenant":       {forge(func(q url.Values) { q.Set("tenant", "ghost") }), 401},
		"traversal transfer": {forge(func(q url.Values) { q.Set("transfer", "../x") }), 401},
	}
	for name, c := range cases {
		if a := call(t, h, koreCallback(t, c.query)); a.Status != c.status {
			t.Errorf("%s: %d %s, want %d", name, a.Status, a.Raw, c.status)
		}
	}
	unknownVendor := koreCallback(t, genuine)
	unknownVendor.PathParameters = map[string]string{"vendor": "nobody"}
	if a := call(t, h, unknownVendor); a.Status != 404 {
		t.Errorf("unknown vendor: %d %s", a.Status, a.Raw)
	}
	if after := env.Get(t, tr.ID); after.Version != before.Version || after.Status != handoff.StatusPending {
		t.Errorf("refused callbacks changed the transfer: %+v", after)
	}
	if n := env.Items(t); n != items {
		t.Errorf("table went from %d to %d items", items, n)
	}
}

func TestBitrixEventSampleIsRecordedAndAForgedOneRefused(t *testing.T) {
	env, h := setup(t)
	out, err := env.TransferHandler(t).Invoke(fntest.Ctx(t), fntest.Sample(t, "transfer-post-bitrix24.json"))
	if err != nil {
		t.Fatal(err)
	}
	tr := fntest.Decode(t, out.(events.APIGatewayV2HTTPResponse)).Transfer
	before := env.Get(t, tr.ID)

	if a := call(t, h, fntest.HTTPSample(t, "callback-bitrix24.json")); a.Status != 200 {
		t.Fatalf("Bitrix24 event: %d %s", a.Status, a.Raw)
	}
	after := env.Get(t, tr.ID)
	// Noted on the timeline only: no status change, and no new version for a state change to
	// conflict with.
	if after.Status != before.Status || after.Version != before.Version {
		t.Errorf("an informative event must be recorded without a state change: %+v", after)
	}

	forged := fntest.HTTPSample(t, "callback-bitrix24.json")
	body, _ := base64.StdEncoding.DecodeString(forged.Body)
	form, _ := url.ParseQuery(string(body))
	form.Set("auth[application_token]", "not-the-token")
	forged.Body = base64.StdEncoding.EncodeToString([]byte(form.Encode()))
	if a := call(t, h, forged); a.Status != 401 {
		t.Errorf("forged Bitrix24 event: %d %s", a.Status, a.Raw)
	}
	if last := env.Get(t, tr.ID); last.Version != after.Version {
		t.Error("a forged event changed the transfer")
	}
}

// TestReadsOnlyDeclaredVariables: Main reads no variable its resource in template.yaml does not
// declare, and accepts the ones it does.
func TestReadsOnlyDeclaredVariables(t *testing.T) {
	fntest.CheckConfig(t, "CallbackReceiverFunction", func(getenv func(string) string) error {
		_, err := Main(fntest.Ctx(t), getenv)
		return err
	})
}
