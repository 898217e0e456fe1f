package proof_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// awsFault is a way an AWS service fails one request.
type awsFault int

const (
	// throttled answers 400 ProvisionedThroughputExceededException, before the service acts.
	throttled awsFault = iota + 1
	// throttling answers 400 ThrottlingException (the control-plane and Secrets Manager word).
	throttling
	// down fails the request without an answer, as a refused connection does.
	down
	// lostAnswer lets the request reach moto (it acts), then loses the answer.
	lostAnswer
)

// awsFaults is the HTTP client of one AWS SDK client: it sends requests to moto, counts them by
// operation, and plays the faults set for chosen operations. Safe for concurrent use.
type awsFaults struct {
	next   *http.Client
	mu     sync.Mutex
	faults map[string]*awsRule // by operation name, e.g. "PutItem"
	sent   map[string]int      // requests per operation, faulted ones included
	ok     map[string]int      // requests moto answered 2xx, the answer delivered
}

type awsRule struct {
	fault awsFault
	times int // how many more requests to fail; < 0 is every one
}

func newAWSFaults() *awsFaults {
	return &awsFaults{next: &http.Client{}, faults: map[string]*awsRule{}, sent: map[string]int{}, ok: map[string]int{}}
}

// fail plays f on the next `times` requests of operation op, or on all of them when times < 0.
func (a *awsFaults) fail(op string, f awsFault, times int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.faults[op] = &awsRule{fault: f, times: times}
}

// heal stops every fault.
func (a *awsFaults) heal() {
	a.mu.Lock()
	defer a.mu.Unlock()
	clear(a.faults)
}

// count is how many requests of op were sent; succeeded how many were answered 2xx.
func (a *awsFaults) count(op string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sent[op]
}

func (a *awsFaults) succeeded(op string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ok[op]
}

// operation reads the operation from the JSON protocols' X-Amz-Target ("DynamoDB_20120810.PutItem").
func operation(r *http.Request) string {
	_, op, _ := strings.Cut(r.Header.Get("X-Amz-Target"), ".")
	return op
}

// completion names, for fail, the write that records a transfer's outcome and completes its
// key, whichever request it is: the store writes it whole over an unchanged claim (a PutItem),
// else as an UpdateItem.
const completion = "completion"

// completes reports whether r is a write that marks a key completed; r's body is read and put
// back.
func completes(r *http.Request) bool {
	if r.Body == nil {
		return false
	}
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(body))
	return bytes.Contains(body, []byte(`{"S":"completed"}`))
}

// Do implements the SDK's HTTPClient.
func (a *awsFaults) Do(r *http.Request) (*http.Response, error) {
	op := operation(r)
	rule := op
	if (op == "PutItem" || op == "UpdateItem") && completes(r) {
		rule = completion
	}
	a.mu.Lock()
	a.sent[op]++
	var fault awsFault
	if rule, ok := a.faults[rule]; ok && rule.times != 0 {
		fault = rule.fault
		if rule.times > 0 {
			rule.times--
		}
	}
	a.mu.Unlock()
	switch fault {
	case throttled:
		return awsError(r, "ProvisionedThroughputExceededException",
			"The level of configured provisioned throughput for the table was exceeded."), nil
	case throttling:
		return awsError(r, "ThrottlingException", "Rate exceeded"), nil
	case down:
		return nil, &netError{syscall.ECONNREFUSED}
	}
	resp, err := a.next.Do(r)
	if err != nil {
		return nil, err
	}
	if fault == lostAnswer {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return nil, &netError{syscall.ECONNRESET}
	}
	if resp.StatusCode/100 == 2 {
		a.mu.Lock()
		a.ok[op]++
		a.mu.Unlock()
	}
	return resp, nil
}

// awsError is the JSON protocols' error answer: 400 with the error's type in __type.
func awsError(r *http.Request, code, message string) *http.Response {
	body := `{"__type":"com.amazonaws.dynamodb.v20120810#` + code + `","message":"` + message + `"}`
	return &http.Response{
		Status: "400 Bad Request", StatusCode: http.StatusBadRequest, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{
			"Content-Type":     {"application/x-amz-json-1.0"},
			"X-Amzn-Requestid": {"proof-fault"},
		},
		Body:          io.NopCloser(bytes.NewReader([]byte(body))),
		ContentLength: int64(len(body)),
		Request:       r,
	}
}

// netError is a network failure as the SDK sees one from net/http.
type netError struct{ errno syscall.Errno }

func (e *netError) Error() string   { return "proof: " + e.errno.Error() }
func (e *netError) Unwrap() error   { return e.errno }
func (e *netError) Timeout() bool   { return false }
func (e *netError) Temporary() bool { return true }

// quickRetryer is the SDK's standard retryer, attempts and all, without its pauses: the
// faults are played as often as in production, only faster.
func quickRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
	})
}
