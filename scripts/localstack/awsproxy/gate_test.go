package awsproxy_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"handoff/scripts/localstack/awsproxy"
)

// TestGatePassesOneRequestAtATime: many callers at once reach moto one after another, and
// their connections to the gate are kept alive although moto closes its own.
func TestGatePassesOneRequestAtATime(t *testing.T) {
	var inFlight, most atomic.Int32
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(5 * time.Millisecond)
		w.Header().Set("Connection", "close") // as moto_server does
		io.WriteString(w, r.Header.Get("X-Amz-Target"))
	}))
	defer upstream.Close()
	gate, err := awsproxy.StartGate(awsproxy.Upstreams{AWS: upstream.URL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer gate.Close()

	var dials atomic.Int32
	// Room for every caller's connection when idle, as the SDK's transport has (10 a host):
	// net/http's default keeps 2, and closing the others would count as the gate's fault.
	tr := &http.Transport{MaxIdleConnsPerHost: 8}
	client := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 5 {
				req, _ := http.NewRequest(http.MethodPost, gate.URL, nil)
				req.Header.Set("X-Amz-Target", "DynamoDB_20120810.PutItem")
				trace := req.WithContext(withDialCount(req, &dials))
				resp, err := client.Do(trace)
				if err != nil {
					t.Error(err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != "DynamoDB_20120810.PutItem" || resp.StatusCode != http.StatusOK {
					t.Errorf("answer %d %q", resp.StatusCode, b)
				}
			}
		})
	}
	wg.Wait()
	if m := most.Load(); m != 1 {
		t.Errorf("moto saw %d requests at once, want 1", m)
	}
	if d := dials.Load(); d > 8 {
		t.Errorf("%d connections for 8 callers: the gate does not keep them alive", d)
	}
}

// withDialCount counts the new connections made for req.
func withDialCount(req *http.Request, dials *atomic.Int32) context.Context {
	return httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		ConnectStart: func(string, string) { dials.Add(1) },
	})
}

// TestALongPollHoldsNoDynamoDBRequest: an SQS ReceiveMessage that long-polls (the local queue
// poller's) does not hold the gate, so the functions' DynamoDB requests pass while it waits.
func TestALongPollHoldsNoDynamoDBRequest(t *testing.T) {
	release, polling := make(chan struct{}), make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Amz-Target") == "AmazonSQS.ReceiveMessage" {
			close(polling)
			<-release // the poll waits for messages
		}
		io.WriteString(w, "{}")
	}))
	defer upstream.Close()
	defer close(release)
	gate, err := awsproxy.StartGate(awsproxy.Upstreams{AWS: upstream.URL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer gate.Close()
	post := func(target string) error {
		req, _ := http.NewRequest(http.MethodPost, gate.URL, strings.NewReader("{}"))
		req.Header.Set("X-Amz-Target", target)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	polled := make(chan error, 1)
	go func() { polled <- post("AmazonSQS.ReceiveMessage") }()
	<-polling
	done := make(chan error, 1)
	go func() { done <- post("DynamoDB_20120810.GetItem") }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case err := <-polled:
		t.Fatalf("the poll ended first (%v): it should still be waiting", err)
	case <-time.After(30 * time.Second): // not a timing assertion: the poll never ends by itself
		t.Fatal("the DynamoDB request is held behind the long poll")
	}
}
