package bitrix24

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors/rest"
)

// Time budgets of a refresh. The refresh token is spent the moment Bitrix24 answers, so a
// refresh is started only when the function has time left to store the pair it gets: a function
// killed between the two would lose the only working refresh token.
const (
	// refreshTimeout bounds the one refresh concurrent callers share, when the caller's context
	// has no nearer deadline. It runs detached from the first caller's cancellation, so that
	// caller giving up does not fail the others, but never past the caller's deadline: the
	// function does not outlive it.
	refreshTimeout = 15 * time.Second
	// storeReserve is kept, out of the refresh's time, for writing the new pair back.
	storeReserve = 3 * time.Second
	// minRefreshWindow is the least time left for a refresh to start: a token request of a
	// couple of seconds plus storeReserve. skill-check's 10 s timeout leaves enough.
	minRefreshWindow = storeReserve + 2*time.Second
	// rereadTries bounds how often a refresh refused with invalid_grant reads the secret again,
	// waiting for the pair another container got with the same refresh token to be stored.
	rereadTries = 4
)

// refresh renews s's OAuth pair after Bitrix24 said expired_token, writes it back and updates s.
// Bitrix24 rotates the refresh token on every refresh and the old one stops working, so two
// refreshes of one pair would break the second: concurrent callers for one tenant share one
// refresh (vendorkit.Flight), and a caller whose pair was already replaced (by this container or
// another, seen after dropping the cached secret) uses the new one without refreshing again.
func (a *Adapter) refresh(ctx context.Context, s *session) error {
	const op = "bitrix24.refresh"
	deadline := time.Now().Add(refreshTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if time.Until(deadline) < minRefreshWindow {
		// Starting now could spend the refresh token without time to store its successor.
		return handoff.E(handoff.CodeVendorTimeout, op, "too little time left to refresh the Bitrix24 token and store it; try again", nil)
	}
	stale := s.creds.AccessToken
	fresh, err := a.flight.Do(ctx, s.tenant, deadline, op, "gave up waiting for the token refresh",
		func(rctx context.Context) (*session, error) { return a.refreshShared(rctx, s.tenant, stale) })
	if err != nil {
		return err
	}
	s.creds = fresh.creds
	s.raw = bytes.Clone(fresh.raw)
	return nil
}

func (a *Adapter) refreshShared(ctx context.Context, tenant, stale string) (*session, error) {
	const op = "bitrix24.refresh"
	a.deps.Secrets.Invalidate(tenant, Key) // another container may have rotated the pair
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
	// The refresh token stored now: the one the new pair replaces (an unsaved pair of ours
	// replaces the same one).
	stored := s.creds.RefreshToken
	if r, ok := a.rotations.get(tenant); ok && r.tok.RefreshToken == stored {
		stored = r.base
	}
	tctx, cancel := context.WithTimeout(ctx, remaining(ctx)-storeReserve)
	tok, err := a.requestToken(tctx, op, s.creds)
	cancel()
	if err != nil {
		if handoff.AsError(err).VendorCode != "invalid_grant" {
			return nil, err
		}
		// Another container may have used the same refresh token a moment ago: wait for the
		// pair it got to be stored, rather than fail the call.
		if again, ok := a.awaitRotation(ctx, tenant, s.creds.RefreshToken); ok {
			return again, nil
		}
		return nil, err
	}
	r := rotation{base: stored, tok: tok}
	a.rotations.put(tenant, r) // usable at once, whatever becomes of the write-back
	fresh, err := overlay(s, tok, a.log)
	if err != nil {
		return nil, handoff.E(handoff.CodeConfiguration, op, "the Bitrix24 secret could not be rewritten", nil)
	}
	if err := a.writeBack(ctx, tenant, r); err != nil {
		// The new pair lives in this container until a later call stores it (load retries).
		a.log.ErrorContext(ctx, "bitrix24: could not write back the rotated OAuth tokens; kept in memory and retried on the next call",
			"tenant", tenant, "code", handoff.ErrorCode(err))
		return fresh, nil
	}
	a.log.InfoContext(ctx, "bitrix24: OAuth tokens refreshed and written back", "tenant", tenant)
	return fresh, nil
}

// awaitRotation reads the secret again, a few times while time allows, until it holds another
// refresh token than spent: the pair another container got for it.
func (a *Adapter) awaitRotation(ctx context.Context, tenant, spent string) (*session, bool) {
	wait := 100 * time.Millisecond
	for range rereadTries {
		a.deps.Secrets.Invalidate(tenant, Key)
		again, err := a.load(ctx, tenant)
		if err == nil && !again.creds.Webhook() && again.creds.RefreshToken != spent {
			return again, true
		}
		if remaining(ctx) < wait+storeReserve {
			return nil, false
		}
		select {
		case <-ctx.Done():
			return nil, false
		case <-time.After(wait):
		}
		wait *= 2
	}
	return nil, false
}

// remaining is the time left before ctx's deadline (refreshTimeout when it has none).
func remaining(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return time.Until(d)
	}
	return refreshTimeout
}

// token is the authorization server's answer to a refresh (settings/oauth/index.md). It also
// carries client_endpoint, the portal's current REST address: a portal whose address changed
// is reached there, and the docs say to keep the latest one
// (settings/how-to-call-rest-api/change-domen.md).
type token struct {
	AccessToken    string `json:"access_token"`
	RefreshToken   string `json:"refresh_token"`
	ClientEndpoint string `json:"client_endpoint"`
	Error          string `json:"error"`
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
		code, r, known := oauthErrors.Lookup(tok.Error)
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

// withTokens returns the secret's JSON with the new pair (and the new client_endpoint as
// portalUrl, when it is a valid one) and every other field as it was.
func withTokens(raw []byte, tok token) ([]byte, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, err
	}
	access, _ := json.Marshal(tok.AccessToken)
	refresh, _ := json.Marshal(tok.RefreshToken)
	fields["accessToken"], fields["refreshToken"] = access, refresh
	if validEndpoint(tok.ClientEndpoint) {
		endpoint, _ := json.Marshal(tok.ClientEndpoint)
		fields["portalUrl"] = endpoint
	}
	return json.Marshal(fields)
}

// validEndpoint reports whether a client_endpoint may become portalUrl: the same rules as
// the secret's own field, so a bad answer cannot send the token anywhere it could not go.
func validEndpoint(endpoint string) bool {
	if endpoint == "" {
		return false
	}
	c := Credentials{PortalURL: endpoint, AccessToken: "x", RefreshToken: "x", AppClientID: "x", AppClientSecret: "x"}
	return c.validateOAuth() == nil
}

// overlay returns s with tok applied: the pair, and the portal's new address when it moved.
func overlay(s *session, tok token, log *slog.Logger) (*session, error) {
	raw, err := withTokens(s.raw, tok)
	if err != nil {
		return nil, err
	}
	out := &session{tenant: s.tenant, creds: s.creds, raw: raw}
	out.creds.AccessToken, out.creds.RefreshToken = tok.AccessToken, tok.RefreshToken
	switch {
	case validEndpoint(tok.ClientEndpoint):
		if tok.ClientEndpoint != s.creds.PortalURL {
			log.Info("bitrix24: the portal's REST address changed; using the one the token refresh returned", "tenant", s.tenant)
		}
		out.creds.PortalURL = tok.ClientEndpoint
	case tok.ClientEndpoint != "":
		log.Warn("bitrix24: the token refresh returned a client_endpoint that is not an https REST prefix; ignored", "tenant", s.tenant)
	}
	return out, nil
}
