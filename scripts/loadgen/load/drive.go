package load

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"handoff/scripts/localstack/demo"
)

// Run is a load run under way: what was sent and answered, to be verified.
type Run struct {
	cfg    Config
	plan   plan
	client *http.Client
	before demo.Counters
	// counters says whether the stack serves GET /_local/sandboxes.
	counters bool

	mu        sync.Mutex
	results   map[string]*keyResult // by key
	attempts  []time.Duration       // every POST, retries included, in the order they ended
	requests  []time.Duration       // first send to final answer, per job
	statuses  map[int]int           // POST answers by status
	inFlight  int                   // 409 IN_PROGRESS answers, retried
	retried   int                   // 429/5xx answers, retried
	avail     []time.Duration
	availFail []string
	unsent    int
	started   time.Time
	elapsed   time.Duration
}

// keyResult is what the answers for one key said.
type keyResult struct {
	ids      map[string]bool // the transfer ids answered for the key
	answered int             // 201/202 answers
	replayed int             // of which Idempotent-Replayed
	failures []string        // final answers that were not 201/202
}

// Drive sends the plan of cfg with cfg.Concurrency workers until it is done or cfg.Duration is
// up, and returns the run to verify.
func Drive(ctx context.Context, cfg Config) (*Run, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	r := &Run{
		cfg: cfg, plan: makePlan(cfg),
		client: &http.Client{
			Timeout:   40 * time.Second, // past the transfer function's 30 s
			Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Concurrency, MaxConnsPerHost: 2 * cfg.Concurrency},
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse // never leave the URL given
			},
		},
		results: map[string]*keyResult{}, statuses: map[int]int{},
	}
	var err error
	if r.before, r.counters, err = r.readCounters(ctx); err != nil {
		return nil, err
	}
	// Duration bounds the sending: no job starts after it. A request under way is let finish
	// (within its own timeout), so its key's outcome is known.
	sendCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	jobs := make(chan job)
	var wg sync.WaitGroup
	for range cfg.Concurrency {
		wg.Go(func() {
			for j := range jobs {
				r.send(ctx, j)
			}
		})
	}
	r.started = time.Now()
	for i, j := range r.plan.jobs {
		select {
		case jobs <- j:
			continue
		case <-sendCtx.Done():
		}
		r.unsent = len(r.plan.jobs) - i
		break
	}
	close(jobs)
	wg.Wait()
	r.elapsed = time.Since(r.started)
	return r, ctx.Err()
}

// send runs one job to its final answer, retrying what the API says to retry.
func (r *Run) send(ctx context.Context, j job) {
	if j.query != "" {
		r.availability(ctx, j)
		return
	}
	start := time.Now()
	for attempt := 0; ; attempt++ {
		t0 := time.Now()
		status, hdr, b, err := r.do(ctx, http.MethodPost, "/transfers", j.key, j.body)
		took := time.Since(t0)
		r.mu.Lock()
		if err == nil {
			r.attempts = append(r.attempts, took)
			r.statuses[status]++
		}
		r.mu.Unlock()
		wait, again := retryWait(status, hdr, attempt)
		if err == nil && again && sleep(ctx, wait) {
			r.mu.Lock()
			if status == http.StatusConflict {
				r.inFlight++
			} else {
				r.retried++
			}
			r.mu.Unlock()
			continue
		}
		r.record(j, status, hdr, b, err, time.Since(start))
		return
	}
}

// retryWait says whether an answer is to be retried and after how long. IN_PROGRESS is retried
// sooner than its Retry-After (the lease, up to the function's 30 s timeout): the first request
// usually ends within milliseconds, and a load test waiting out whole leases measures nothing.
func retryWait(status int, hdr http.Header, attempt int) (time.Duration, bool) {
	switch status {
	case http.StatusConflict:
		if hdr.Get("Retry-After") == "" { // a CONFLICT, not IN_PROGRESS: not ours to retry
			return 0, false
		}
		return min(50*time.Millisecond<<min(attempt, 4), time.Second), attempt < 45
	case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		d := 200 * time.Millisecond << min(attempt, 4)
		if s, err := strconv.Atoi(hdr.Get("Retry-After")); err == nil {
			d = time.Duration(s) * time.Second
		}
		return min(d, 5*time.Second), attempt < 8
	}
	return 0, false
}

func (r *Run) record(j job, status int, hdr http.Header, b []byte, err error, took time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	res := r.results[j.key]
	if res == nil {
		res = &keyResult{ids: map[string]bool{}}
		r.results[j.key] = res
	}
	r.requests = append(r.requests, took)
	var answer struct {
		ID string `json:"id"`
	}
	switch {
	case err != nil:
		res.failures = append(res.failures, err.Error())
	case (status == http.StatusCreated || status == http.StatusAccepted) && json.Unmarshal(b, &answer) == nil && answer.ID != "":
		res.ids[answer.ID] = true
		res.answered++
		if hdr.Get("Idempotent-Replayed") == "true" {
			res.replayed++
		}
	default:
		res.failures = append(res.failures, fmt.Sprintf("%d %s", status, snippet(b)))
	}
}

func (r *Run) availability(ctx context.Context, j job) {
	t0 := time.Now()
	status, _, b, err := r.do(ctx, http.MethodGet, "/availability?"+j.query, "", nil)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		r.avail = append(r.avail, time.Since(t0))
	}
	if err != nil || status != http.StatusOK {
		r.availFail = append(r.availFail, fmt.Sprintf("%s: %d %s %v", j.vendor, status, snippet(b), err))
	}
}

// do sends one request to the stack and reads the answer (at most 1 MiB).
func (r *Run) do(ctx context.Context, method, path, key string, body []byte) (int, http.Header, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.cfg.URL+path, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, resp.Header, b, err
}

// readCounters reads the sandboxes' counters; ok is false when the stack does not serve them.
func (r *Run) readCounters(ctx context.Context) (demo.Counters, bool, error) {
	var c demo.Counters
	status, _, b, err := r.do(ctx, http.MethodGet, demo.CountersPath, "", nil)
	switch {
	case err != nil:
		return c, false, fmt.Errorf("the stack at %s does not answer (is `make run` running? -url): %w", r.cfg.URL, err)
	case status == http.StatusNotFound:
		return c, false, nil
	case status != http.StatusOK:
		return c, false, fmt.Errorf("GET %s: %d %s", demo.CountersPath, status, snippet(b))
	}
	return c, true, json.Unmarshal(b, &c)
}

// sleep waits d, or reports false when ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func snippet(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}
