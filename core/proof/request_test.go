package proof_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"handoff/core/handoff"
	"handoff/core/vendors/bitrix24/bitrix24sandbox"
	"handoff/core/vendors/koreai"
	"handoff/core/vendors/koreai/koreaisandbox"
	"handoff/core/vendors/liveperson/livepersonsandbox"
	"handoff/core/vendors/salesforce/salesforcesandbox"
	"handoff/core/vendors/sandbox"
)

// ctx is an invocation's context: its deadline d from now on the stack's clock, which is also
// when the invocation's lease lapses. It is an upper bound, never a wait.
func (s *stack) ctx(d time.Duration) context.Context {
	c, cancel := context.WithDeadline(context.Background(), s.clock.Now().Add(d))
	s.t.Cleanup(cancel)
	return c
}

// invocation is the Lambda deadline the tests give a transfer when they do not test deadlines.
const invocation = 30 * time.Second

// httpEvent builds an HTTP API (payload 2.0) request as API Gateway delivers it.
func httpEvent(method, routeKey, rawPath, query, body string, headers map[string]string) events.APIGatewayV2HTTPRequest {
	h := map[string]string{"content-type": "application/json"}
	for k, v := range headers {
		h[strings.ToLower(k)] = v
	}
	req := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: routeKey, RawPath: rawPath, RawQueryString: query, Body: body, Headers: h,
	}
	req.RequestContext.HTTP.Method = method
	req.RequestContext.HTTP.Path = rawPath
	req.RequestContext.DomainName = "api.handoff.example"
	return req
}

// post sends POST /transfers with an Idempotency-Key, under an invocation deadline d.
func (s *stack) post(key, body string, d time.Duration) answer {
	s.t.Helper()
	hdr := map[string]string{}
	if key != "" {
		hdr["Idempotency-Key"] = key
	}
	return call(s.t, s.transfer, s.ctx(d), httpEvent(http.MethodPost, "POST /transfers", "/transfers", "", body, hdr))
}

// get sends GET /transfers/{id}.
func (s *stack) get(id string) answer {
	s.t.Helper()
	req := httpEvent(http.MethodGet, "GET /transfers/{id}", "/transfers/"+id, "", "", nil)
	req.PathParameters = map[string]string{"id": id}
	return call(s.t, s.transfer, s.ctx(invocation), req)
}

// escalate delivers an Escalation Requested event to the transfer function, as EventBridge and
// Lambda's retries do, and returns the function's error (nil: done or dropped; else retried).
func (s *stack) escalate(h transferFunction, id, detail string, d time.Duration) error {
	s.t.Helper()
	ev := map[string]any{
		"version": "0", "id": id, "detail-type": "Escalation Requested", "source": "com.example.bot",
		"account": "123456789012", "time": "2026-11-21T09:20:11Z", "region": "us-east-1", "resources": []string{},
		"detail": json.RawMessage(detail),
	}
	payload, _ := json.Marshal(ev)
	out, err := h.Invoke(s.ctx(d), payload)
	if out != nil {
		s.t.Fatalf("an EventBridge invocation answered %v, want nothing", out)
	}
	return err
}

// koreCallback posts Kore's outcome for transfer id to the callback URL Kore was given for it,
// as Kore would (the token as the path's last segment), and returns our answer.
func (s *stack) koreCallback(id, status string) answer {
	s.t.Helper()
	body, _ := json.Marshal(map[string]any{
		"sessionId": koreaisandbox.ConversationID, "agentId": koreaisandbox.AgentID, "status": status,
		"requestCompletedAt": time.Now().UnixMilli(),
	})
	token := s.koreCallbackToken(id)
	req := httpEvent(http.MethodPost, "POST /callbacks/{vendor}/{token}", "/callbacks/koreai/"+token, "", string(body), nil)
	req.PathParameters = map[string]string{"vendor": "koreai", "token": token}
	return call(s.t, s.callback, s.ctx(invocation), req)
}

// koreCallbackToken is our token in the callback URL Kore was given for transfer id: its last
// path segment.
func (s *stack) koreCallbackToken(id string) string {
	s.t.Helper()
	for _, r := range s.koreSandbox.Requests() {
		var b struct {
			CallbackURL string `json:"callbackUrl"`
		}
		if !strings.HasSuffix(r.Path, "/assign-conversation") || json.Unmarshal(r.Body, &b) != nil {
			continue
		}
		u, err := url.Parse(b.CallbackURL)
		if err != nil {
			continue
		}
		token := path.Base(u.Path)
		if c, ok := koreai.CallbackTokenClaims(token); ok && c.Transfer == id {
			return token
		}
	}
	s.t.Fatalf("Kore was given no callback URL for transfer %s", id)
	return ""
}

// koreCallbackQuery is the same proof in the query form the callback route also takes: tenant,
// transfer and our token.
func (s *stack) koreCallbackQuery(id string) url.Values {
	s.t.Helper()
	token := s.koreCallbackToken(id)
	c, _ := koreai.CallbackTokenClaims(token)
	return url.Values{"tenant": {c.Tenant}, "transfer": {id}, "token": {token}}
}

