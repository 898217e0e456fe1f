package gateway

import (
	"crypto/rand"
	"encoding/base64"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// httpEvent is API Gateway's payload format 2.0 event, field for field. It is
// events.APIGatewayV2HTTPRequest without the fields API Gateway leaves out here (authentication,
// stageVariables, and the authorizer on a route without one), which that type would send empty.
type httpEvent struct {
	Version               string            `json:"version"`
	RouteKey              string            `json:"routeKey"`
	RawPath               string            `json:"rawPath"`
	RawQueryString        string            `json:"rawQueryString"`
	Cookies               []string          `json:"cookies,omitempty"`
	Headers               map[string]string `json:"headers"`
	QueryStringParameters map[string]string `json:"queryStringParameters,omitempty"`
	PathParameters        map[string]string `json:"pathParameters,omitempty"`
	RequestContext        requestContext    `json:"requestContext"`
	Body                  string            `json:"body,omitempty"`
	IsBase64Encoded       bool              `json:"isBase64Encoded"`
}

type requestContext struct {
	RouteKey     string                                               `json:"routeKey"`
	AccountID    string                                               `json:"accountId"`
	Stage        string                                               `json:"stage"`
	RequestID    string                                               `json:"requestId"`
	APIID        string                                               `json:"apiId"`
	DomainName   string                                               `json:"domainName"`
	DomainPrefix string                                               `json:"domainPrefix"`
	Time         string                                               `json:"time"`
	TimeEpoch    int64                                                `json:"timeEpoch"`
	HTTP         events.APIGatewayV2HTTPRequestContextHTTPDescription `json:"http"`
	Authorizer   *authorizer                                          `json:"authorizer,omitempty"`
}

// authorizer is what API Gateway's IAM authorizer adds to the request context: who signed the
// request. cognitoIdentity and principalOrgId are null for a principal outside Cognito and
// Organizations, as for the local one.
type authorizer struct {
	IAM iamAuthorizer `json:"iam"`
}

type iamAuthorizer struct {
	AccessKey       string  `json:"accessKey"`
	AccountID       string  `json:"accountId"`
	CallerID        string  `json:"callerId"`
	CognitoIdentity *string `json:"cognitoIdentity"`
	PrincipalOrgID  *string `json:"principalOrgId"`
	UserARN         string  `json:"userArn"`
	UserID          string  `json:"userId"`
}

// iamContext is the IAM authorizer's context for a request: the principal its header names, or
// LocalPrincipal. The account is the ARN's; the key and ids are fixed local stand-ins.
func iamContext(r *http.Request) *authorizer {
	arn := strings.TrimSpace(r.Header.Get(PrincipalHeader))
	if arn == "" {
		arn = LocalPrincipal
	}
	account := ""
	if parts := strings.SplitN(arn, ":", 6); len(parts) == 6 {
		account = parts[4]
	}
	return &authorizer{IAM: iamAuthorizer{
		AccessKey: "AKIALOCALEXAMPLE0000", AccountID: account, CallerID: "AIDALOCALEXAMPLE0000",
		UserARN: arn, UserID: "AIDALOCALEXAMPLE0000",
	}}
}

// event builds the payload format 2.0 event API Gateway would send for r.
func (g *Gateway) event(r *http.Request, rt route, params map[string]string, body []byte) httpEvent {
	now := time.Now().UTC()
	headers, cookies := eventHeaders(r)
	e := httpEvent{
		Version:               "2.0",
		RouteKey:              rt.key,
		RawPath:               r.URL.EscapedPath(),
		RawQueryString:        r.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: queryParameters(r.URL.RawQuery),
		RequestContext: requestContext{
			RouteKey:     rt.key,
			AccountID:    g.cfg.AccountID,
			Stage:        "$default",
			RequestID:    newRequestID(),
			APIID:        g.cfg.APIID,
			DomainName:   r.Host,
			DomainPrefix: domainPrefix(r.Host),
			Time:         now.Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:    now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      r.URL.EscapedPath(),
				Protocol:  r.Proto,
				SourceIP:  sourceIP(r),
				UserAgent: r.UserAgent(),
			},
		},
	}
	if len(params) > 0 {
		e.PathParameters = params
	}
	if rt.Authorizer == AuthorizerIAM {
		e.RequestContext.Authorizer = iamContext(r)
	}
	if len(body) > 0 {
		if isText(r.Header.Get("Content-Type")) {
			e.Body = string(body)
		} else {
			e.Body, e.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		}
	}
	return e
}

// eventHeaders lower-cases header names and joins repeated values with commas, as API Gateway
// does, adds host and the x-forwarded-* headers, and moves cookies to their own list.
func eventHeaders(r *http.Request) (map[string]string, []string) {
	headers := map[string]string{}
	var cookies []string
	for name, values := range r.Header {
		lower := strings.ToLower(name)
		if lower == "cookie" {
			for _, v := range values {
				for _, c := range strings.Split(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						cookies = append(cookies, c)
					}
				}
			}
			continue
		}
		headers[lower] = strings.Join(values, ",")
	}
	headers["host"] = r.Host
	if r.ContentLength > 0 {
		headers["content-length"] = strconv.FormatInt(r.ContentLength, 10)
	}
	headers["x-forwarded-for"] = sourceIP(r)
	headers["x-forwarded-proto"] = "http"
	if _, port, err := net.SplitHostPort(r.Host); err == nil {
		headers["x-forwarded-port"] = port
	}
	return headers, cookies
}

// queryParameters decodes the query string, joining repeated parameters with commas; nil when
// there are none, as API Gateway leaves the field out.
func queryParameters(raw string) map[string]string {
	values, _ := url.ParseQuery(raw)
	if len(values) == 0 {
		return nil
	}
	out := make(map[string]string, len(values))
	for name, vs := range values {
		out[name] = strings.Join(vs, ",")
	}
	return out
}

// isText reports whether API Gateway passes a body of this content type as text; it
// base64-encodes every other type, form posts and a missing Content-Type included.
func isText(contentType string) bool {
	media, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch media {
	case "application/json", "application/xml", "application/javascript":
		return true
	}
	return strings.HasPrefix(media, "text/")
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// domainPrefix is the first label of the host name: "abc" for abc.execute-api…, "127" for
// 127.0.0.1, "localhost" for localhost:3000.
func domainPrefix(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	prefix, _, _ := strings.Cut(host, ".")
	return prefix
}

// newRequestID looks like API Gateway's: 16 characters of base64.
func newRequestID() string {
	var b [12]byte
	rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])[:15] + "="
}
