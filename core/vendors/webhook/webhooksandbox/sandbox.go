package webhooksandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors/sandbox"
	"handoff/core/vendors/webhook"
)

// The default sandbox's receiver, for the local stack and the README.
const (
	// DemoPath is where the default sandbox receives acks.
	DemoPath = "/bot/acks"
	// DemoSigningSecret is a SANDBOX/DEMO secret (whsec_ + base64 of 32 bytes), published with
	// the repository: not a credential.
	DemoSigningSecret = "whsec_aGFuZG9mZi1zYW5kYm94LWRlbW8tc2lnbmluZy1rZXk="
)

// DemoSecret is the secret JSON that works against a default sandbox served at baseURL.
func DemoSecret(baseURL string) []byte {
	b, _ := json.Marshal(map[string]string{
		"url": strings.TrimRight(baseURL, "/") + DemoPath, "signingSecret": DemoSigningSecret,
	})
	return b
}

// Config shapes a sandbox. The zero value is the demo receiver.
type Config struct {
	SigningSecret string           // DemoSigningSecret when empty
	Path          string           // DemoPath when empty; tests put a secret code in it
	Now           func() time.Time // time.Now when nil
}

// Delivery is one ack the sandbox accepted (repeats of a webhook-id are not listed again).
type Delivery struct {
	ID        string
	Timestamp time.Time
	Transfer  handoff.Transfer
}

// Sandbox is a strict Standard Webhooks receiver for acks: POST to its one path, JSON, the
// three webhook headers, a timestamp within 5 minutes and a valid v1 signature, and a body that
// is a final transfer resource with no unknown field. It drops repeats by webhook-id (answering
// them 200 again), as receivers should. It is an http.Handler; safe for concurrent use.
//
// Sources: the Standard Webhooks specification and reference libraries
// (standard-webhooks/standard-webhooks: spec/standard-webhooks.md, libraries/go/webhook.go): the
// headers, the signed content, the secret's form, the 5-minute tolerance, deduplication by
// webhook-id. invented: the receiver's answers (status codes other than 2xx and their bodies):
// the receiver is the tenant's own bot, so the adapter reads only the HTTP status class.
type Sandbox struct {
	cfg    Config
	faults sandbox.Faults
	rec    sandbox.Recorder

	mu         sync.Mutex
	deliveries []Delivery
	seen       map[string]bool
}

// New builds a sandbox. It does no I/O.
func New(cfg Config) *Sandbox {
	if cfg.SigningSecret == "" {
		cfg.SigningSecret = DemoSigningSecret
	}
	if cfg.Path == "" {
		cfg.Path = DemoPath
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Sandbox{cfg: cfg, seen: map[string]bool{}}
}

// Inject plays f on the next `times` deliveries, or on all when times <= 0. VendorError takes an
// HTTP status ("410", "503"…) to answer.
func (s *Sandbox) Inject(f sandbox.Fault, times int) { s.faults.Inject(f, times) }

// AckCalls counts the POSTs that reached the receiver's path.
func (s *Sandbox) AckCalls() int { return len(s.ackRequests()) }

// AckKeys returns the webhook-id of each POST received, oldest first.
func (s *Sandbox) AckKeys() []string {
	var keys []string
	for _, r := range s.ackRequests() {
		keys = append(keys, r.Header.Get(webhook.HeaderID))
	}
	return keys
}

// Requests returns every request received, oldest first.
func (s *Sandbox) Requests() []sandbox.Request { return s.rec.Requests() }

// Deliveries returns the acks accepted, oldest first, one per webhook-id.
func (s *Sandbox) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery(nil), s.deliveries...)
}

func (s *Sandbox) ackRequests() []sandbox.Request {
	var out []sandbox.Request
	for _, r := range s.rec.Requests() {
		if r.Method == http.MethodPost && r.Path == s.cfg.Path {
			out = append(out, r)
		}
	}
	return out
}

// ServeHTTP receives one delivery.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body := s.rec.Record(r)
	switch {
	case r.URL.Path != s.cfg.Path:
		sandbox.WriteJSON(w, http.StatusNotFound, map[string]string{"error": "not found"})
		return
	case r.Method != http.MethodPost:
		sandbox.WriteJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "POST only"})
		return
	}
	if f, ok := s.faults.Next(); ok && s.play(w, r, f) {
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		sandbox.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "Content-Type must be application/json"})
		return
	}
	if err := webhook.Verify(s.cfg.SigningSecret, r.Header, body, s.cfg.Now()); err != nil {
		status := http.StatusUnauthorized
		if errors.Is(err, webhook.ErrMissingHeaders) || errors.Is(err, webhook.ErrID) {
			status = http.StatusBadRequest
		}
		sandbox.WriteJSON(w, status, map[string]string{"error": err.Error()})
		return
	}
	t, err := decodeTransfer(body)
	if err != nil {
		sandbox.WriteJSON(w, http.StatusUnprocessableEntity, map[string]string{"error": err.Error()})
		return
	}
	id := r.Header.Get(webhook.HeaderID)
	secs, _ := strconv.ParseInt(r.Header.Get(webhook.HeaderTimestamp), 10, 64) // webhook.Verify parsed it
	s.mu.Lock()
	duplicate := s.seen[id]
	if !duplicate {
		s.seen[id] = true
		s.deliveries = append(s.deliveries, Delivery{ID: id, Timestamp: time.Unix(secs, 0), Transfer: t})
	}
	s.mu.Unlock()
	sandbox.WriteJSON(w, http.StatusOK, map[string]bool{"received": true, "duplicate": duplicate})
}

// decodeTransfer reads the transfer resource strictly: no unknown field, a final status, a
// webhook bot.
func decodeTransfer(body []byte) (handoff.Transfer, error) {
	var t handoff.Transfer
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return t, errors.New("the body is not a transfer resource: " + err.Error())
	}
	switch {
	case t.ID == "" || t.Tenant == "":
		return t, errors.New("the transfer has no id or tenant")
	case !t.Status.Final():
		return t, errors.New("the transfer is not final")
	case t.Bot == nil || t.Bot.Vendor != webhook.VendorKey:
		return t, errors.New("the transfer's bot is not a webhook bot")
	}
	return t, nil
}

// play answers a fault the way a receiver would.
func (s *Sandbox) play(w http.ResponseWriter, r *http.Request, f sandbox.Fault) bool {
	switch f.Kind {
	case sandbox.VendorError:
		status, err := strconv.Atoi(f.VendorCode)
		if err != nil || status < 300 || status > 599 {
			status = http.StatusInternalServerError
		}
		sandbox.WriteJSON(w, status, map[string]string{"error": "injected " + f.VendorCode})
	case sandbox.AuthExpired, sandbox.AuthRejected:
		sandbox.WriteJSON(w, http.StatusUnauthorized, map[string]string{"error": webhook.ErrSignature.Error()})
	case sandbox.RateLimited:
		sandbox.SetRetryAfter(w, f.RetryAfter)
		sandbox.WriteJSON(w, http.StatusTooManyRequests, map[string]string{"error": "slow down"})
	default:
		return sandbox.Play(w, r, f)
	}
	return true
}