func (s *stack) postCallback(vendor, query, body string, headers map[string]string) answer {
	s.t.Helper()
	req := httpEvent(http.MethodPost, "POST /callbacks/{vendor}", "/callbacks/"+vendor, query, body, headers)
	req.PathParameters = map[string]string{"vendor": vendor}
	return call(s.t, s.callback, s.ctx(invocation), req)
}

// httpHandler is aws-lambda-go's shape of the HTTP handlers.
type httpHandler interface {
	HTTP(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)
}

// transferFunction is the transfer function's Lambda entry point.
type transferFunction interface {
	Invoke(ctx context.Context, payload json.RawMessage) (any, error)
}

// answer is an HTTP answer with its error body decoded, when it has one.
type answer struct {
	events.APIGatewayV2HTTPResponse
	Code     handoff.Code
	Transfer handoff.Transfer
}

func call(t *testing.T, h httpHandler, ctx context.Context, req events.APIGatewayV2HTTPRequest) answer {
	t.Helper()
	resp, err := h.HTTP(ctx, req)
	if err != nil {
		t.Fatalf("handler returned an error instead of an HTTP answer: %v", err)
	}
	a := answer{APIGatewayV2HTTPResponse: resp}
	var body struct {
		Error *struct {
			Code handoff.Code `json:"code"`
		} `json:"error"`
		Transfer *handoff.Transfer `json:"transfer"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
		t.Fatalf("answer %d is not JSON: %.300q", resp.StatusCode, resp.Body)
	}
	switch {
	case body.Error != nil:
		a.Code = body.Error.Code
		if body.Transfer != nil {
			a.Transfer = *body.Transfer
		}
	default:
		_ = json.Unmarshal([]byte(resp.Body), &a.Transfer)
	}
	return a
}

// want fails unless the answer has this status and, for an error, this code.
func (a answer) want(t *testing.T, status int, code handoff.Code) answer {
	t.Helper()
	if a.StatusCode != status || a.Code != code {
		t.Fatalf("answer %d %s, want %d %s: %.400s", a.StatusCode, a.Code, status, code, a.Body)
	}
	return a
}

// A transfer request per vendor, each with a Salesforce bot to ack and a fallback.
type vendorCase struct {
	name string
	body string
	// server returns the vendor's probe in the stack; sandbox the sandbox behind it.
	server  func(*stack) *vendorServer
	sandbox func(*stack) injector
	// async: the vendor confirms by callback, the answer is 202 pending.
	async bool
	// alreadyDone is the vendor code a reconciling retry meets when the first attempt did the job.
	alreadyDone string
	// anyBody: every 2xx is the vendor's acceptance, whatever its body (Kore.ai's own success
	// sample is not strict JSON), so an undocumented body is no fault to the caller.
	anyBody bool
	// looks: a reconcile confirms a job the first call did by looking, with no second job call
	// (LivePerson reads Retrieve Chat Sessions: a chat no longer held has left the bot).
	looks bool
}

// reconcileCalls is how many job calls the vendor gets in all when a retry reconciles after one
// job call: a second one, except where the first acted and the vendor's reconcile only looks.
func (v vendorCase) reconcileCalls(acted bool) int {
	if acted && v.looks {
		return 1
	}
	return 2
}

// injector queues faults a sandbox plays on its coming job calls, before it acts.
type injector interface {
	Inject(f sandbox.Fault, times int)
}

func sfBot(session string) string {
	return `"bot": {"vendor": "salesforce", "sessionId": "` + session + `", "escalationMessageId": "` + salesforcesandbox.DemoEscalationMessageID + `"}`
}

var vendorCases = []vendorCase{
	{
		name: "bitrix24",
		// The next free operator: the one Bitrix24 method that tells a repeat (WRONG_CHAT).
		body: `{"tenant": "acme", "vendor": "bitrix24", "conversation": {"id": "` + bitrix24sandbox.ChatID + `"},
			"target": {"type": "next"}, ` + sfBot(salesforcesandbox.DemoSessionID) + `}`,
		server:      func(s *stack) *vendorServer { return s.b24 },
		sandbox:     func(s *stack) injector { return s.b24Sandbox },
		alreadyDone: "WRONG_CHAT",
	},
	{
		name: "liveperson",
		body: `{"tenant": "acme", "vendor": "liveperson", "conversation": {"id": "` + livepersonsandbox.DemoChatID + `"},
			"target": {"type": "agent", "id": "` + livepersonsandbox.AgentOnlineID + `"}, "note": "Refund.", ` + sfBot(salesforcesandbox.DemoSessionID) + `}`,
		server:      func(s *stack) *vendorServer { return s.lp },
		sandbox:     func(s *stack) injector { return s.lpSandbox },
		alreadyDone: "CHAT_LEFT_AGENT",
		looks:       true,
	},
	{
		name: "koreai",
		body: `{"tenant": "acme", "vendor": "koreai", "conversation": {"id": "` + koreaisandbox.ConversationID + `"},
			"target": {"type": "agent", "id": "` + koreaisandbox.AgentID + `"}, ` + sfBot(salesforcesandbox.DemoSessionID) + `}`,
		server:      func(s *stack) *vendorServer { return s.kore },
		sandbox:     func(s *stack) injector { return s.koreSandbox },
		async:       true,
		alreadyDone: "ALREADY_ASSIGNED",
		anyBody:     true,
	},
}
