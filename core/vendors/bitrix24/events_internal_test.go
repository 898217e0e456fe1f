package bitrix24

import "testing"

// TestTokensEqual: the comparison behind event authentication. Its timing cannot be measured
// reliably in a test; it hashes both sides and compares the digests with crypto/subtle.
func TestTokensEqual(t *testing.T) {
	const token = "831c76b092f9f135d9b6b36c3a720757"
	tests := []struct {
		given string
		want  bool
	}{
		{token, true},
		{"831c76b092f9f135d9b6b36c3a720758", false}, // last character
		{"931c76b092f9f135d9b6b36c3a720757", false}, // first character
		{token[:16], false},                         // a prefix
		{token + "0", false},                        // longer
		{"", false},
	}
	for _, tt := range tests {
		if got := tokensEqual(tt.given, token); got != tt.want {
			t.Errorf("tokensEqual(%q) = %v, want %v", tt.given, got, tt.want)
		}
	}
}
