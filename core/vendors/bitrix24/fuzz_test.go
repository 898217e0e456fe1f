package bitrix24_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/bitrix24"
	"handoff/core/vendors/bitrix24/bitrix24sandbox"
	"handoff/core/vendors/rest"
	"handoff/core/vendors/vendortest"
)

// The fuzz targets put Bitrix24's answers — a transfer's, the open lines', the OAuth server's,
// and the events it posts — in the fuzzer's hands, one decoder each. Every other request is
// answered by the sandbox, in process (no sockets, no sleeps: Retry-After is never waited for).

// fuzzServer answers the requests match selects with the fuzzed answer, and the rest with the
// sandbox; it counts the fuzzed ones.
type fuzzServer struct {
	sandbox http.Handler
	match   func(*http.Request) bool
	answer  func(*http.Request) (int, http.Header, []byte)
	matched int
}

func (f *fuzzServer) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		defer r.Body.Close()
	}
	if f.match(r) {
		f.matched++
		status, header, body := f.answer(r)
		return &http.Response{StatusCode: status, Header: header, Body: io.NopCloser(bytes.NewReader(body)), Request: r}, nil
	}
	rec := httptest.NewRecorder()
	f.sandbox.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// fuzzed answers every match with the fuzzer's status (mapped into 100-599), Retry-After and body.
func fuzzed(status uint16, retryAfter string, body []byte) func(*http.Request) (int, http.Header, []byte) {
	return func(*http.Request) (int, http.Header, []byte) {
		h := http.Header{"Content-Type": {"application/json"}}
		if retryAfter != "" {
			h.Set("Retry-After", retryAfter)
		}
		return 100 + int(status)%500, h, body
	}
}

func fuzzAdapter(f *fuzzServer, secrets *vendortest.Secrets) *bitrix24.Adapter {
	hc := &http.Client{Transport: f, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return bitrix24.New(vendors.Deps{
		Secrets: secrets, HTTP: rest.New(hc, rest.WithBackoff(0), rest.WithMaxWait(0)),
		Log: newLogger(io.Discard), Now: time.Now,
	})
}

const fuzzBase = "http://127.0.0.1:1"

// checkVendorError holds an adapter's error to the contract: one of ours, with a code the caller
// can act on, a bounded wait and vendor code, and no credential in its text.
func checkVendorError(t *testing.T, err error, secrets []string) {
	t.Helper()
	var e *handoff.Error
	if !errors.As(err, &e) || e.Code == handoff.CodeInternal || e.Code == "" {
		t.Fatalf("error %v is not a coded *handoff.Error", err)
	}
	if e.RetryAfter < 0 || e.RetryAfter > time.Hour {
		t.Fatalf("RetryAfter %v", e.RetryAfter)
	}
	if len(e.VendorCode) > 64 || strings.IndexFunc(e.VendorCode, func(r rune) bool {
		return r != '_' && !(r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)))
	}) >= 0 {
		t.Fatalf("vendor code %q is not a code", e.VendorCode)
	}
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) || strings.Contains(e.Message, s) {
			t.Fatalf("a credential reached the error: %v", err)
		}
	}
}

