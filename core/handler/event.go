package handler

import (
	"github.com/aws/aws-lambda-go/events"

	"handoff/core/internal/jsonfast"
)

// decodeHTTPEvent decodes an HTTP API (payload 2.0) event as API Gateway sends it, without
// reflection and with one copy of the payload: every string that holds no escape is a slice of
// that copy, so a typical POST /transfers event costs a handful of allocations instead of the
// hundred encoding/json spends on it (the event was most of the transfer handler's own work).
//
// It is a fast path, not a second JSON parser with its own rules: it answers false, and the
// caller decodes with encoding/json, on anything it does not take exactly as encoding/json
// would: a name that is not one of the event's own spelt the same way (encoding/json would match
// it regardless of case, or ignore it), an EventBridge event, a value of an unexpected type, a
// number that is not an integer, a surrogate escape, invalid UTF-8, trailing data, invalid JSON.
// When it answers true, ev holds what json.Unmarshal would have made of payload (FuzzHTTPEvent
// checks it).
func decodeHTTPEvent(payload []byte, ev *events.APIGatewayV2HTTPRequest) bool {
	if !jsonfast.ValidUTF8(payload) {
		return false
	}
	d := eventDecoder{jsonfast.Reader{S: string(payload)}}
	return d.Object(func(name string) bool { return d.request(name, ev) }) && d.AtEnd()
}

// eventDecoder reads the event's members; each method answers false on what it does not take.
type eventDecoder struct{ jsonfast.Reader }

// request decodes the top-level member name of an HTTP API event.
func (d *eventDecoder) request(name string, ev *events.APIGatewayV2HTTPRequest) bool {
	switch name {
	case "version":
		return d.String(&ev.Version)
	case "routeKey":
		return d.String(&ev.RouteKey)
	case "rawPath":
		return d.String(&ev.RawPath)
	case "rawQueryString":
		return d.String(&ev.RawQueryString)
	case "cookies":
		return d.Strings(&ev.Cookies)
	case "headers":
		return d.stringMap(&ev.Headers)
	case "queryStringParameters":
		return d.stringMap(&ev.QueryStringParameters)
	case "pathParameters":
		return d.stringMap(&ev.PathParameters)
	case "stageVariables":
		return d.stringMap(&ev.StageVariables)
	case "requestContext":
		if d.Null() {
			return true
		}
		rc := &ev.RequestContext
		return d.Object(func(name string) bool { return d.requestContext(name, rc) })
	case "body":
		return d.String(&ev.Body)
	case "isBase64Encoded":
		return d.Bool(&ev.IsBase64Encoded)
	}
	return false
}

func (d *eventDecoder) requestContext(name string, rc *events.APIGatewayV2HTTPRequestContext) bool {
	switch name {
	case "routeKey":
		return d.String(&rc.RouteKey)
	case "accountId":
		return d.String(&rc.AccountID)
	case "stage":
		return d.String(&rc.Stage)
	case "requestId":
		return d.String(&rc.RequestID)
	case "apiId":
		return d.String(&rc.APIID)
	case "domainName":
		return d.String(&rc.DomainName)
	case "domainPrefix":
		return d.String(&rc.DomainPrefix)
	case "time":
		return d.String(&rc.Time)
	case "timeEpoch":
		return d.Int64(&rc.TimeEpoch)
	case "http":
		h := &rc.HTTP
		return d.Null() || d.Object(func(name string) bool {
			switch name {
			case "method":
				return d.String(&h.Method)
			case "path":
				return d.String(&h.Path)
			case "protocol":
				return d.String(&h.Protocol)
			case "sourceIp":
				return d.String(&h.SourceIP)
			case "userAgent":
				return d.String(&h.UserAgent)
			}
			return false
		})
	case "authorizer":
		if d.Null() {
			rc.Authorizer = nil
			return true
		}
		if rc.Authorizer == nil {
			rc.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{}
		}
		return d.Object(func(name string) bool { return name == "iam" && d.iam(&rc.Authorizer.IAM) })
	case "authentication":
		c := &rc.Authentication.ClientCert
		return d.Null() || d.Object(func(name string) bool {
			return name == "clientCert" && (d.Null() || d.Object(func(name string) bool {
				switch name {
				case "clientCertPem":
					return d.String(&c.ClientCertPem)
				case "issuerDN":
					return d.String(&c.IssuerDN)
				case "serialNumber":
					return d.String(&c.SerialNumber)
				case "subjectDN":
					return d.String(&c.SubjectDN)
				case "validity":
					return d.Null() || d.Object(func(name string) bool {
						switch name {
						case "notAfter":
							return d.String(&c.Validity.NotAfter)
						case "notBefore":
							return d.String(&c.Validity.NotBefore)
						}
						return false
					})
				}
				return false
			}))
		})
	}
	return false
}

// iam decodes the IAM authorizer's description, the caller of every signed request.
func (d *eventDecoder) iam(p **events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription) bool {
	if d.Null() {
		*p = nil
		return true
	}
	if *p == nil {
		*p = &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{}
	}
	iam := *p
	return d.Object(func(name string) bool {
		switch name {
		case "accessKey":
			return d.String(&iam.AccessKey)
		case "accountId":
			return d.String(&iam.AccountID)
		case "callerId":
			return d.String(&iam.CallerID)
		case "principalOrgId":
			return d.String(&iam.PrincipalOrgID)
		case "userArn":
			return d.String(&iam.UserARN)
		case "userId":
			return d.String(&iam.UserID)
		case "cognitoIdentity":
			c := &iam.CognitoIdentity
			return d.Null() || d.Object(func(name string) bool {
				switch name {
				case "amr":
					return d.Strings(&c.AMR)
				case "identityId":
					return d.String(&c.IdentityID)
				case "identityPoolId":
					return d.String(&c.IdentityPoolID)
				}
				return false
			})
		}
		return false
	})
}

// stringMap reads an object of strings into *m, adding to a map already there as encoding/json
// does; null sets it to nil, and a null value stores "".
func (d *eventDecoder) stringMap(m *map[string]string) bool {
	if d.Null() {
		*m = nil
		return true
	}
	if *m == nil {
		*m = make(map[string]string, 16)
	}
	return d.Object(func(name string) bool {
		var v string
		if !d.String(&v) {
			return false
		}
		(*m)[name] = v
		return true
	})
}
