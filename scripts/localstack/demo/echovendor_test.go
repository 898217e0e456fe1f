package demo_test

// Echo is a made-up vendor, small enough to read in one sitting: the adapter and the sandbox a
// new vendor brings (docs/adding-a-vendor.md), here in test code. In the repository they would
// be core/vendors/<name> (the adapter) and core/vendors/<name>/<name>sandbox (the sandbox).
//
// Echo's API: POST {baseUrl}/transfers with a bearer token and {"conversation", "agent"};
// 200 {"status":"transferred"}; errors {"error": CODE} with 400 BAD_REQUEST, 409 AGENT_OFFLINE,
// 401 TOKEN_EXPIRED (fetch the token again) or TOKEN_REVOKED, 429 with Retry-After, 5xx.

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/rest"
	"handoff/core/vendors/sandbox"
)

// ---- the adapter (its own package: core/vendors/<name>) ----

const echoKey = "echo"

type echoCredentials struct {
	BaseURL string `json:"baseUrl"`
	Token   string `json:"token"`
}

type echoAdapter struct {
	secrets vendors.Secrets
	http    *rest.Client
	log     *slog.Logger
}

func newEcho(d vendors.Deps) *echoAdapter {
	return &echoAdapter{secrets: d.Secrets, http: d.HTTP, log: d.Log}
}

func (a *echoAdapter) Supports(t handoff.TargetType) bool { return t == handoff.TargetAgent }

func (a *echoAdapter) Transfer(ctx context.Context, req vendors.TransferRequest) (vendors.TransferResult, error) {
	const op = "echo.Transfer"
	if !a.Supports(req.Target.Type) {
		return vendors.TransferResult{}, handoff.E(handoff.CodeUnsupportedTarget, op, "Echo transfers to agents only", nil)
	}
	if err := ctx.Err(); err != nil {
		return vendors.TransferResult{}, handoff.E(handoff.CodeVendorTimeout, op, "cancelled before the call", err)
	}
	for attempt := 1; ; attempt++ {
		resp, err := a.call(ctx, op, req)
		if err != nil {
			return vendors.TransferResult{}, err
		}
		e := echoError(op, resp)
		if e == nil {
			return vendors.TransferResult{Outcome: handoff.OutcomeTransferred}, nil
		}
		if e.VendorCode != "TOKEN_EXPIRED" || attempt > 1 {
			return vendors.TransferResult{}, e
		}
		a.secrets.Invalidate(req.Tenant, echoKey) // the token was replaced: read it again, once
	}
}

func (a *echoAdapter) call(ctx context.Context, op string, req vendors.TransferRequest) (*rest.Response, error) {
	raw, err := a.secrets.Get(ctx, req.Tenant, echoKey)
	if err != nil {
		return nil, err
	}
	var c echoCredentials
	if json.Unmarshal(raw, &c) != nil || c.Token == "" || rest.CheckBaseURL("baseUrl", c.BaseURL) != nil {
		return nil, handoff.E(handoff.CodeConfiguration, op, "the Echo secret needs baseUrl and token", nil)
	}
	body, _ := json.Marshal(map[string]string{"conversation": req.Conversation.ID, "agent": req.Target.ID})
	return a.http.Do(ctx, rest.Request{Op: op, Method: http.MethodPost, URL: rest.JoinURL(c.BaseURL, "transfers"),
		Header: http.Header{"Authorization": {"Bearer " + c.Token}, "Content-Type": {"application/json"}}, Body: body})
}

