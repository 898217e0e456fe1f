package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

const escalationLine = `{"time":"2026-11-21T09:20:11Z","source":"eventbus","rule":"TransferFunctionEscalationRequested","reason":"retries exhausted","attempts":3,"lastError":"VENDOR_UNAVAILABLE","event":{"version":"0","id":"ev-1","detail-type":"Escalation Requested","source":"com.example.chatbot","account":"123456789012","time":"2026-11-21T09:20:11Z","region":"us-east-1","resources":[],"detail":{"tenant":"demo","vendor":"liveperson"}}}`

const streamLine = `{"time":"2026-11-21T09:20:11Z","source":"streams","table":"Table","reason":"retries exhausted","retries":5,"records":[{"eventName":"MODIFY","dynamodb":{"Keys":{"pk":{"S":"TRANSFER#slot-1"},"sk":{"S":"TRANSFER"}},"NewImage":{"transferId":{"S":"tr-1"}}}},{"eventName":"INSERT","dynamodb":{"Keys":{"pk":{"S":"TRANSFER#slot-2"},"sk":{"S":"TRANSFER"}},"NewImage":{"transferId":{"S":"tr-2"}}}},{"eventName":"MODIFY","dynamodb":{"Keys":{"pk":{"S":"TRANSFER#slot-1"},"sk":{"S":"TRANSFER"}},"NewImage":{"transferId":{"S":"tr-1"}}}}]}`

func TestLocalDeadLettersAreRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dead-letters.jsonl")
	if err := os.WriteFile(path, []byte(escalationLine+"\nnot json\n"+streamLine+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := readLocalDeadLetters(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d dead letters, want 2: %+v", len(got), got)
	}
	if got[0].queue != "escalations" || got[0].event == nil || got[0].event.ID != "ev-1" || got[0].event.Source != "com.example.chatbot" ||
		!strings.Contains(string(got[0].event.Detail), `"tenant":"demo"`) || !strings.Contains(got[0].reason, "VENDOR_UNAVAILABLE") {
		t.Errorf("escalation = %+v", got[0])
	}
	if got[1].queue != "acks" || strings.Join(got[1].transfers, ",") != "tr-1,tr-2" {
		t.Errorf("acks = %+v, want transfers tr-1, tr-2 once each", got[1])
	}
	if none, err := readLocalDeadLetters(filepath.Join(t.TempDir(), "none.jsonl")); err != nil || len(none) != 0 {
		t.Errorf("a missing log: %v, %v", none, err)
	}
}

func TestQueueMessagesAreRead(t *testing.T) {
	tl := newTool(Config{AWS: aws.Config{Region: "us-east-1"}}, io.Discard)
	var fromRule, fromLambda deadLetter
	var event map[string]any
	_ = json.Unmarshal([]byte(escalationLine), &event)
	ruleBody, _ := json.Marshal(event["event"])
	if err := tl.readMessage(context.Background(), &fromRule, ruleBody); err != nil || fromRule.event == nil || fromRule.event.DetailType != "Escalation Requested" {
		t.Errorf("EventBridge's dead letter: %v, %+v", err, fromRule)
	}
	record, _ := json.Marshal(map[string]any{"version": "1.0", "requestContext": map[string]any{"condition": "RetriesExhausted"},
		"requestPayload": event["event"], "responsePayload": map[string]string{"errorMessage": "VENDOR_UNAVAILABLE: down"}})
	if err := tl.readMessage(context.Background(), &fromLambda, record); err != nil || fromLambda.event == nil ||
		fromLambda.event.ID != "ev-1" || fromLambda.reason != "VENDOR_UNAVAILABLE: down" {
		t.Errorf("Lambda's invocation record: %v, %+v", err, fromLambda)
	}
	var junk deadLetter
	if err := tl.readMessage(context.Background(), &junk, []byte("<xml/>")); err == nil {
		t.Error("an unreadable message was read")
	}
}

// TestLocalRedrivePutsEscalationsBackAndRemovesThem runs a redrive against a fake EventBridge.
func TestLocalRedrivePutsEscalationsBackAndRemovesThem(t *testing.T) {
	var mu sync.Mutex
	var puts []string
	bus := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		puts = append(puts, string(body))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = w.Write([]byte(`{"FailedEntryCount":0,"Entries":[{"EventId":"new-1"}]}`))
	}))
	defer bus.Close()
	path := filepath.Join(t.TempDir(), "dead-letters.jsonl")
	if err := os.WriteFile(path, []byte(escalationLine+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := Config{AWS: aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")},
		EventBus: "handoff-bus", EventBridgeEndpoint: bus.URL, DeadLettersFile: path}
	var out bytes.Buffer
	if err := Run(context.Background(), cfg, []string{"dead-letters", "redrive"}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if len(puts) != 1 || !strings.Contains(puts[0], `"DetailType":"Escalation Requested"`) ||
		!strings.Contains(puts[0], `"EventBusName":"handoff-bus"`) || !strings.Contains(puts[0], `"Source":"com.example.chatbot"`) {
		t.Errorf("PutEvents bodies %v", puts)
	}
	if left, _ := os.ReadFile(path); len(bytes.TrimSpace(left)) != 0 {
		t.Errorf("the replayed letter is still in the log: %s", left)
	}
	out.Reset()
	if err := Run(context.Background(), cfg, []string{"dead-letters", "list"}, &out); err != nil || !strings.Contains(out.String(), "no dead letters") {
		t.Errorf("list after the redrive = %v: %s", err, out.String())
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"tenant"}, {"tenant", "put", "acme"}, {"transfer", "show"}, {"ack", "retry"}, {"nope", "x"}} {
		if err := Run(context.Background(), Config{}, args, io.Discard); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}
