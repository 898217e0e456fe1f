package koreaisandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Delivery is one outcome the sandbox posted to a callbackUrl.
type Delivery struct {
	// URL is the callbackUrl as the transfer gave it; it holds the adapter's token, so keep it
	// out of logs.
	URL  string
	Body []byte
	// Status is the callback receiver's answer; zero when none came (see Err).
	Status int
	Err    string
	At     time.Time
}

// Deliveries returns the callbacks posted so far, oldest first.
func (s *Sandbox) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery(nil), s.deliveries...)
}

// scheduleCallback posts the transfer's outcome to its callbackUrl after the configured delay,
// as Kore says it does [C]. The payload is the docs' sample response [I: the docs do not say
// what Kore posts]: {sessionId, agentId|queueId, status, requestCompletedAt}.
func (s *Sandbox) scheduleCallback(callbackURL, session, target string, isAgent bool) {
	if s.cfg.NoCallbacks {
		return
	}
	s.pending.Add(1)
	go func() {
		defer s.pending.Done()
		timer := time.NewTimer(s.cfg.CallbackDelay)
		defer timer.Stop()
		select {
		case <-s.ctx.Done():
			return
		case <-timer.C:
		}
		s.deliver(callbackURL, s.outcomeBody(session, target, isAgent))
		if status, failed := s.cfg.FailStatus[target]; failed && status != "transferred" {
			s.mu.Lock()
			delete(s.assigned, session) // a failed transfer leaves the session free for another
			s.mu.Unlock()
		}
	}()
}

func (s *Sandbox) outcomeBody(session, target string, isAgent bool) []byte {
	var payload map[string]any
	if s.cfg.UnknownShape {
		payload = map[string]any{"event": "conversation.assignment", "data": map[string]any{"session": session, "result": "ok"}}
	} else {
		status := "transferred"
		if failure, ok := s.cfg.FailStatus[target]; ok {
			status = failure
		}
		payload = map[string]any{"sessionId": session, "status": status, "requestCompletedAt": s.cfg.Now().UnixMilli()}
		if isAgent {
			payload["agentId"] = target
		} else {
			payload["queueId"] = target
		}
	}
	body, _ := json.Marshal(payload)
	return body
}

// deliver posts once, as nothing documents a retry policy [U], and records what happened.
func (s *Sandbox) deliver(callbackURL string, body []byte) {
	d := Delivery{URL: callbackURL, Body: body, At: s.cfg.Now()}
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, callbackURL, bytes.NewReader(body))
	if err == nil {
		req.Header.Set("Content-Type", "application/json")
		var resp *http.Response
		if resp, err = s.cfg.CallbackClient.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			_ = resp.Body.Close()
			d.Status = resp.StatusCode
		}
	}
	if err != nil {
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err // the URL holds the token: keep it out of the record
		}
		d.Err = err.Error()
	}
	s.mu.Lock()
	s.deliveries = append(s.deliveries, d)
	s.mu.Unlock()
}
