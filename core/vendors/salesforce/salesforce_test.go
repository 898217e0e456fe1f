package salesforce_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors"
	"handoff/core/vendors/rest"
	"handoff/core/vendors/salesforce"
	"handoff/core/vendors/salesforce/salesforcesandbox"
	"handoff/core/vendors/sandbox"
	"handoff/core/vendors/vendortest"
)

const tenant = "acme"

// fixture is a sandbox served over HTTP and an adapter whose tenant's secret points at it.
type fixture struct {
	sb      *salesforcesandbox.Sandbox
	srv     *httptest.Server
	adapter *salesforce.Adapter
	secrets *vendortest.Secrets
	logs    *bytes.Buffer
}

type options struct {
	cfg    salesforcesandbox.Config
	wrap   func(http.Handler) http.Handler // e.g. to slow the token endpoint down
	secret func(map[string]any)            // edits the demo secret
	now    func() time.Time                // the adapter's clock
}

func newFixture(t *testing.T, o options) *fixture {
	t.Helper()
	f := &fixture{sb: salesforcesandbox.New(o.cfg), logs: &bytes.Buffer{}}
	var h http.Handler = f.sb
	if o.wrap != nil {
		h = o.wrap(h)
	}
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	secret := salesforcesandbox.DemoSecret(f.srv.URL)
	if o.secret != nil {
		var m map[string]any
		if err := json.Unmarshal(secret, &m); err != nil {
			t.Fatal(err)
		}
		o.secret(m)
		secret, _ = json.Marshal(m)
	}
	f.secrets = vendortest.NewSecrets(tenant, salesforce.VendorKey, secret)
	f.adapter = salesforce.New(vendors.Deps{
		Secrets: f.secrets,
		HTTP:    rest.New(f.srv.Client(), rest.WithBackoff(5*time.Millisecond)),
		Log:     slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:     o.now,
	})
	return f
}

// secretValues are what must never show in an error or a log line.
func secretValues() []string {
	lines := strings.Split(salesforcesandbox.DemoPrivateKeyPEM, "\n")
	return []string{salesforcesandbox.DemoPrivateKeyPEM, lines[3], lines[len(lines)-3], salesforcesandbox.DemoTokenPrefix}
}

func TestConformance(t *testing.T) {
	vendortest.RunAcker(t, vendortest.AckHarness{
		Setup: func(t *testing.T) vendortest.AckSetup {
			f := newFixture(t, options{})
			return vendortest.AckSetup{Acker: f.adapter, Sandbox: f.sb, Secrets: secretValues(), Logs: f.logs}
		},
		Tenant: tenant,
		Bot: handoff.Bot{Vendor: salesforce.VendorKey, SessionID: salesforcesandbox.DemoSessionID,
			EscalationMessageID: salesforcesandbox.DemoEscalationMessageID},
		Errors: []vendortest.ErrorCase{
			{VendorCode: "BadRequestError", Want: handoff.CodeVendorRejected},
			{VendorCode: "UnauthorizedError", Want: handoff.CodeVendorAuthFailed},
			{VendorCode: "ForbiddenError", Want: handoff.CodeVendorRejected},
			{VendorCode: "NotFoundError", Want: handoff.CodeVendorRejected},
			{VendorCode: "NotAvailableError", Want: handoff.CodeVendorRejected},
			{VendorCode: "RequestProcessingException", Want: handoff.CodeVendorRejected},
			{VendorCode: "ServerBusyError", Want: handoff.CodeVendorUnavailable},
			{VendorCode: "TooManyRequestsError", Want: handoff.CodeRateLimited},
		},
		// ServiceUnavailable (503) is "Apex or Flow calls timed out": the bot ran (v5.3.0 spec).
		UnavailableIsUncertain: true,
		RepliesToFailed:        true,
	})
}

// transfer is a final transfer acked to session, as bot-ack hands it over.
func transfer(status handoff.Status, session string, seq int64) handoff.Transfer {
	at := time.Date(2024, 4, 5, 19, 34, 38, 901e6, time.UTC)
	t := handoff.Transfer{
		ID: "tr-0001", Tenant: tenant, Vendor: "koreai", Status: status,
		Conversation: handoff.Conversation{ID: "653a06c9aae89c5fbb4e0001"},
		Target:       handoff.Target{Type: handoff.TargetQueue, ID: "qu-b5d3bb4-a1ac-4caa-9be6-55a5abc30001"},
		Ack:          handoff.Ack{Status: handoff.AckPending, SequenceID: seq},
		Bot: &handoff.Bot{Vendor: salesforce.VendorKey, SessionID: session,
			EscalationMessageID: salesforcesandbox.DemoEscalationMessageID},
		CreatedAt: at.Add(-time.Minute), UpdatedAt: at,
	}
	if status == handoff.StatusFailed {
		t.Error = &handoff.Problem{Code: handoff.CodeTargetUnavailable, Message: "no target could take the conversation"}
	}
	return t
}

