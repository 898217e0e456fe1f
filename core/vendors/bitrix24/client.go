package bitrix24

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/rest"
	"handoff/core/vendors/vendorkit"
)

// The REST methods the adapter calls.
const (
	methodTransfer   = "imopenlines.bot.session.transfer"
	methodOperator   = "imopenlines.bot.session.operator"
	methodConfigList = "imopenlines.config.list.get"
)

// session is one tenant's credentials as read for one operation, with the secret's raw JSON so
// a token refresh can write the whole object back with its other fields untouched.
type session struct {
	tenant string
	creds  Credentials
	raw    []byte
}

// load reads tenant's credentials: the stored secret, or this container's unsaved rotated pair
// over it (see withRotation).
func (a *Adapter) load(ctx context.Context, tenant string) (*session, error) {
	s, err := a.loadStored(ctx, tenant)
	if err != nil {
		return nil, err
	}
	return a.withRotation(ctx, s), nil
}

// loadStored reads tenant's credentials as the secret holds them.
func (a *Adapter) loadStored(ctx context.Context, tenant string) (*session, error) {
	raw, err := a.deps.Secrets.Get(ctx, tenant, Key)
	if err != nil {
		return nil, err
	}
	s := &session{tenant: tenant, raw: raw}
	if err := vendors.DecodeCredentials(tenant+"/"+Key, raw, &s.creds); err != nil {
		return nil, err
	}
	return s, nil
}

// call is one REST method call: the method and its parameters without auth.
type call struct {
	op         string
	method     string
	params     map[string]any
	idempotent bool // a read, safe to send again after an ambiguous failure
	// botScoped methods act for a bot: a webhook caller names it with CLIENT_ID (an OAuth app
	// is its own bot). Added at send time, as a re-read secret may have changed auth mode.
	botScoped bool
}

// reply is a success envelope: the result, and for a list method the offset of its next page
// (0 when this page is the last).
type reply struct {
	result json.RawMessage
	next   int64
}

// invoke sends c and recovers, at most once each, from what Bitrix24 refuses before executing:
// an expired OAuth token (refresh the pair), credentials refused (re-read the secret, which
// another container may have rotated). It returns the success envelope, or a *vendorError for
// the caller to map, or a *handoff.Error for transport failures.
func (a *Adapter) invoke(ctx context.Context, s *session, c call) (reply, error) {
	refreshed, reread := false, false
	for {
		resp, err := a.send(ctx, s, c)
		if err != nil {
			return reply{}, err
		}
		rep, verr, err := parseAnswer(c.op, resp, a.deps.Now())
		if err != nil || verr == nil {
			return rep, err
		}
		// A webhook cannot be refreshed: an expired one is re-read like a refused one.
		rec := recoveries[verr.code]
		refresh := rec == recoverRefresh && !s.creds.Webhook()
		rereadable := rec == recoverReread || rec == recoverRefresh && s.creds.Webhook()
		switch {
		case refresh && !refreshed:
			refreshed = true
			if err := a.refresh(ctx, s); err != nil {
				return reply{}, err
			}
		case rereadable && !reread:
			reread = true
			a.log.WarnContext(ctx, "bitrix24: credentials refused, reading the secret again",
				"tenant", s.tenant, "op", c.op, "vendorCode", verr.code)
			a.deps.Secrets.Invalidate(s.tenant, Key)
			fresh, err := a.load(ctx, s.tenant)
			if err != nil {
				return reply{}, err
			}
			*s = *fresh
		default:
			return reply{}, verr
		}
	}
}

// send posts c as JSON (general-principles.md): to {webhookUrl}{method} for a webhook, or to
// {portalUrl}{method} with the access token in the body's "auth" field, which keeps it out of
// URLs and therefore out of any error that quotes one.
func (a *Adapter) send(ctx context.Context, s *session, c call) (*rest.Response, error) {
	body := make(map[string]any, len(c.params)+1)
	for k, v := range c.params {
		body[k] = v
	}
	base := s.creds.WebhookURL
	if s.creds.Webhook() && c.botScoped {
		body["CLIENT_ID"] = s.creds.BotClientID
	}
	if !s.creds.Webhook() {
		base = s.creds.PortalURL
		body["auth"] = s.creds.AccessToken
	}
	encoded, err := json.Marshal(body)
	if err != nil {
		return nil, handoff.E(handoff.CodeInternal, c.op, "could not encode the request", err)
	}
	header := http.Header{}
	header.Set("Content-Type", "application/json")
	header.Set("Accept", "application/json")
	return a.deps.HTTP.Do(ctx, rest.Request{
		Op:         c.op,
		Method:     http.MethodPost,
		URL:        rest.JoinURL(base, c.method),
		Header:     header,
		Body:       encoded,
		Idempotent: c.idempotent,
		Retry:      retryPolicy(c.idempotent),
	})
}

