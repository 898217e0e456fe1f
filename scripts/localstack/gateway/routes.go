package gateway

import (
	"fmt"
	"net/url"
	"strings"
)

// segment is one part of a route's path: literal text, a {name} variable or a greedy {name+}.
type segment struct {
	text   string
	param  string
	greedy bool
}

// route is a Route ready for matching.
type route struct {
	Route
	key      string
	segments []segment
	fallback bool // the $default route
}

func compile(r Route) (route, error) {
	if r.Path == "$default" {
		return route{Route: r, key: "$default", fallback: true}, nil
	}
	method := strings.ToUpper(r.Method)
	if method == "" || !strings.HasPrefix(r.Path, "/") {
		return route{}, fmt.Errorf("gateway: route %q %q: want a method and a path starting with /", r.Method, r.Path)
	}
	r.Method = method
	c := route{Route: r, key: method + " " + r.Path}
	parts := strings.Split(strings.TrimPrefix(r.Path, "/"), "/")
	for i, part := range parts {
		s, err := parseSegment(part, i == len(parts)-1)
		if err != nil {
			return route{}, fmt.Errorf("gateway: route %s: %w", c.key, err)
		}
		c.segments = append(c.segments, s)
	}
	return c, nil
}

func parseSegment(part string, last bool) (segment, error) {
	if !strings.HasPrefix(part, "{") || !strings.HasSuffix(part, "}") {
		return segment{text: part}, nil
	}
	name := part[1 : len(part)-1]
	greedy := strings.HasSuffix(name, "+")
	name = strings.TrimSuffix(name, "+")
	if name == "" {
		return segment{}, fmt.Errorf("empty path variable")
	}
	if greedy && !last {
		return segment{}, fmt.Errorf("a greedy variable {%s+} must be the last segment", name)
	}
	return segment{param: name, greedy: greedy}, nil
}

// match returns the path parameters when the escaped request path fits the route.
func (r route) match(method, escapedPath string) (map[string]string, bool) {
	if r.fallback {
		return nil, true
	}
	if r.Method != "ANY" && r.Method != method {
		return nil, false
	}
	parts := strings.Split(strings.TrimPrefix(escapedPath, "/"), "/")
	params := map[string]string{}
	for i, s := range r.segments {
		if i >= len(parts) {
			return nil, false
		}
		switch {
		case s.greedy:
			rest := strings.Join(parts[i:], "/")
			if rest == "" {
				return nil, false
			}
			params[s.param] = unescape(rest)
			return params, true
		case s.param != "":
			if parts[i] == "" {
				return nil, false
			}
			params[s.param] = unescape(parts[i])
		case s.text != parts[i]:
			return nil, false
		}
	}
	return params, len(parts) == len(r.segments)
}

// outranks reports whether r is more specific than other: API Gateway prefers literal
// segments over variables, variables over greedy ones, then a method over ANY.
func (r route) outranks(other route) bool {
	if r.fallback != other.fallback {
		return other.fallback
	}
	for i := 0; i < len(r.segments) && i < len(other.segments); i++ {
		if a, b := r.segments[i].rank(), other.segments[i].rank(); a != b {
			return a > b
		}
	}
	if len(r.segments) != len(other.segments) {
		return len(r.segments) > len(other.segments)
	}
	return r.Method != "ANY" && other.Method == "ANY"
}

func (s segment) rank() int {
	switch {
	case s.greedy:
		return 0
	case s.param != "":
		return 1
	}
	return 2
}

// unescape decodes a path segment, keeping it as is when it is not valid escaping.
func unescape(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}
