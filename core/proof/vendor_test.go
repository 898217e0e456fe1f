package proof_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"handoff/core/vendors/sandbox"
)

// vendorServer serves one vendor's sandbox on loopback behind a probe. The probe counts the
// calls that do the vendor's job (a transfer, an ack) and how many of them the sandbox carried
// out (answered with its success), so a test sees whether a thing was done twice. It can also
// spoil the answer to the next such call after the sandbox acted: the vendor did the job, we
// never hear. Faults the sandbox plays itself (its Inject) happen before it acts.
type vendorServer struct {
	sandbox http.Handler
	job     job
	srv     *httptest.Server

	mu    sync.Mutex
	calls int
	done  int
	after []sandbox.Kind
}

// job tells a vendor's job calls, and the answer that says the sandbox did the job.
type job struct {
	is   func(*http.Request) bool
	done func(status int, body []byte) bool
}

func serveVendor(t *testing.T, sb http.Handler, j job) *vendorServer {
	v := &vendorServer{sandbox: sb, job: j}
	v.srv = httptest.NewServer(v)
	t.Cleanup(v.srv.Close)
	return v
}

// URL is the server's base URL.
func (v *vendorServer) URL() string { return v.srv.URL }

// spoilNext makes the answer to the next job call fail with kind (Hang, Reset, ServerError,
// Malformed) after the sandbox has acted on it. Hang holds the answer until the caller gives up.
func (v *vendorServer) spoilNext(kind sandbox.Kind) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.after = append(v.after, kind)
}

// jobs returns how many job calls arrived and how many the sandbox carried out.
func (v *vendorServer) jobs() (calls, done int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.calls, v.done
}

func (v *vendorServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !v.job.is(r) {
		v.sandbox.ServeHTTP(w, r)
		return
	}
	v.mu.Lock()
	v.calls++
	var spoil sandbox.Kind
	if len(v.after) > 0 {
		spoil, v.after = v.after[0], v.after[1:]
	}
	v.mu.Unlock()
	if spoil == "" {
		sw := &statusWriter{ResponseWriter: w}
		v.sandbox.ServeHTTP(sw, r)
		v.count(sw.status, sw.body.Bytes())
		return
	}
	buf := &bufferWriter{header: http.Header{}}
	v.sandbox.ServeHTTP(buf, r)
	v.count(buf.status, buf.body.Bytes())
	sandbox.Play(w, r, sandbox.Fault{Kind: spoil})
}

func (v *vendorServer) count(status int, body []byte) {
	if v.job.done(status, body) {
		v.mu.Lock()
		v.done++
		v.mu.Unlock()
	}
}

// statusWriter passes an answer through and keeps its status (0 when none was written, as
// when a sandbox hangs or resets) and body. It lets a sandbox hijack the connection for a reset.
type statusWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.body.Write(b)
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// bufferWriter keeps an answer the caller will never see.
type bufferWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *bufferWriter) Header() http.Header { return w.header }

func (w *bufferWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *bufferWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(b)
}

// The job calls of each vendor, and the success answer of each sandbox (a 200 whose body is
// not the documented one — a Malformed fault — did nothing).
var (
	bitrix24Job = job{
		is: func(r *http.Request) bool {
			return strings.Contains(r.URL.Path, "imopenlines.bot.session.transfer") ||
				strings.Contains(r.URL.Path, "imopenlines.bot.session.operator")
		},
		done: func(status int, body []byte) bool {
			var b struct {
				Result bool `json:"result"`
			}
			return status == http.StatusOK && json.Unmarshal(body, &b) == nil && b.Result
		},
	}
	livepersonJob = job{
		is: func(r *http.Request) bool {
			return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/transfer")
		},
		done: func(status int, body []byte) bool { return status == http.StatusOK && len(body) == 0 },
	}
	koreaiJob = job{
		is: func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/assign-conversation") },
		done: func(status int, body []byte) bool {
			var b struct {
				Status string `json:"status"`
			}
			return status == http.StatusOK && json.Unmarshal(body, &b) == nil && b.Status == "transferred"
		},
	}
	salesforceJob = job{
		is: func(r *http.Request) bool {
			return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/messages")
		},
		done: func(status int, body []byte) bool {
			var b struct {
				Processed []int64 `json:"processedSequenceIds"`
			}
			return status == http.StatusOK && json.Unmarshal(body, &b) == nil && len(b.Processed) > 0
		},
	}
	webhookJob = job{
		is:   func(r *http.Request) bool { return r.Method == http.MethodPost },
		done: func(status int, _ []byte) bool { return status/100 == 2 },
	}
)
