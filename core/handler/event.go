package handler

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
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
	if !utf8.Valid(payload) {
		return false // encoding/json would replace it with U+FFFD
	}
	d := eventDecoder{s: string(payload)}
	if !d.object(func(name string) bool { return d.request(name, ev) }) {
		return false
	}
	d.space()
	return d.i == len(d.s)
}

// eventDecoder reads JSON from s at i. Its methods answer false on anything it does not take.
type eventDecoder struct {
	s string
	i int
}

// request decodes the top-level member name of an HTTP API event.
func (d *eventDecoder) request(name string, ev *events.APIGatewayV2HTTPRequest) bool {
	switch name {
	case "version":
		return d.str(&ev.Version)
	case "routeKey":
		return d.str(&ev.RouteKey)
	case "rawPath":
		return d.str(&ev.RawPath)
	case "rawQueryString":
		return d.str(&ev.RawQueryString)
	case "cookies":
		return d.strings(&ev.Cookies)
	case "headers":
		return d.stringMap(&ev.Headers)
	case "queryStringParameters":
		return d.stringMap(&ev.QueryStringParameters)
	case "pathParameters":
		return d.stringMap(&ev.PathParameters)
	case "stageVariables":
		return d.stringMap(&ev.StageVariables)
	case "requestContext":
		if d.null() {
			return true
		}
		rc := &ev.RequestContext
		return d.object(func(name string) bool { return d.requestContext(name, rc) })
	case "body":
		return d.str(&ev.Body)
	case "isBase64Encoded":
		return d.boolean(&ev.IsBase64Encoded)
	}
	return false
}

