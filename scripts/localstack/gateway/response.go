package gateway

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
)

// result is a function's response as API Gateway reads it.
type result struct {
	status  int
	headers map[string]string
	multi   map[string][]string
	cookies []string
	body    []byte
}

// structured is payload format 2.0's response object.
type structured struct {
	StatusCode        int                 `json:"statusCode"`
	Headers           map[string]string   `json:"headers"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	Cookies           []string            `json:"cookies"`
	Body              string              `json:"body"`
	IsBase64Encoded   bool                `json:"isBase64Encoded"`
}

// decodeResult reads a function's output. An object with a statusCode is a response object;
// any other JSON is the body of a 200 application/json response (a JSON string gives its text),
// as API Gateway infers for payload format 2.0.
func decodeResult(out []byte) (*result, error) {
	var probe map[string]json.RawMessage
	if json.Unmarshal(out, &probe) == nil {
		if _, ok := probe["statusCode"]; ok {
			return decodeStructured(out)
		}
	}
	if !json.Valid(out) {
		return nil, fmt.Errorf("the response is not JSON")
	}
	body := bytes.TrimSpace(out)
	var text string
	if json.Unmarshal(body, &text) == nil {
		body = []byte(text)
	}
	return &result{status: http.StatusOK, headers: map[string]string{"Content-Type": "application/json"}, body: body}, nil
}

func decodeStructured(out []byte) (*result, error) {
	var s structured
	if err := json.Unmarshal(out, &s); err != nil {
		return nil, err
	}
	if s.StatusCode < 100 || s.StatusCode > 599 {
		return nil, fmt.Errorf("statusCode %d is not an HTTP status", s.StatusCode)
	}
	body := []byte(s.Body)
	if s.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(s.Body); err != nil {
			return nil, fmt.Errorf("isBase64Encoded, but the body is not base64: %w", err)
		}
	}
	return &result{status: s.StatusCode, headers: s.Headers, multi: s.MultiValueHeaders, cookies: s.Cookies, body: body}, nil
}

// write sends the response; each cookie becomes a Set-Cookie header.
func (r *result) write(w http.ResponseWriter) {
	h := w.Header()
	for name, value := range r.headers {
		h.Set(name, value)
	}
	for name, values := range r.multi {
		for _, v := range values {
			h.Add(name, v)
		}
	}
	for _, c := range r.cookies {
		h.Add("Set-Cookie", c)
	}
	w.WriteHeader(r.status)
	w.Write(r.body)
}