// FuzzTransferAnswer: any answer to imopenlines.bot.session.transfer.
func FuzzTransferAnswer(f *testing.F) {
	f.Add(uint16(100), "", []byte(`{"result":true,"time":{"start":1}}`))
	f.Add(uint16(300), "", []byte(`{"error":"OPERATOR_WRONG","error_description":"x"}`))
	f.Add(uint16(403), "", []byte(`{"error":"QUERY_LIMIT_EXCEEDED","time":{"operating_reset_at":9999999999}}`))
	f.Add(uint16(329), "120", []byte(`{"error":"OPERATION_TIME_LIMIT"}`))
	f.Add(uint16(301), "", []byte(`{"error":"NO_AUTH_FOUND"}`))
	f.Add(uint16(100), "", []byte(`{"result":"true"}`))
	f.Add(uint16(400), "", []byte(`<html>Bad gateway</html>`))
	f.Fuzz(func(t *testing.T, status uint16, retryAfter string, body []byte) {
		srv := &fuzzServer{sandbox: bitrix24sandbox.New(bitrix24sandbox.Config{}),
			match:  func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "imopenlines.bot.session.transfer") },
			answer: fuzzed(status, retryAfter, body)}
		secrets := vendortest.NewSecrets(tenant, "bitrix24", bitrix24sandbox.DemoWebhookSecret(fuzzBase))
		res, err := fuzzAdapter(srv, secrets).Transfer(context.Background(), vendors.TransferRequest{
			Tenant: tenant, TransferID: "tr-fuzz", Conversation: handoff.Conversation{ID: bitrix24sandbox.ChatID},
			Target: handoff.Target{Type: handoff.TargetAgent, ID: bitrix24sandbox.UserID},
		})
		if err != nil {
			checkVendorError(t, err, secretValues(t))
		} else if res.Outcome != handoff.OutcomeTransferred || res.VendorRef != bitrix24sandbox.ChatID || (100+status%500)/100 != 2 {
			t.Fatalf("success %+v from a %d answer", res, 100+status%500)
		}
		if srv.matched > 6 {
			t.Fatalf("the transfer was sent %d times", srv.matched)
		}
	})
}

// FuzzLinesAnswer: any answer to imopenlines.config.list.get, the open lines availability lists.
func FuzzLinesAnswer(f *testing.F) {
	f.Add(uint16(100), []byte(`{"result":[{"ID":"1","ACTIVE":"Y","LINE_NAME":"Support"},{"ID":2,"ACTIVE":"N"}]}`))
	f.Add(uint16(100), []byte(`{"result":{"0":{"ID":"1"},"5":{"ID":"7","ACTIVE":"Y"}}}`))
	f.Add(uint16(100), []byte(`{"result":[{"ID":"01"},{"ID":-1},{"ID":1e3}]}`))
	f.Add(uint16(403), []byte(`{"error":"QUERY_LIMIT_EXCEEDED"}`))
	f.Fuzz(func(t *testing.T, status uint16, body []byte) {
		srv := &fuzzServer{sandbox: bitrix24sandbox.New(bitrix24sandbox.Config{}),
			match:  func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "imopenlines.config.list.get") },
			answer: fuzzed(status, "", body)}
		secrets := vendortest.NewSecrets(tenant, "bitrix24", bitrix24sandbox.DemoWebhookSecret(fuzzBase))
		lines, err := fuzzAdapter(srv, secrets).Availability(context.Background(), vendors.AvailabilityRequest{Tenant: tenant})
		if err != nil {
			checkVendorError(t, err, secretValues(t))
			return
		}
		for i, l := range lines {
			if l.Type != handoff.TargetQueue || handoff.ValidateID("id", l.ID) != nil || strings.TrimLeft(l.ID, "0123456789") != "" || l.ID[0] == '0' {
				t.Fatalf("line %+v is not a queue with a positive integer id", l)
			}
			if i > 0 && len(lines[i-1].ID) > len(l.ID) {
				t.Fatalf("lines out of order: %+v", lines)
			}
		}
	})
}

