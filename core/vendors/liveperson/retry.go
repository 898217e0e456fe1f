package liveperson

import (
	"context"
	"net/http"
	"time"

	"handoff/core/handoff"
	"handoff/core/vendors/rest"
)

// LivePerson's retry policy [C: developers.liveperson.com/retry-policy-recommendations.html]:
// a 4xx is not retried; after a 429 wait "at least 1 second"; a 5xx is retried "3 times with 5,
// 10, 15 second pause between retries". We follow it inside the request's deadline: a pause
// that would leave too little time for the call after it is not taken, and the answer in hand is
// returned instead (RATE_LIMITED with its wait, VENDOR_UNAVAILABLE).
var (
	serverErrorPauses = []time.Duration{5 * time.Second, 10 * time.Second, 15 * time.Second}
	rateLimitPause    = time.Second // the least; a longer Retry-After is honoured
)

const (
	// rateLimitRetries bounds the 429s one call sits out [I: the page sets no number].
	rateLimitRetries = 3
	// maxPause is the longest Retry-After waited for inside one call: the guideline's longest
	// pause. A longer one is returned as RATE_LIMITED with its wait.
	maxPause = 15 * time.Second
	// callReserve is the time a pause must leave before the deadline for the call after it.
	callReserve = 2 * time.Second
)

// Options tune an Adapter; the zero value is production's.
type Options struct {
	// Sleep waits between retries; nil sleeps for real (until ctx ends). Tests pass one that
	// moves their clock, so the 5, 10 and 15 s pauses cost nothing.
	Sleep func(ctx context.Context, d time.Duration) error
}

// send sends req with the session's cookies, following the retry policy: a 429 is sent again
// after at least a second (LivePerson throttled it before acting); a 5xx only when the request is
// Idempotent (a transfer POST answered 5xx may have been acted on; the reconcile finds out).
func (a *Adapter) send(ctx context.Context, s *session, req rest.Request) (*rest.Response, error) {
	req.Retry = func(*rest.Response) bool { return false } // the pauses are ours, below
	limited, failed := 0, 0
	for {
		resp, err := s.do(ctx, a.deps.HTTP, req)
		if err != nil {
			return nil, err
		}
		var wait time.Duration
		switch {
		case resp.Status == http.StatusTooManyRequests && limited < rateLimitRetries:
			limited++
			wait = max(rest.RetryAfter(resp.Header, a.now()), rateLimitPause)
		case resp.Status >= 500 && req.Idempotent && failed < len(serverErrorPauses):
			wait = serverErrorPauses[failed]
			failed++
		default:
			return resp, nil
		}
		if wait > maxPause || !a.fits(ctx, wait) {
			return resp, nil
		}
		a.log.Info("liveperson: retrying as its retry policy says", "op", req.Op, "status", resp.Status, "pause", wait)
		if err := a.sleep(ctx, wait); err != nil {
			return nil, handoff.E(handoff.CodeVendorTimeout, req.Op, "the call ended while waiting to retry", err)
		}
	}
}

// fits reports whether a pause of d leaves time for one more call before ctx's deadline.
func (a *Adapter) fits(ctx context.Context, d time.Duration) bool {
	deadline, ok := ctx.Deadline()
	return !ok || deadline.Sub(a.now()) >= d+callReserve
}

func (a *Adapter) sleep(ctx context.Context, d time.Duration) error {
	if a.opts.Sleep != nil {
		return a.opts.Sleep(ctx, d)
	}
	return rest.Sleep(ctx, d)
}
