package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"
)

// motoGate is moto_server as the stack and its functions reach it: one request at a time, on
// connections kept alive. moto 5.2's DynamoDB is not safe for concurrent requests: its
// TransactWriteItems deep-copies each table it writes to (to roll back with), and a write landing
// during the copy makes it answer 500 with an HTML page, which the functions see as storage
// failing. And moto closes every connection after its answer, so each SDK request would dial
// anew, which no function does against AWS. moto runs one request at a time anyway (Python's
// GIL), so the gate costs next to nothing; under concurrent load it is what keeps the local
// stack honest.
type motoGate struct {
	URL string
	srv *http.Server
}

// startMotoGate serves a gate to the moto_server at target on a free loopback port.
func startMotoGate(target string) (*motoGate, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.Transport = &http.Transport{ResponseHeaderTimeout: time.Minute} // a stuck moto frees the gate
	var one sync.Mutex
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	g := &motoGate{URL: "http://" + ln.Addr().String(), srv: &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			one.Lock()
			defer one.Unlock()
			proxy.ServeHTTP(w, r)
		}),
	}}
	go g.srv.Serve(ln)
	return g, nil
}

func (g *motoGate) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = g.srv.Shutdown(ctx)
}
