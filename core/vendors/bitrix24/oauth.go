package bitrix24

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors/rest"
)

// refreshTimeout bounds the one refresh concurrent callers share. It runs detached from the
// first caller's context, so that caller giving up does not fail the others.
const refreshTimeout = 15 * time.Second

// refresh renews s's OAuth pair after Bitrix24 said expired_token, writes it back and updates s.
// Bitrix24 rotates the refresh token on every refresh and the old one stops working, so two
// refreshes of one pair would break the second: concurrent callers for one tenant share one
// refresh (singleflight), and a caller whose pair was already replaced (by this container or
// another, seen after dropping the cached secret) uses the new one without refreshing again.
func (a *Adapter) refresh(ctx context.Context, s *session) error {
	stale := s.creds.AccessToken
	ch := a.flight.DoChan(s.tenant, func() (any, error) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refreshTimeout)
		defer cancel()
		return a.refreshShared(rctx, s.tenant, stale)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return r.Err
		}
		fresh := r.Val.(*session)
		s.creds = fresh.creds
		s.raw = bytes.Clone(fresh.raw)
		return nil
	case <-ctx.Done():
		return handoff.E(handoff.CodeVendorTimeout, "bitrix24.refresh", "gave up waiting for the token refresh", ctx.Err())
	}
}

func (a *Adapter) refreshShared(ctx context.Context, tenant, stale string) (*session, error) {
	const op = "bitrix24.refresh"
	a.deps.Secrets.Invalidate(tenant, vendorKey) // another container may have rotated the pair
	s, err := a.load(ctx, tenant)
	if err != nil {
		return nil, err
	}
	if s.creds.Webhook() {
		return nil, handoff.E(handoff.CodeVendorAuthFailed, op, "the Bitrix24 secret changed to a webhook during a token refresh", nil)
	}
	if s.creds.AccessToken != stale {
		a.log.InfoContext(ctx, "bitrix24: access token already renewed elsewhere", "tenant", tenant)
		return s, nil
	}
	tok, err := a.requestToken(ctx, op, s.creds)
	if err != nil {
		if handoff.AsError(err).VendorCode != "invalid_grant" {
			return nil, err
		}
		// Another container may have used the same refresh token a moment ago and stored
		// the pair it got: read once more before giving up.
		a.deps.Secrets.Invalidate(tenant, vendorKey)
		again, rerr := a.load(ctx, tenant)
		if rerr == nil && !again.creds.Webhook() && again.creds.RefreshToken != s.creds.RefreshToken {
			return again, nil
		}
		return nil, err
	}
	raw, err := withTokens(s.raw, tok)
	if err != nil {
		return nil, handoff.E(handoff.CodeConfiguration, op, "the Bitrix24 secret could not be rewritten", nil)
	}
	s.creds.AccessToken, s.creds.RefreshToken, s.raw = tok.AccessToken, tok.RefreshToken, raw
	if err := a.deps.Secrets.Put(ctx, tenant, vendorKey, raw); err != nil {
		// The old refresh token is spent: this call can still go on with the new access
		// token, but the tenant will need to authorize the application again once it expires.
		a.log.ErrorContext(ctx, "bitrix24: could not write back the rotated OAuth tokens",
			"tenant", tenant, "code", handoff.ErrorCode(err))
		return s, nil
	}
	a.log.InfoContext(ctx, "bitrix24: OAuth tokens refreshed and written back", "tenant", tenant)
	return s, nil
}

// token is the authorization server's answer to a refresh (settings/oauth/index.md).
type token struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	Error        string `json:"error"`
}

// requestToken asks the authorization server for a new pair: a GET with the client secret in
// the query, sent to oauthUrl and nowhere else. Not idempotent (the refresh token is spent by
// the first answer), so rest re-sends it only when it provably never left.
func (a *Adapter) requestToken(ctx context.Context, op string, c Credentials) (token, error) {
	u, err := url.Parse(c.OAuthURL)
	if err != nil {
		return token{}, handoff.E(handoff.CodeConfiguration, op, "oauthUrl is not a URL", nil)
	}
	q := u.Query()
	q.Set("grant_type", "refresh_token")
	q.Set("client_id", c.AppClientID)
	q.Set("client_secret", c.AppClientSecret)
	q.Set("refresh_token", c.RefreshToken)
	u.RawQuery = q.Encode()
	header := http.Header{}
	header.Set("Accept", "application/json")
	resp, err := a.deps.HTTP.Do(ctx, rest.Request{Op: op, Method: http.MethodGet, URL: u.String(), Header: header})
	if err != nil {
		return token{}, err
	}
	var tok token
	decodeErr := json.Unmarshal(resp.Body, &tok)
	if !resp.OK() || tok.Error != "" {
		code, r, known := lookup(oauthErrors, oauthIndex, tok.Error)
		if !known {
			code, r = safeCode(tok.Error), byStatus(resp.Status)
			if r.Code == handoff.CodeVendorRejected {
				r.Code = handoff.CodeVendorAuthFailed // any other refusal still leaves us without a token
			}
		}
		return token{}, &handoff.Error{Code: r.Code, Op: op, Message: r.Message, VendorCode: code}
	}
	if decodeErr != nil || tok.AccessToken == "" || tok.RefreshToken == "" {
		return token{}, handoff.E(handoff.CodeVendorProtocol, op, "Bitrix24's OAuth server answered without a token pair", nil)
	}
	return tok, nil
}

// withTokens returns the secret's JSON with the new pair and every other field as it was.
func withTokens(raw []byte, tok token) ([]byte, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, err
	}
	access, _ := json.Marshal(tok.AccessToken)
	refresh, _ := json.Marshal(tok.RefreshToken)
	fields["accessToken"], fields["refreshToken"] = access, refresh
	return json.Marshal(fields)
}