func testCtx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// messages returns the ack messages the sandbox received, oldest first.
func messages(sb *salesforcesandbox.Sandbox) []sandbox.Request {
	var out []sandbox.Request
	for _, r := range sb.Requests() {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/messages") {
			out = append(out, r)
		}
	}
	return out
}

// The schemas have additionalProperties: false, so a field more is likely a 400 [I]: the bodies
// must be byte for byte the golden files, which follow docs/vendors/salesforce.md.
func TestMessagesAreExactlyTheSpecShapes(t *testing.T) {
	failedWithError := transfer(handoff.StatusFailed, salesforcesandbox.DemoSessionID, 1712345678903)
	failedWithError.Error = &handoff.Problem{Code: handoff.CodeVendorUnavailable, Message: "Kore.ai said: <html>upstream secret</html>"}
	failedWithError.Bot.EscalationMessageID = ""
	tests := []struct {
		golden string
		t      handoff.Transfer
	}{
		{"transfer_succeeded.json", transfer(handoff.StatusTransferred, salesforcesandbox.DemoSessionID, 1712345678901)},
		{"transfer_failed.json", transfer(handoff.StatusFailed, salesforcesandbox.DemoSessionID, 1712345678902)},
		{"transfer_failed_error.json", failedWithError},
	}
	for _, tc := range tests {
		t.Run(tc.golden, func(t *testing.T) {
			f := newFixture(t, options{})
			if err := errOf(f.adapter.Ack(testCtx(t), tc.t)); err != nil {
				t.Fatalf("Ack: %v", err)
			}
			want, err := os.ReadFile("testdata/" + tc.golden)
			if err != nil {
				t.Fatal(err)
			}
			got := messages(f.sb)
			if len(got) != 1 {
				t.Fatalf("messages sent = %d, want 1", len(got))
			}
			if !bytes.Equal(got[0].Body, bytes.TrimSpace(want)) {
				t.Errorf("body\n got %s\nwant %s", got[0].Body, bytes.TrimSpace(want))
			}
			h := got[0].Header
			if h.Get("X-Org-Id") != salesforcesandbox.DemoOrgID || h.Get("Content-Type") != "application/json" ||
				!strings.HasPrefix(h.Get("Authorization"), "Bearer ") || h.Get("X-Request-ID") == "" {
				t.Errorf("headers = %v, want X-Org-Id, Content-Type, Authorization and X-Request-ID", h)
			}
		})
	}
}

func TestRetryResendsTheSameMessage(t *testing.T) {
	f := newFixture(t, options{})
	tr := transfer(handoff.StatusFailed, salesforcesandbox.DemoSessionID, 1712345678902)
	f.sb.Inject(sandbox.Fault{Kind: sandbox.Hang}, 1)
	c, cancel := context.WithTimeout(testCtx(t), 500*time.Millisecond)
	defer cancel()
	if err := errOf(f.adapter.Ack(c, tr)); handoff.ErrorCode(err) != handoff.CodeVendorTimeout {
		t.Fatalf("first Ack = %v, want VENDOR_TIMEOUT", err)
	}
	if err := errOf(f.adapter.Ack(testCtx(t), tr)); err != nil {
		t.Fatalf("retry: %v", err)
	}
	got := messages(f.sb)
	if len(got) != 2 {
		t.Fatalf("messages sent = %d, want 2", len(got))
	}
	if !bytes.Equal(got[0].Body, got[1].Body) {
		t.Errorf("the retry sent another body:\n%s\n%s", got[0].Body, got[1].Body)
	}
	if a, b := got[0].Header.Get("X-Request-ID"), got[1].Header.Get("X-Request-ID"); a != b {
		t.Errorf("X-Request-ID %q then %q, want the same on a retry", a, b)
	}
}

