// Package awsproxy stands between the local stack's processes and the local AWS: Gate passes
// their requests to moto_server one at a time, and Recorder notes which AWS operation each
// request is, on which resource, and who signed it, so the permission test can hold every call
// a function makes against that function's IAM policy in template.yaml.
package awsproxy

import (
	"context"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Gate is moto_server as the stack and its functions reach it: DynamoDB requests one at a
// time, on connections kept alive. moto 5.2's DynamoDB is not safe for concurrent requests: its
// TransactWriteItems deep-copies each table it writes to (to roll back with), and a write landing
// during the copy makes it answer 500 with an HTML page, which the functions see as storage
// failing; and a conditional write is not atomic with its check. moto closes every connection
// after its answer, so each SDK request would dial anew, which no function does against AWS.
// Only DynamoDB is held to one at a time: an SQS ReceiveMessage long-polls for seconds (the
// local queue poller's), and holding every other request behind it made each AWS call of the
// functions wait out the poll.
//
// SQS may have a moto_server of its own (Upstreams.SQS): moto serves a process's requests on one
// CPU at a time, and during a storm its SQS (each receive walks every queued message) took a
// third of the CPU the functions' DynamoDB requests waited for.
type Gate struct {
	URL string
	srv *http.Server
}

// Upstreams are the moto_servers behind a gate: AWS serves everything, but SQS when SQS is set.
type Upstreams struct {
	AWS, SQS string
}

// StartGate serves a gate to the moto_servers of up on a free loopback port. With a recorder,
// every request passing is recorded first.
func StartGate(up Upstreams, rec *Recorder) (*Gate, error) {
	proxy, err := reverseProxy(up.AWS)
	if err != nil {
		return nil, err
	}
	sqsProxy := proxy
	if up.SQS != "" {
		if sqsProxy, err = reverseProxy(up.SQS); err != nil {
			return nil, err
		}
	}
	var one sync.Mutex
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	var next http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch target := r.Header.Get("X-Amz-Target"); {
		case strings.HasPrefix(target, "DynamoDB_"):
			one.Lock()
			defer one.Unlock()
		case strings.HasPrefix(target, "AmazonSQS."):
			sqsProxy.ServeHTTP(w, r)
			return
		}
		proxy.ServeHTTP(w, r)
	})
	if rec != nil {
		next = rec.Wrap(next)
	}
	g := &Gate{URL: "http://" + ln.Addr().String(), srv: &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: next}}
	go g.srv.Serve(ln)
	return g, nil
}

func reverseProxy(target string) (*httputil.ReverseProxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.Transport = &http.Transport{ResponseHeaderTimeout: time.Minute} // a stuck moto frees the gate
	return proxy, nil
}

// Close stops the gate, letting requests in flight finish for a moment.
func (g *Gate) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = g.srv.Shutdown(ctx)
}
