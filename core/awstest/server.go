package awstest

import (
	"context"
	"errors"
	"sync"
	"time"

	"handoff/core/motoserver"
)

// shared is the one moto_server of this test binary.
var shared server

const (
	startAttempts = 3                // a port picked free can be taken before moto binds it
	startTimeout  = 30 * time.Second // moto imports every service on start: seconds, not minutes
)

// server is the test binary's moto_server, started once, on the first test that asks.
type server struct {
	once sync.Once
	err  error

	mu   sync.Mutex
	moto *motoserver.Server
}

// start starts moto_server on the first call and returns its URL, or why it could not start.
func (s *server) start() (string, error) {
	s.once.Do(func() {
		for range startAttempts {
			m, err := motoserver.Start(context.Background(), startTimeout)
			s.err = err
			if errors.Is(err, motoserver.ErrMissing) {
				return
			}
			if err == nil {
				s.mu.Lock()
				s.moto = m
				s.mu.Unlock()
				return
			}
		}
	})
	if s.err != nil {
		return "", s.err
	}
	return s.moto.URL, nil
}

// stop kills the running moto_server, if any, and reaps it so no zombie is left behind.
func (s *server) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.moto != nil {
		s.moto.Stop()
		s.moto = nil
	}
}
