package runtimeapi

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// maxResponse is Lambda's limit on a synchronous response payload (6 MB).
const maxResponse = 6 * 1024 * 1024

// invocation is one event on its way through a process.
type invocation struct {
	id       string
	traceID  string
	payload  []byte
	started  chan struct{} // closed when the process took it; deadline is set by then
	deadline time.Time
	done     chan result // the process's answer; buffered, written once
}

// result is a response payload or an error.
type result struct {
	payload []byte
	err     error
}

func newInvocation(payload []byte) *invocation {
	return &invocation{
		id:      requestID(),
		traceID: traceID(),
		payload: payload,
		started: make(chan struct{}),
		done:    make(chan result, 1),
	}
}

// routes is the Runtime API of one process.
func (i *instance) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", i.next)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", i.response)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", i.invocationError)
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", i.initError)
	return mux
}

// next long-polls for the process's next invocation.
func (i *instance) next(w http.ResponseWriter, r *http.Request) {
	i.readyOnce.Do(func() { close(i.ready) })
	select {
	case inv := <-i.queue:
		inv.deadline = time.Now().Add(i.cfg.Timeout)
		i.mu.Lock()
		i.current = inv
		i.mu.Unlock()
		h := w.Header()
		h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", i.arn)
		h.Set("Lambda-Runtime-Trace-Id", inv.traceID)
		h.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.Write(inv.payload)
		close(inv.started)
	case <-r.Context().Done():
	}
}

// response takes the function's result.
func (i *instance) response(w http.ResponseWriter, r *http.Request) {
	inv := i.take(r.PathValue("id"))
	if inv == nil {
		writeError(w, http.StatusBadRequest, "InvalidRequestID", "no invocation in flight with this request ID")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxResponse+1))
	switch {
	case err != nil:
		inv.done <- result{err: &Error{Type: "Runtime.InvalidResponse", Message: err.Error()}}
	case len(body) > maxResponse:
		inv.done <- result{err: &Error{Type: "Function.ResponseSizeTooLarge", Message: fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", maxResponse)}}
		writeError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "response payload too large")
		return
	case r.Trailer.Get("Lambda-Runtime-Function-Error-Type") != "":
		inv.done <- result{err: trailerError(r.Trailer)}
	default:
		inv.done <- result{payload: body}
	}
	w.WriteHeader(http.StatusAccepted)
}

// invocationError takes the error the function reported for an invocation.
func (i *instance) invocationError(w http.ResponseWriter, r *http.Request) {
	inv := i.take(r.PathValue("id"))
	if inv == nil {
		writeError(w, http.StatusBadRequest, "InvalidRequestID", "no invocation in flight with this request ID")
		return
	}
	inv.done <- result{err: readError(r)}
	w.WriteHeader(http.StatusAccepted)
}

// initError takes the error of a process that could not start; it is then expected to exit.
func (i *instance) initError(w http.ResponseWriter, r *http.Request) {
	select {
	case i.initFailed <- readError(r):
	default: // reported twice: the first one counts
	}
	w.WriteHeader(http.StatusAccepted)
}

// take returns the in-flight invocation with this ID, once.
func (i *instance) take(id string) *invocation {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.current == nil || i.current.id != id {
		return nil
	}
	inv := i.current
	i.current = nil
	return inv
}

// readError reads an error posted by the runtime: the JSON body, typed by the
// Lambda-Runtime-Function-Error-Type header when the body does not say.
func readError(r *http.Request) *Error {
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxResponse))
	e := &Error{}
	if json.Unmarshal(body, e) != nil {
		e.Message = string(body)
	}
	if e.Type == "" {
		e.Type = r.Header.Get("Lambda-Runtime-Function-Error-Type")
	}
	if e.Type == "" {
		e.Type = "Runtime.Unknown"
	}
	e.Payload = body
	return e
}

// trailerError reads the error aws-lambda-go sends in trailers when it fails mid-response.
func trailerError(trailer http.Header) *Error {
	e := &Error{Type: trailer.Get("Lambda-Runtime-Function-Error-Type")}
	if body, err := base64.StdEncoding.DecodeString(trailer.Get("Lambda-Runtime-Function-Error-Body")); err == nil {
		json.Unmarshal(body, e)
		e.Payload = body
	}
	return e
}

func writeError(w http.ResponseWriter, status int, kind, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"errorType": kind, "errorMessage": message})
}

// requestID is a random UUID, as Lambda's request IDs are.
func requestID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// traceID is an X-Ray trace header with a new root and no sampling.
func traceID() string {
	var b [12]byte
	rand.Read(b[:])
	return fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=0", time.Now().Unix(), hex.EncodeToString(b[:]), hex.EncodeToString(b[:8]))
}