// echoError reads an answer: nil for a transfer done, else the error it means.
func echoError(op string, resp *rest.Response) *handoff.Error {
	var answer struct {
		Status string `json:"status"`
		Error  string `json:"error"`
	}
	ok := json.Unmarshal(resp.Body, &answer) == nil
	switch {
	case resp.OK() && ok && answer.Status == "transferred":
		return nil
	case resp.OK():
		return handoff.E(handoff.CodeVendorProtocol, op, "Echo answered a body its docs do not describe", nil)
	case resp.Status == http.StatusTooManyRequests:
		e := handoff.E(handoff.CodeRateLimited, op, "Echo's rate limit is reached", nil)
		e.RetryAfter = rest.RetryAfter(resp.Header, time.Now())
		return e
	case resp.Status >= 500:
		return handoff.E(handoff.CodeVendorUnavailable, op, "Echo failed", nil)
	}
	code := map[string]handoff.Code{"AGENT_OFFLINE": handoff.CodeTargetUnavailable, "TOKEN_EXPIRED": handoff.CodeVendorAuthFailed,
		"TOKEN_REVOKED": handoff.CodeVendorAuthFailed}[answer.Error]
	if code == "" {
		code = handoff.CodeVendorRejected
	}
	e := handoff.E(code, op, "Echo refused the transfer", nil)
	e.VendorCode = answer.Error
	return e
}

// ---- the sandbox (its own package: core/vendors/<name>/<name>sandbox) ----

const echoDemoToken = "echo-demo-token-0001"

// echoSpec registers the sandbox: how to build it, its demo secret, its load plan.
var echoSpec = sandbox.Spec{
	New: func(sandbox.Options) sandbox.Server { return &echoSandbox{} },
	DemoSecret: func(baseURL string) []byte {
		b, _ := json.Marshal(echoCredentials{BaseURL: baseURL, Token: echoDemoToken})
		return b
	},
	Load: &sandbox.Load{Transfer: func(run string, i, _ int) (string, sandbox.Target) {
		return "LOAD-" + run + "-" + strconv.Itoa(i), sandbox.Target{Type: "agent", ID: "7"}
	}},
}

type echoSandbox struct {
	faults sandbox.Faults
	rec    sandbox.Recorder
}

func (s *echoSandbox) Inject(f sandbox.Fault, times int) { s.faults.Inject(f, times) }
func (s *echoSandbox) Close()                            {}

func (s *echoSandbox) TransferCalls() int {
	return s.rec.Count(http.MethodPost, func(p string) bool { return p == "/transfers" })
}

func (s *echoSandbox) Counters() sandbox.Counters {
	return sandbox.CountTransfers(s.rec.Requests(), func(r sandbox.Request) (string, bool) {
		return sandbox.JSONField(r.Body, "conversation"), r.Method == http.MethodPost && r.Path == "/transfers"
	})
}

func (s *echoSandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body := s.rec.Record(r)
	if r.Method != http.MethodPost || r.URL.Path != "/transfers" {
		sandbox.WriteJSON(w, http.StatusNotFound, map[string]string{"error": "NOT_FOUND"})
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+echoDemoToken {
		sandbox.WriteJSON(w, http.StatusUnauthorized, map[string]string{"error": "TOKEN_REVOKED"})
		return
	}
	if f, ok := s.faults.Next(); ok {
		switch f.Kind {
		case sandbox.VendorError:
			status := map[string]int{"AGENT_OFFLINE": http.StatusConflict}[f.VendorCode]
			sandbox.WriteJSON(w, max(status, http.StatusBadRequest), map[string]string{"error": f.VendorCode})
		case sandbox.AuthExpired:
			sandbox.WriteJSON(w, http.StatusUnauthorized, map[string]string{"error": "TOKEN_EXPIRED"})
		case sandbox.AuthRejected:
			sandbox.WriteJSON(w, http.StatusUnauthorized, map[string]string{"error": "TOKEN_REVOKED"})
		case sandbox.RateLimited:
			sandbox.SetRetryAfter(w, f.RetryAfter)
			sandbox.WriteJSON(w, http.StatusTooManyRequests, map[string]string{"error": "RATE_LIMITED"})
		default:
			sandbox.Play(w, r, f)
		}
		return
	}
	var req struct{ Conversation, Agent string }
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if dec.Decode(&req) != nil || req.Conversation == "" || req.Agent == "" {
		sandbox.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "BAD_REQUEST"})
		return
	}
	sandbox.WriteJSON(w, http.StatusOK, map[string]string{"status": "transferred"})
}