func (d *eventDecoder) requestContext(name string, rc *events.APIGatewayV2HTTPRequestContext) bool {
	switch name {
	case "routeKey":
		return d.str(&rc.RouteKey)
	case "accountId":
		return d.str(&rc.AccountID)
	case "stage":
		return d.str(&rc.Stage)
	case "requestId":
		return d.str(&rc.RequestID)
	case "apiId":
		return d.str(&rc.APIID)
	case "domainName":
		return d.str(&rc.DomainName)
	case "domainPrefix":
		return d.str(&rc.DomainPrefix)
	case "time":
		return d.str(&rc.Time)
	case "timeEpoch":
		return d.int64(&rc.TimeEpoch)
	case "http":
		h := &rc.HTTP
		return d.null() || d.object(func(name string) bool {
			switch name {
			case "method":
				return d.str(&h.Method)
			case "path":
				return d.str(&h.Path)
			case "protocol":
				return d.str(&h.Protocol)
			case "sourceIp":
				return d.str(&h.SourceIP)
			case "userAgent":
				return d.str(&h.UserAgent)
			}
			return false
		})
	case "authorizer":
		if d.null() {
			rc.Authorizer = nil
			return true
		}
		if rc.Authorizer == nil {
			rc.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{}
		}
		return d.object(func(name string) bool { return name == "iam" && d.iam(&rc.Authorizer.IAM) })
	case "authentication":
		c := &rc.Authentication.ClientCert
		return d.null() || d.object(func(name string) bool {
			return name == "clientCert" && (d.null() || d.object(func(name string) bool {
				switch name {
				case "clientCertPem":
					return d.str(&c.ClientCertPem)
				case "issuerDN":
					return d.str(&c.IssuerDN)
				case "serialNumber":
					return d.str(&c.SerialNumber)
				case "subjectDN":
					return d.str(&c.SubjectDN)
				case "validity":
					return d.null() || d.object(func(name string) bool {
						switch name {
						case "notAfter":
							return d.str(&c.Validity.NotAfter)
						case "notBefore":
							return d.str(&c.Validity.NotBefore)
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
	if d.null() {
		*p = nil
		return true
	}
	if *p == nil {
		*p = &events.APIGatewayV2HTTPRequestContextAuthorizerIAMDescription{}
	}
	iam := *p
	return d.object(func(name string) bool {
		switch name {
		case "accessKey":
			return d.str(&iam.AccessKey)
		case "accountId":
			return d.str(&iam.AccountID)
		case "callerId":
			return d.str(&iam.CallerID)
		case "principalOrgId":
			return d.str(&iam.PrincipalOrgID)
		case "userArn":
			return d.str(&iam.UserARN)
		case "userId":
			return d.str(&iam.UserID)
		case "cognitoIdentity":
			c := &iam.CognitoIdentity
			return d.null() || d.object(func(name string) bool {
				switch name {
				case "amr":
					return d.strings(&c.AMR)
				case "identityId":
					return d.str(&c.IdentityID)
				case "identityPoolId":
					return d.str(&c.IdentityPoolID)
				}
				return false
			})
		}
		return false
	})
}

// space skips JSON white space.
func (d *eventDecoder) space() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// literal consumes word (after white space) if it is next.
func (d *eventDecoder) literal(word string) bool {
	d.space()
	if len(d.s)-d.i >= len(word) && d.s[d.i:d.i+len(word)] == word {
		d.i += len(word)
		return true
	}
	return false
}

// null consumes a null. encoding/json leaves a string, number, bool or struct as it was on null,
// and sets a map, slice or pointer to nil.
func (d *eventDecoder) null() bool { return d.literal("null") }

// object decodes an object, handing each member's name to member, which decodes its value.
func (d *eventDecoder) object(member func(name string) bool) bool {
	if !d.literal("{") {
		return false
	}
	if d.literal("}") {
		return true
	}
	for {
		var name string
		if !d.literal(`"`) || !d.quoted(&name) || !d.literal(":") || !member(name) {
			return false
		}
		if d.literal("}") {
			return true
		}
		if !d.literal(",") {
			return false
		}
	}
}

// stringMap decodes an object of strings into *m, adding to a map already there as
// encoding/json does; null sets it to nil.
func (d *eventDecoder) stringMap(m *map[string]string) bool {
	if d.null() {
		*m = nil
		return true
	}
	if *m == nil {
		*m = make(map[string]string, 16)
	}
	return d.object(func(name string) bool {
		if d.null() { // encoding/json stores the zero value for null in a map
			(*m)[name] = ""
			return true
		}
		var v string
		if !d.str(&v) {
			return false
		}
		(*m)[name] = v
		return true
	})
}

// strings decodes an array of strings; null sets it to nil.
func (d *eventDecoder) strings(p *[]string) bool {
	if d.null() {
		*p = nil
		return true
	}
	if !d.literal("[") {
		return false
	}
	out := []string{}
	if !d.literal("]") {
		for {
			var v string
			// null is left to encoding/json, which leaves the element as it was in a reused array.
			if !d.literal(`"`) || !d.quoted(&v) {
				return false
			}
			out = append(out, v)
			if d.literal("]") {
				break
			}
			if !d.literal(",") {
				return false
			}
		}
	}
	*p = out
	return true
}

func (d *eventDecoder) boolean(p *bool) bool {
	switch {
	case d.literal("true"):
		*p = true
	case d.literal("false"):
		*p = false
	default:
		return d.null()
	}
	return true
}

// int64 decodes an integer; a fraction or an exponent is left to encoding/json.
func (d *eventDecoder) int64(p *int64) bool {
	if d.null() {
		return true
	}
	start := d.i
	if d.i < len(d.s) && d.s[d.i] == '-' {
		d.i++
	}
	digits := d.i
	for d.i < len(d.s) && d.s[d.i] >= '0' && d.s[d.i] <= '9' {
		d.i++
	}
	if d.i == digits || (d.s[digits] == '0' && d.i > digits+1) {
		return false
	}
	if d.i < len(d.s) && (d.s[d.i] == '.' || d.s[d.i] == 'e' || d.s[d.i] == 'E') {
		return false
	}
	n, err := strconv.ParseInt(d.s[start:d.i], 10, 64)
	if err != nil {
		return false
	}
	*p = n
	return true
}

// str decodes a string into *p (null leaves it as it was). A string without escapes is a slice
// of the payload's copy; one with escapes is decoded into a new string.
func (d *eventDecoder) str(p *string) bool {
	if d.null() {
		return true
	}
	return d.literal(`"`) && d.quoted(p)
}

// quoted decodes the rest of a string whose opening quote was read.
func (d *eventDecoder) quoted(p *string) bool {
	start := d.i
	for d.i < len(d.s) {
		switch c := d.s[d.i]; {
		case c == '"':
			*p = d.s[start:d.i]
			d.i++
			return true
		case c == '\\':
			return d.escaped(p, start)
		case c < 0x20:
			return false
		}
		d.i++
	}
	return false
}

// escaped finishes a string that holds an escape, from start (just after its opening quote).
func (d *eventDecoder) escaped(p *string, start int) bool {
	// A Builder's String is its bytes, not a copy of them.
	var buf strings.Builder
	buf.Grow(len(d.s) - start)
	buf.WriteString(d.s[start:d.i])
	for d.i < len(d.s) {
		c := d.s[d.i]
		switch {
		case c == '"':
			*p = buf.String()
			d.i++
			return true
		case c < 0x20:
			return false
		case c != '\\':
			buf.WriteByte(c)
			d.i++
			continue
		}
		if d.i+1 >= len(d.s) {
			return false
		}
		switch e := d.s[d.i+1]; e {
		case '"', '\\', '/':
			buf.WriteByte(e)
		case 'b':
			buf.WriteByte('\b')
		case 'f':
			buf.WriteByte('\f')
		case 'n':
			buf.WriteByte('\n')
		case 'r':
			buf.WriteByte('\r')
		case 't':
			buf.WriteByte('\t')
		case 'u':
			if d.i+6 > len(d.s) {
				return false
			}
			r, err := strconv.ParseUint(d.s[d.i+2:d.i+6], 16, 32)
			if err != nil || (r >= 0xD800 && r < 0xE000) { // surrogates: left to encoding/json
				return false
			}
			buf.WriteRune(rune(r))
			d.i += 6
			continue
		default:
			return false
		}
		d.i += 2
	}
	return false
}
