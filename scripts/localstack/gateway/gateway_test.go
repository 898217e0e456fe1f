package gateway_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"handoff/scripts/localstack/gateway"
)

// function is a fake Invoker: it records the events it gets and answers with respond.
type function struct {
	name    string
	mu      sync.Mutex
	events  []events.APIGatewayV2HTTPRequest
	raw     [][]byte
	respond func(ctx context.Context) ([]byte, error)
}

func (f *function) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var e events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(payload, &e); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.events = append(f.events, e)
	f.raw = append(f.raw, payload)
	f.mu.Unlock()
	if f.respond != nil {
		return f.respond(ctx)
	}
	return json.Marshal(map[string]string{"function": f.name})
}

func (f *function) last(t *testing.T) events.APIGatewayV2HTTPRequest {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.events) == 0 {
		t.Fatal("the function was not invoked")
	}
	return f.events[len(f.events)-1]
}

func answering(out string, err error) func(context.Context) ([]byte, error) {
	return func(context.Context) ([]byte, error) { return []byte(out), err }
}

func serve(t *testing.T, routes ...gateway.Route) *httptest.Server {
	t.Helper()
	g, err := gateway.New(gateway.Config{Routes: routes, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func request(t *testing.T, method, url, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestRouting(t *testing.T) {
	fns := map[string]*function{}
	route := func(method, path, name string) gateway.Route {
		fns[name] = &function{name: name}
		return gateway.Route{Method: method, Path: path, Function: fns[name]}
	}
	srv := serve(t,
		route("POST", "/transfers", "create"),
		route("GET", "/transfers/{id}", "get"),
		route("GET", "/transfers/latest", "latest"),
		route("ANY", "/transfers/{id}", "any-transfer"),
		route("POST", "/callbacks/{vendor}", "callback"),
		route("GET", "/files/{proxy+}", "files"),
	)
	tests := []struct{ method, path, want string }{
		{"POST", "/transfers", "create"},
		{"GET", "/transfers/abc", "get"},
		{"GET", "/transfers/latest", "latest"}, // a literal segment beats a variable
		{"DELETE", "/transfers/abc", "any-transfer"},
		{"POST", "/callbacks/koreai", "callback"},
		{"GET", "/files/a/b/c.txt", "files"},
		{"GET", "/transfers", ""},        // no GET /transfers
		{"POST", "/transfers/", ""},      // a trailing slash is another path
		{"GET", "/files/", ""},           // a greedy variable needs a segment
		{"POST", "/callbacks/a/b", ""},   // one variable, one segment
		{"GET", "/nothing/here", ""},     // unknown
		{"PUT", "/callbacks/koreai", ""}, // known path, other method
	}
	for _, tt := range tests {
		resp, body := do(t, request(t, tt.method, srv.URL+tt.path, ""))
		if tt.want == "" {
			if resp.StatusCode != http.StatusNotFound || body != `{"message":"Not Found"}`+"\n" {
				t.Errorf("%s %s = %d %q, want API Gateway's 404", tt.method, tt.path, resp.StatusCode, body)
			}
			continue
		}
		if want := `{"function":"` + tt.want + `"}`; resp.StatusCode != 200 || body != want {
			t.Errorf("%s %s = %d %s, want %s", tt.method, tt.path, resp.StatusCode, body, want)
		}
	}
	if got := fns["files"].last(t).PathParameters; !reflect.DeepEqual(got, map[string]string{"proxy": "a/b/c.txt"}) {
		t.Errorf("greedy pathParameters = %v", got)
	}
}

func TestDefaultRouteTakesTheRest(t *testing.T) {
	named, fallback := &function{name: "named"}, &function{name: "default"}
	srv := serve(t, gateway.Route{Method: "GET", Path: "/a", Function: named}, gateway.Route{Method: "ANY", Path: "$default", Function: fallback})
	if _, body := do(t, request(t, "GET", srv.URL+"/a", "")); body != `{"function":"named"}` {
		t.Errorf("GET /a = %s", body)
	}
	if _, body := do(t, request(t, "PATCH", srv.URL+"/b/c", "")); body != `{"function":"default"}` {
		t.Errorf("PATCH /b/c = %s", body)
	}
	if got := fallback.last(t).RouteKey; got != "$default" {
		t.Errorf("routeKey = %q", got)
	}
}

func TestNewRejectsBadRoutes(t *testing.T) {
	for _, r := range []gateway.Route{
		{Method: "GET", Path: "no-slash"},
		{Method: "", Path: "/x"},
		{Method: "GET", Path: "/{proxy+}/more"},
		{Method: "GET", Path: "/{}"},
	} {
		if _, err := gateway.New(gateway.Config{Routes: []gateway.Route{r}}); err == nil {
			t.Errorf("New accepted %+v", r)
		}
	}
	twice := []gateway.Route{{Method: "GET", Path: "/x"}, {Method: "get", Path: "/x"}}
	if _, err := gateway.New(gateway.Config{Routes: twice}); err == nil {
		t.Error("New accepted a route defined twice")
	}
}

func TestEvent(t *testing.T) {
	fn := &function{}
	srv := serve(t, gateway.Route{Method: "POST", Path: "/callbacks/{vendor}", Function: fn})
	req := request(t, "POST", srv.URL+"/callbacks/kore%20ai?tenant=demo&x=1&x=2&empty=", `{"ok":true}`)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Add("X-Multi", "a")
	req.Header.Add("X-Multi", "b")
	req.Header.Set("User-Agent", "curl/8")
	req.Header.Add("Cookie", "s=1; t=2")
	do(t, req)

	e := fn.last(t)
	host := strings.TrimPrefix(srv.URL, "http://")
	if e.Version != "2.0" || e.RouteKey != "POST /callbacks/{vendor}" || e.RawPath != "/callbacks/kore%20ai" || e.RawQueryString != "tenant=demo&x=1&x=2&empty=" {
		t.Errorf("event = %+v", e)
	}
	if want := map[string]string{"vendor": "kore ai"}; !reflect.DeepEqual(e.PathParameters, want) {
		t.Errorf("pathParameters = %v", e.PathParameters)
	}
	if want := map[string]string{"tenant": "demo", "x": "1,2", "empty": ""}; !reflect.DeepEqual(e.QueryStringParameters, want) {
		t.Errorf("queryStringParameters = %v", e.QueryStringParameters)
	}
	if !reflect.DeepEqual(e.Cookies, []string{"s=1", "t=2"}) || e.Headers["cookie"] != "" {
		t.Errorf("cookies = %v, cookie header %q", e.Cookies, e.Headers["cookie"])
	}
	for name, want := range map[string]string{"x-multi": "a,b", "content-type": "application/json; charset=utf-8", "host": host, "user-agent": "curl/8", "content-length": "11", "x-forwarded-for": "127.0.0.1", "x-forwarded-proto": "http"} {
		if e.Headers[name] != want {
			t.Errorf("header %s = %q, want %q", name, e.Headers[name], want)
		}
	}
	if e.Body != `{"ok":true}` || e.IsBase64Encoded {
		t.Errorf("body = %q, base64 %v", e.Body, e.IsBase64Encoded)
	}
	rc := e.RequestContext
	if rc.RouteKey != e.RouteKey || rc.Stage != "$default" || rc.AccountID != "123456789012" || rc.APIID != "local" || rc.DomainName != host || rc.DomainPrefix != "127" {
		t.Errorf("requestContext = %+v", rc)
	}
	if rc.HTTP.Method != "POST" || rc.HTTP.Path != "/callbacks/kore%20ai" || rc.HTTP.Protocol != "HTTP/1.1" || rc.HTTP.SourceIP != "127.0.0.1" || rc.HTTP.UserAgent != "curl/8" {
		t.Errorf("requestContext.http = %+v", rc.HTTP)
	}
	if len(rc.RequestID) != 16 || rc.TimeEpoch == 0 || len(rc.Time) != len("21/Nov/2026:09:16:02 +0000") {
		t.Errorf("requestId %q, time %q, timeEpoch %d", rc.RequestID, rc.Time, rc.TimeEpoch)
	}
}

func TestBodyEncodingFollowsContentType(t *testing.T) {
	fn := &function{}
	srv := serve(t, gateway.Route{Method: "POST", Path: "/in", Function: fn})
	for _, tt := range []struct {
		contentType string
		base64      bool
	}{
		{"application/json", false},
		{"text/plain; charset=utf-8", false},
		{"application/xml", false},
		{"application/x-www-form-urlencoded", true},
		{"application/octet-stream", true},
		{"", true},
	} {
		req := request(t, "POST", srv.URL+"/in", "event=ONIMBOTMESSAGEADD&data[BOT]=1")
		if tt.contentType != "" {
			req.Header.Set("Content-Type", tt.contentType)
		}
		do(t, req)
		e := fn.last(t)
		body := e.Body
		if e.IsBase64Encoded {
			decoded, _ := base64.StdEncoding.DecodeString(body)
			body = string(decoded)
		}
		if e.IsBase64Encoded != tt.base64 || body != "event=ONIMBOTMESSAGEADD&data[BOT]=1" {
			t.Errorf("%q: base64 %v, body %q", tt.contentType, e.IsBase64Encoded, e.Body)
		}
	}
	do(t, request(t, "POST", srv.URL+"/in", ""))
	if raw := string(fn.raw[len(fn.raw)-1]); strings.Contains(raw, `"body"`) || strings.Contains(raw, `"pathParameters"`) || strings.Contains(raw, `"queryStringParameters"`) {
		t.Errorf("empty fields were sent: %s", raw)
	}
}

// TestEventHasTheFieldsOfARealOne compares the event's fields with events/transfer-get.json, an
// event as API Gateway sends it on an AWS_IAM route, IAM authorizer block included; a route
// without an authorizer has no such block.
func TestEventHasTheFieldsOfARealOne(t *testing.T) {
	fn := &function{}
	srv := serve(t, gateway.Route{Method: "GET", Path: "/transfers/{id}", Function: fn, Authorizer: gateway.AuthorizerIAM},
		gateway.Route{Method: "GET", Path: "/open/{id}", Function: fn, Authorizer: "NONE"})
	do(t, request(t, "GET", srv.URL+"/transfers/7hq3m9x2c5v8k1n4p6r0t3w5yz", ""))
	real := readJSON(t, "../../../events/transfer-get.json")
	var ours map[string]any
	json.Unmarshal(fn.raw[0], &ours)
	if got, want := keyPaths(ours, ""), keyPaths(real, ""); !reflect.DeepEqual(got, want) {
		t.Errorf("fields differ:\nlocal %v\nreal  %v", got, want)
	}
	do(t, request(t, "GET", srv.URL+"/open/7hq3m9x2c5v8k1n4p6r0t3w5yz", ""))
	delete(real["requestContext"].(map[string]any), "authorizer")
	json.Unmarshal(fn.raw[1], &ours)
	if got, want := keyPaths(ours, ""), keyPaths(real, ""); !reflect.DeepEqual(got, want) {
		t.Errorf("fields of a route without an authorizer differ:\nlocal %v\nreal  %v", got, want)
	}
}

// TestIAMRoutesCarryTheLocalPrincipal: an AWS_IAM route's event names the caller where API
// Gateway's IAM authorizer does: the local principal, or the one the request's header names;
// a route with Auth NONE names nobody, whatever the header says.
func TestIAMRoutesCarryTheLocalPrincipal(t *testing.T) {
	iam, open := &function{}, &function{}
	srv := serve(t, gateway.Route{Method: "POST", Path: "/transfers", Function: iam, Authorizer: gateway.AuthorizerIAM},
		gateway.Route{Method: "POST", Path: "/callbacks/{vendor}", Function: open, Authorizer: "NONE"})
	principalOf := func(e events.APIGatewayV2HTTPRequest) (arn, account string) {
		if a := e.RequestContext.Authorizer; a != nil && a.IAM != nil {
			return a.IAM.UserARN, a.IAM.AccountID
		}
		return "", ""
	}
	do(t, request(t, "POST", srv.URL+"/transfers", "{}"))
	if arn, account := principalOf(iam.last(t)); arn != gateway.LocalPrincipal || account != "123456789012" {
		t.Errorf("no header: principal %q account %q, want %s", arn, account, gateway.LocalPrincipal)
	}
	other := "arn:aws:sts::444455556666:assumed-role/globex-bot/s-1"
	req := request(t, "POST", srv.URL+"/transfers", "{}")
	req.Header.Set(gateway.PrincipalHeader, other)
	do(t, req)
	if arn, account := principalOf(iam.last(t)); arn != other || account != "444455556666" {
		t.Errorf("with the header: principal %q account %q, want %s", arn, account, other)
	}
	req = request(t, "POST", srv.URL+"/callbacks/koreai", "{}")
	req.Header.Set(gateway.PrincipalHeader, other)
	do(t, req)
	if arn, _ := principalOf(open.last(t)); arn != "" || open.last(t).RequestContext.Authorizer != nil {
		t.Errorf("a route with Auth NONE got an authorizer context naming %q", arn)
	}
}

func readJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// keyPaths lists the object keys of v (but not of headers, which vary by client), nested.
func keyPaths(v map[string]any, prefix string) map[string]bool {
	out := map[string]bool{}
	for k, child := range v {
		out[prefix+k] = true
		if m, ok := child.(map[string]any); ok && k != "headers" {
			for p := range keyPaths(m, prefix+k+".") {
				out[p] = true
			}
		}
	}
	return out
}

func TestFunctionErrors(t *testing.T) {
	tests := []struct {
		name    string
		respond func(context.Context) ([]byte, error)
		status  int
		body    string
	}{
		{"function error", answering("", errors.New("boom")), 500, `{"message":"Internal Server Error"}` + "\n"},
		{"not JSON", answering("{", nil), 500, `{"message":"Internal Server Error"}` + "\n"},
		{"bad statusCode", answering(`{"statusCode":"two hundred"}`, nil), 500, `{"message":"Internal Server Error"}` + "\n"},
		{"integration timeout", func(ctx context.Context) ([]byte, error) { <-ctx.Done(); return nil, ctx.Err() }, 503, `{"message":"Service Unavailable"}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, _ := gateway.New(gateway.Config{
				Routes:  []gateway.Route{{Method: "GET", Path: "/x", Function: &function{respond: tt.respond}}},
				Timeout: 50 * time.Millisecond, // only the timeout case waits for it
				Log:     slog.New(slog.DiscardHandler),
			})
			rec := httptest.NewRecorder()
			g.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
			if rec.Code != tt.status || rec.Body.String() != tt.body {
				t.Errorf("= %d %q, want %d %q", rec.Code, rec.Body.String(), tt.status, tt.body)
			}
		})
	}
}

func TestResponseMapping(t *testing.T) {
	tests := []struct {
		name, out   string
		status      int
		body        string
		contentType string
		cookies     []string
	}{
		{"response object", `{"statusCode":201,"headers":{"Content-Type":"application/json","Location":"/transfers/1"},"body":"{\"id\":\"1\"}"}`, 201, `{"id":"1"}`, "application/json", nil},
		{"cookies", `{"statusCode":204,"cookies":["a=1; Path=/","b=2"]}`, 204, "", "", []string{"a=1; Path=/", "b=2"}},
		{"base64 body", `{"statusCode":200,"headers":{"content-type":"image/png"},"body":"iVBORw==","isBase64Encoded":true}`, 200, "\x89PNG", "image/png", nil},
		{"object without statusCode", `{"targets":[]}`, 200, `{"targets":[]}`, "application/json", nil},
		{"string", `"Hello from Lambda!"`, 200, "Hello from Lambda!", "application/json", nil},
		{"number", `42`, 200, "42", "application/json", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := serve(t, gateway.Route{Method: "GET", Path: "/x", Function: &function{respond: answering(tt.out, nil)}})
			resp, body := do(t, request(t, "GET", srv.URL+"/x", ""))
			if resp.StatusCode != tt.status || body != tt.body {
				t.Errorf("= %d %q, want %d %q", resp.StatusCode, body, tt.status, tt.body)
			}
			if tt.contentType != "" && resp.Header.Get("Content-Type") != tt.contentType {
				t.Errorf("Content-Type = %q", resp.Header.Get("Content-Type"))
			}
			if got := resp.Header.Values("Set-Cookie"); tt.cookies != nil && !reflect.DeepEqual(got, tt.cookies) {
				t.Errorf("Set-Cookie = %q", got)
			}
			if resp.Header.Get("Apigw-Requestid") == "" {
				t.Error("no apigw-requestid header")
			}
		})
	}
}

func TestBodyLimit(t *testing.T) {
	fn := &function{}
	srv := serve(t, gateway.Route{Method: "POST", Path: "/x", Function: fn})
	resp, body := do(t, request(t, "POST", srv.URL+"/x", strings.Repeat("a", 10*1024*1024+1)))
	if resp.StatusCode != http.StatusRequestEntityTooLarge || body != `{"message":"Request Entity Too Large"}`+"\n" {
		t.Errorf("= %d %q", resp.StatusCode, body)
	}
	if len(fn.events) != 0 {
		t.Error("the function was invoked")
	}
	if resp, _ := do(t, request(t, "POST", srv.URL+"/x", strings.Repeat("a", 10*1024*1024))); resp.StatusCode != 200 {
		t.Errorf("10 MB exactly = %d", resp.StatusCode)
	}
}