// Whether the real runtime answers a repeated sequenceId as the first time is [U]; the sandbox
// does [I], and the adapter then needs processedSequenceIds to list it.
func TestRetryAfterALostAnswerIsConfirmedByProcessedSequenceIDs(t *testing.T) {
	f := newFixture(t, options{})
	tr := transfer(handoff.StatusFailed, salesforcesandbox.DemoSessionID, 1712345678902)
	if err := errOf(f.adapter.Ack(testCtx(t), tr)); err != nil {
		t.Fatal(err)
	}
	// Another process (a cold start, no memory) retries: the runtime already has the message.
	cold := salesforce.New(vendors.Deps{Secrets: f.secrets, HTTP: rest.New(f.srv.Client()), Log: slog.New(slog.DiscardHandler)})
	if err := errOf(cold.Ack(testCtx(t), tr)); err != nil {
		t.Fatalf("retry from a cold process: %v", err)
	}
	if got := f.sb.AckCalls(); got != 2 {
		t.Errorf("ack calls = %d, want 2 (the cold process cannot know the first arrived)", got)
	}
}

func TestWarmRetrySkipsAConfirmedMessage(t *testing.T) {
	f := newFixture(t, options{})
	tr := transfer(handoff.StatusTransferred, salesforcesandbox.DemoSessionID, 1712345678901)
	f.sb.InjectEnd(sandbox.Fault{Kind: sandbox.ServerError}, 1)
	err := errOf(f.adapter.Ack(testCtx(t), tr))
	if !handoff.Retryable(err) {
		t.Fatalf("Ack with a failed session end = %v, want a retryable error", err)
	}
	if err := errOf(f.adapter.Ack(testCtx(t), tr)); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if got := f.sb.AckCalls(); got != 1 {
		t.Errorf("ack calls = %d, want 1: the bot had confirmed the message", got)
	}
	if !f.sb.SessionEnded(salesforcesandbox.DemoSessionID) {
		t.Error("the retry did not end the session")
	}
}

func TestZeroSequenceIDFallsBackToUpdatedAt(t *testing.T) {
	f := newFixture(t, options{})
	tr := transfer(handoff.StatusFailed, salesforcesandbox.DemoSessionID, 0)
	if err := errOf(f.adapter.Ack(testCtx(t), tr)); err != nil {
		t.Fatal(err)
	}
	want := `"sequenceId":` + jsonInt(tr.UpdatedAt.UnixMilli())
	if body := string(messages(f.sb)[0].Body); !strings.Contains(body, want) {
		t.Errorf("body %s does not hold %s", body, want)
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestLowerSequenceIDIsRejected(t *testing.T) {
	f := newFixture(t, options{})
	if err := errOf(f.adapter.Ack(testCtx(t), transfer(handoff.StatusFailed, salesforcesandbox.DemoSessionID, 200))); err != nil {
		t.Fatal(err)
	}
	older := transfer(handoff.StatusFailed, salesforcesandbox.DemoSessionID, 100)
	older.ID = "tr-0002"
	err := errOf(f.adapter.Ack(testCtx(t), older))
	var e *handoff.Error
	if !errors.As(err, &e) || e.Code != handoff.CodeVendorRejected || e.VendorCode != "BadRequestError" || handoff.Retryable(err) {
		t.Errorf("Ack with a lower sequenceId = %v, want final VENDOR_REJECTED BadRequestError", err)
	}
}

func TestEndedSessionIsRejected(t *testing.T) {
	f := newFixture(t, options{})
	err := errOf(f.adapter.Ack(testCtx(t), transfer(handoff.StatusTransferred, salesforcesandbox.DemoEndedSessionID, 1)))
	var e *handoff.Error
	if !errors.As(err, &e) || e.Code != handoff.CodeVendorRejected || e.VendorCode != "NotFoundError" {
		t.Errorf("Ack to an ended session = %v, want VENDOR_REJECTED NotFoundError", err)
	}
}

func TestAnswersTheSpecDoesNotDescribeAreBadResponses(t *testing.T) {
	tests := map[string]string{
		"not JSON":                       `{"unexpected": [1, 2, `,
		"no processedSequenceIds":        `{"sessionId":"` + salesforcesandbox.DemoSessionID + `","messages":[]}`,
		"sequenceId not among processed": `{"sessionId":"` + salesforcesandbox.DemoSessionID + `","processedSequenceIds":[7],"messages":[]}`,
	}
	for name, answer := range tests {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, options{wrap: func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if !strings.HasSuffix(r.URL.Path, "/messages") {
						h.ServeHTTP(w, r)
						return
					}
					w.Header().Set("Content-Type", "application/json")
					_, _ = w.Write([]byte(answer))
				})
			}})
			err := errOf(f.adapter.Ack(testCtx(t), transfer(handoff.StatusFailed, salesforcesandbox.DemoSessionID, 1)))
			if handoff.ErrorCode(err) != handoff.CodeVendorProtocol {
				t.Errorf("Ack = %v, want VENDOR_BAD_RESPONSE", err)
			}
		})
	}
}

