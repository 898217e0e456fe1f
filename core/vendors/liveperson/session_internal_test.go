package liveperson

import (
	"encoding/json"
	"os"
	"testing"
	"time"
)

func TestAgentSessionIDFromTheDocsExample(t *testing.T) {
	raw, err := os.ReadFile("testdata/agent_session_response.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		AgentSessionLocation struct {
			Link map[string]string `json:"link"`
		} `json:"agentSessionLocation"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	id, err := agentSessionID("https://va.agentvep.liveperson.net", "123456", doc.AgentSessionLocation.Link["@href"])
	if err != nil || id != "3a6b2f1e9c0d4e57" {
		t.Errorf("agentSessionID = %q, %v", id, err)
	}
}

func TestAgentSessionIDChecksTheLink(t *testing.T) {
	const base = "https://va.agentvep.liveperson.net"
	ok := map[string]string{
		"https://va.agentvep.liveperson.net/api/account/123456/agentSession/abc":      "abc",
		"https://VA.agentvep.liveperson.net:443/api/account/123456/agentSession/abc/": "abc",
		"/api/account/123456/agentSession/a%20b":                                      "a b",
	}
	for href, want := range ok {
		if id, err := agentSessionID(base, "123456", href); err != nil || id != want {
			t.Errorf("agentSessionID(%q) = %q, %v; want %q", href, id, err, want)
		}
	}
	refused := []string{
		"",
		"https://evil.example/api/account/123456/agentSession/abc",
		"//evil.example/api/account/123456/agentSession/abc",
		"http://va.agentvep.liveperson.net/api/account/123456/agentSession/abc",       // downgrade
		"https://va.agentvep.liveperson.net:8443/api/account/123456/agentSession/abc", // other port
		"https://va.agentvep.liveperson.net.evil.example/api/account/123456/agentSession/abc",
		"https://va.agentvep.liveperson.net/api/account/654321/agentSession/abc", // other account
		"https://va.agentvep.liveperson.net/api/account/123456/agentSession/abc/chat/1",
		"https://va.agentvep.liveperson.net/api/account/123456/agentSession/",
		"https://va.agentvep.liveperson.net/api/account/123456/agentSession/%2E%2E",
		"https://user:pw@evil.example/api/account/123456/agentSession/abc",
	}
	for _, href := range refused {
		if id, err := agentSessionID(base, "123456", href); err == nil {
			t.Errorf("agentSessionID(%q) = %q, want an error", href, id)
		}
	}
}

func TestSessionTTL(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"28800000": 8*time.Hour - ttlMargin, // the docs' example
		"60000":    30 * time.Second,
		"":         defaultSessionTTL,
		"-5":       defaultSessionTTL,
		"soon":     defaultSessionTTL,
	} {
		if got := sessionTTL(in); got != want {
			t.Errorf("sessionTTL(%q) = %v, want %v", in, got, want)
		}
	}
}
