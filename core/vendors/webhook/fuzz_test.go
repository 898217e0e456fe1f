package webhook_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/rest"
	"handoff/core/vendors/vendortest"
	"handoff/core/vendors/webhook"
	"handoff/core/vendors/webhook/webhooksandbox"
)

// fuzzReceiver answers every delivery with the fuzzed status, Retry-After and body, in process.
type fuzzReceiver struct {
	status int
	header http.Header
	body   []byte
	calls  int
}

func (f *fuzzReceiver) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		defer r.Body.Close()
	}
	f.calls++
	return &http.Response{StatusCode: f.status, Header: f.header.Clone(), Body: io.NopCloser(bytes.NewReader(f.body)), Request: r}, nil
}

// FuzzDeliveryAnswer: any answer of the bot's receiver (the adapter reads its status and
// Retry-After; the body is the receiver's own text and stays out). An ack is delivered only on
// a 2xx; a refusal is one of our codes with a bounded wait, and is resent inside the call only
// when another try may go better.
func FuzzDeliveryAnswer(f *testing.F) {
	for _, seed := range []struct {
		status uint16
		after  string
	}{{100, ""}, {104, ""}, {310, ""}, {308, "2"}, {329, "Wed, 21 Oct 2015 07:28:00 GMT"}, {401, ""}, {1, ""}, {201, ""}} {
		f.Add(seed.status, seed.after, []byte(`{"error":"x"}`))
	}
	f.Fuzz(func(t *testing.T, status uint16, retryAfter string, body []byte) {
		r := &fuzzReceiver{status: 100 + int(status)%500, header: http.Header{}, body: body}
		if retryAfter != "" {
			r.header.Set("Retry-After", retryAfter)
		}
		hc := &http.Client{Transport: r, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		a := webhook.New(vendors.Deps{
			Secrets: vendortest.NewSecrets(tenant, webhook.VendorKey, webhooksandbox.DemoSecret("http://127.0.0.1:1")),
			HTTP:    rest.New(hc, rest.WithBackoff(0), rest.WithMaxWait(0)), Log: slog.New(slog.DiscardHandler), Now: time.Now,
		})
		err := errOf(a.Ack(context.Background(), transfer(handoff.StatusTransferred, 1712345678901)))
		if (err == nil) != (r.status/100 == 2) {
			t.Fatalf("answer %d: ack error %v", r.status, err)
		}
		if err != nil {
			var e *handoff.Error
			if !errors.As(err, &e) || e.Code == handoff.CodeInternal || e.RetryAfter < 0 || e.RetryAfter > time.Hour {
				t.Fatalf("error %v", err)
			}
			if strings.Contains(err.Error(), webhooksandbox.DemoSigningSecret) || len(body) >= 8 && strings.Contains(e.Message, string(body)) {
				t.Fatalf("the error quotes the secret or the receiver: %v", err)
			}
			if r.calls > 1 && !handoff.Retryable(err) && e.Code != handoff.CodeVendorAuthFailed {
				t.Fatalf("a final refusal (%s) was sent %d times", e.Code, r.calls)
			}
		}
		if r.calls > 6 {
			t.Fatalf("the ack was sent %d times", r.calls)
		}
	})
}