// retryPolicy adds, for a read, what rest re-sends by default for idempotent requests: a
// gateway's 502/503/504 (but never OVERLOAD_LIMIT, a block by Bitrix24 support).
func retryPolicy(idempotent bool) func(*rest.Response) bool {
	return func(resp *rest.Response) bool {
		if refusedForNow(resp) {
			return true
		}
		switch resp.Status {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return idempotent && !strings.EqualFold(errorCode(resp.Body), "OVERLOAD_LIMIT")
		}
		return false
	}
}

// refusedForNow says which answers rest may re-send by itself: a rate limit Bitrix24 applied
// before executing the method. OPERATION_TIME_LIMIT only when the answer says when to come back
// (its buckets last a minute; blind backoff would be refused again). OVERLOAD_LIMIT never.
func refusedForNow(resp *rest.Response) bool {
	code := errorCode(resp.Body)
	canonical, _, known := portalErrors.Lookup(code)
	if !known || recoveries[canonical] != recoverWait {
		return false
	}
	if strings.EqualFold(code, "OPERATION_TIME_LIMIT") {
		return resp.Header.Get("Retry-After") != ""
	}
	return true
}

// answer is Bitrix24's envelope: {"result": …, "time": {…}} or {"error", "error_description"};
// list methods add "total" and "next" (list-methods-pecularities.md).
type answer struct {
	Result json.RawMessage `json:"result"`
	Next   json.Number     `json:"next"`
	Error  json.RawMessage `json:"error"`
	Time   *struct {
		OperatingResetAt float64 `json:"operating_reset_at"`
	} `json:"time"`
}

// parseAnswer reads an answer defensively: unknown fields are fine, a success without "result"
// or a body that is not the envelope is VENDOR_BAD_RESPONSE.
func parseAnswer(op string, resp *rest.Response, now time.Time) (reply, *vendorError, error) {
	var ans answer
	decodeErr := json.Unmarshal(resp.Body, &ans)
	code := stringValue(ans.Error)
	if resp.OK() && code == "" {
		next, nextErr := ans.Next.Int64()
		if decodeErr != nil || len(ans.Result) == 0 || ans.Next != "" && (nextErr != nil || next < 0) {
			return reply{}, nil, handoff.E(handoff.CodeVendorProtocol, op, "Bitrix24 answered with a body its documentation does not describe", nil)
		}
		return reply{result: ans.Result, next: next}, nil, nil
	}
	v := &vendorError{status: resp.Status, retryAfter: rest.RetryAfter(resp.Header, now)}
	canonical, r, known := portalErrors.Lookup(code)
	if known {
		v.code, v.rule = canonical, r
	} else {
		v.code, v.rule = safeCode(code), byStatus(resp.Status)
	}
	if v.retryAfter == 0 && ans.Time != nil && ans.Time.OperatingResetAt > 0 {
		reset := time.Unix(int64(ans.Time.OperatingResetAt), 0)
		if wait := reset.Sub(now); wait > 0 && wait <= time.Hour {
			v.retryAfter = wait.Round(time.Second)
		}
	}
	return reply{}, v, nil
}

// Error makes a vendorError usable where an error is expected (invoke's callers map it).
func (v *vendorError) Error() string { return "bitrix24 error " + v.code }

func errorCode(body []byte) string {
	var ans answer
	if json.Unmarshal(body, &ans) != nil {
		return ""
	}
	return stringValue(ans.Error)
}

func stringValue(raw json.RawMessage) string {
	var s string
	if len(raw) == 0 || json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// safeCode keeps an unknown vendor code only if it looks like one: 1-64 ASCII letters, digits
// and '_'. Anything else (a sentence, markup) is no code, so a body cannot smuggle text into
// our errors through it.
func safeCode(code string) string { return vendorkit.CleanCode(code, 64, "_") }

// mapped turns invoke's error into ours: vendor errors through the table, the rest unchanged.
func mapped(op string, err error, reconcile bool) error {
	if v, ok := err.(*vendorError); ok {
		return v.toError(op, reconcile)
	}
	return err
}

// isTrue reports whether a result is the JSON literal true.
func isTrue(result json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(result), []byte("true"))
}