func TestRuntimeCRCIsEchoed(t *testing.T) {
	var lastCRC string
	f := newFixture(t, options{wrap: func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(w, r)
			if c := w.Header().Get("X-Runtime-CRC"); c != "" {
				lastCRC = c
			}
		})
	}})
	if err := errOf(f.adapter.Ack(testCtx(t), transfer(handoff.StatusFailed, salesforcesandbox.DemoSessionID, 1))); err != nil {
		t.Fatal(err)
	}
	first := lastCRC
	second := transfer(handoff.StatusFailed, salesforcesandbox.DemoSessionID, 2)
	second.ID = "tr-0002"
	if err := errOf(f.adapter.Ack(testCtx(t), second)); err != nil {
		t.Fatal(err)
	}
	got := messages(f.sb)
	if got[0].Header.Get("X-Runtime-CRC") != "" {
		t.Errorf("first call sent X-Runtime-CRC %q, want none (nothing known yet)", got[0].Header.Get("X-Runtime-CRC"))
	}
	if first == "" || got[1].Header.Get("X-Runtime-CRC") != first {
		t.Errorf("second call sent X-Runtime-CRC %q, want the first answer's %q", got[1].Header.Get("X-Runtime-CRC"), first)
	}
}

// errOf keeps the error of an Ack, for the tests that look only at it.
func errOf(_ vendors.AckResult, err error) error { return err }

// The bot answers transferFailed with text for the customer (the spec's response envelope
// carries messages): the result keeps them, so bot-ack can store them on the transfer.
func TestAckKeepsTheBotsReply(t *testing.T) {
	f := newFixture(t, options{})
	res, err := f.adapter.Ack(testCtx(t), transfer(handoff.StatusFailed, salesforcesandbox.DemoSessionID, 1))
	if err != nil {
		t.Fatal(err)
	}
	want := []handoff.BotMessage{{Type: "text", Message: salesforcesandbox.DemoFailedReply}}
	if len(res.BotMessages) != 1 || res.BotMessages[0].Type != want[0].Type || res.BotMessages[0].Message != want[0].Message {
		t.Errorf("bot messages = %+v, want %+v", res.BotMessages, want)
	}
	res, err = f.adapter.Ack(testCtx(t), transfer(handoff.StatusTransferred, salesforcesandbox.DemoSessionIDs[1], 1))
	if err != nil || len(res.BotMessages) != 0 || res.Uncertain != "" {
		t.Errorf("after transferSucceeded: %+v, %v; want no messages (the bot's text output is empty)", res, err)
	}
}

// A 503 is "Apex or Flow calls timed out" (v5.3.0 spec): the bot ran. The ack is uncertain,
// with the reason, and is not sent again: not at once, and not by a later delivery either.
func TestServiceUnavailableIsUncertainAndNeverResent(t *testing.T) {
	f := newFixture(t, options{})
	f.sb.Inject(sandbox.Fault{Kind: sandbox.Unavailable}, 1)
	tr := transfer(handoff.StatusTransferred, salesforcesandbox.DemoSessionID, 1712345678901)
	res, err := f.adapter.Ack(testCtx(t), tr)
	if err != nil {
		t.Fatalf("Ack = %v, want no error: an error is retried, and the bot already ran", err)
	}
	if !strings.Contains(res.Uncertain, "503") || !strings.Contains(res.Uncertain, "Apex or Flow") {
		t.Errorf("uncertain = %q, want the reason (503, Apex or Flow timed out)", res.Uncertain)
	}
	if got := len(messages(f.sb)); got != 1 {
		t.Errorf("messages sent = %d, want 1", got)
	}
}

// bot.sequenceId is the channel's own counter: when the request gave one, the ack carries it.
func TestAckUsesTheChannelsSequenceID(t *testing.T) {
	f := newFixture(t, options{})
	tr := transfer(handoff.StatusFailed, salesforcesandbox.DemoSessionID, 1712345678902)
	tr.Bot.SequenceID = 7
	if err := errOf(f.adapter.Ack(testCtx(t), tr)); err != nil {
		t.Fatal(err)
	}
	got := messages(f.sb)
	if len(got) != 1 || !strings.Contains(string(got[0].Body), `"sequenceId":7,`) {
		t.Fatalf("sent %d messages, first %s; want sequenceId 7", len(got), got[0].Body)
	}
}
