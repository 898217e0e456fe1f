package handoff

import (
	"fmt"
	"strings"
)

// Access is a tenant's access record: who may act for the tenant. An operator writes it; the API
// never does. Without one, nobody may act for the tenant.
type Access struct {
	Tenant string `json:"tenant"`
	// Principals are the IAM principal ARNs that may call the API for the tenant, each matched
	// exactly or as a pattern in which * stands for any run of characters (a role's sessions:
	// arn:aws:sts::111122223333:assumed-role/chatbot/*).
	Principals []string `json:"principals"`
	// EventSources are the EventBridge sources, each from one account, that may escalate for the
	// tenant.
	EventSources []EventSource `json:"eventSources"`
}

// EventSource is an EventBridge event's source and the account that put it.
type EventSource struct {
	Source  string `json:"source"`
	Account string `json:"account"`
}

// AllowsPrincipal reports whether the caller, a principal ARN, may act for the tenant. An empty
// caller (a request no IAM authorizer saw) is never allowed, whatever the patterns.
func (a Access) AllowsPrincipal(caller string) bool {
	if caller == "" {
		return false
	}
	for _, p := range a.Principals {
		if globMatch(p, caller) {
			return true
		}
	}
	return false
}

// AllowsSource reports whether an event with this source, put by this account, may escalate for
// the tenant. Both must match one entry exactly.
func (a Access) AllowsSource(source, account string) bool {
	if source == "" || account == "" {
		return false
	}
	for _, s := range a.EventSources {
		if s.Source == source && s.Account == account {
			return true
		}
	}
	return false
}

// Validate checks a record before an operator stores it: a valid tenant, and entries that are
// not empty. A record allowing nobody is valid (it documents that nobody may).
func (a Access) Validate() error {
	if err := ValidateTenant("tenant", a.Tenant); err != nil {
		return err
	}
	for i, p := range a.Principals {
		if strings.TrimSpace(p) == "" || p != strings.TrimSpace(p) {
			return Invalid(fmt.Sprintf("principals[%d]", i), "a principal is an ARN or an ARN pattern, without spaces")
		}
	}
	for i, s := range a.EventSources {
		if s.Source == "" || s.Account == "" {
			return Invalid(fmt.Sprintf("eventSources[%d]", i), "an event source needs a source and an account")
		}
	}
	return nil
}

// globMatch reports whether s matches pattern, where * matches any run of characters (slashes
// included, as in IAM's ARN patterns) and everything else matches itself.
func globMatch(pattern, s string) bool {
	star := strings.IndexByte(pattern, '*')
	if star < 0 {
		return pattern == s
	}
	if !strings.HasPrefix(s, pattern[:star]) {
		return false
	}
	s = s[star:]
	parts := strings.Split(pattern[star+1:], "*")
	last := parts[len(parts)-1]
	for _, part := range parts[:len(parts)-1] {
		i := strings.Index(s, part)
		if i < 0 {
			return false
		}
		s = s[i+len(part):]
	}
	return strings.HasSuffix(s, last) // the last part is anchored at the end
}