// FuzzRefreshAnswer: any answer of the OAuth server to a refresh. Only a full pair is written
// back, and no error quotes the client secret or a token.
func FuzzRefreshAnswer(f *testing.F) {
	f.Add(uint16(100), []byte(`{"access_token":"a2","refresh_token":"r2","expires_in":3600}`))
	f.Add(uint16(100), []byte(`{"access_token":"a2"}`))
	f.Add(uint16(300), []byte(`{"error":"invalid_grant","error_description":"x"}`))
	f.Add(uint16(100), []byte(`{"error":"expired_token"}`))
	f.Add(uint16(401), []byte(`not json`))
	f.Fuzz(func(t *testing.T, status uint16, body []byte) {
		const stale = "sbxaccess98b9d690000071b" // the demo secret's access token
		srv := &fuzzServer{match: func(*http.Request) bool { return true }}
		srv.answer = func(r *http.Request) (int, http.Header, []byte) {
			if strings.HasPrefix(r.URL.Path, "/oauth/token") {
				return fuzzed(status, "", body)(r)
			}
			b, _ := io.ReadAll(r.Body)
			if bytes.Contains(b, []byte(stale)) {
				return http.StatusUnauthorized, http.Header{}, []byte(`{"error":"expired_token","error_description":"The access token provided has expired."}`)
			}
			return http.StatusOK, http.Header{}, []byte(`{"result":true}`)
		}
		secrets := vendortest.NewSecrets(tenant, "bitrix24", bitrix24sandbox.DemoSecret(fuzzBase))
		_, err := fuzzAdapter(srv, secrets).Transfer(context.Background(), vendors.TransferRequest{
			Tenant: tenant, TransferID: "tr-fuzz", Conversation: handoff.Conversation{ID: bitrix24sandbox.ChatID},
			Target: handoff.Target{Type: handoff.TargetNext},
		})
		var stored struct {
			AccessToken  string `json:"accessToken"`
			RefreshToken string `json:"refreshToken"`
		}
		_ = json.Unmarshal(secrets.Value(tenant, "bitrix24"), &stored)
		if err != nil {
			checkVendorError(t, err, secretValues(t))
			if secrets.Puts != 0 {
				t.Fatal("a failed refresh wrote the secret")
			}
			return
		}
		if secrets.Puts != 1 || stored.AccessToken == "" || stored.RefreshToken == "" || stored.AccessToken == stale {
			t.Fatalf("a refresh succeeded with %d writes of %+v", secrets.Puts, stored)
		}
		var creds bitrix24.Credentials
		if err := vendors.DecodeCredentials("acme/bitrix24", secrets.Value(tenant, "bitrix24"), &creds); err != nil {
			t.Fatalf("the rewritten secret no longer validates: %v", err)
		}
	})
}

// FuzzParseEvent: any form body Bitrix24 could post, carrying the tenant's application token
// last (so it is authenticated whenever the form parses).
func FuzzParseEvent(f *testing.F) {
	for _, name := range []string{"onimbotmessageadd.form", "onimbotv2messageadd.form", "onsessionfinish.form", "onimbotv2delete.form"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add("event=ONIMBOTJOINCHAT&data[PARAMS][DIALOG_ID]=chat0112")
	f.Add("event=onimbotv2messageadd&data[chat][id]=-1&data[message][chatId]=7")
	srv := &fuzzServer{sandbox: http.NotFoundHandler(), match: func(*http.Request) bool { return false }}
	secrets := vendortest.NewSecrets(tenant, "bitrix24", bitrix24sandbox.DemoWebhookSecret(fuzzBase))
	adapter := fuzzAdapter(srv, secrets)
	token := "&auth%5Bapplication_token%5D=" + url.QueryEscape(appTokenOf(f))
	f.Fuzz(func(t *testing.T, body string) {
		cb, err := adapter.ParseCallback(context.Background(), vendors.CallbackRequest{
			Tenant: tenant, Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, Body: []byte(body + token),
		})
		if err != nil {
			if code := handoff.ErrorCode(err); code != handoff.CodeInvalidRequest && code != handoff.CodeTooLarge && code != handoff.CodeUnauthorized {
				t.Fatalf("code %s for an event", code)
			}
			return
		}
		if cb.Outcome != "" || cb.TransferID != "" {
			t.Fatalf("an event claimed an outcome or a transfer: %+v", cb)
		}
		if cb.VendorRef != "" && (strings.TrimLeft(cb.VendorRef, "0123456789") != "" || cb.VendorRef[0] == '0') {
			t.Fatalf("chat %q is not a positive integer", cb.VendorRef)
		}
		if cb.Detail == "" || len(cb.Detail) > 200 || strings.IndexFunc(cb.Detail, unicode.IsControl) >= 0 {
			t.Fatalf("detail %q", cb.Detail)
		}
	})
}

func appTokenOf(f *testing.F) string {
	var m map[string]string
	if err := json.Unmarshal(bitrix24sandbox.DemoWebhookSecret(fuzzBase), &m); err != nil || m["applicationToken"] == "" {
		f.Fatal("the demo secret has no application token")
	}
	return m["applicationToken"]
}
