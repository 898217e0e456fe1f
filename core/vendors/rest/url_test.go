package rest_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"handoff/core/vendors/rest"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 21, 9, 14, 5, 0, time.UTC)
	date := func(d time.Duration) string { return now.Add(d).Format(http.TimeFormat) }
	cases := []struct {
		value string
		want  time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"5", 5 * time.Second},
		{" 7 ", 7 * time.Second},
		{"3600", time.Hour},
		{"7200", time.Hour},
		{"99999999999999999999", time.Hour}, // beyond int64: still "a very long time", not "now"
		{"-1", 0},
		{"-99999999999999999999", 0},
		{"1.5", 0},
		{"soon", 0},
		{"5 seconds", 0},
		{date(30 * time.Second), 30 * time.Second},
		{now.Add(2 * time.Minute).Format(time.RFC850), 2 * time.Minute},
		{now.Add(45 * time.Second).Format(time.ANSIC), 45 * time.Second},
		{date(3 * time.Hour), time.Hour},
		{date(0), 0},
		{date(-time.Minute), 0},
		{"Fri, 31 Feb 2026 25:00:00 GMT", 0},
	}
	for _, tc := range cases {
		h := http.Header{}
		if tc.value != "" {
			h.Set("Retry-After", tc.value)
		}
		if got := rest.RetryAfter(h, now); got != tc.want {
			t.Errorf("RetryAfter(%q) = %v, want %v", tc.value, got, tc.want)
		}
	}
}

func TestJoinURL(t *testing.T) {
	cases := []struct {
		base     string
		segments []string
		want     string
	}{
		{"https://api.example/v1", []string{"chats", "112"}, "https://api.example/v1/chats/112"},
		{"https://api.example/v1/", []string{"chats"}, "https://api.example/v1/chats"},
		{"https://api.example/v1", []string{"../admin"}, "https://api.example/v1/..%2Fadmin"},
		{"https://api.example/v1", []string{"a/b"}, "https://api.example/v1/a%2Fb"},
		{"https://api.example/v1", []string{"a?b=c"}, "https://api.example/v1/a%3Fb=c"},
		{"https://api.example/v1", []string{"a#top"}, "https://api.example/v1/a%23top"},
		{"https://api.example/v1", []string{"a b%"}, "https://api.example/v1/a%20b%25"},
		{"https://api.example/v1", []string{"é"}, "https://api.example/v1/%C3%A9"},
	}
	for _, tc := range cases {
		if got := rest.JoinURL(tc.base, tc.segments...); got != tc.want {
			t.Errorf("JoinURL(%q, %q) = %q, want %q", tc.base, tc.segments, got, tc.want)
		}
	}
}

// Whatever an id holds, it stays one path segment: no query, no fragment, no extra segment.
func TestJoinURLKeepsIDsInOneSegment(t *testing.T) {
	base := "https://portal.example/rest/1/code"
	for _, id := range []string{"../../admin", "x?token=1", "x#frag", "a/b/c", `a\b`, "%2e%2e", "a;b", "a%2Fb", "?", "#", "/"} {
		u, err := url.Parse(rest.JoinURL(base, "chat", id))
		if err != nil {
			t.Errorf("JoinURL(%q) does not parse: %v", id, err)
			continue
		}
		if u.RawQuery != "" || u.Fragment != "" || u.Host != "portal.example" {
			t.Errorf("id %q changed the URL: %s", id, u)
		}
		segs := strings.Split(u.EscapedPath(), "/")
		if len(segs) != 6 || segs[4] != "chat" {
			t.Errorf("id %q: path %q, want 6 segments", id, u.EscapedPath())
			continue
		}
		if got, err := url.PathUnescape(segs[5]); err != nil || got != id {
			t.Errorf("id %q came back as %q (%v)", id, got, err)
		}
	}
}

func TestCheckBaseURL(t *testing.T) {
	cases := []struct {
		raw string
		ok  bool
	}{
		{"https://platform.kore.ai", true},
		{"https://va.agentvep.liveperson.net/", true},
		{"https://demo.bitrix24.com/rest/1/abc/", true},
		{"HTTPS://platform.kore.ai", true},
		{"http://localhost:8080", true},
		{"http://127.0.0.1:9000/rest/", true},
		{"http://127.4.5.6", true},
		{"http://[::1]:3000", true},
		{"http://platform.kore.ai", false},
		{"http://localhost.evil.example", false},
		{"http://127.0.0.1.nip.io", false},
		{"http://10.0.0.1", false},
		{"http://0.0.0.0:8080", false},
		{"http://[::]:8080", false},
		{"https://user:hunter2@platform.kore.ai", false},
		{"https://user@platform.kore.ai", false},
		{"http://user:hunter2@localhost", false},
		{"ftp://files.example", false},
		{"ws://localhost", false},
		{"file:///etc/passwd", false},
		{"/rest/1/abc", false},
		{"platform.kore.ai", false},
		{"//platform.kore.ai", false},
		{"https://", false},
		{"", false},
		{"https://host/%zz", false},
	}
	for _, tc := range cases {
		err := rest.CheckBaseURL("baseUrl", tc.raw)
		if (err == nil) != tc.ok {
			t.Errorf("CheckBaseURL(%q) = %v, want ok=%v", tc.raw, err, tc.ok)
			continue
		}
		if err != nil {
			if !strings.Contains(err.Error(), "baseUrl") {
				t.Errorf("CheckBaseURL(%q) = %v: the error does not name the field", tc.raw, err)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("CheckBaseURL(%q) = %v: the error quotes a credential", tc.raw, err)
			}
		}
	}
}
