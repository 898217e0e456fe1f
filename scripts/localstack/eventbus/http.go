package eventbus

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// maxRequest is PutEvents' request size limit (256 KB) with room for the JSON around entries.
const maxRequest = 512 * 1024

// putEventsRequest is PutEvents' request body.
type putEventsRequest struct {
	Entries []Entry `json:"Entries"`
}

// putEventsResponse is PutEvents' response body.
type putEventsResponse struct {
	FailedEntryCount int      `json:"FailedEntryCount"`
	Entries          []Result `json:"Entries"`
}

// ServeHTTP is EventBridge's AWS JSON 1.1 endpoint, for AWS_ENDPOINT_URL_EVENTBRIDGE: it
// answers PutEvents (X-Amz-Target: AWSEvents.PutEvents) and refuses every other operation.
func (b *Bus) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		awsError(w, http.StatusMethodNotAllowed, "UnknownOperationException", "only POST is served")
		return
	}
	if target := r.Header.Get("X-Amz-Target"); target != "AWSEvents.PutEvents" {
		awsError(w, http.StatusBadRequest, "UnknownOperationException", fmt.Sprintf("the local event bus serves PutEvents only, not %q", target))
		return
	}
	resp, status, err := b.putEvents(r)
	if err != nil {
		awsError(w, status, "ValidationException", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	json.NewEncoder(w).Encode(resp)
}

// LocalHandler serves /_local/events: POST takes a PutEvents body ({"Entries": […]}) and answers
// like PutEvents; GET lists the events published so far with their deliveries.
func (b *Bus) LocalHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{"events": b.Events()})
		case http.MethodPost:
			resp, status, err := b.putEvents(r)
			w.Header().Set("Content-Type", "application/json")
			if err != nil {
				w.WriteHeader(status)
				json.NewEncoder(w).Encode(map[string]any{"message": err.Error()})
				return
			}
			json.NewEncoder(w).Encode(resp)
		default:
			w.Header().Set("Allow", "GET, POST")
			http.Error(w, `{"message":"use GET or POST"}`, http.StatusMethodNotAllowed)
		}
	})
}

// putEvents decodes a PutEvents body and publishes its entries.
func (b *Bus) putEvents(r *http.Request) (*putEventsResponse, int, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequest+1))
	if err != nil {
		return nil, http.StatusBadRequest, err
	}
	if len(body) > maxRequest {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("request too large")
	}
	var req putEventsRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("the body is not a PutEvents request: %v", err)
	}
	if len(req.Entries) == 0 || len(req.Entries) > 10 {
		return nil, http.StatusBadRequest, fmt.Errorf("1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length between 1 and 10")
	}
	resp := &putEventsResponse{Entries: b.Put(req.Entries)}
	for _, e := range resp.Entries {
		if e.ErrorCode != "" {
			resp.FailedEntryCount++
		}
	}
	return resp, http.StatusOK, nil
}

// awsError writes an AWS JSON 1.1 error, which the SDK reads from __type.
func awsError(w http.ResponseWriter, status int, kind, message string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", kind)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"__type": kind, "message": message})
}
