package rest_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"handoff/core/vendors/rest"
)

// FuzzRetryAfter: whatever a vendor puts in Retry-After (seconds, an HTTP date, nonsense), the
// wait read from it is between zero and an hour, so no vendor can make a call wait forever or
// retry at once by a negative number; seconds are read exactly.
func FuzzRetryAfter(f *testing.F) {
	for _, seed := range []string{"120", "0", "-1", " 7 ", "1e3", "99999999999999999999", "3600", "3601",
		"Wed, 21 Oct 2015 07:28:00 GMT", "Sun, 06 Nov 2094 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "soon", ""} {
		f.Add(seed)
	}
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, value string) {
		got := rest.RetryAfter(http.Header{"Retry-After": {value}}, now)
		if got < 0 || got > time.Hour {
			t.Fatalf("RetryAfter(%q) = %v, want 0..1h", value, got)
		}
		if secs, ok := decimal(value); ok {
			if want := time.Duration(min(secs, 3600)) * time.Second; got != want {
				t.Fatalf("RetryAfter(%q) = %v, want %v", value, got, want)
			}
		}
	})
}

// decimal reads an unsigned decimal of at most 9 digits between spaces and tabs.
func decimal(s string) (int, bool) {
	s = strings.Trim(s, " \t")
	if s == "" || len(s) > 9 || strings.Trim(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}
