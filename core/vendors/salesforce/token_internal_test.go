package salesforce

import "testing"

// TestAudience: the assertion's aud is Salesforce's login or test server, chosen from the
// secret's loginUrl, never the My Domain URL itself.
func TestAudience(t *testing.T) {
	tests := []struct{ loginURL, want string }{
		{"https://login.salesforce.com", audienceLogin},
		{"https://login.salesforce.com/", audienceLogin},
		{"https://test.salesforce.com", audienceTest},
		{"https://TEST.salesforce.com/", audienceTest},
		{"https://acme.my.salesforce.com", audienceLogin},
		{"https://acme--uat.sandbox.my.salesforce.com", audienceTest},
		{"https://acme--uat.my.salesforce.com", audienceTest},
		{"http://127.0.0.1:8080", audienceLogin},
	}
	for _, tc := range tests {
		if got := audience(tc.loginURL); got != tc.want {
			t.Errorf("audience(%q) = %q, want %q", tc.loginURL, got, tc.want)
		}
	}
}
